using System.Globalization;
using System.Text.Json.Serialization;
using DeepArch.MLNet.Schema;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DeepArch.MLNet.Tasks;

/// <summary>Regression: a <c>Single</c> label, mean squared error, a <c>Score</c> column.</summary>
internal sealed class RegressionTask : PredictionTask
{
    internal const string RawScore = TemporaryPrefix + "Score";

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

    /// <summary>The columns the estimator adds, at schema-shape level.</summary>
    public static IEnumerable<SchemaShape.Column> OutputShape() => [SchemaShapes.Column(ColumnNames.Score, NumberDataViewType.Single)];

    public override void CheckLoaded(ModelInfo info)
        => ModelInfo.Require(info.OutputShape.Aggregate(1L, (a, d) => a * d) == 1, "output shape of a regression", $"[{string.Join(", ", info.OutputShape)}]");

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
