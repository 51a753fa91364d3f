using System.Text.Json.Serialization;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DeepArch.MLNet;

/// <summary>
/// Anomaly detection by an autoencoder: no label; the columns <c>Score</c> (the scoring graph's per-row
/// reconstruction error or negative ELBO, higher = more anomalous), <c>PredictedLabel</c> (<c>Score</c> above
/// <see cref="Threshold"/>) and optionally a vector column with each feature's share of the error.
/// </summary>
/// <remarks>
/// The threshold comparison is a node of the exported graph (<see cref="AutoencoderScoringExport.AnomalyOutput"/>),
/// so a saved model's stateless column conversions need no threshold: both load paths read the same graph output.
/// </remarks>
internal sealed class AnomalyTask : PredictionTask
{
    internal const string RawScoreCopy = TemporaryPrefix + "AnomalyScore";

    /// <summary>The threshold the graph compares the score with (kept for reading; the graph holds its own copy).</summary>
    public float Threshold { get; init; }

    /// <summary>Values per row of the feature column.</summary>
    public int FeatureSize { get; init; }

    /// <summary>The column of per-feature error shares, or null for none.</summary>
    public string? FeatureContributionsColumn { get; init; }

    /// <summary>What scoring does with a row whose features are not all finite (the graph flags its NaN score either way).</summary>
    public MissingValuePolicy MissingValues { get; init; }

    public override bool RejectsNonFiniteFeatures => MissingValues == MissingValuePolicy.Throw;

    public override LossFunction Loss => LossFunction.MeanSquaredError;

    public override int NetworkOutputs => FeatureSize;

    [JsonIgnore]
    public override IReadOnlyList<string> OnnxOutputNames => OutputNames(FeatureContributionsColumn is not null);

    /// <summary>A detector graph's outputs, with feature contributions or without: what the detectors' estimators know before their task exists.</summary>
    internal static IReadOnlyList<string> OutputNames(bool featureContributions) => featureContributions
        ? [AutoencoderScoringExport.ScoreOutput, AutoencoderScoringExport.AnomalyOutput, AutoencoderScoringExport.FeatureShareOutput]
        : [AutoencoderScoringExport.ScoreOutput, AutoencoderScoringExport.AnomalyOutput];

    /// <summary>The feature contributions: <c>Vector&lt;Single, F&gt;</c> after either load too.</summary>
    [JsonIgnore]
    public override IReadOnlyList<string> FlatOnnxOutputs => FeatureContributionsColumn is null ? [] : [AutoencoderScoringExport.FeatureShareOutput];

    /// <summary>Not used: a detector's outputs come from its scoring graph (<see cref="AutoencoderScoringExport"/>, <see cref="ForecasterScoringExport"/>).</summary>
    public override void AddOnnxOutputs(OnnxGraphBuilder graph, string value, IReadOnlyList<int> outputShape)
        => throw new NotSupportedException("An anomaly detector's graph outputs come from its scoring export, not from the network's output.");

    public override IReadOnlyList<(string Name, int[] Shape)> ScoringOutputs(ModelInfo info)
        => OnnxOutputNames.Select(name => (name, name == AutoencoderScoringExport.FeatureShareOutput ? new[] { FeatureSize } : new[] { 1 })).ToArray();

    /// <summary>The columns the estimator adds, at schema-shape level.</summary>
    public static IEnumerable<SchemaShape.Column> OutputShape(string? featureContributionsColumn)
    {
        yield return SchemaShapes.Column(ColumnNames.Score, NumberDataViewType.Single);
        yield return SchemaShapes.Column(ColumnNames.PredictedLabel, BooleanDataViewType.Instance);
        if (featureContributionsColumn is not null)
        {
            // Known-size vector (the size is the feature column's, which a schema shape does not carry).
            yield return SchemaShapes.Column(featureContributionsColumn, new VectorDataViewType(NumberDataViewType.Single, 1));
        }
    }

    public override void CheckLoaded(ModelInfo info)
    {
        ModelInfo.Require(FeatureSize == info.FeatureSize, "anomaly task's feature size", FeatureSize);
        if (FeatureContributionsColumn is not null)
        {
            ModelInfo.RequireName(FeatureContributionsColumn, "feature contributions column");
        }
    }

    public override IReadOnlyList<OutputColumn> CreateOutputColumns()
    {
        var columns = new List<OutputColumn>
        {
            OutputColumn.Scalar(ColumnNames.Score, 0),
            OutputColumn.Flag(ColumnNames.PredictedLabel, 1),
        };
        if (FeatureContributionsColumn is not null)
        {
            columns.Add(OutputColumn.Vector(FeatureContributionsColumn, new VectorDataViewType(NumberDataViewType.Single, FeatureSize), 2));
        }
        return columns;
    }

    public override Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label)
        => throw new NotSupportedException("An anomaly detector trains without labels.");

    public override IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext)
    {
        // OnnxTransformer names its columns after the graph outputs: "Score" and "Anomaly" as one-value vectors
        // (and "FeatureShare"). The mapping turns them into the scalar columns evaluators want, under a temporary
        // name, so that the vector "Score" can be dropped and the scalar copied into its place.
        IEstimator<ITransformer> tail = MissingValues == MissingValuePolicy.Throw
            ? mlContext.Transforms.CustomMapping(new StrictAnomalyScoreMapping().GetMapping(), StrictAnomalyScoreMapping.ContractName)
            : mlContext.Transforms.CustomMapping(new AnomalyScoreMapping().GetMapping(), AnomalyScoreMapping.ContractName);
        tail = tail
            .Append(mlContext.Transforms.DropColumns(AutoencoderScoringExport.ScoreOutput, AutoencoderScoringExport.AnomalyOutput))
            .Append(mlContext.Transforms.CopyColumns(ColumnNames.Score, RawScoreCopy))
            .Append(mlContext.Transforms.DropColumns(RawScoreCopy));
        if (FeatureContributionsColumn is not null && FeatureContributionsColumn != AutoencoderScoringExport.FeatureShareOutput)
        {
            tail = tail.Append(mlContext.Transforms.CopyColumns(FeatureContributionsColumn, AutoencoderScoringExport.FeatureShareOutput))
                .Append(mlContext.Transforms.DropColumns(AutoencoderScoringExport.FeatureShareOutput));
        }
        return tail;
    }

    /// <summary>The raw ONNX outputs of a saved anomaly model.</summary>
    public sealed class RawRow
    {
        [ColumnName(AutoencoderScoringExport.ScoreOutput)]
        public float[] Score { get; set; } = [];

        [ColumnName(AutoencoderScoringExport.AnomalyOutput)]
        public float[] Anomaly { get; set; } = [];
    }

    /// <summary>The standard anomaly-detection columns (the score under a temporary name).</summary>
    public sealed class ScoreRow
    {
        [ColumnName(RawScoreCopy)]
        public float Score { get; set; }

        public bool PredictedLabel { get; set; }
    }

    /// <summary>Turns the saved model's one-value vectors into scalars; the threshold comparison already happened in the graph.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class AnomalyScoreMapping : CustomMappingFactory<RawRow, ScoreRow>
    {
        public const string ContractName = "DeepArch.AnomalyScore";

        public override Action<RawRow, ScoreRow> GetMapping() => (raw, row) =>
        {
            row.Score = raw.Score[0];
            row.PredictedLabel = raw.Anomaly[0] > 0.5f;
        };
    }

    /// <summary>
    /// <see cref="AnomalyScoreMapping"/> for a detector trained with <see cref="MissingValuePolicy.Throw"/>: a non-finite
    /// score (the row's features held NaN or infinity) is an error, as in the batched transformer.
    /// </summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class StrictAnomalyScoreMapping : CustomMappingFactory<RawRow, ScoreRow>
    {
        public const string ContractName = "DeepArch.AnomalyScoreStrict";

        public override Action<RawRow, ScoreRow> GetMapping() => (raw, row) =>
        {
            if (!float.IsFinite(raw.Score[0]))
            {
                throw new InvalidOperationException(
                    $"A row's anomaly score is {raw.Score[0].ToString(System.Globalization.CultureInfo.InvariantCulture)}: its features hold NaN or infinite values, " +
                    "and the detector was trained with Options.MissingValues = Throw. Replace missing values first (for example with ReplaceMissingValues) or filter those rows out.");
            }
            row.Score = raw.Score[0];
            row.PredictedLabel = raw.Anomaly[0] > 0.5f;
        };
    }
}
