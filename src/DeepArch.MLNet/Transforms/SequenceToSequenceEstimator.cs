using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Trains an encoder–decoder (<see cref="SequenceToSequence"/>) that reads a sequence of tokens and writes another, and returns
/// it as a <see cref="NetworkTransformer"/> that decodes greedily inside one ONNX <c>Loop</c>. Created by
/// <c>mlContext.Transforms.MapSequenceToSequence</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains</term><description>yes: teacher forcing, cross-entropy over the real target tokens (padding masked), Adam, gradient clipping; a
/// bidirectional GRU encoder, a GRU decoder, scaled attention by default</description></item>
/// <item><term>Input column</term><description>a vector of keys, variable-size or known-size (<c>TokenizeIntoWords</c> + <c>MapValueToKey</c>, or
/// <c>TokenizeIntoCharactersAsKeys</c>), at most 255 tokens</description></item>
/// <item><term>Training target</term><description><see cref="Options.TargetColumnName"/>: a vector of keys as well</description></item>
/// <item><term>Output columns</term><description><see cref="Options.OutputColumnName"/> (<c>PredictedSequence</c>): a variable-size vector of
/// <c>Key&lt;UInt32&gt;</c> with the target column's key count and key values, so that <c>MapKeyToValue</c> turns it into tokens;
/// <c>Score</c>: the decoded sequence's log-probability</description></item>
/// <item><term>Packages</term><description>TorchSharp (training), ONNX Runtime (scoring)</description></item>
/// <item><term>GPU</term><description>training on CUDA with <c>Device = Cuda</c>; the exported graph runs in any ONNX runtime</description></item>
/// </list>
/// <para>
/// The vocabularies are the keys the training rows hold: a source key no training row held has no embedding, and scoring it is
/// an error that names the column, the row and the key. Decoding stops at the end symbol or after <see cref="Options.MaxTargetLength"/>
/// tokens. <c>mlContext.Data.EvaluateSequences</c> scores the output against a reference column.
/// </para>
/// </remarks>
public sealed class SequenceToSequenceEstimator : NetworkEstimator<SequenceToSequenceEstimator.Options>
{
    internal const string EstimatorName = "SequenceToSequence";

    internal SequenceToSequenceEstimator(IHostEnvironment environment, Options options) : base(environment, options, EstimatorName)
    {
    }

    /// <summary>The options this estimator was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options EstimatorOptions => LiveOptions;

    /// <summary>Checks the source and target columns, and returns the input's shape with the output column and <c>Score</c> added.</summary>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = LiveOptions;
        CheckTokenColumn(inputSchema, o.InputColumnName, "source");
        var target = CheckTokenColumn(inputSchema, o.TargetColumnName, "target");
        return SchemaShapes.With(inputSchema, SequenceTask.OutputShape(o.OutputColumnName, target));
    }

    private static SchemaShape.Column CheckTokenColumn(SchemaShape shape, string name, string role)
    {
        var column = shape.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
        {
            throw SchemaErrors.ColumnNotFound(role, name);
        }
        if (!column.IsKey || column.Kind == SchemaShape.Column.VectorKind.Scalar)
        {
            throw SchemaErrors.Mismatch(role, name, TokenVocabulary.Expected, SchemaErrors.Describe(column));
        }
        return column;
    }

    private protected override FitData Read(Options o, IDataView train, IDataView? validation)
    {
        var sourceColumn = train.Schema.GetColumnOrNull(o.InputColumnName);
        TokenVocabulary.Resolve(sourceColumn, o.InputColumnName, "source");
        var targetColumn = train.Schema.GetColumnOrNull(o.TargetColumnName);
        TokenVocabulary.Resolve(targetColumn, o.TargetColumnName, "target");
        var (sources, targets) = ReadRows(train, sourceColumn!.Value, targetColumn!.Value, o, "training");

        if (targets.All(t => t.Length == 0))
        {
            throw new InvalidOperationException($"Target column '{o.TargetColumnName}' holds no token in any of the {targets.Count:N0} training rows: " +
                "there is nothing to learn to write. Check the column the targets are tokenized from.");
        }
        int maxSource = o.MaxSourceLength > 0 ? o.MaxSourceLength : sources.Max(s => s.Length);
        int maxTarget = o.MaxTargetLength > 0 ? o.MaxTargetLength : Math.Max(1, targets.Max(t => t.Length));
        if (maxSource > TranslationInfo.MaxSourceTokens)
        {
            throw new ArgumentOutOfRangeException("Options.MaxSourceLength", maxSource,
                $"Source column '{o.InputColumnName}' holds up to {maxSource} tokens per row; a sequence-to-sequence model reads at most {TranslationInfo.MaxSourceTokens}.");
        }
        var translation = new TranslationInfo(
            TokenVocabulary.Of(sourceColumn.Value, sources.SelectMany(s => s)), maxSource,
            o.TargetColumnName, TokenVocabulary.Of(targetColumn.Value, targets.SelectMany(t => t)), maxTarget);
        var trainSet = ToTrainingSet(sources, targets, translation, o, "training");

        TrainingSet? validationSet = null;
        if (validation is not null)
        {
            var validationSource = translation.Resolve(validation.Schema, o.InputColumnName, "validation source");
            var validationTarget = validation.Schema.GetColumnOrNull(o.TargetColumnName);
            var targetKey = TokenVocabulary.Resolve(validationTarget, o.TargetColumnName, "validation target");
            if (!targetKey.Equals(translation.Target.KeyType))
            {
                throw SchemaErrors.Mismatch("validation target", o.TargetColumnName, $"Vector<{SchemaErrors.Describe(translation.Target.KeyType)}> (the key type at training)",
                    SchemaErrors.Describe(validationTarget!.Value.Type));
            }
            var (heldSources, heldTargets) = ReadRows(validation, validationSource, validationTarget!.Value, o, "validation");
            validationSet = ToTrainingSet(heldSources, heldTargets, translation, o, "validation");
        }
        return new FitData(sourceColumn.Value, translation.InputSize, trainSet, validationSet, new SequenceTask(o.OutputColumnName, translation));
    }

    /// <summary>One pass over the rows: each source and target as key numbers; empty sources and missing keys are errors naming the row.</summary>
    private static (List<uint[]> Sources, List<uint[]> Targets) ReadRows(IDataView data, DataViewSchema.Column source, DataViewSchema.Column target, Options o, string what)
    {
        var sources = new List<uint[]>();
        var targets = new List<uint[]>();
        using var cursor = data.GetRowCursor([source, target]);
        var readSource = TokenVocabulary.CreateKeyReader(cursor, source);
        var readTarget = TokenVocabulary.CreateKeyReader(cursor, target);
        while (cursor.MoveNext())
        {
            if ((cursor.Position & 1023) == 0)
            {
                o.CancellationToken.ThrowIfCancellationRequested();
            }
            var s = readSource();
            if (s.Count == 0)
            {
                throw new InvalidOperationException($"Source column '{source.Name}' holds an empty sequence at {what} row {cursor.Position}; every row needs at least one token. Filter such rows out first.");
            }
            CheckMissing(s, source.Name, "Source", what, cursor.Position);
            var t = readTarget();
            CheckMissing(t, target.Name, "Target", what, cursor.Position);
            sources.Add(s.ToArray());
            targets.Add(t.ToArray());
        }
        if (sources.Count == 0)
        {
            throw new InvalidOperationException($"The {what} data has no rows.");
        }
        return (sources, targets);
    }

    private static void CheckMissing(List<uint> keys, string column, string role, string what, long row)
    {
        int missing = keys.IndexOf(0);
        if (missing >= 0)
        {
            throw new InvalidOperationException($"{role} column '{column}' has a missing key at {what} row {row}, token {missing}: every token needs a key. " +
                "Map unknown tokens to a known one, or filter such rows out first.");
        }
    }

    /// <summary>The rows as the network trains on them: [L, source tokens, 0...] and [target tokens, end, -1...].</summary>
    private static TrainingSet ToTrainingSet(List<uint[]> sources, List<uint[]> targets, TranslationInfo translation, Options o, string what)
    {
        var sourceToken = translation.Source.TokenOfKey();
        var targetToken = translation.Target.TokenOfKey();
        int width = translation.InputSize, targetWidth = translation.MaxTargetLength + 1;
        var features = new float[sources.Count * width];
        var tokens = new float[sources.Count * targetWidth];
        Array.Fill(tokens, SequenceToSequence.Padding);
        for (int row = 0; row < sources.Count; row++)
        {
            uint[] source = sources[row];
            if (source.Length > translation.MaxSourceLength)
            {
                throw new InvalidOperationException($"Source column '{o.InputColumnName}' holds {source.Length} tokens at {what} row {row}, more than Options.MaxSourceLength ({translation.MaxSourceLength}).");
            }
            features[row * width] = source.Length;
            for (int t = 0; t < source.Length; t++)
            {
                long token = source[t] < sourceToken.Length ? sourceToken[source[t]] : -1;
                if (token < 0)
                {
                    throw new InvalidOperationException($"Source column '{o.InputColumnName}' has key {source[t]}{translation.Source.Labels.Describe(source[t])} at {what} row {row}, " +
                        "which no training source held: the model has no embedding for it.");
                }
                features[row * width + 1 + t] = token;
            }
            uint[] target = targets[row];
            int length = target.Length;
            if (length > translation.MaxTargetLength)
            {
                if (!o.TruncateTargets)
                {
                    throw new InvalidOperationException($"Target column '{o.TargetColumnName}' holds {length} tokens at {what} row {row}, more than Options.MaxTargetLength " +
                        $"({translation.MaxTargetLength}). Raise MaxTargetLength (0 takes the longest training target), or set TruncateTargets to train on the first {translation.MaxTargetLength}.");
                }
                length = translation.MaxTargetLength;
            }
            for (int t = 0; t < length; t++)
            {
                long token = target[t] < targetToken.Length ? targetToken[target[t]] : -1;
                if (token < 0)
                {
                    throw new InvalidOperationException($"Target column '{o.TargetColumnName}' has key {target[t]}{translation.Target.Labels.Describe(target[t])} at {what} row {row}, " +
                        "which no training target held: the model cannot write it.");
                }
                tokens[row * targetWidth + t] = token;
            }
            tokens[row * targetWidth + length] = translation.Target.Keys.Length; // the end symbol
        }
        return new TrainingSet(features, [width], tokens, targetWidth);
    }

    /// <summary>It reads tokens (key numbers), not values.</summary>
    private protected override bool ReadsFeaturesAsTheyCome(Options options) => false;

    /// <inheritdoc/>
    private protected override string? WarmStartRefusal
        => "its vocabularies are those of the first training data, and new data may hold other tokens; train it again on all the rows.";

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        var translation = ((SequenceTask)data.Task!).Translation;
        var spec = new SequenceToSequence(translation.Source.Keys.Length, translation.Target.Keys.Length, translation.MaxSourceLength, translation.MaxTargetLength,
            o.Cell, o.HiddenSize, o.EmbeddingSize, o.Layers, o.Bidirectional, o.Attention, o.Dropout);
        var names = new NetworkOptionNames(
            $"Options.HiddenSize {o.HiddenSize}, EmbeddingSize {o.EmbeddingSize} and Layers {o.Layers} over {translation.Source.Keys.Length} source and {translation.Target.Keys.Length} target tokens",
            "Options.HiddenSize, Options.EmbeddingSize or Options.Layers",
            Activations: "Options.BatchSize, or Options.MaxTargetLength and Options.MaxSourceLength (0 takes the longest training sequence)");
        return new NetworkPlan(spec, names, spec.InputShape);
    }

    private protected override TrainingObjective Objective(Options options, IReadOnlyList<Network> networks, FitData data) => new SequenceToSequenceObjective(networks[0]);

    /// <summary>The decoder over key numbers: the source's in, the target's out.</summary>
    private protected override NetworkTransformer Export(Fitted fitted)
    {
        var task = (SequenceTask)fitted.Data.Task!;
        var translation = task.Translation;
        return fitted.Transformer(task, fitted.Network, metadata => SequenceToSequenceExport.ExportNumberedOnnx(fitted.Network, TranslationInfo.SourceInput,
            translation.Source.TokenOfKey(), translation.Target.Keys.Select(k => (long)k).ToArray(), task.GraphOutputs.Tokens, task.GraphOutputs.Score, metadata));
    }

    /// <summary>Options of <see cref="SequenceToSequenceEstimator"/>.</summary>
    /// <remarks>Besides the encoder–decoder's own options, those every DeepArch estimator has (<see cref="NetworkOptions"/>), with this one's defaults.</remarks>
    public sealed class Options : NetworkOptions
    {
        /// <summary>
        /// Creates the options with the encoder–decoder's defaults: 10 epochs, batches of 64, learning rate 1e-3 and gradients clipped to
        /// norm 1. Like every DeepArch estimator it trains on one thread by default; side by side on grapheme-to-phoneme (eng/bench
        /// <c>seq2seq</c>, 2 cores), one thread per core trained at 0.92 times the speed of one thread.
        /// </summary>
        public Options()
        {
            Epochs = 10;
            BatchSize = 64;
            LearningRate = 1e-3;
            GradientClipNorm = 1;
        }

        /// <summary>The source sequences: a vector of keys.</summary>
        public string InputColumnName { get; set; } = "Source";

        /// <summary>The target sequences the network learns to write: a vector of keys, read when training only.</summary>
        public string TargetColumnName { get; set; } = "Target";

        /// <summary>The column of decoded sequences the transformer adds (a vector of the target's keys).</summary>
        public string OutputColumnName { get; set; } = "PredictedSequence";

        /// <summary>The recurrent cell of the encoder and the decoder: <see cref="RecurrentCell.Gru"/> (default), <see cref="RecurrentCell.Lstm"/> or <see cref="RecurrentCell.Rnn"/>.</summary>
        public RecurrentCell Cell { get; set; } = RecurrentCell.Gru;

        /// <summary>The hidden size of the encoder (each direction) and of the decoder; at least 1.</summary>
        public int HiddenSize { get; set; } = 256;

        /// <summary>The size of a token's embedding, source and target; at least 1.</summary>
        public int EmbeddingSize { get; set; } = 64;

        /// <summary>Stacked layers of the encoder and of the decoder; at least 1.</summary>
        public int Layers { get; set; } = 1;

        /// <summary>
        /// Whether the encoder also reads the source backwards (its final states are projected into the decoder's); true by default:
        /// on grapheme-to-phoneme it lowered the word error rate from 39.3% to 32.0% (seed 1; docs/sequence-to-sequence.md).
        /// </summary>
        public bool Bidirectional { get; set; } = true;

        /// <summary>How the decoder attends to the encoder's outputs: <see cref="Attention.ScaledGeneral"/> (default), <see cref="Attention.General"/> or <see cref="Attention.None"/>.</summary>
        public Attention Attention { get; set; } = Attention.ScaledGeneral;

        /// <summary>Dropout on the embeddings, between stacked layers and before the output layer during training, in [0, 1).</summary>
        public float Dropout { get; set; }

        /// <summary>The most tokens a source may hold, 1 to 255; 0 (default) takes the longest training source.</summary>
        public int MaxSourceLength { get; set; }

        /// <summary>The most tokens decoding writes; 0 (default) takes the longest training target.</summary>
        public int MaxTargetLength { get; set; }

        /// <summary>Whether a training target longer than <see cref="MaxTargetLength"/> is cut to it (true) or an error (false, default).</summary>
        public bool TruncateTargets { get; set; }

        internal override void Validate()
        {
            CheckColumnName(nameof(InputColumnName), InputColumnName);
            CheckColumnName(nameof(TargetColumnName), TargetColumnName);
            CheckColumnName(nameof(OutputColumnName), OutputColumnName);
            Check(TargetColumnName != InputColumnName, nameof(TargetColumnName), $"'{TargetColumnName}'", "must differ from InputColumnName");
            Check(OutputColumnName != ColumnNames.Score, nameof(OutputColumnName), $"'{OutputColumnName}'", "must differ from 'Score', the score column the transformer adds");
            Check(Enum.IsDefined(Cell), nameof(Cell), Cell, "must be Rnn, Lstm or Gru");
            Check(HiddenSize >= 1, nameof(HiddenSize), HiddenSize, "must be at least 1");
            Check(EmbeddingSize >= 1, nameof(EmbeddingSize), EmbeddingSize, "must be at least 1");
            Check(Layers >= 1, nameof(Layers), Layers, "must be at least 1");
            Check(Enum.IsDefined(Attention), nameof(Attention), Attention, "must be None, General or ScaledGeneral");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            Check(MaxSourceLength >= 0 && MaxSourceLength <= TranslationInfo.MaxSourceTokens, nameof(MaxSourceLength), MaxSourceLength,
                $"must be in [0, {TranslationInfo.MaxSourceTokens}] (0 = the longest training source)");
            Check(MaxTargetLength >= 0 && MaxTargetLength <= 65_536, nameof(MaxTargetLength), MaxTargetLength, "must be in [0, 65536] (0 = the longest training target)");
            base.Validate();
        }
    }
}
