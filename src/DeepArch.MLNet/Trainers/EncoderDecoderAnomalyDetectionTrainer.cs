using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Anomaly detection by sequence reconstruction (an LSTM encoder–decoder, Malhotra et al., 2016): trained on windows of a normal
/// series to reconstruct each window from the encoder's summary, backwards, with no attention (which would let it copy a fault).
/// A window's <c>Score</c> is its largest per-step reconstruction error, standardized by the training windows' scores, so that a fault
/// at any step of the window raises it, not only at its end. Created by <c>mlContext.AnomalyDetection.Trainers.EncoderDecoder</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Input column</term><description>a known-size vector of <c>Single</c>: a window, <see cref="Options.FeaturesPerStep"/> values per step</description></item>
/// <item><term>Output columns</term><description><c>Score</c> (higher = more anomalous), <c>PredictedLabel</c> (<c>Boolean</c>, the score above the threshold)</description></item>
/// <item><term>Evaluate</term><description><c>mlContext.AnomalyDetection.Evaluate</c> with a <c>Single</c> label, 1 = anomaly</description></item>
/// </list>
/// The threshold comes from the options as for the other detectors (a contamination of the training windows by default). A
/// window that holds a missing value scores as an anomaly (<see cref="Options.MissingValues"/>).
/// </remarks>
public sealed class EncoderDecoderAnomalyDetectionTrainer : NetworkEstimator<EncoderDecoderAnomalyDetectionTrainer.Options>
{
    internal EncoderDecoderAnomalyDetectionTrainer(IHostEnvironment environment, Options options) : base(environment, options, "EncoderDecoderAnomalyDetection")
    {
    }

    /// <summary>The options this trainer was created with.</summary>
    public Options TrainerOptions => LiveOptions;

    /// <summary>The standardized score above which the last fitted detector flags a window.</summary>
    public float? Threshold { get; private set; }

    /// <summary>Checks the window column and returns the input's shape with <c>Score</c> and <c>PredictedLabel</c> added.</summary>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TrainerOptions.FeatureColumnName);
        SchemaShapes.CheckWeightColumn(inputSchema, TrainerOptions.ExampleWeightColumnName);
        return SchemaShapes.With(inputSchema, AnomalyTask.OutputShape(null));
    }

    /// <inheritdoc/>
    private protected override IEnumerable<string> GraphOutputNames(Options options, FitData data) => AnomalyTask.OutputNames(featureContributions: false);

    private protected override FitData Read(Options o, IDataView train, IDataView? validation)
    {
        ThresholdScores.RequireValidation(o.ThresholdSource, validation is not null, "windows");
        var (feature, size) = FeatureColumn.Resolve(train.Schema, o.FeatureColumnName);
        int f = o.FeaturesPerStep;
        if (size % f != 0 || size / f < 2)
        {
            throw new ArgumentException(size % f != 0
                ? $"Feature column '{feature.Name}' holds {size} values, which is not a whole number of steps of {f} features (Options.FeaturesPerStep = {f})."
                : $"Feature column '{feature.Name}' holds {size / f} step; a window to reconstruct needs at least 2.");
        }
        var ct = o.CancellationToken;
        TrainingSet Read(float[] windows) => new(EncoderDecoderForecastingEstimator.WithLength(windows, size, size / f), [1 + size], Reversed(windows, size, f), size);
        var (windows, weights) = TrainingDataReader.ReadRowsAndWeights(train, feature, size, o.ExampleWeightColumnName, ct);
        var trainSet = Read(windows).WithWeights(weights);
        var validationSet = validation is null ? null
            : Read(TrainingDataReader.Validation(() => TrainingDataReader.ReadFeatures(validation, FeatureColumn.Resolve(validation.Schema, o.FeatureColumnName, size, "validation feature"), size, ct)));
        return new FitData(feature, size, trainSet, validationSet, Task: null);
    }

    /// <summary>Each window with its steps in reverse order: the decoder writes the last step first.</summary>
    private static float[] Reversed(float[] windows, int size, int features)
    {
        var reversed = new float[windows.Length];
        int steps = size / features;
        for (int start = 0; start < windows.Length; start += size)
        {
            for (int t = 0; t < steps; t++)
            {
                Array.Copy(windows, start + t * features, reversed, start + (steps - 1 - t) * features, features);
            }
        }
        return reversed;
    }

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        int f = o.FeaturesPerStep, steps = data.InputSize / f;
        var spec = new SequenceToSequence(0, 0, steps, steps, o.Cell, o.HiddenSize, embeddingSize: 1, o.Layers, bidirectional: false, Attention.None, o.Dropout,
            sourceFeatures: f, targetFeatures: f);
        return new NetworkPlan(spec, new NetworkOptionNames($"Options.HiddenSize {o.HiddenSize} and Layers {o.Layers} over {steps} steps", "Options.HiddenSize or Options.Layers"),
            spec.InputShape);
    }

    private protected override TrainingObjective Objective(Options options, IReadOnlyList<Network> networks, FitData data) => new SequenceToSequenceObjective(networks[0]);

    private protected override NetworkTransformer Export(Fitted fitted)
    {
        var (o, network, scoring) = (fitted.Options, fitted.Network, fitted.Scoring);
        string input = fitted.Data.Input.Name;
        int size = fitted.Data.InputSize;
        float[] Windows(TrainingSet set) => Reversed(set.Targets, size, o.FeaturesPerStep);
        var (standardization, threshold) = ThresholdScores.Calibrate(SequenceToSequenceExport.ExportReconstructionScoringOnnx(network, input), input, size,
            Windows(fitted.Data.Train), () => Windows(fitted.Data.Validation!), scoring, o.ThresholdSource, o.Threshold, o.Contamination, o.FalsePositiveRate, fitted.Warn);
        Threshold = threshold;
        var task = new AnomalyTask { Threshold = threshold, FeatureSize = size, MissingValues = o.MissingValues };
        return fitted.Transformer(task, network, metadata => SequenceToSequenceExport.ExportReconstructionScoringOnnx(network, input, standardization, threshold, metadata),
            outputShape: [1], inputSize: size);
    }

    /// <summary>The rows the network reads start with the window's step count, a value the user never gave.</summary>
    private protected override int LeadingLengthSlots => 1;

    /// <summary>Options of <see cref="EncoderDecoderAnomalyDetectionTrainer"/>.</summary>
    public sealed class Options : NetworkOptions
    {
        /// <summary>Creates the options with the detector's defaults: 50 epochs, gradients clipped to norm 5.</summary>
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

        /// <summary>The windows: a known-size vector of <c>Single</c>.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>What a window holding a missing or infinite value scores: an anomaly (default) or an error.</summary>
        public MissingValuePolicy MissingValues { get; set; } = MissingValuePolicy.FlagAsAnomaly;

        /// <summary>Values per step; at least 1.</summary>
        public int FeaturesPerStep { get; set; } = 1;

        /// <summary>The recurrent cell of the encoder and the decoder.</summary>
        public RecurrentCell Cell { get; set; } = RecurrentCell.Lstm;

        /// <summary>The hidden size: the summary the window is reconstructed from; at least 1.</summary>
        public int HiddenSize { get; set; } = 32;

        /// <summary>Stacked layers of the encoder and the decoder; at least 1.</summary>
        public int Layers { get; set; } = 1;

        /// <summary>Dropout between stacked layers and before the output layer during training, in [0, 1).</summary>
        public float Dropout { get; set; }

        /// <summary>Where the threshold comes from: the contamination of the training windows (default), a false-positive rate on validation windows, or <see cref="Threshold"/> (<see cref="AnomalyThresholdSource"/>).</summary>
        public AnomalyThresholdSource ThresholdSource { get; set; } = AnomalyThresholdSource.Contamination;

        /// <summary>The share of training windows above the threshold, in (0, 0.5].</summary>
        public double Contamination { get; set; } = 0.05;

        /// <summary>The standardized score threshold, with <see cref="AnomalyThresholdSource.Explicit"/>.</summary>
        public float? Threshold { get; set; }

        /// <summary>The share of validation windows above the threshold, in (0, 0.5], with <see cref="AnomalyThresholdSource.ValidationFalsePositiveRate"/>.</summary>
        public double FalsePositiveRate { get; set; } = 0.05;

        internal override void Validate()
        {
            if (ExampleWeightColumnName is not null)
            {
                CheckColumnName(nameof(ExampleWeightColumnName), ExampleWeightColumnName);
            }
            CheckColumnName(nameof(FeatureColumnName), FeatureColumnName);
            Check(FeaturesPerStep >= 1, nameof(FeaturesPerStep), FeaturesPerStep, "must be at least 1");
            Check(Enum.IsDefined(Cell), nameof(Cell), Cell, "must be Rnn, Lstm or Gru");
            Check(HiddenSize >= 1, nameof(HiddenSize), HiddenSize, "must be at least 1");
            Check(Layers >= 1, nameof(Layers), Layers, "must be at least 1");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            CheckAnomalyThreshold(ThresholdSource, Contamination, Threshold, FalsePositiveRate, MissingValues);
            base.Validate();
        }
    }
}
