using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>The autoencoder kinds <see cref="AutoencoderAnomalyDetectionTrainer"/> trains.</summary>
public enum AutoencoderKind
{
    /// <summary>An undercomplete (deep) autoencoder trained on the reconstruction error.</summary>
    Deep,

    /// <summary>As <see cref="Deep"/>, with the decoder's weights the encoder's transposed.</summary>
    Tied,

    /// <summary>A sparse autoencoder: L1 activity penalty and/or KL sparsity target on the code.</summary>
    Sparse,

    /// <summary>A denoising autoencoder: Gaussian and/or masking noise on the training inputs, the clean input as target.</summary>
    Denoising,

    /// <summary>A variational autoencoder (Gaussian encoder, KL term weighted by beta); scored by reconstruction error or negative ELBO.</summary>
    Variational,

    /// <summary>
    /// A convolutional autoencoder (<see cref="ConvolutionalAutoencoder"/>: 3x3 convolution and max-pooling levels, mirrored by
    /// transposed convolutions) over the feature vector read as an image of <c>ImageShape</c>; <c>LayerSizes</c> is not used.
    /// </summary>
    Convolutional,
}

/// <summary>How <see cref="AutoencoderAnomalyDetectionTrainer"/> chooses the score above which a row is predicted anomalous.</summary>
public enum AnomalyThresholdSource
{
    /// <summary>The (1 - <see cref="AutoencoderAnomalyDetectionTrainer.Options.Contamination"/>) quantile of the training scores.</summary>
    Contamination,

    /// <summary><see cref="AutoencoderAnomalyDetectionTrainer.Options.Threshold"/> as given.</summary>
    Explicit,

    /// <summary>
    /// The (1 - <see cref="AutoencoderAnomalyDetectionTrainer.Options.FalsePositiveRate"/>) quantile of the scores of the
    /// validation data of <c>Fit(trainData, validationData)</c>, whose rows are taken as normal.
    /// </summary>
    ValidationFalsePositiveRate,
}

/// <summary>
/// Trains an autoencoder on normal data with TorchSharp and returns a <see cref="NetworkTransformer"/> that
/// scores each row by how badly the autoencoder reconstructs it (ONNX Runtime, a batch per call). Created by
/// <c>mlContext.AnomalyDetection.Trainers.Autoencoder</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA), unsupervised: only the feature column is read</description></item>
/// <item><term>Feature column</term><description><c>Single</c> or known-size vector of <c>Single</c>; scale it first (<c>NormalizeMinMax</c> or <c>NormalizeMeanVariance</c>)</description></item>
/// <item><term>Label column</term><description>None: the options have no label column and the training data needs none. For
/// <c>mlContext.AnomalyDetection.Evaluate</c> the label is <c>Single</c> (1 = anomaly) or a 2-valued key</description></item>
/// <item><term>Output columns</term><description><c>Score</c> (<c>Single</c>, higher = more anomalous: mean squared reconstruction error,
/// optionally standardized per feature, or the variational kind's negative ELBO), <c>PredictedLabel</c> (<c>Boolean</c>, <c>Score</c> above the threshold),
/// and optionally <see cref="Options.FeatureContributionsColumnName"/> (each feature's share of the error)</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// <para>The threshold comparison is a node of the exported ONNX graph, so a saved model (either load path) predicts
/// exactly what the trained one does. The threshold is <see cref="Threshold"/> after <c>Fit</c>.</para>
/// <para>Train on normal rows only (or mostly): the network learns to reconstruct what it sees. Training reads
/// the feature column into memory once (4 bytes per value), or streams it (<c>Options.TrainingData</c>); scoring streams.</para>
/// <para>The options are validated when the detector is created and again when <c>Fit</c> starts, which reads them all
/// then: a change to <c>TrainerOptions</c> in between applies in full.</para>
/// </remarks>
public sealed class AutoencoderAnomalyDetectionTrainer : NetworkEstimator<AutoencoderAnomalyDetectionTrainer.Options>
{
    internal AutoencoderAnomalyDetectionTrainer(IHostEnvironment environment, Options options) : base(environment, options, "AutoencoderAnomalyDetection")
    {
    }

    /// <summary>The options this trainer was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options TrainerOptions => LiveOptions;

    /// <summary>The threshold chosen by the last <c>Fit</c>, or null before the first.</summary>
    public float? Threshold { get; private set; }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TrainerOptions.FeatureColumnName);
        SchemaShapes.CheckWeightColumn(inputSchema, TrainerOptions.ExampleWeightColumnName);
        return SchemaShapes.With(inputSchema, AnomalyTask.OutputShape(TrainerOptions.FeatureContributionsColumnName));
    }

    /// <inheritdoc/>
    private protected override bool CanStream => true;

    /// <inheritdoc/>
    private protected override IEnumerable<string> GraphOutputNames(Options options, FitData data)
        => AnomalyTask.OutputNames(options.FeatureContributionsColumnName is not null);

    private protected override FitData Read(Options options, IDataView train, IDataView? validation)
    {
        ThresholdScores.RequireValidation(options.ThresholdSource, validation is not null, "rows");
        var (feature, featureSize) = FeatureColumn.Resolve(train.Schema, options.FeatureColumnName);
        ConvolutionalShape.Check(options.Kind, options.ImageShape, feature, featureSize);
        // An undercomplete autoencoder: a code as large as the input can learn the identity.
        if (options.Kind == AutoencoderKind.Convolutional)
        {
            // LayerSizes plays no part here: the code is the last convolution's channels on the image halved once per level.
            var code = ConvolutionalAutoencoder.CodeShape(options.ImageShape!, options.ConvolutionalFilters);
            int codeSize = Shapes.Size(code);
            if (codeSize >= featureSize)
            {
                throw new ArgumentOutOfRangeException($"Options.{nameof(Options.ConvolutionalFilters)}", Shapes.Format(options.ConvolutionalFilters ?? ConvolutionalAutoencoder.DefaultFilters),
                    $"Options.ConvolutionalFilters and Options.ImageShape give a code of {Shapes.Format(code)} = {codeSize} values, not fewer than the {featureSize} " +
                    $"values of feature column '{feature.Name}' (an undercomplete autoencoder; a code as large as the input can learn the identity). The code is " +
                    "the last filter count times the image's height and width halved once per filter level: use fewer filters in the last level, or more levels.");
            }
        }
        else if (options.LayerSizesFor(featureSize) is var layerSizes && layerSizes[^1] >= featureSize)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(Options.LayerSizes)}", Shapes.Format(layerSizes),
                $"Options.LayerSizes must end with a code size smaller than the input: the code size is {layerSizes[^1]} but feature column '{feature.Name}' has {featureSize} " +
                (featureSize == 1 ? "value, and one value has no smaller code: the detector needs at least two features (mlContext.Transforms.Concatenate)" : "values") +
                " (an undercomplete autoencoder; a code as large as the input can learn the identity).");
        }
        var ct = options.CancellationToken;
        var holding = Holding(options, train, featureSize);
        var trainSet = TrainingDataReader.ReadReconstruction(train, feature, featureSize, options.ExampleWeightColumnName, ct, holding);
        TrainingSet? validationSet = null;
        if (validation is not null)
        {
            var validationFeature = FeatureColumn.Resolve(validation.Schema, options.FeatureColumnName, featureSize, "validation feature");
            validationSet = TrainingDataReader.Validation(() => TrainingDataReader.ReadReconstruction(validation, validationFeature, featureSize, null, ct, RowHolding.ForValidation(trainSet, Holding(options, validation, featureSize))));
        }
        return new FitData(feature, featureSize, trainSet, validationSet, Task: null);
    }

    private protected override string? NetworkCountOption => $"Options.{nameof(Options.EnsembleSize)}";

    /// <summary>The autoencoder, and for an ensemble (<see cref="Options.EnsembleSize"/>) the others after it, each built from the next seed.</summary>
    private protected override NetworkPlan Plan(Options options, FitData data)
    {
        var plan = options.Plan(data.InputSize);
        return plan with { Others = Enumerable.Repeat(plan, options.EnsembleSize - 1).ToArray() };
    }

    private protected override TrainingObjective Objective(Options options, IReadOnlyList<Network> networks, FitData data) => options.CreateObjective(networks[0]);

    /// <summary>
    /// Trains each autoencoder of the ensemble in turn, each with its own seed (the shuffling, the validation split and the
    /// noise of the kinds that draw it) and, with checkpoints, its own folder (<c>member-2</c>, ... inside CheckpointDirectory);
    /// returns the first one's history.
    /// </summary>
    private protected override TrainingHistory Train(Options options, IReadOnlyList<Network> networks, FitData data, TrainingOptions training)
    {
        if (networks.Count == 1)
        {
            return base.Train(options, networks, data, training);
        }
        TrainingHistory? first = null;
        // The model keeps the first network's history: the run logs (CSV, TensorBoard) and Progress describe that network; the
        // others report to mlContext.Log only, as "network 2, epoch ...", so that no log mixes the networks' epochs.
        var others = training.Callbacks.OfType<LogProgress>().FirstOrDefault()?.ForStage("network", training.Epochs, firstNumber: 2);
        for (int member = 0; member < networks.Count; member++)
        {
            var memberTraining = member == 0 ? training : MemberOptions(training, member, others is null ? [] : [others]);
            var history = new TrainingLoop(memberTraining).Fit(options.CreateObjective(networks[member]), data.Train, data.Validation,
                member == 0 ? options.Progress : null, options.CancellationToken);
            first ??= history;
        }
        return first!;
    }

    /// <summary>The training options of ensemble member <paramref name="member"/> (0 is the first): the seed after, the member's checkpoint folder, and <paramref name="callbacks"/>.</summary>
    private static TrainingOptions MemberOptions(TrainingOptions training, int member, IEnumerable<TrainingCallback> callbacks)
    {
        var options = training.Copy(callbacks);
        options.Seed = unchecked(training.Seed + member);
        options.CheckpointDirectory = training.CheckpointDirectory is { } folder ? Path.Combine(folder, $"member-{member + 1}") : null;
        return options;
    }

    /// <summary>The scoring graph: the score, then the threshold chosen from the training (or validation) scores compared with it.</summary>
    private protected override NetworkTransformer Export(Fitted fitted)
    {
        var (options, members, scoring) = (fitted.Options, fitted.Networks, fitted.Scoring);
        string input = fitted.Data.Input.Name;
        int featureSize = fitted.Data.InputSize;
        var train = fitted.Data.Train;
        int chunkRows = ThresholdScores.ChunkRows(featureSize, scoring);
        var score = options.Kind == AutoencoderKind.Variational && options.VariationalScore == AutoencoderScore.NegativeElbo
            ? AutoencoderScore.NegativeElbo : AutoencoderScore.ReconstructionError;
        var scales = new float[]?[members.Count];
        float[]? trainScores = null;
        if (options.StandardizeError)
        {
            for (int m = 0; m < members.Count; m++)
            {
                // One ONNX Runtime pass over the training rows serves both the scale and, when the threshold needs the
                // training scores, the scores themselves: a second export, session and pass would compute the same
                // reconstructions again (measured in eng/bench: the pass costs about one forward pass over the rows).
                // Streamed rows come in chunks, and their scores need the scale first: a second pass. An ensemble's
                // scores are its graph's (the mean of its members' scores), computed below.
                byte[] reconstructionModel = members[m].ExportScoringOnnx(input, score);
                var errors = new ErrorMoments(featureSize);
                float[]? reconstruction = null;
                ThresholdScores.Run(reconstructionModel, input, train.FeatureChunks(chunkRows), featureSize, AutoencoderScoringExport.ReconstructionOutput, featureSize, scoring,
                    (rows, outputs) => errors.Add(reconstruction = outputs, rows));
                float[] scale = scales[m] = errors.Scale();
                if (members.Count == 1 && options.ThresholdSource == AnomalyThresholdSource.Contamination && score == AutoencoderScore.ReconstructionError)
                {
                    if (train.Rows is null)
                    {
                        trainScores = StandardizedErrors(reconstruction!, train.Features, featureSize, scale);
                    }
                    else
                    {
                        var scores = new List<float>(train.Count);
                        ThresholdScores.Run(reconstructionModel, input, train.FeatureChunks(chunkRows), featureSize, AutoencoderScoringExport.ReconstructionOutput, featureSize, scoring,
                            (rows, outputs) => scores.AddRange(StandardizedErrors(outputs, rows, featureSize, scale)));
                        trainScores = scores.ToArray();
                    }
                }
            }
        }
        IReadOnlyList<IReadOnlyList<float>?>? featureScales = options.StandardizeError ? scales : null;
        float[] Scores(TrainingSet set)
        {
            var scores = new List<float>(set.Count);
            ThresholdScores.Run(members.ExportScoringOnnx(input, score, featureScales), input, set.FeatureChunks(chunkRows), featureSize, AutoencoderScoringExport.ScoreOutput, 1, scoring,
                (_, outputs) => scores.AddRange(outputs));
            return scores.ToArray();
        }
        float threshold = ThresholdScores.Choose(options.ThresholdSource, options.Threshold, options.Contamination, options.FalsePositiveRate,
            () => trainScores ?? Scores(train), () => Scores(fitted.Data.Validation!));
        Threshold = threshold;

        var task = new AnomalyTask { Threshold = threshold, FeatureSize = featureSize, FeatureContributionsColumn = options.FeatureContributionsColumnName, MissingValues = options.MissingValues };
        var summary = fitted.Network.Summarize();
        return fitted.Transformer(task, fitted.Network,
            metadata => members.ExportScoringOnnx(input, score, featureScales, metadata, threshold, options.FeatureContributionsColumnName is not null), outputShape: [1],
            summary: members.Count == 1 ? null
                : $"{summary}\nEnsemble (Options.EnsembleSize): {members.Count} such networks, their scores averaged; " +
                  $"{(summary.TotalParameters * members.Count).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} parameters in all.");
    }

    /// <summary>
    /// Each feature's standard deviation of the training reconstruction error <c>x - x̂</c>, accumulated over the rows (in one
    /// array or in chunks, in order) and floored at 1% of the features' mean root mean square error (bias included; never below
    /// the spreads' mean) and at 1e-6, so that a feature the autoencoder reconstructs perfectly (a pixel always 0), or training rows that are all the
    /// same, cannot blow up the score.
    /// </summary>
    internal sealed class ErrorMoments(int featureSize)
    {
        private readonly double[] _sum = new double[featureSize];
        private readonly double[] _sumSquares = new double[featureSize];
        private long _rows;

        public void Add(float[] reconstruction, float[] rows)
        {
            for (int i = 0; i < rows.Length; i++)
            {
                double error = rows[i] - reconstruction[i];
                _sum[i % featureSize] += error;
                _sumSquares[i % featureSize] += error * error;
            }
            _rows += rows.Length / featureSize;
        }

        public float[] Scale()
        {
            var std = new double[featureSize];
            double rms = 0;
            for (int j = 0; j < featureSize; j++)
            {
                double mean = _sum[j] / _rows;
                std[j] = Math.Sqrt(Math.Max(0, _sumSquares[j] / _rows - mean * mean));
                rms += Math.Sqrt(_sumSquares[j] / _rows) / featureSize;
            }
            // The floor follows the errors' size (their root mean square, bias included), not only their spread: on training
            // rows that are all the same, every spread is ~0 while the errors are not, and a floor of 1% of the spreads scored
            // those very rows at 6e10.
            double floor = Math.Max(1e-6, 0.01 * rms); // rms is at least the spreads' mean: each feature's RMS is at least its std
            return std.Select(s => (float)Math.Max(s, floor)).ToArray();
        }
    }

    /// <summary>
    /// The scoring graph's <c>Score</c> with a feature scale, computed from a reconstruction already at hand: per row, the mean over
    /// features of <c>((x - x̂) / scale)²</c>, as the graph's Sub, Div, Mul and ReduceMean nodes compute it (accumulated in double,
    /// so it differs from ONNX Runtime's float sum by rounding only, far below 1e-5).
    /// </summary>
    internal static float[] StandardizedErrors(float[] reconstruction, float[] rows, int featureSize, float[] scale)
    {
        var scores = new float[rows.Length / featureSize];
        for (int r = 0; r < scores.Length; r++)
        {
            int offset = r * featureSize;
            double sum = 0;
            for (int j = 0; j < featureSize; j++)
            {
                float d = (rows[offset + j] - reconstruction[offset + j]) / scale[j];
                sum += d * d;
            }
            scores[r] = (float)(sum / featureSize);
        }
        return scores;
    }

    /// <summary>
    /// Options of <see cref="AutoencoderAnomalyDetectionTrainer"/>: the feature column, the threshold, and the autoencoder's options
    /// (<see cref="AutoencoderOptions"/>). There is no label column: the detector trains without labels.
    /// </summary>
    public sealed class Options : AutoencoderOptions
    {
        /// <summary>The most autoencoders <see cref="EnsembleSize"/> may ask for.</summary>
        public const int MaxEnsembleSize = 32;

        /// <summary>
        /// Creates the options with the detector's defaults: those of <see cref="AutoencoderOptions"/>, and a learning rate of 1e-2.
        /// With the digits' split of seed 1 and five training seeds (docs/quality-presets-detector.md, two rows of 1e-2 with other
        /// seeds) the detector reached ROC AUC 0.9916 ± 0.0025 and 0.9948 ± 0.0027 (0-4 against 7), 0.8944 ± 0.0053 and
        /// 0.8823 ± 0.0466 (5-9 against 1), where 1e-3 reached 0.9772 ± 0.0108 and 0.8729 ± 0.0246 in the same 50 epochs. The
        /// autoencoder transforms keep 1e-3: their code classified no better at the higher rates.
        /// </summary>
        public Options()
        {
            LearningRate = 1e-2;
        }

        /// <summary>The feature column: <c>Single</c> or a known-size vector of <c>Single</c>.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>
        /// A <c>Single</c> column of per-row weights that scale each training row's reconstruction loss (ML.NET's
        /// <c>ExampleWeightColumnName</c>): a weight of 2 counts a row twice, 0 leaves it out of training; finite, at least 0,
        /// not all 0. Null (default) weighs every row 1. Not with <see cref="AutoencoderKind.Variational"/>. The threshold is
        /// still chosen from every training row's score, unweighted; rows held out by <see cref="NetworkOptions.ValidationFraction"/> keep
        /// their weights, a validation set given to <c>Fit</c> is not weighted.
        /// </summary>
        public string? ExampleWeightColumnName { get; set; }

        /// <summary>
        /// What scoring does with a row whose features hold NaN (a missing value) or infinity: flag it as an anomaly (default;
        /// its <c>Score</c> is NaN) or throw. Training rejects such rows either way.
        /// </summary>
        public MissingValuePolicy MissingValues { get; set; } = MissingValuePolicy.FlagAsAnomaly;

        /// <summary><see cref="AutoencoderKind.Variational"/>: what <c>Score</c> measures, the reconstruction error (default) or the negative ELBO.</summary>
        public AutoencoderScore VariationalScore { get; set; } = AutoencoderScore.ReconstructionError;

        /// <summary>Whether each feature's error is divided by the standard deviation of its training reconstruction error before it enters the score.</summary>
        public bool StandardizeError { get; set; }

        /// <summary>How the threshold of <c>PredictedLabel</c> is chosen.</summary>
        public AnomalyThresholdSource ThresholdSource { get; set; } = AnomalyThresholdSource.Contamination;

        /// <summary>The expected fraction of anomalies in the training data, in (0, 0.5]: the threshold is that upper quantile of the training scores.</summary>
        public double Contamination { get; set; } = 0.05;

        /// <summary>With <see cref="AnomalyThresholdSource.Explicit"/>: the threshold, finite.</summary>
        public float? Threshold { get; set; }

        /// <summary>With <see cref="AnomalyThresholdSource.ValidationFalsePositiveRate"/>: the fraction of normal validation rows allowed above the threshold, in (0, 0.5].</summary>
        public double FalsePositiveRate { get; set; } = 0.05;

        /// <summary>The name of a vector column with each feature's share of the row's error (summing to 1); null (default) adds none.</summary>
        public string? FeatureContributionsColumnName { get; set; }

        /// <summary>
        /// How many autoencoders the detector trains, each from its own seed (the detector's seed, then the next ones), and
        /// averages: <c>Score</c> is the mean of their scores, each computed as one autoencoder's would be (with its own error
        /// scale under <see cref="StandardizeError"/>), and the threshold is chosen on that mean. One network's AUC depends on its
        /// seed more than a detector should; 10 (default) brings the spread over seeds near 0.01 on the bundled digits, at about
        /// ten times one network's training time, and scoring computes ten networks per row. Measured with the digits' split of seed 1 and ten training seeds
        /// (docs/quality-presets-ensemble.md, every candidate on the same seeds): ROC AUC 0.8949 ± 0.0227 with one network, 0.9178 ± 0.0149 with 5 and
        /// 0.9155 ± 0.0111 with 10 (5-9 against 1); 0.9927 ± 0.0022 and 0.9970 ± 0.0007 with 1 and 10 (0-4 against 7); Fit took
        /// 0.3 s with one network and 2.3 s with 10. Set 1 for one network (the fastest to train and score). From 1 to 32. The
        /// training history is the first autoencoder's, and <c>Progress</c>, <c>HistoryCsvPath</c> and <c>TensorBoardDirectory</c>
        /// describe that one (the others report to <c>mlContext.Log</c> as "network 2"...); a warm start continues every one, and needs the initial model's size
        /// (another size is an <see cref="ArgumentException"/> naming <c>initialModel</c> and this option).
        /// </summary>
        public int EnsembleSize { get; set; } = 10;

        internal override void Validate()
        {
            CheckColumnName(nameof(FeatureColumnName), FeatureColumnName);
            if (ExampleWeightColumnName is not null)
            {
                CheckColumnName(nameof(ExampleWeightColumnName), ExampleWeightColumnName);
                Check(Kind != AutoencoderKind.Variational, nameof(ExampleWeightColumnName), $"'{ExampleWeightColumnName}'",
                    "must be null with Kind = Variational (its loss's KL term has no per-row weight here)");
            }
            base.Validate();
            Check(Enum.IsDefined(VariationalScore), nameof(VariationalScore), VariationalScore, "must be a defined AutoencoderScore");
            Check(VariationalScore != AutoencoderScore.NegativeElbo || Kind == AutoencoderKind.Variational, nameof(VariationalScore), VariationalScore,
                "needs Kind = Variational (only a variational autoencoder has an ELBO)");
            CheckAnomalyThreshold(ThresholdSource, Contamination, Threshold, FalsePositiveRate, MissingValues);
            Check(EnsembleSize is >= 1 and <= MaxEnsembleSize, nameof(EnsembleSize), EnsembleSize, $"must be in [1, {MaxEnsembleSize}]");
            Check(FeatureContributionsColumnName is null || !string.IsNullOrWhiteSpace(FeatureContributionsColumnName), nameof(FeatureContributionsColumnName),
                $"'{FeatureContributionsColumnName}'", "must name a column or be null");
            Check(FeatureContributionsColumnName is not (ColumnNames.Score or ColumnNames.PredictedLabel), nameof(FeatureContributionsColumnName),
                $"'{FeatureContributionsColumnName}'", "must differ from Score and PredictedLabel");
        }
    }
}
