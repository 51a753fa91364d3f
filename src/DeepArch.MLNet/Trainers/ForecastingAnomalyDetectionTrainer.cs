using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Anomaly detection by prediction: trains a recurrent forecaster on windows of a normal series to predict each step of a
/// window from the steps before it (the default with <see cref="Options.Horizon"/> 1), or the last <see cref="Options.Horizon"/>
/// steps from those before them, and scores a window by how wrong (or, with Monte-Carlo dropout, how unsure) the forecast is,
/// standardized by the scores of the training windows. Created by <c>mlContext.AnomalyDetection.Trainers.RecurrentForecaster</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA), unsupervised: only the window column is read</description></item>
/// <item><term>Feature column</term><description>A known-size vector of <c>Single</c>: one window of a series, its steps one after the other,
/// <see cref="Options.FeaturesPerStep"/> values per step; the network predicts every step from the ones before it (stepwise, the default for a
/// horizon of 1), or reads all but the last <see cref="Options.Horizon"/> steps and forecasts those.
/// Scale the series first (for example subtract the training mean and divide by the standard deviation)</description></item>
/// <item><term>Label column</term><description>None. For <c>mlContext.AnomalyDetection.Evaluate</c> the label is <c>Single</c> (1 = anomaly) or a 2-valued key</description></item>
/// <item><term>Output columns</term><description><c>Score</c> (<c>Single</c>, higher = more anomalous: the largest squared one-step error of the
/// window, the forecast's mean squared error, or its Monte-Carlo variance, minus the training windows' mean, over their standard deviation) and <c>PredictedLabel</c> (<c>Boolean</c>, <c>Score</c> above the threshold)</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// </list>
/// <para>The scoring graph computes the score and the threshold comparison, so a saved model predicts exactly what the trained one does.
/// Monte-Carlo dropout (<see cref="ForecastScore.PredictiveVariance"/>) runs the dense head with <see cref="Options.MonteCarloPasses"/> dropout masks
/// drawn once from the seed when the model is written: the same window always gets the same score.</para>
/// <para>The options are validated when the detector is created and again when <c>Fit</c> starts, which reads them all
/// then: a change to <c>TrainerOptions</c> in between applies in full.</para>
/// </remarks>
public sealed class ForecastingAnomalyDetectionTrainer : NetworkEstimator<ForecastingAnomalyDetectionTrainer.Options>
{
    internal ForecastingAnomalyDetectionTrainer(IHostEnvironment environment, Options options) : base(environment, options, "ForecastingAnomalyDetection")
    {
    }

    /// <summary>The options this trainer was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options TrainerOptions => LiveOptions;

    /// <summary>The threshold (in standardized score units) chosen by the last <c>Fit</c>, or null before the first.</summary>
    public float? Threshold { get; private set; }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TrainerOptions.FeatureColumnName);
        SchemaShapes.CheckWeightColumn(inputSchema, TrainerOptions.ExampleWeightColumnName);
        return SchemaShapes.With(inputSchema, AnomalyTask.OutputShape(null));
    }

    /// <inheritdoc/>
    private protected override IEnumerable<string> GraphOutputNames(Options options, FitData data) => AnomalyTask.OutputNames(featureContributions: false);

    /// <summary>Reads the windows and splits each into its context (the network's input) and the steps it forecasts (the targets).</summary>
    private protected override FitData Read(Options options, IDataView train, IDataView? validation)
    {
        ThresholdScores.RequireValidation(options.ThresholdSource, validation is not null, "windows");
        var (feature, windowSize) = FeatureColumn.Resolve(train.Schema, options.FeatureColumnName);
        int f = options.FeaturesPerStep, forecastValues = options.Horizon * f;
        if (windowSize % f != 0 || windowSize / f <= options.Horizon)
        {
            throw new ArgumentException(windowSize % f != 0
                ? $"Feature column '{feature.Name}' holds {windowSize} values, which is not a whole number of steps of {f} features (Options.FeaturesPerStep = {f})."
                : $"Feature column '{feature.Name}' holds {windowSize / f} steps but Options.Horizon is {options.Horizon}: a window needs at least one step of context before the {options.Horizon} forecast steps.");
        }
        // Stepwise, every step from the steps before it: the network reads steps 1..T-1 (and predicts steps 2..T).
        int contextSize = options.EffectiveScoreBy == ForecastScore.StepwisePredictionError ? windowSize - f : windowSize - forecastValues;
        var ct = options.CancellationToken;
        bool stepwise = options.EffectiveScoreBy == ForecastScore.StepwisePredictionError;
        TrainingSet Sets(float[] windows) => Split(windows, windowSize, contextSize, stepwise ? f : contextSize);
        var (windows, weights) = TrainingDataReader.ReadRowsAndWeights(train, feature, windowSize, options.ExampleWeightColumnName, ct);
        var trainSet = Sets(windows).WithWeights(weights);
        var validationSet = validation is null ? null
            : Sets(TrainingDataReader.Validation(() => TrainingDataReader.ReadFeatures(validation, FeatureColumn.Resolve(validation.Schema, options.FeatureColumnName, windowSize, "validation feature"), windowSize, ct)));
        return new FitData(feature, contextSize, trainSet, validationSet, Task: null);
    }

    private protected override NetworkPlan Plan(Options options, FitData data)
    {
        int f = options.FeaturesPerStep;
        bool stepwise = options.EffectiveScoreBy == ForecastScore.StepwisePredictionError;
        var recurrent = new Recurrent(options.Cell, options.HiddenSize, f, options.Layers, dropout: options.Dropout,
            output: stepwise ? RecurrentOutput.Sequence : RecurrentOutput.Last);
        return new(RecurrentNetwork.Create(recurrent, stepwise ? f : data.Train.TargetWidth, options.HiddenLayers, options.HeadDropout),
            RecurrentNetworkTrainer.RecurrentNames(options.HiddenSize, options.Layers, options.Cell, false, options.HiddenLayers, data.InputSize / f, f));
    }

    private protected override TrainingObjective Objective(Options options, IReadOnlyList<Network> networks, FitData data) => new SupervisedObjective(networks[0], LossFunction.MeanSquaredError);

    /// <summary>The scoring graph over whole windows: the forecast, its standardized error (or Monte-Carlo variance) and the threshold flag.</summary>
    private protected override NetworkTransformer Export(Fitted fitted)
    {
        var (options, network, scoring) = (fitted.Options, fitted.Network, fitted.Scoring);
        string input = fitted.Data.Input.Name;
        bool stepwise = options.EffectiveScoreBy == ForecastScore.StepwisePredictionError;
        // A stepwise window is its input steps and the last target step (the targets are the input shifted by one step).
        int tail = stepwise ? options.FeaturesPerStep : fitted.Data.Train.TargetWidth;
        int windowSize = fitted.Data.InputSize + tail;
        float[] Windows(TrainingSet set) => ForecastingAnomalyDetectionTrainer.Windows(set, tail);
        // One unstandardized scoring graph serves the training scores (the standardization) and the validation scores.
        byte[] rawModel = stepwise ? network.ExportStepwiseScoringOnnx(input, options.FeaturesPerStep)
            : network.ExportForecastScoringOnnx(input, options.EffectiveScoreBy, options.MonteCarloPasses, fitted.Seed);
        var (standardization, threshold) = ThresholdScores.Calibrate(rawModel, input, windowSize, Windows(fitted.Data.Train), () => Windows(fitted.Data.Validation!),
            scoring, options.ThresholdSource, options.Threshold, options.Contamination, options.FalsePositiveRate, fitted.Warn);
        Threshold = threshold;

        var task = new AnomalyTask { Threshold = threshold, FeatureSize = windowSize, MissingValues = options.MissingValues };
        return fitted.Transformer(task, network, metadata => stepwise
                ? network.ExportStepwiseScoringOnnx(input, options.FeaturesPerStep, standardization, threshold, metadata)
                : network.ExportForecastScoringOnnx(input, options.EffectiveScoreBy, options.MonteCarloPasses, fitted.Seed, standardization, threshold, metadata),
            outputShape: [1], inputSize: windowSize);
    }

    /// <summary>
    /// The windows of <paramref name="set"/> (<see cref="Split"/> undone): each row's context, then the last <paramref name="tail"/>
    /// values of its targets (all of them after a context/forecast split, the last step after a stepwise one).
    /// </summary>
    private static float[] Windows(TrainingSet set, int tail)
    {
        int contextSize = set.Features.Length / set.Count, targetSize = set.TargetWidth, windowSize = contextSize + tail;
        var windows = new float[set.Count * windowSize];
        for (int i = 0; i < set.Count; i++)
        {
            Array.Copy(set.Features, i * contextSize, windows, i * windowSize, contextSize);
            Array.Copy(set.Targets, i * targetSize + targetSize - tail, windows, i * windowSize + contextSize, tail);
        }
        return windows;
    }

    /// <summary>Windows -> (context, the last steps as targets).</summary>
    /// <summary>
    /// Each window as its first <paramref name="contextSize"/> values (the input) and the values from <paramref name="targetStart"/> on
    /// (the targets): the context and the forecast steps (<paramref name="targetStart"/> = <paramref name="contextSize"/>), or, stepwise,
    /// steps 1..T-1 and steps 2..T (<paramref name="targetStart"/> = one step), one-step-ahead pairs at every step.
    /// </summary>
    private static TrainingSet Split(float[] windows, int windowSize, int contextSize, int targetStart)
    {
        int count = windows.Length / windowSize, targetSize = windowSize - targetStart;
        var context = new float[count * contextSize];
        var targets = new float[count * targetSize];
        for (int i = 0; i < count; i++)
        {
            Array.Copy(windows, i * windowSize, context, i * contextSize, contextSize);
            Array.Copy(windows, i * windowSize + targetStart, targets, i * targetSize, targetSize);
        }
        return new TrainingSet(context, [contextSize], targets, targetSize);
    }

    /// <summary>
    /// Options of <see cref="ForecastingAnomalyDetectionTrainer"/>: the window column, the forecaster, the score and threshold,
    /// and the training, scoring and device options of <see cref="NetworkOptions"/>. There is no label column.
    /// </summary>
    public sealed class Options : NetworkOptions
    {
        /// <summary>Creates the options with the detector's defaults: 50 epochs, gradients clipped at norm 5.</summary>
        public Options()
        {
            Epochs = 50;
            GradientClipNorm = 5;
        }

        /// <summary>
        /// A <c>Single</c> column of per-row weights that scale each training window's loss (ML.NET's <c>ExampleWeightColumnName</c>):
        /// a weight of 2 counts a window twice, 0 leaves it out of training; finite, at least 0, not all 0. Null (default) weighs
        /// every window 1. The threshold is still chosen from every training window's score, unweighted.
        /// </summary>
        public string? ExampleWeightColumnName { get; set; }

        /// <summary>The window column: a known-size vector of <c>Single</c>, the context steps followed by the <see cref="Horizon"/> steps to forecast.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>
        /// What scoring does with a window that holds NaN (a missing value) or infinity: flag it as an anomaly (default; its
        /// <c>Score</c> is NaN or infinite) or throw. Training rejects such windows either way.
        /// </summary>
        public MissingValuePolicy MissingValues { get; set; } = MissingValuePolicy.FlagAsAnomaly;

        /// <summary>Values per time step (F); at least 1 (default 1, a univariate series).</summary>
        public int FeaturesPerStep { get; set; } = 1;

        /// <summary>How many steps at the end of each window the network forecasts from the steps before them; at least 1 (default 1).</summary>
        public int Horizon { get; set; } = 1;

        /// <summary>The recurrent cell (default LSTM).</summary>
        public RecurrentCell Cell { get; set; } = RecurrentCell.Lstm;

        /// <summary>Units of the hidden state; at least 1 (default 32).</summary>
        public int HiddenSize { get; set; } = 32;

        /// <summary>Stacked recurrent layers; at least 1 (default 1).</summary>
        public int Layers { get; set; } = 1;

        /// <summary>Dropout between stacked recurrent layers during training, in [0, 1) (default 0).</summary>
        public float Dropout { get; set; }

        /// <summary>Sizes of dense ReLU layers between the recurrent summary and the forecast (default none).</summary>
        public IReadOnlyList<int> HiddenLayers { get; set; } = [];

        /// <summary>
        /// Dropout on the recurrent summary, in [0, 1): in training, and, with <see cref="ForecastScore.PredictiveVariance"/>, in the
        /// Monte-Carlo passes when scoring (which need it above 0). Default 0.2.
        /// </summary>
        public float HeadDropout { get; set; } = 0.2f;

        /// <summary>
        /// What <c>Score</c> measures: the one-step-ahead errors over the whole window (<see cref="ForecastScore.StepwisePredictionError"/>),
        /// the error of the forecast of the last <see cref="Horizon"/> steps (<see cref="ForecastScore.PredictionError"/>), or the
        /// Monte-Carlo predictive variance. Null (default) takes StepwisePredictionError when <see cref="Horizon"/> is 1 and
        /// PredictionError otherwise: on the CO2 windows of docs/quality.md, with a fault at a random week, the stepwise score
        /// reaches ROC AUC 0.97 to 0.98 where the last steps' error reaches 0.55 to 0.57 (and ML.NET's RandomizedPca 0.93).
        /// </summary>
        public ForecastScore? ScoreBy { get; set; }

        /// <summary>The score <see cref="ScoreBy"/> names, its default resolved.</summary>
        internal ForecastScore EffectiveScoreBy => ScoreBy ?? (Horizon == 1 ? ForecastScore.StepwisePredictionError : ForecastScore.PredictionError);

        /// <summary>With <see cref="ForecastScore.PredictiveVariance"/>: the number of dropout masks the head runs with; at least 2 (default 20).</summary>
        public int MonteCarloPasses { get; set; } = 20;

        /// <summary>How the threshold of <c>PredictedLabel</c> is chosen (default: <see cref="Contamination"/> of the training windows).</summary>
        public AnomalyThresholdSource ThresholdSource { get; set; } = AnomalyThresholdSource.Contamination;

        /// <summary>The expected fraction of anomalous training windows, in (0, 0.5] (default 0.05).</summary>
        public double Contamination { get; set; } = 0.05;

        /// <summary>With <see cref="AnomalyThresholdSource.Explicit"/>: the threshold in standardized score units (e.g. 3 = three standard deviations above the training mean), finite.</summary>
        public float? Threshold { get; set; }

        /// <summary>With <see cref="AnomalyThresholdSource.ValidationFalsePositiveRate"/>: the fraction of normal validation windows allowed above the threshold, in (0, 0.5].</summary>
        public double FalsePositiveRate { get; set; } = 0.05;

        internal override void Validate()
        {
            if (ExampleWeightColumnName is not null)
            {
                CheckColumnName(nameof(ExampleWeightColumnName), ExampleWeightColumnName);
            }
            CheckColumnName(nameof(FeatureColumnName), FeatureColumnName);
            base.Validate();
            Check(FeaturesPerStep >= 1, nameof(FeaturesPerStep), FeaturesPerStep, "must be at least 1");
            Check(Horizon >= 1, nameof(Horizon), Horizon, "must be at least 1");
            Check(Enum.IsDefined(Cell), nameof(Cell), Cell, "must be Rnn, Lstm or Gru");
            Check(HiddenSize >= 1, nameof(HiddenSize), HiddenSize, "must be at least 1");
            Check(Layers >= 1, nameof(Layers), Layers, "must be at least 1");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            Check(HiddenLayers is not null && HiddenLayers.All(h => h >= 1), nameof(HiddenLayers),
                HiddenLayers is null ? "null" : $"[{string.Join(", ", HiddenLayers)}]", "must be a list of sizes of at least 1");
            Check(HeadDropout >= 0 && HeadDropout < 1, nameof(HeadDropout), HeadDropout, "must be in [0, 1)");
            Check(ScoreBy is null || Enum.IsDefined(ScoreBy.Value), nameof(ScoreBy), ScoreBy!, "must be null, PredictionError, PredictiveVariance or StepwisePredictionError");
            Check(ScoreBy != ForecastScore.StepwisePredictionError || Horizon == 1, nameof(Horizon), Horizon,
                "must be 1 when ScoreBy is StepwisePredictionError (every step is predicted one step ahead)");
            Check(ScoreBy != ForecastScore.PredictiveVariance || HeadDropout > 0, nameof(HeadDropout), HeadDropout,
                "must be above 0 when ScoreBy is PredictiveVariance (Monte-Carlo dropout needs dropout)");
            Check(MonteCarloPasses >= 2, nameof(MonteCarloPasses), MonteCarloPasses, "must be at least 2");
            CheckAnomalyThreshold(ThresholdSource, Contamination, Threshold, FalsePositiveRate, MissingValues);
        }

        private protected override void CopyLists() => HiddenLayers = HiddenLayers?.ToArray()!;
    }
}
