using System.Globalization;
using System.Text.Json.Serialization;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DeepArch.MLNet;

/// <summary>
/// Regression: a <c>Single</c> label, mean squared error, a <c>Score</c> column. With a label scale (<see cref="FromLabels"/>),
/// the network learns <c>(label - LabelMean) / LabelScale</c> and the exported graph maps its output back to the label's
/// units, so that the loss and the optimizer see values near 0 and 1 whatever the label's units.
/// </summary>
internal sealed class RegressionTask : PredictionTask
{
    internal const string RawScore = TemporaryPrefix + "Score";

    /// <summary>The shift of the training targets: the training labels' mean when standardized, 0 otherwise.</summary>
    public double LabelMean { get; init; }

    /// <summary>The scale of the training targets: the training labels' standard deviation when standardized, 1 otherwise.</summary>
    public double LabelScale { get; init; } = 1;

    /// <summary>Whether the network's output is a standardized label that the graph scales back.</summary>
    [JsonIgnore]
    public bool IsStandardized => LabelMean != 0 || LabelScale != 1;

    public override LossFunction Loss => LossFunction.MeanSquaredError;

    public override int NetworkOutputs => 1;

    [JsonIgnore]
    public override IReadOnlyList<string> OnnxOutputNames => [RawScore];

    /// <summary>Checks that the label is a <c>Single</c>; returns the task.</summary>
    public static RegressionTask FromLabel(DataViewSchema.Column? label, string name)
    {
        CheckLabel(label, name, NumberDataViewType.Single, "Single");
        return new RegressionTask();
    }

    /// <summary>
    /// The task that standardizes <paramref name="targets"/> (the training labels): the mean and standard deviation (1 when
    /// they are all equal) of those at <paramref name="rows"/> (all when null), in double precision.
    /// </summary>
    public static RegressionTask FromLabels(ReadOnlySpan<float> targets, IReadOnlyList<int>? rows = null)
    {
        var (means, deviations) = Normalization.Moments(targets, 1, rows);
        double mean = means[0], deviation = deviations[0];
        // Relative to the mean only: a label in small units (1e-16 and less) is standardized too, where an absolute floor left it
        // unscaled and its predictions orders of magnitude off.
        bool varies = deviation > 1e-12 * Math.Abs(mean) && (float)deviation > 0 && float.IsFinite(1 / (float)deviation);
        return new RegressionTask { LabelMean = mean, LabelScale = varies ? deviation : 1 };
    }

    /// <summary>Maps <paramref name="targets"/> in place to the network's units: <c>(label - LabelMean) / LabelScale</c>.</summary>
    public void Standardize(float[] targets)
    {
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = (float)((targets[i] - LabelMean) / LabelScale);
        }
    }

    /// <summary>The raw score, scaled back to the label's units when the network learned a standardized label.</summary>
    public override void AddOnnxOutputs(OnnxGraphBuilder graph, string value, IReadOnlyList<int> outputShape)
    {
        if (IsStandardized)
        {
            value = graph.AddNode("Add", [graph.AddNode("Mul", [value, graph.AddInitializer("label_scale", [(float)LabelScale], 1)]),
                graph.AddInitializer("label_mean", [(float)LabelMean], 1)]);
        }
        base.AddOnnxOutputs(graph, value, outputShape);
    }

    /// <summary>The columns the estimator adds, at schema-shape level.</summary>
    public static IEnumerable<SchemaShape.Column> OutputShape() => [SchemaShapes.Column(ColumnNames.Score, NumberDataViewType.Single)];

    public override void CheckLoaded(ModelInfo info)
    {
        ModelInfo.Require(info.OutputShape.Aggregate(1L, (a, d) => a * d) == 1, "output shape of a regression", $"[{string.Join(", ", info.OutputShape)}]");
        ModelInfo.Require(double.IsFinite(LabelMean) && Math.Abs(LabelMean) <= float.MaxValue, "regression's label mean", LabelMean);
        ModelInfo.Require(double.IsFinite(LabelScale) && LabelScale > 0 && LabelScale <= float.MaxValue, "regression's label scale", LabelScale);
    }

    public override IReadOnlyList<OutputColumn> CreateOutputColumns() => [OutputColumn.Scalar(ColumnNames.Score, 0)];

    public override Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label)
    {
        var getter = row.GetGetter<float>(label);
        return position =>
        {
            float value = 0;
            getter(ref value);
            if (!float.IsFinite(value))
            {
                throw new InvalidOperationException($"Label column '{label.Name}' holds {value.ToString(CultureInfo.InvariantCulture)} at row {position}; labels must be finite numbers.");
            }
            return value;
        };
    }

    public override IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext)
        => mlContext.Transforms.CustomMapping(new RegressionScoreMapping().GetMapping(), RegressionScoreMapping.ContractName)
            .Append(mlContext.Transforms.DropColumns(RawScore));

    /// <summary>The raw ONNX output of a saved regression model.</summary>
    public sealed class RawRow
    {
        [ColumnName(RawScore)]
        public float[] Score { get; set; } = [];
    }

    /// <summary>The standard regression column.</summary>
    public sealed class ScoreRow
    {
        public float Score { get; set; }
    }

    /// <summary>Turns the saved model's one-value vector into the scalar <c>Score</c> evaluators expect.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class RegressionScoreMapping : CustomMappingFactory<RawRow, ScoreRow>
    {
        public const string ContractName = "DeepArch.RegressionScore";

        public override Action<RawRow, ScoreRow> GetMapping() => (raw, row) => row.Score = raw.Score[0];
    }
}
