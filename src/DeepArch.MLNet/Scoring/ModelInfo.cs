using System.Text.Json;
using System.Text.Json.Serialization;
using DeepArch.MLNet.Data;
using DeepArch.MLNet.Tasks;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet.Scoring;

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
    /// The format this DeepArch writes: 2, where an autoencoder's decoder is its own metadata entry (<see cref="DecoderKey"/>).
    /// Format 1 (written as 0, before formats were numbered) kept it inside the JSON; its decoder is not read.
    /// </summary>
    public const int CurrentFormat = 2;

    /// <summary>The metadata entry holding an autoencoder transform's decoder: a DeepArch ONNX model, base64.</summary>
    public const string DecoderKey = "deeparch.decoder";

    /// <summary>For an autoencoder transform (its encoder or its reconstruction): its decoder as a DeepArch ONNX model with its own model info; else null. Stored beside the JSON, under <see cref="DecoderKey"/>.</summary>
    [JsonIgnore]
    public byte[]? Decoder { get; init; }

    /// <summary>The format of this model info (<see cref="CurrentFormat"/> when written; 0 in files written before formats were numbered).</summary>
    public int Format { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The model's metadata: this model info as JSON under <see cref="MetadataKey"/>, and the decoder, if any, under <see cref="DecoderKey"/>.</summary>
    public IReadOnlyDictionary<string, string> ToMetadata()
    {
        var metadata = new Dictionary<string, string> { [MetadataKey] = ToJson() };
        if (Decoder is not null)
        {
            metadata[DecoderKey] = Convert.ToBase64String(Decoder);
        }
        return metadata;
    }

    public static ModelInfo FromJson(string json)
        => JsonSerializer.Deserialize<ModelInfo>(json, Json) ?? throw new JsonException("The model metadata is empty.");

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
        Require(!string.IsNullOrEmpty(FeatureColumn), "feature column", FeatureColumn);
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
        if (Sequence is not null)
        {
            Require(Sequence.FeaturesPerStep >= 1 && Sequence.MaxSteps >= 1
                && (long)Sequence.FeaturesPerStep * Sequence.MaxSteps + (Sequence.VariableLength ? 1 : 0) == FeatureSize,
                "sequence layout", $"{Sequence.MaxSteps} steps of {Sequence.FeaturesPerStep} for a feature size of {FeatureSize}");
        }
        Task!.CheckLoaded(this);
        string? tooLarge = Scoring.CheckBuffers(FeatureSize, Task.ScoringOutputs(this).Select(o => o.Shape));
        if (tooLarge is not null)
        {
            throw new InvalidDataException($"The model info's scoring batch size is out of bounds: {tooLarge}");
        }
    }

    /// <summary>Throws the error for model info whose <paramref name="what"/> is missing or out of bounds.</summary>
    internal static void Require(bool ok, string what, object? value)
    {
        if (!ok)
        {
            throw new InvalidDataException($"The model info's {what} is {(value is null ? "missing" : $"out of bounds ({value})")}.");
        }
    }
}
