using System.Text.Json.Serialization;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DeepArch.MLNet;

/// <summary>
/// A sequence-to-sequence transform's task: the decoded tokens as a variable-size vector of the target column's keys (with its
/// key values, so that <c>MapKeyToValue</c> turns them back into tokens), and <c>Score</c>, the decoded sequence's log-probability.
/// The graph (<see cref="DeepArch.Trainers.Architectures.SequenceToSequenceExport"/>'s numbered form) reads the source's key
/// numbers and writes the target's, 0 after the last token.
/// </summary>
internal sealed class SequenceTask : PredictionTask
{
    private const string TokensOutput = TemporaryPrefix + "Tokens", ScoreOutput = TemporaryPrefix + "Score";
    private const string NumbersColumn = TemporaryPrefix + "Numbers", Values = TemporaryPrefix + "Values";

    /// <summary>Creates the task.</summary>
    /// <param name="outputColumnName">The column of decoded keys the transform adds.</param>
    /// <param name="translation">The columns' vocabularies and lengths.</param>
    public SequenceTask(string outputColumnName, TranslationInfo translation)
    {
        OutputColumnName = outputColumnName;
        Translation = translation;
    }

    /// <summary>The column of decoded keys the transform adds.</summary>
    public string OutputColumnName { get; }

    /// <summary>The columns' vocabularies and lengths.</summary>
    public TranslationInfo Translation { get; }

    public override LossFunction Loss => LossFunction.CrossEntropy;

    public override int NetworkOutputs => Translation.MaxTargetLength;

    [JsonIgnore]
    public override IReadOnlyList<string> OnnxOutputNames => [TokensOutput, ScoreOutput];

    /// <summary>The graph's output names: the tokens' key numbers [batch, MaxTargetLength] and the score [batch, 1].</summary>
    [JsonIgnore]
    public (string Tokens, string Score) GraphOutputs => (TokensOutput, ScoreOutput);

    /// <summary>The output column's type: a variable-size vector of the target's keys, <c>Key&lt;UInt32&gt;</c> of its key count.</summary>
    [JsonIgnore]
    public VectorDataViewType OutputType => new(new KeyDataViewType(typeof(uint), Translation.Target.Labels.Count));

    public override IReadOnlyList<(string Name, int[] Shape)> ScoringOutputs(ModelInfo info)
        => [(TokensOutput, [Translation.MaxTargetLength]), (ScoreOutput, [1])];

    public override void CheckLoaded(ModelInfo info)
    {
        ModelInfo.Require(!string.IsNullOrEmpty(OutputColumnName), "output column", OutputColumnName);
        ModelInfo.Require(Translation is not null, "translation", null);
        Translation!.CheckLoaded(info.FeatureSize);
        ModelInfo.Require(info.OutputShape.Length == 1 && info.OutputShape[0] == Translation.MaxTargetLength, "output shape", info.OutputShape[0]);
    }

    public override IReadOnlyList<OutputColumn> CreateOutputColumns()
    {
        int width = Translation.MaxTargetLength;
        return
        [
            new OutputColumn<VBuffer<uint>>(OutputColumnName, OutputType, (ScoredBatch b, int row, ref VBuffer<uint> v) =>
            {
                var numbers = b.Row(0, row);
                int count = numbers.IndexOf(0f);
                count = count < 0 ? width : count;
                var editor = VBufferEditor.Create(ref v, count);
                for (int t = 0; t < count; t++)
                {
                    editor.Values[t] = (uint)numbers[t];
                }
                v = editor.Commit();
            }, Translation.Target.Labels.Annotations()),
            OutputColumn.Scalar(ColumnNames.Score, 1),
        ];
    }

    /// <summary>The columns the estimator adds, at schema-shape level.</summary>
    public static IEnumerable<SchemaShape.Column> OutputShape(string outputColumnName, SchemaShape.Column target)
    {
        var keyValues = target.Annotations.FirstOrDefault(a => a.Name == "KeyValues");
        return
        [
            SchemaShapes.Column(outputColumnName, new VectorDataViewType(new KeyDataViewType(typeof(uint), 2)), keyValues.Name is null ? null : new SchemaShape([keyValues])),
            SchemaShapes.Column(ColumnNames.Score, NumberDataViewType.Single),
        ];
    }

    public override Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label)
        => throw new NotSupportedException("A sequence-to-sequence model reads its targets as token sequences, not one value per row.");

    /// <summary>
    /// A custom mapping trims the graph's key numbers at the first 0 and takes the score out of its vector; MapValue and
    /// MapValueToKey turn the numbers into the target's keys with its key values.
    /// </summary>
    public override IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext)
        => mlContext.Transforms.CustomMapping(new OutputMapping().GetMapping(), OutputMapping.ContractName)
            .Append(Translation.Target.Labels.NumbersToKeys(mlContext, OutputColumnName, NumbersColumn, Values, first: 1))
            .Append(mlContext.Transforms.DropColumns(TokensOutput, ScoreOutput, NumbersColumn, Values));

    /// <summary>
    /// The transforms of a saved chain before its <c>OnnxTransformer</c>: the source keys as numbers (<c>ConvertType</c>), then a
    /// custom mapping that lays them out as the graph reads them, in a vector of 1 + <see cref="TranslationInfo.MaxSourceTokens"/> values.
    /// </summary>
    public static IReadOnlyList<IEstimator<ITransformer>> CreatePersistedHead(MLContext mlContext, string sourceColumn)
        => [mlContext.Transforms.Conversion.ConvertType(SourceKeys, sourceColumn, DataKind.UInt32),
            mlContext.Transforms.CustomMapping(new SourceMapping().GetMapping(), SourceMapping.ContractName)];

    /// <summary>The temporary columns a saved chain's head adds, which its end drops.</summary>
    public static IReadOnlyList<string> HeadColumns => [SourceKeys, TranslationInfo.SourceInput];

    private const string SourceKeys = TemporaryPrefix + "SourceKeys";

    /// <summary>The source keys as numbers.</summary>
    public sealed class SourceRow
    {
        [ColumnName(SourceKeys)]
        public uint[] Keys { get; set; } = [];
    }

    /// <summary>The graph input: the length, the key numbers, zeros.</summary>
    public sealed class SourceLayoutRow
    {
        [ColumnName(TranslationInfo.SourceInput), VectorType(1 + TranslationInfo.MaxSourceTokens)]
        public float[] Source { get; set; } = [];
    }

    /// <summary>Lays the source keys out as the graph reads them; an empty source, a missing key or too many tokens is an error.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class SourceMapping : CustomMappingFactory<SourceRow, SourceLayoutRow>
    {
        public const string ContractName = "DeepArch.SequenceSource";

        public override Action<SourceRow, SourceLayoutRow> GetMapping() => (row, layout) =>
        {
            uint[] keys = row.Keys;
            if (keys.Length == 0 || keys.Length > TranslationInfo.MaxSourceTokens || Array.IndexOf(keys, 0u) >= 0)
            {
                throw new InvalidOperationException(keys.Length == 0 ? "The source column holds an empty sequence; a sequence-to-sequence model needs at least one token."
                    : keys.Length > TranslationInfo.MaxSourceTokens ? $"The source column holds {keys.Length} tokens, more than the {TranslationInfo.MaxSourceTokens} a sequence-to-sequence model reads."
                    : $"The source column has a missing key at token {Array.IndexOf(keys, 0u)}.");
            }
            var values = new float[1 + TranslationInfo.MaxSourceTokens];
            values[0] = keys.Length;
            for (int t = 0; t < keys.Length; t++)
            {
                values[1 + t] = keys[t];
            }
            layout.Source = values;
        };
    }

    /// <summary>The graph's outputs in a saved chain.</summary>
    public sealed class RawRow
    {
        [ColumnName(TokensOutput)]
        public float[] Tokens { get; set; } = [];

        [ColumnName(ScoreOutput)]
        public float[] Score { get; set; } = [];
    }

    /// <summary>The decoded key numbers, and the score.</summary>
    public sealed class NumbersRow
    {
        [ColumnName(NumbersColumn)]
        public uint[] Numbers { get; set; } = [];

        [ColumnName(ColumnNames.Score)]
        public float Score { get; set; }
    }

    /// <summary>Trims the key numbers at the first 0 and reads the score.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class OutputMapping : CustomMappingFactory<RawRow, NumbersRow>
    {
        public const string ContractName = "DeepArch.SequenceOutput";

        public override Action<RawRow, NumbersRow> GetMapping() => (raw, row) =>
        {
            int count = Array.IndexOf(raw.Tokens, 0f);
            row.Numbers = raw.Tokens.Take(count < 0 ? raw.Tokens.Length : count).Select(t => (uint)t).ToArray();
            row.Score = raw.Score.Length > 0 ? raw.Score[0] : float.NaN;
        };
    }
}
