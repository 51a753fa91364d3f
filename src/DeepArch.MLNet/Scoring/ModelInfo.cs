using System.Text.Json;
using System.Text.Json.Serialization;
using DeepArch.Trainers;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// Everything a scoring transformer needs besides the network, stored as JSON in the exported model's
/// metadata (<see cref="MetadataKey"/>), so that an ONNX file alone restores the transformer.
/// </summary>
/// <param name="Trainer">The trainer that produced the model, e.g. <c>MultilayerPerceptron</c>.</param>
/// <param name="FeatureColumn">The feature column name (also the ONNX input name).</param>
/// <param name="FeatureSize">Values per row of the feature column.</param>
/// <param name="OutputShape">The network's per-row output shape.</param>
/// <param name="Task">The prediction task.</param>
/// <param name="History">The training history.</param>
/// <param name="Summary">The network summary table.</param>
/// <param name="Scoring">Rows per call, threads and device used when scoring.</param>
/// <param name="Sequence">How a recurrent network reads the feature column as time steps; null for every other network.</param>
internal sealed record ModelInfo(
    string Trainer,
    string FeatureColumn,
    int FeatureSize,
    int[] OutputShape,
    PredictionTask Task,
    TrainingHistory History,
    string Summary,
    ScoringSettings Scoring,
    SequenceLayout? Sequence = null)
{
    public const string MetadataKey = "deeparch.model";

    /// <summary>
    /// The format this DeepArch writes: 3, which adds conditioned networks (<see cref="Condition"/>) and GAN generators
    /// (<see cref="Generation"/>, <see cref="DiscriminatorKey"/>). Format 2 made an autoencoder's decoder its own metadata entry
    /// (<see cref="DecoderKey"/>); format 1 (written as 0, before formats were numbered) kept it inside the JSON, and its decoder is not read.
    /// </summary>
    public const int CurrentFormat = 3;

    /// <summary>The metadata entry holding an autoencoder transform's decoder: a DeepArch ONNX model, base64.</summary>
    public const string DecoderKey = "deeparch.decoder";

    /// <summary>For an autoencoder transform (its encoder or its reconstruction): its decoder as a DeepArch ONNX model with its own model info; else null. Stored beside the JSON, under <see cref="DecoderKey"/>.</summary>
    [JsonIgnore]
    public byte[]? Decoder { get; init; }

    /// <summary>The metadata entry holding a GAN generator's discriminator: a DeepArch ONNX model, base64.</summary>
    public const string DiscriminatorKey = "deeparch.discriminator";

    /// <summary>For a GAN's generator: its discriminator as a DeepArch ONNX model with its own model info; else null. Stored beside the JSON, under <see cref="DiscriminatorKey"/>.</summary>
    [JsonIgnore]
    public byte[]? Discriminator { get; init; }

    /// <summary>The metadata entry holding the trained networks as training left them (<see cref="DeepArch.Trainers.Networks.NetworkState"/>), base64.</summary>
    public const string TrainingStateKey = "deeparch.training_state";

    /// <summary>
    /// The trained networks as training left them, from which a later <c>Fit</c> continues (warm start); null for a model written
    /// before it was kept, or by an estimator that cannot continue. Stored beside the JSON, under <see cref="TrainingStateKey"/>;
    /// read only when training continues.
    /// </summary>
    [JsonIgnore]
    public byte[]? TrainingState { get; init; }

    /// <summary>For a network conditioned on a key column (a conditional GAN's label): that column, read besides the features; else null.</summary>
    public ConditionInput? Condition { get; init; }

    /// <summary>For a GAN's generator: what drawing rows like the training data's needs; else null.</summary>
    public GenerationInfo? Generation { get; init; }

    /// <summary>The graph inputs the network reads, with their values per row: the features, then the condition's one-hot key.</summary>
    [JsonIgnore]
    public IReadOnlyList<(string Name, int Size)> Inputs
        => Task is SequenceTask ? [(TranslationInfo.SourceInput, FeatureSize)]
            : Condition is null ? [(FeatureColumn, FeatureSize)] : [(FeatureColumn, FeatureSize), (Condition.Column, Condition.Keys.Count)];

    /// <summary>For a sequence-to-sequence model: its columns' vocabularies and lengths; else null.</summary>
    [JsonIgnore]
    public TranslationInfo? Translation => (Task as SequenceTask)?.Translation;

    /// <summary>The format of this model info (<see cref="CurrentFormat"/> when written; 0 in files written before formats were numbered).</summary>
    public int Format { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The model's metadata: this model info as JSON under <see cref="MetadataKey"/>, and its companions (decoder, discriminator, training state), if any, under their keys.</summary>
    public IReadOnlyDictionary<string, string> ToMetadata()
    {
        var metadata = new Dictionary<string, string> { [MetadataKey] = ToJson() };
        if (Decoder is not null)
        {
            metadata[DecoderKey] = Convert.ToBase64String(Decoder);
        }
        if (Discriminator is not null)
        {
            metadata[DiscriminatorKey] = Convert.ToBase64String(Discriminator);
        }
        if (TrainingState is not null)
        {
            metadata[TrainingStateKey] = Convert.ToBase64String(TrainingState);
        }
        return metadata;
    }

    /// <summary>The model info stored in <paramref name="onnx"/>, a DeepArch model checked when it was loaded or written by this process.</summary>
    public static ModelInfo Of(byte[] onnx)
        => FromJson(DeepArch.Trainers.Onnx.Proto.ModelProto.Parser.ParseFrom(onnx).MetadataProps.First(p => p.Key == MetadataKey).Value);

    /// <summary>The bytes of <paramref name="proto"/> with <paramref name="info"/> as its model info, its other metadata kept, sealed anew.</summary>
    public static byte[] Restamp(DeepArch.Trainers.Onnx.Proto.ModelProto proto, ModelInfo info)
        => Reseal(proto, metadata => metadata[MetadataKey] = info.ToJson());

    /// <summary>The bytes of <paramref name="proto"/> with its metadata as <paramref name="edit"/> leaves it (the old seal and signature taken out first), sealed anew.</summary>
    public static byte[] Reseal(DeepArch.Trainers.Onnx.Proto.ModelProto proto, Action<Dictionary<string, string>> edit)
    {
        var metadata = proto.MetadataProps
            .Where(p => p.Key is not (DeepArch.Trainers.Networks.MetadataKeys.Integrity or DeepArch.Trainers.Networks.MetadataKeys.Signature))
            .ToDictionary(p => p.Key, p => p.Value);
        edit(metadata);
        return DeepArch.Trainers.Onnx.OnnxGraphBuilder.WriteSealed(proto, metadata);
    }

    /// <summary>
    /// The most JSON tokens a model info may hold: about 150,000 epochs of training history. Counted before the JSON is
    /// deserialized (<see cref="JsonBudget"/>), so that a file of ten million empty epochs is refused in milliseconds instead of
    /// taking 1.5 GB (measured by an outside probe).
    /// </summary>
    internal const long MaxJsonTokens = 4_000_000;

    /// <summary>The model info in <paramref name="json"/>, read as untrusted input: within <see cref="MaxJsonTokens"/>, then deserialized.</summary>
    /// <exception cref="InvalidDataException">The JSON holds more than <see cref="MaxJsonTokens"/> tokens or nests too deep.</exception>
    /// <exception cref="JsonException">The JSON is not model info.</exception>
    public static ModelInfo FromJson(string json)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(json);
        JsonBudget.Check(utf8, MaxJsonTokens, Json.MaxDepth, "The model info", "about 150,000 epochs of training history");
        return JsonSerializer.Deserialize<ModelInfo>(utf8, Json) ?? throw new JsonException("The model metadata is empty.");
    }

    /// <summary>
    /// Checks, for model info read from a file, that every value is present and within its bound, so that nothing read
    /// from a file sizes a buffer, a thread pool or an index unchecked.
    /// </summary>
    /// <exception cref="InvalidDataException">A value is missing or out of bounds; the message names it.</exception>
    public void CheckLoaded()
    {
        if (Format > CurrentFormat)
        {
            throw new InvalidDataException($"The model info has format {Format}, written by a newer DeepArch; this one reads formats up to {CurrentFormat}.");
        }
        Require(!string.IsNullOrEmpty(Trainer) && Trainer.Length <= 256, "trainer", Trainer);
        RequireName(FeatureColumn, "feature column");
        Require(FeatureSize >= 1 && FeatureSize <= ScoringSettings.MaxValuesPerRow, "feature size", FeatureSize);
        Require(OutputShape is { Length: > 0 } && OutputShape.All(d => d >= 1)
            && OutputShape.Aggregate(1L, (a, d) => Math.Min(a * d, long.MaxValue / int.MaxValue)) <= ScoringSettings.MaxValuesPerRow,
            "output shape", OutputShape is null ? null : $"[{string.Join(", ", OutputShape)}]");
        Require(Task is not null, "task", null);
        Require(Summary is not null, "summary", null);
        Require(History is { Epochs: not null } && Enum.IsDefined(History.StopReason)
            && History.BestEpoch >= (History.Epochs.Count == 0 ? 0 : 1) && History.BestEpoch <= History.Epochs.Count
            && History.Epochs.All(e => e is not null), "training history", History is null ? null : $"best epoch {History.BestEpoch} of {History.Epochs?.Count}");
        Require(Scoring is not null, "scoring settings", null);
        Require(Scoring!.BatchSize >= 1 && Scoring.BatchSize <= ScoringSettings.MaxBatchSize, "scoring batch size", Scoring.BatchSize);
        Require(Scoring.Threads >= 0 && Scoring.Threads <= ScoringSettings.MaxThreads, "scoring threads", Scoring.Threads);
        Require(Enum.IsDefined(Scoring.Device), "scoring device", Scoring.Device);
        Require(Scoring.GpuDeviceId >= 0 && Scoring.GpuDeviceId <= ScoringSettings.MaxGpuDeviceId, "scoring GPU id", Scoring.GpuDeviceId);
        if (Sequence is not null)
        {
            Require(Sequence.FeaturesPerStep >= 1 && Sequence.MaxSteps >= 1
                && (long)Sequence.FeaturesPerStep * Sequence.MaxSteps + (Sequence.VariableLength ? 1 : 0) == FeatureSize,
                "sequence layout", $"{Sequence.MaxSteps} steps of {Sequence.FeaturesPerStep} for a feature size of {FeatureSize}");
        }
        if (Condition is not null)
        {
            RequireName(Condition.Column, "condition column");
            Require(Condition.Column != FeatureColumn, "condition column", Condition.Column);
            Require(Condition.Keys is not null, "condition's keys", null);
            Require(Condition.Keys!.Count <= ScoringSettings.MaxValuesPerRow, "condition's key count", Condition.Keys.Count);
            Condition.Keys.CheckLoaded("condition");
        }
        if (Generation is not null)
        {
            RequireName(Generation.FeatureColumn, "generated feature column");
            Require(Generation.FeatureSize == OutputShape!.Aggregate(1L, (a, d) => a * d), "generated feature size", Generation.FeatureSize);
            Require(Generation.LabelFrequencies is null ? Condition is null
                : Condition is not null && Generation.LabelFrequencies.Length == Condition.Keys.Count
                    && Generation.LabelFrequencies.All(f => f >= 0 && double.IsFinite(f)) && Generation.LabelFrequencies.Sum() > 0,
                "generated label frequencies", Generation.LabelFrequencies?.Length);
        }
        Task!.CheckLoaded(this);
        string? tooLarge = Scoring.CheckBuffers(Inputs.Sum(i => i.Size), Task.ScoringOutputs(this).Select(o => o.Shape));
        if (tooLarge is not null)
        {
            throw new InvalidDataException($"The model info's scoring batch size is out of bounds: {tooLarge}");
        }
    }

    /// <summary>
    /// The longest column name a model file may hold. Names reach error messages and schemas; ML.NET sets no bound, a
    /// file could hold a name of a gigabyte.
    /// </summary>
    internal const int MaxColumnNameLength = 1024;

    /// <summary>The most characters of a value read from a file that an error message quotes.</summary>
    private const int MaxQuotedLength = 80;

    /// <summary>Throws the error for model info whose <paramref name="what"/> is missing or out of bounds; the message quotes at most 80 characters of the value.</summary>
    internal static void Require(bool ok, string what, object? value)
    {
        if (!ok)
        {
            throw new InvalidDataException($"The model info's {what} is {(value is null ? "missing" : $"out of bounds ({Quote(value.ToString())})")}.");
        }
    }

    /// <summary>Requires a column name of 1 to <see cref="MaxColumnNameLength"/> characters.</summary>
    internal static void RequireName(string? name, string what)
        => Require(!string.IsNullOrEmpty(name) && name.Length <= MaxColumnNameLength, what,
            name is null ? null : name.Length == 0 ? "''" : name.Length > MaxColumnNameLength ? $"a name of {name.Length:N0} characters, more than {MaxColumnNameLength:N0}" : name);

    /// <summary><paramref name="text"/> cut to 80 characters for an error message (a file can hold values of any length).</summary>
    internal static string Quote(string? text)
        => text is null ? "" : text.Length <= MaxQuotedLength ? text : FormattableString.Invariant($"{text[..MaxQuotedLength]}... ({text.Length:N0} characters)");
}

/// <summary>A key column a network reads besides its features, given to the graph as a one-hot float input named after the column.</summary>
/// <param name="Column">The key column.</param>
/// <param name="Keys">Its key count and values at training.</param>
internal sealed record ConditionInput(string Column, LabelKeys Keys);

/// <summary>What a GAN's generator keeps of its training data, so that rows drawn from it have the data's columns.</summary>
/// <param name="FeatureColumn">The training data's feature column: the drawn rows' feature column.</param>
/// <param name="FeatureSize">Its values per row.</param>
/// <param name="LabelFrequencies">For a conditional generator, each label's share of the training rows, in key order: rows drawn without a label follow it.</param>
internal sealed record GenerationInfo(string FeatureColumn, int FeatureSize, double[]? LabelFrequencies);
