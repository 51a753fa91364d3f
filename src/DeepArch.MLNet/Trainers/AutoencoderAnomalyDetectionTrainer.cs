using DeepArch.MLNet.Data;
using DeepArch.MLNet.Heads;
using DeepArch.MLNet.Schema;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet.Trainers;

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
/// the feature column into memory once (4 bytes per value); scoring streams.</para>
/// <para>The options are validated when the detector is created and again when <c>Fit</c> starts, which reads them all
/// then: a change to <see cref="TrainerOptions"/> in between applies in full.</para>
/// </remarks>
public sealed class AutoencoderAnomalyDetectionTrainer : IEstimator<NetworkTransformer>
{
    private const string TrainerName = "AutoencoderAnomalyDetection";
    private readonly IHostEnvironment _environment;

    internal AutoencoderAnomalyDetectionTrainer(IHostEnvironment environment, Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _environment = environment;
        TrainerOptions = options;
    }

    /// <summary>The options this trainer was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options TrainerOptions { get; }

    /// <summary>The threshold chosen by the last <c>Fit</c>, or null before the first.</summary>
    public float? Threshold { get; private set; }

    /// <summary>Trains on <paramref name="input"/> (normal rows); validation, if any, uses <c>ValidationFraction</c> of it.</summary>
    public NetworkTransformer Fit(IDataView input) => FitCore(input, null);

    /// <summary>
    /// Trains on <paramref name="trainData"/> and validates every epoch on <paramref name="validationData"/> (normal rows);
    /// with <see cref="AnomalyThresholdSource.ValidationFalsePositiveRate"/> the threshold comes from the validation scores.
    /// </summary>
    public NetworkTransformer Fit(IDataView trainData, IDataView validationData)
    {
        ArgumentNullException.ThrowIfNull(validationData);
        return FitCore(trainData, validationData);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TrainerOptions.FeatureColumnName);
        return SchemaShapes.With(inputSchema, AnomalyHead.OutputShape(TrainerOptions.FeatureContributionsColumnName));
    }

    private NetworkTransformer FitCore(IDataView train, IDataView? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        var options = NetworkOptions.Snapshot(TrainerOptions);
        options.CheckEarlyStoppingHasValidation(validation is not null);
        if (validation is null && options.ThresholdSource == AnomalyThresholdSource.ValidationFalsePositiveRate)
        {
            throw new InvalidOperationException(
                "Options.ThresholdSource is ValidationFalsePositiveRate but there is no validation data: call Fit(trainData, validationData) with normal rows, " +
                "or choose Contamination or Explicit.");
        }
        var (feature, featureSize) = FeatureColumn.Resolve(train.Schema, options.FeatureColumnName);
        ConvolutionalShape.Check(options.Kind, options.ImageShape, feature, featureSize);
        int codeSize = options.Kind == AutoencoderKind.Convolutional
            ? Shapes.Size(ConvolutionalAutoencoder.CodeShape(options.ImageShape!, options.ConvolutionalFilters))
            : options.LayerSizes[^1];
        if (codeSize >= featureSize)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(Options.LayerSizes)}", Shapes.Format(options.LayerSizes),
                $"Options.LayerSizes must end with a code size smaller than the input: the code size is {codeSize} but feature column '{feature.Name}' has {featureSize} values " +
                "(an undercomplete autoencoder; a code as large as the input can learn the identity).");
        }
        var ct = options.CancellationToken;
        float[] trainRows = TrainingDataReader.ReadFeatures(train, feature, featureSize, ct);
        float[]? validationRows = null;
        if (validation is not null)
        {
            var validationFeature = FeatureColumn.Resolve(validation.Schema, options.FeatureColumnName, featureSize, "validation feature");
            validationRows = TrainingDataReader.ReadFeatures(validation, validationFeature, featureSize, ct);
        }

        int seed = options.Seed ?? CatalogEnvironment.Seed(_environment);
        var device = TorchRuntime.ResolveDevice(options.Device, options.FallbackToCpu, "Options.Device");
        int[] sizes = [featureSize, .. options.LayerSizes];
        var trainSet = ReconstructionSet.Create(trainRows, featureSize);
        var validationSet = validationRows is null ? null : ReconstructionSet.Create(validationRows, featureSize);
        var training = options.ToTrainingOptions(seed);
        var (network, history) = TrainingGuard.Train(options.CreateSpec(sizes), [featureSize], seed, device, training, trainSet, validationSet,
            AutoencoderNames(options.Kind, options.LayerSizes, options.ImageShape, options.ConvolutionalFilters, featureSize), options.ToScoringSettings(),
            built => new TrainingLoop(training).Fit(options.CreateObjective(built), trainSet, validationSet, options.Progress, ct));
        using var _ = network;

        var scoring = options.ToScoringSettings();
        var score = options.Kind == AutoencoderKind.Variational && options.VariationalScore == AutoencoderScore.NegativeElbo
            ? AutoencoderScore.NegativeElbo : AutoencoderScore.ReconstructionError;
        float[]? scale = null;
        float[]? trainScores = null;
        if (options.StandardizeError)
        {
            // One ONNX Runtime pass over the training rows serves both the scale and, when the threshold needs the
            // training scores, the scores themselves: a second export, session and pass would compute the same
            // reconstructions again (measured in eng/bench: the pass costs about one forward pass over the rows).
            float[] reconstruction = ThresholdScores.Run(network.ExportScoringOnnx(feature.Name, score), feature.Name, trainRows, featureSize,
                AutoencoderScoringExport.ReconstructionOutput, featureSize, scoring);
            scale = FeatureErrorScale(reconstruction, trainRows, featureSize);
            if (options.ThresholdSource == AnomalyThresholdSource.Contamination && score == AutoencoderScore.ReconstructionError)
            {
                trainScores = StandardizedErrors(reconstruction, trainRows, featureSize, scale);
            }
        }
        float threshold = options.ThresholdSource switch
        {
            AnomalyThresholdSource.Explicit => options.Threshold!.Value,
            AnomalyThresholdSource.Contamination => ThresholdScores.UpperQuantile(
                trainScores ?? Scores(network.ExportScoringOnnx(feature.Name, score, scale), feature.Name, trainRows, featureSize, scoring), options.Contamination),
            _ => ThresholdScores.UpperQuantile(Scores(network.ExportScoringOnnx(feature.Name, score, scale), feature.Name, validationRows!, featureSize, scoring), options.FalsePositiveRate),
        };
        Threshold = threshold;

        var head = new AnomalyHead { Threshold = threshold, FeatureSize = featureSize, FeatureContributionsColumn = options.FeatureContributionsColumnName, MissingValues = options.MissingValues };
        var info = new ModelInfo(TrainerName, feature.Name, featureSize, [1], head, history, network.Summarize().ToString(), scoring);
        byte[] onnx = network.ExportScoringOnnx(feature.Name, score, scale,
            new Dictionary<string, string> { [ModelInfo.MetadataKey] = info.ToJson() }, threshold, options.FeatureContributionsColumnName is not null);
        return new NetworkTransformer(onnx, info);
    }

    /// <summary>
    /// Each feature's standard deviation of the training reconstruction error <c>x - x̂</c>, floored at 1% of their mean
    /// (and at 1e-6), so that a feature the autoencoder reconstructs perfectly (a pixel always 0) cannot blow up the score.
    /// </summary>
    internal static float[] FeatureErrorScale(float[] reconstruction, float[] rows, int featureSize)
    {
        int count = rows.Length / featureSize;
        var sum = new double[featureSize];
        var sumSquares = new double[featureSize];
        for (int i = 0; i < rows.Length; i++)
        {
            double error = rows[i] - reconstruction[i];
            sum[i % featureSize] += error;
            sumSquares[i % featureSize] += error * error;
        }
        var std = new double[featureSize];
        for (int j = 0; j < featureSize; j++)
        {
            double mean = sum[j] / count;
            std[j] = Math.Sqrt(Math.Max(0, sumSquares[j] / count - mean * mean));
        }
        double floor = Math.Max(1e-6, 0.01 * std.Average());
        return std.Select(s => (float)Math.Max(s, floor)).ToArray();
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

    private static float[] Scores(byte[] model, string input, float[] rows, int featureSize, ScoringSettings scoring)
        => ThresholdScores.Run(model, input, rows, featureSize, AutoencoderScoringExport.ScoreOutput, 1, scoring);

    /// <summary>The options that size an autoencoder, as errors name them (shared with the autoencoder transforms).</summary>
    internal static NetworkOptionNames AutoencoderNames(AutoencoderKind kind, IReadOnlyList<int> layerSizes, IReadOnlyList<int>? imageShape,
        IReadOnlyList<int>? filters, int featureSize) => kind == AutoencoderKind.Convolutional
        ? new($"Options.ConvolutionalFilters {Shapes.Format(filters ?? ConvolutionalAutoencoder.DefaultFilters)} on Options.ImageShape {Shapes.Format(imageShape!)}",
            "Options.ConvolutionalFilters or Options.ImageShape")
        : new($"Options.LayerSizes {Shapes.Format(layerSizes)} on {featureSize} features", "Options.LayerSizes", "Options.BatchNorm");

    /// <summary>
    /// Options of <see cref="AutoencoderAnomalyDetectionTrainer"/>: the feature column, the autoencoder, the threshold, and the
    /// training, scoring and device options of <see cref="NetworkOptions"/>. There is no label column: the detector trains without labels.
    /// </summary>
    public sealed class Options : NetworkOptions
    {
        /// <summary>Creates the options with the detector's defaults: 50 epochs, learning rate 1e-3.</summary>
        public Options()
        {
            Epochs = 50;
        }

        /// <summary>The feature column: <c>Single</c> or a known-size vector of <c>Single</c>.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>
        /// What scoring does with a row whose features hold NaN (a missing value) or infinity: flag it as an anomaly (default;
        /// its <c>Score</c> is NaN or infinite) or throw. Training rejects such rows either way.
        /// </summary>
        public MissingValuePolicy MissingValues { get; set; } = MissingValuePolicy.FlagAsAnomaly;

        /// <summary>The hidden sizes, then the code size (the input size is the feature column's); each at least 1, and the code smaller than the input.</summary>
        public IReadOnlyList<int> LayerSizes { get; set; } = [32, 8];

        /// <summary>The hidden layers' activation.</summary>
        public ActivationKind Activation { get; set; } = ActivationKind.ReLU;

        /// <summary>Applied to the reconstruction: Identity (default) for standardized data, Sigmoid for values in [0, 1].</summary>
        public ActivationKind OutputActivation { get; set; } = ActivationKind.Identity;

        /// <summary>Dropout after each hidden activation during training, in [0, 1); 0 (default) adds none.</summary>
        public float Dropout { get; set; }

        /// <summary>
        /// Whether each hidden layer is batch-normalized before its activation (not the convolutional kind). Batch normalization needs at least two
        /// rows per batch: with it, <c>BatchSize</c> must be at least 2, and <c>Fit</c> rejects a training set of fewer than 2 rows (after the validation split).
        /// </summary>
        public bool BatchNorm { get; set; }

        /// <summary>The autoencoder kind.</summary>
        public AutoencoderKind Kind { get; set; } = AutoencoderKind.Deep;

        /// <summary><see cref="AutoencoderKind.Convolutional"/>: the feature vector's image shape [channels, height, width]; height and width divisible by 2 per filter level.</summary>
        public IReadOnlyList<int>? ImageShape { get; set; }

        /// <summary><see cref="AutoencoderKind.Convolutional"/>: filters per encoder level (the decoder mirrors them); null gives [16, 8].</summary>
        public IReadOnlyList<int>? ConvolutionalFilters { get; set; }

        /// <summary><see cref="AutoencoderKind.Sparse"/>: the weight of the L1 activity penalty on the code; finite, at least 0.</summary>
        public float ActivityL1 { get; set; } = 1e-3f;

        /// <summary><see cref="AutoencoderKind.Sparse"/>: rho, the target mean activation of each code unit, in (0, 1).</summary>
        public float SparsityTarget { get; set; } = 0.05f;

        /// <summary><see cref="AutoencoderKind.Sparse"/>: beta, the weight of the KL sparsity penalty; finite, at least 0 (above 0 makes the code Sigmoid).</summary>
        public float SparsityWeight { get; set; }

        /// <summary><see cref="AutoencoderKind.Denoising"/>: the standard deviation of the Gaussian noise added to training inputs; finite, at least 0.</summary>
        public float GaussianNoise { get; set; } = 0.1f;

        /// <summary><see cref="AutoencoderKind.Denoising"/>: the probability of zeroing each training input value, in [0, 1).</summary>
        public float MaskingProbability { get; set; }

        /// <summary><see cref="AutoencoderKind.Variational"/>: the weight of the KL term; finite, at least 0.</summary>
        public float Beta { get; set; } = 1;

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

        internal override void Validate()
        {
            Check(!string.IsNullOrWhiteSpace(FeatureColumnName), nameof(FeatureColumnName), FeatureColumnName is null ? "null" : $"'{FeatureColumnName}'", "must name a column");
            base.Validate();
            Check(LayerSizes is not null, nameof(LayerSizes), "null", "must not be null");
            Check(LayerSizes!.Count >= 1 && LayerSizes.All(s => s >= 1), nameof(LayerSizes), Shapes.Format(LayerSizes!), "must hold at least the code size, each size at least 1");
            Check(Enum.IsDefined(Activation), nameof(Activation), Activation, "must be a defined ActivationKind");
            Check(Enum.IsDefined(OutputActivation), nameof(OutputActivation), OutputActivation, "must be a defined ActivationKind");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            Check(Enum.IsDefined(Kind), nameof(Kind), Kind, "must be a defined AutoencoderKind");
            ConvolutionalShape.Validate(Kind, ImageShape, ConvolutionalFilters);
            Check(ActivityL1 >= 0 && float.IsFinite(ActivityL1), nameof(ActivityL1), ActivityL1, "must be finite and at least 0");
            Check(SparsityTarget > 0 && SparsityTarget < 1, nameof(SparsityTarget), SparsityTarget, "must be in (0, 1)");
            Check(SparsityWeight >= 0 && float.IsFinite(SparsityWeight), nameof(SparsityWeight), SparsityWeight, "must be finite and at least 0");
            Check(GaussianNoise >= 0 && float.IsFinite(GaussianNoise), nameof(GaussianNoise), GaussianNoise, "must be finite and at least 0");
            Check(MaskingProbability >= 0 && MaskingProbability < 1, nameof(MaskingProbability), MaskingProbability, "must be in [0, 1)");
            Check(Beta >= 0 && float.IsFinite(Beta), nameof(Beta), Beta, "must be finite and at least 0");
            Check(Enum.IsDefined(VariationalScore), nameof(VariationalScore), VariationalScore, "must be a defined AutoencoderScore");
            Check(VariationalScore != AutoencoderScore.NegativeElbo || Kind == AutoencoderKind.Variational, nameof(VariationalScore), VariationalScore,
                "needs Kind = Variational (only a variational autoencoder has an ELBO)");
            Check(Enum.IsDefined(ThresholdSource), nameof(ThresholdSource), ThresholdSource, "must be a defined AnomalyThresholdSource");
            Check(Enum.IsDefined(MissingValues), nameof(MissingValues), MissingValues, "must be FlagAsAnomaly or Throw");
            Check(Contamination > 0 && Contamination <= 0.5, nameof(Contamination), Contamination, "must be in (0, 0.5]");
            Check(ThresholdSource != AnomalyThresholdSource.Explicit || Threshold is { } t && float.IsFinite(t), nameof(Threshold),
                Threshold is null ? "null" : Threshold.Value, "must be a finite number when ThresholdSource is Explicit");
            Check(FalsePositiveRate > 0 && FalsePositiveRate <= 0.5, nameof(FalsePositiveRate), FalsePositiveRate, "must be in (0, 0.5]");
            Check(FeatureContributionsColumnName is null || !string.IsNullOrWhiteSpace(FeatureContributionsColumnName), nameof(FeatureContributionsColumnName),
                $"'{FeatureContributionsColumnName}'", "must name a column or be null");
            Check(FeatureContributionsColumnName is not (ColumnNames.Score or ColumnNames.PredictedLabel), nameof(FeatureContributionsColumnName),
                $"'{FeatureContributionsColumnName}'", "must differ from Score and PredictedLabel");
            // The autoencoder for a stand-in input size: which layers it has does not depend on it.
            CheckBatchSizeForBatchNorm(CreateSpec([1, .. LayerSizes]), "Options.BatchNorm");
        }

        private protected override void CopyLists()
        {
            LayerSizes = LayerSizes?.ToArray()!;
            ImageShape = ImageShape?.ToArray();
            ConvolutionalFilters = ConvolutionalFilters?.ToArray();
        }

        /// <summary>The autoencoder of <see cref="Kind"/> over <paramref name="sizes"/> (input size first).</summary>
        internal AutoencoderSpec CreateSpec(int[] sizes) => Kind switch
        {
            AutoencoderKind.Convolutional => ConvolutionalAutoencoder.CreateSpec(ImageShape!, ConvolutionalFilters, Activation, OutputActivation),
            AutoencoderKind.Variational => Autoencoder.CreateVariational(sizes, Activation, OutputActivation, Dropout, BatchNorm),
            AutoencoderKind.Sparse when SparsityWeight > 0 => Autoencoder.Create(sizes, Activation, OutputActivation, ActivationKind.Sigmoid, Dropout, BatchNorm),
            _ => Autoencoder.Create(sizes, Activation, OutputActivation, dropout: Dropout, batchNorm: BatchNorm, tiedWeights: Kind == AutoencoderKind.Tied),
        };

        /// <summary>The training objective of <see cref="Kind"/> for the autoencoder <paramref name="network"/>.</summary>
        internal TrainingObjective CreateObjective(Network network) => Kind switch
        {
            AutoencoderKind.Sparse => new SparseObjective(network, ActivityL1, SparsityTarget, SparsityWeight),
            AutoencoderKind.Denoising => new DenoisingObjective(network, GaussianNoise, MaskingProbability),
            AutoencoderKind.Variational => new VariationalObjective(network, Beta),
            _ => new SupervisedObjective(network, LossFunction.MeanSquaredError),
        };
    }
}
