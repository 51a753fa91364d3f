using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>What a <see cref="RecurrentForecastingEstimator"/>'s output vector holds.</summary>
public enum ForecastHead
{
    /// <summary>
    /// Many-to-one, next steps over a horizon: the last hidden state, then dense layers, predict all the label's values
    /// (for example the next H steps of the series, step-major).
    /// </summary>
    Horizon,

    /// <summary>
    /// Many-to-many: one output vector per input step, from that step's hidden state (through the same dense layers at every
    /// step); the label holds T steps of K values (step-major) and so does the output.
    /// </summary>
    PerStep,
}

/// <summary>
/// Trains a recurrent network that maps a sequence to a vector — a forecast of the next steps, or one output per step —
/// and returns a <see cref="NetworkTransformer"/> that adds it as a vector column. Created by
/// <c>mlContext.Forecasting.ForecastByRecurrentNetwork</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA), mean squared error against the label</description></item>
/// <item><term>Input column</term><description>Known-size vector of <c>Single</c>: T steps of <see cref="Options.FeaturesPerStep"/> values, step-major; scale it first</description></item>
/// <item><term>Label column</term><description><c>Single</c> or known-size vector of <c>Single</c>: what the output should be (K values); for
/// <see cref="ForecastHead.PerStep"/>, K a multiple of T</description></item>
/// <item><term>Output column</term><description><see cref="Options.OutputColumnName"/>: K values, typed <c>Vector&lt;Single, 1, K&gt;</c> (the type ML.NET's
/// <c>OnnxTransformer</c> gives it after a plain <c>mlContext.Model.Load</c>, so both load paths give downstream stages the same type)</description></item>
/// </list>
/// The options are validated when the estimator is created and again when <c>Fit</c> starts, which reads them all
/// then: a change to <see cref="TrainerOptions"/> in between applies in full.
/// </remarks>
public sealed class RecurrentForecastingEstimator : NetworkEstimator<RecurrentForecastingEstimator.Options>
{
    internal RecurrentForecastingEstimator(IHostEnvironment environment, Options options) : base(environment, options, "RecurrentForecasting")
    {
    }

    /// <summary>The options this estimator was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options TrainerOptions => LiveOptions;

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TrainerOptions.InputColumnName, "input");
        FeatureColumn.Check(inputSchema, TrainerOptions.LabelColumnName, "label");
        return SchemaShapes.With(inputSchema, [VectorOutputTask.OutputShape(TrainerOptions.OutputColumnName)]);
    }

    private protected override FitData Read(Options o, IDataView train, IDataView? validation)
    {
        var ct = o.CancellationToken;
        var (input, inputSize) = FeatureColumn.Resolve(train.Schema, o.InputColumnName, "input");
        var (label, labelSize) = FeatureColumn.Resolve(train.Schema, o.LabelColumnName, "label");
        int f = o.FeaturesPerStep;
        if (inputSize % f != 0)
        {
            throw new ArgumentException(
                $"Input column '{input.Name}' holds {inputSize} values, which is not a whole number of steps of {f} features (Options.FeaturesPerStep = {f}).");
        }
        int steps = inputSize / f;
        if (o.Head == ForecastHead.PerStep && labelSize % steps != 0)
        {
            throw new ArgumentException(
                $"Options.Head is PerStep: label column '{label.Name}' must hold the same number of values for each of the {steps} input steps, but it holds {labelSize}.");
        }
        var trainSet = Read(train, input, inputSize, label, labelSize, ct);
        TrainingSet? validationSet = null;
        if (validation is not null)
        {
            validationSet = Read(validation, FeatureColumn.Resolve(validation.Schema, o.InputColumnName, inputSize, "validation input"), inputSize,
                FeatureColumn.Resolve(validation.Schema, o.LabelColumnName, labelSize, "validation label"), labelSize, ct);
        }
        return new FitData(input, inputSize, trainSet, validationSet, new VectorOutputTask(o.OutputColumnName, input.Name, labelSize));
    }

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        int f = o.FeaturesPerStep, steps = data.InputSize / f, labelSize = data.Train.TargetWidth;
        var output = o.Head == ForecastHead.PerStep ? RecurrentOutput.Sequence : RecurrentOutput.Last;
        var recurrent = new Recurrent(o.Cell, o.HiddenSize, f, o.Layers, o.Bidirectional, o.Dropout, output, truncatedSteps: o.TruncatedSteps);
        int outputs = o.Head == ForecastHead.PerStep ? labelSize / steps : labelSize;
        return new(RecurrentNetwork.Create(recurrent, outputs, o.HiddenLayers),
            RecurrentNetworkTrainer.RecurrentNames(o.HiddenSize, o.Layers, o.Cell, o.Bidirectional, o.HiddenLayers, steps, f))
        {
            Warnings = RecurrentNetworkTrainer.TruncationWarnings(o.TruncatedSteps, steps),
        };
    }

    /// <summary>The network as it is, its output recorded as the label's values per row.</summary>
    private protected override NetworkTransformer Export(Fitted fitted)
        => fitted.Transformer(fitted.Data.Task!, fitted.Network, metadata => fitted.Network.ExportOnnx(fitted.Data.Input.Name, fitted.Data.Task!.AddOnnxOutputs, metadata),
            [fitted.Data.Train.TargetWidth]);

    private static TrainingSet Read(IDataView data, DataViewSchema.Column input, int inputSize, DataViewSchema.Column label, int labelSize, CancellationToken ct)
    {
        float[] features = TrainingDataReader.ReadFeatures(data, input, inputSize, ct);
        float[] targets = TrainingDataReader.ReadFeatures(data, label, labelSize, ct, role: "Label");
        return new TrainingSet(features, [inputSize], targets, labelSize);
    }

    /// <summary>The loss of predicting each forecast value's training mean for every row (<see cref="ConstantPrediction"/>).</summary>
    private protected override (double Loss, string What)? ConstantPredictionLoss(FitData data) => ConstantPrediction.Mean(data.Train, data.TrainingRows);

    /// <summary>Options of <see cref="RecurrentForecastingEstimator"/>.</summary>
    public sealed class Options : NetworkOptions
    {
        /// <summary>
        /// Creates the options with the forecasters' defaults: gradients clipped at norm 5 (<see cref="NetworkOptions.GradientClipNorm"/>),
        /// a learning rate of 3e-3 and 60 epochs, chosen on the bundled CO2 series against ML.NET's regressors (issue 16): mean
        /// absolute error over five seeds 0.5360 ± 0.0486 with the former 1e-3 and 30 epochs, 0.4765 ± 0.0184 with these (LightGbm, one model per week ahead, 0.5151), in a study of
        /// <c>eng/quality</c> whose re-run is docs/quality-forecasting.md.
        /// </summary>
        public Options()
        {
            GradientClipNorm = 5;
            LearningRate = 3e-3;
            Epochs = 60;
        }

        /// <summary>The vector column the estimator adds (default <c>Forecast</c>).</summary>
        public string OutputColumnName { get; set; } = "Forecast";

        /// <summary>The sequence column (default <c>Features</c>): a known-size vector of <c>Single</c>, steps one after the other.</summary>
        public string InputColumnName { get; set; } = "Features";

        /// <summary>The label column (default <c>Label</c>): <c>Single</c> or a known-size vector of <c>Single</c>.</summary>
        public string LabelColumnName { get; set; } = "Label";

        /// <summary>Values per time step of the input; at least 1 (default 1).</summary>
        public int FeaturesPerStep { get; set; } = 1;

        /// <summary>Many-to-one over a horizon (default) or many-to-many, one output vector per step.</summary>
        public ForecastHead Head { get; set; } = ForecastHead.Horizon;

        /// <summary>The recurrent cell (default LSTM).</summary>
        public RecurrentCell Cell { get; set; } = RecurrentCell.Lstm;

        /// <summary>Units of the hidden state per direction; at least 1 (default 64).</summary>
        public int HiddenSize { get; set; } = 64;

        /// <summary>Stacked recurrent layers; at least 1 (default 1).</summary>
        public int Layers { get; set; } = 1;

        /// <summary>Whether each layer also reads the sequence backwards (default false; a forecaster usually should not).</summary>
        public bool Bidirectional { get; set; }

        /// <summary>Dropout between stacked recurrent layers during training, in [0, 1) (default 0).</summary>
        public float Dropout { get; set; }

        /// <summary>Sizes of dense ReLU layers between the hidden states and the output (default none).</summary>
        public IReadOnlyList<int> HiddenLayers { get; set; } = [];

        /// <summary>Truncated backpropagation through time over the last this-many steps; 0 (default) backpropagates through all. Unidirectional only.</summary>
        public int TruncatedSteps { get; set; }

        internal override void Validate()
        {
            CheckColumnName(nameof(OutputColumnName), OutputColumnName);
            CheckColumnName(nameof(InputColumnName), InputColumnName);
            CheckColumnName(nameof(LabelColumnName), LabelColumnName);
            base.Validate();
            Check(FeaturesPerStep >= 1, nameof(FeaturesPerStep), FeaturesPerStep, "must be at least 1");
            Check(Enum.IsDefined(Head), nameof(Head), Head, "must be Horizon or PerStep");
            Check(Enum.IsDefined(Cell), nameof(Cell), Cell, "must be Rnn, Lstm or Gru");
            Check(HiddenSize >= 1, nameof(HiddenSize), HiddenSize, "must be at least 1");
            Check(Layers >= 1, nameof(Layers), Layers, "must be at least 1");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            Check(HiddenLayers is not null && HiddenLayers.All(h => h >= 1), nameof(HiddenLayers),
                HiddenLayers is null ? "null" : $"[{string.Join(", ", HiddenLayers)}]", "must be a list of sizes of at least 1");
            Check(TruncatedSteps >= 0, nameof(TruncatedSteps), TruncatedSteps, "must be at least 0 (0 = full backpropagation through time)");
            Check(TruncatedSteps == 0 || !Bidirectional, nameof(TruncatedSteps), TruncatedSteps, "must be 0 with Bidirectional (the backward direction starts at the end)");
        }

        private protected override void CopyLists() => HiddenLayers = HiddenLayers?.ToArray()!;
    }
}
