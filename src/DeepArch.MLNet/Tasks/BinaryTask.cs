using System.Text.Json.Serialization;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DeepArch.MLNet;

/// <summary>
/// Binary classification: a <c>Boolean</c> label, logistic loss on one logit, and the columns
/// <c>Score</c> (the logit), <c>Probability</c> (its sigmoid) and <c>PredictedLabel</c> (probability above 0.5).
/// </summary>
internal sealed class BinaryTask : PredictionTask
{
    internal const string RawLogit = TemporaryPrefix + "Logit";
    internal const string RawProbability = TemporaryPrefix + "Probability";

    public override LossFunction Loss => LossFunction.BinaryCrossEntropyWithLogits;

    public override int NetworkOutputs => 1;

    [JsonIgnore]
    public override IReadOnlyList<string> OnnxOutputNames => [RawLogit, RawProbability];

    /// <summary>The logit, and its sigmoid as the probability.</summary>
    public override void AddOnnxOutputs(OnnxGraphBuilder graph, string value, IReadOnlyList<int> outputShape)
    {
        graph.AddOutput(value, RawLogit, outputShape);
        graph.AddOutput(graph.AddNode("Sigmoid", [value]), RawProbability, outputShape);
    }

    /// <summary>Checks that the label is a <c>Boolean</c>; returns the task.</summary>
    public static BinaryTask FromLabel(DataViewSchema.Column? label, string name)
    {
        CheckLabel(label, name, BooleanDataViewType.Instance, "Boolean");
        return new BinaryTask();
    }

    /// <summary>The columns the estimator adds, at schema-shape level.</summary>
    public static IEnumerable<SchemaShape.Column> OutputShape() =>
    [
        SchemaShapes.Column(ColumnNames.Score, NumberDataViewType.Single),
        SchemaShapes.Column(ColumnNames.Probability, NumberDataViewType.Single),
        SchemaShapes.Column(ColumnNames.PredictedLabel, BooleanDataViewType.Instance),
    ];

    public override void CheckLoaded(ModelInfo info)
        => ModelInfo.Require(info.OutputShape.Aggregate(1L, (a, d) => a * d) == 1, "output shape of a binary classifier", $"[{string.Join(", ", info.OutputShape)}]");

    public override IReadOnlyList<OutputColumn> CreateOutputColumns() =>
    [
        OutputColumn.Scalar(ColumnNames.Score, 0),
        OutputColumn.Scalar(ColumnNames.Probability, 1),
        OutputColumn.Flag(ColumnNames.PredictedLabel, 1),
    ];

    public override Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label)
    {
        var getter = row.GetGetter<bool>(label);
        return _ =>
        {
            bool value = false;
            getter(ref value);
            return value ? 1f : 0f;
        };
    }

    public override IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext)
        => mlContext.Transforms.CustomMapping(new BinaryScoreMapping().GetMapping(), BinaryScoreMapping.ContractName)
            .Append(mlContext.Transforms.DropColumns(RawLogit, RawProbability));

    /// <summary>The raw ONNX outputs of a saved binary model.</summary>
    public sealed class RawRow
    {
        [ColumnName(RawLogit)]
        public float[] Logit { get; set; } = [];

        [ColumnName(RawProbability)]
        public float[] Probability { get; set; } = [];
    }

    /// <summary>The standard binary-classification columns.</summary>
    public sealed class ScoreRow
    {
        public float Score { get; set; }

        public float Probability { get; set; }

        public bool PredictedLabel { get; set; }
    }

    /// <summary>Turns the saved model's one-value vectors into the scalar columns evaluators expect.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class BinaryScoreMapping : CustomMappingFactory<RawRow, ScoreRow>
    {
        public const string ContractName = "DeepArch.BinaryScore";

        public override Action<RawRow, ScoreRow> GetMapping() => (raw, row) =>
        {
            row.Score = raw.Logit[0];
            row.Probability = raw.Probability[0];
            row.PredictedLabel = raw.Probability[0] > 0.5f;
        };
    }
}
