using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Trains a recurrent network (Elman RNN, LSTM or GRU; stacked, optionally bidirectional) over sequences
/// with TorchSharp and returns a <see cref="NetworkTransformer"/> that scores it with ONNX Runtime's native
/// <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> operators. Created by <c>RecurrentNetwork</c> in
/// <c>mlContext.MulticlassClassification.Trainers</c>, <c>BinaryClassification.Trainers</c> and
/// <c>Regression.Trainers</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA)</description></item>
/// <item><term>Feature column</term><description>A vector of <c>Single</c> holding the time steps one after the other,
/// <see cref="Options.FeaturesPerStep"/> values per step (<c>x[t * F + f]</c>). A known-size vector holds a fixed number of steps;
/// a variable-size vector may hold any whole number of steps (up to <see cref="Options.MaxSequenceLength"/>), and is padded per batch
/// with the true lengths passed to the recurrent operators, so padding never changes a result</description></item>
/// <item><term>Label column</term><description>Multiclass: key (<c>MapValueToKey</c>); binary: <c>Boolean</c>; regression: <c>Single</c></description></item>
/// <item><term>Output columns</term><description>Multiclass: <c>Score</c> (class probabilities), <c>PredictedLabel</c> (key, label's key values);
/// binary: <c>Score</c> (logit), <c>Probability</c>, <c>PredictedLabel</c> (Boolean); regression: <c>Score</c></description></item>
/// <item><term>Network</term><description>The recurrent layers (<see cref="Options.Cell"/>, <see cref="Options.HiddenSize"/>, <see cref="Options.Layers"/>,
/// <see cref="Options.Bidirectional"/>), the sequence summarized by <see cref="Options.Pooling"/> (many-to-one), optional dense layers, then the output layer</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// </list>
/// Training clips the gradients' global norm to <see cref="NetworkOptions.GradientClipNorm"/> (exploding gradients are the
/// recurrent networks' classic failure) and can truncate backpropagation through time to the last
/// <see cref="Options.TruncatedSteps"/> steps. A model whose feature column is variable-size is restored with
/// <c>DeepArchModel.Load</c>; ML.NET's plain <c>mlContext.Model.Load</c> restores it through <c>OnnxTransformer</c>,
/// which only reads known-size vectors.
/// The options are validated when the trainer is created and again when <c>Fit</c> starts, which reads them all
/// then: a change to <c>TrainerOptions</c> in between applies in full.
/// </remarks>
public sealed class RecurrentNetworkTrainer : SupervisedNetworkTrainer<RecurrentNetworkTrainer.Options>
{
    internal RecurrentNetworkTrainer(IHostEnvironment environment, Options options, TaskKind task)
        : base(environment, options, task, "RecurrentNetwork")
    {
    }

    private protected override SequenceInput Sequence(Options o) => new(o.FeaturesPerStep, o.MaxSequenceLength);

    /// <summary>With <see cref="Options.StandardizeFeatures"/> (the default) the network standardizes its features itself.</summary>
    private protected override bool ReadsFeaturesAsTheyCome(Options options) => !options.StandardizeFeatures;

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        var layout = data.Layout!;
        var network = Compose(o, layout, data.Task!.NetworkOutputs);
        LayerSpec architecture = o.StandardizeFeatures
            ? new Sequential([Normalization.AdaptPerFeature(data.Train, o.FeaturesPerStep, layout.VariableLength, data.TrainingRows), .. network.Layers])
            : network;
        return new(architecture, RecurrentNames(o.HiddenSize, o.Layers, o.Cell, o.Bidirectional, o.HiddenLayers, layout.MaxSteps, o.FeaturesPerStep))
        {
            Warnings = TruncationWarnings(o.TruncatedSteps, layout.MaxSteps),
        };
    }

    /// <summary>A warning when <c>Options.TruncatedSteps</c> is set but no shorter than the sequences: it truncates nothing.</summary>
    internal static string[] TruncationWarnings(int truncatedSteps, int steps)
        => truncatedSteps > 0 && truncatedSteps >= steps
            ? [$"Options.TruncatedSteps ({truncatedSteps}) is not below the sequences' {steps} steps, so nothing is truncated: training backpropagates through " +
               "every step (as with 0). Set it below the sequence length to backpropagate through only the last that many steps."]
            : [];

    /// <summary>The options that size a recurrent network, as errors name them (shared with the forecasting estimators).</summary>
    internal static NetworkOptionNames RecurrentNames(int hiddenSize, int layers, RecurrentCell cell, bool bidirectional, IReadOnlyList<int> hiddenLayers, int steps, int featuresPerStep)
        => new($"Options.HiddenSize {hiddenSize} and Options.Layers {layers} ({cell}{(bidirectional ? ", bidirectional" : "")}" +
               $"{(hiddenLayers.Count > 0 ? $", Options.HiddenLayers {Shapes.Format(hiddenLayers)}" : "")}) on {steps} steps of {featuresPerStep} values",
            $"Options.HiddenSize or Options.Layers{(hiddenLayers.Count > 0 ? " (or Options.HiddenLayers)" : "")}");

    private static Sequential Compose(Options o, SequenceLayout layout, int outputs)
    {
        try
        {
            var recurrent = new Recurrent(o.Cell, o.HiddenSize, o.FeaturesPerStep, o.Layers, o.Bidirectional, o.Dropout, o.Pooling,
                layout.VariableLength, o.Nonlinearity, o.TruncatedSteps);
            var network = RecurrentNetwork.Create(recurrent, outputs, o.HiddenLayers, o.HeadDropout);
            network.OutputShape([layout.NetworkInputSize]);
            return network;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The recurrent network's options do not fit together: {e.Message}", e);
        }
    }

    /// <summary>Options of <see cref="RecurrentNetworkTrainer"/>.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>
        /// Creates the options with the recurrent networks' defaults: gradients clipped at norm 5 (<see cref="NetworkOptions.GradientClipNorm"/>)
        /// and a learning rate of 1e-2. On the digits read row by row (docs/quality-presets-recurrent.md, five seeds, 30 epochs) the LSTM
        /// reached accuracy 0.9807 with 1e-2, 0.9644 with 3e-3 and 0.9388 with 1e-3, on the same seeds (ML.NET's best on the digits, 0.9685); measured on
        /// classification, the regression trainers take the same default.
        /// </summary>
        public Options()
        {
            GradientClipNorm = 5;
            LearningRate = 1e-2;
        }

        /// <summary>Values per time step (F): the feature vector holds its steps one after the other; at least 1 (default 1, a univariate series).</summary>
        public int FeaturesPerStep { get; set; } = 1;

        /// <summary>
        /// Whether the network standardizes its input itself: its first layer is then a <c>Normalization</c> that maps each of the
        /// <see cref="FeaturesPerStep"/> features to mean 0 and standard deviation 1, with that feature's statistics over every real step of
        /// the training rows (not the rows <c>ValidationFraction</c> holds out), and the exported graph does the same. Set it for features
        /// far from 0 in their own units (raw counts, prices, temperatures in kelvin): the digits read row by row on an offset of 1,000
        /// trained to accuracy 0.1009 as they came and 0.9685 standardized (docs/quality-presets-units.md). False by default, a measurement: on
        /// the bundled digits (grey levels 0 to 16) the LSTM reached 0.9807 as they come and 0.9677 standardized over five seeds
        /// (docs/quality-presets-recurrent.md), against ML.NET's best 0.9685 (docs/quality.md). Features far from a common scale are a
        /// warning in <c>mlContext.Log</c> when it is off.
        /// </summary>
        public bool StandardizeFeatures { get; set; }

        /// <summary>The recurrent cell: <see cref="RecurrentCell.Lstm"/> (default), <see cref="RecurrentCell.Gru"/> or the Elman <see cref="RecurrentCell.Rnn"/>.</summary>
        public RecurrentCell Cell { get; set; } = RecurrentCell.Lstm;

        /// <summary>The Elman cell's activation: tanh (default) or ReLU; must stay tanh for LSTM and GRU.</summary>
        public RecurrentNonlinearity Nonlinearity { get; set; } = RecurrentNonlinearity.Tanh;

        /// <summary>Units of the hidden state per direction; at least 1 (default 64).</summary>
        public int HiddenSize { get; set; } = 64;

        /// <summary>Stacked recurrent layers, each reading the sequence of hidden states of the one below; at least 1 (default 1).</summary>
        public int Layers { get; set; } = 1;

        /// <summary>Whether each layer also reads the sequence backwards, concatenating both directions' states (default false).</summary>
        public bool Bidirectional { get; set; }

        /// <summary>Dropout between stacked recurrent layers during training, in [0, 1) (default 0).</summary>
        public float Dropout { get; set; }

        /// <summary>
        /// How the sequence of hidden states becomes one vector: the last step's state (default; forward direction at the
        /// last real step, backward direction at the first), or the mean or maximum over the real steps.
        /// </summary>
        public RecurrentOutput Pooling { get; set; } = RecurrentOutput.Last;

        /// <summary>Sizes of dense ReLU layers between the recurrent summary and the output layer (default none).</summary>
        public IReadOnlyList<int> HiddenLayers { get; set; } = [];

        /// <summary>Dropout on the recurrent summary before the dense layers during training, in [0, 1) (default 0).</summary>
        public float HeadDropout { get; set; }

        /// <summary>
        /// Truncated backpropagation through time: when above 0, gradients flow through only the last this-many steps
        /// (the earlier steps still set the state). Unidirectional, fixed-length sequences only. 0 (default) backpropagates through all steps;
        /// so does a value not below the sequence length, with a warning in <c>mlContext.Log</c>.
        /// </summary>
        public int TruncatedSteps { get; set; }

        /// <summary>
        /// For a variable-size feature column: the most steps a row may hold when scoring; 0 (default) takes the longest
        /// training row's. Rows with more steps are an error. Not used with known-size columns.
        /// </summary>
        public int MaxSequenceLength { get; set; }

        internal override void Validate()
        {
            base.Validate();
            Check(FeaturesPerStep >= 1, nameof(FeaturesPerStep), FeaturesPerStep, "must be at least 1");
            Check(Enum.IsDefined(Cell), nameof(Cell), Cell, "must be Rnn, Lstm or Gru");
            Check(Enum.IsDefined(Nonlinearity), nameof(Nonlinearity), Nonlinearity, "must be Tanh or Relu");
            Check(Nonlinearity == RecurrentNonlinearity.Tanh || Cell == RecurrentCell.Rnn, nameof(Nonlinearity), Nonlinearity, $"must stay Tanh for the {Cell} cell (only the Elman Rnn cell takes Relu)");
            Check(HiddenSize >= 1, nameof(HiddenSize), HiddenSize, "must be at least 1");
            Check(Layers >= 1, nameof(Layers), Layers, "must be at least 1");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            Check(Enum.IsDefined(Pooling) && Pooling != RecurrentOutput.Sequence, nameof(Pooling), Pooling, "must be Last, Mean or Max");
            Check(HiddenLayers is not null && HiddenLayers.All(h => h >= 1), nameof(HiddenLayers),
                HiddenLayers is null ? "null" : $"[{string.Join(", ", HiddenLayers)}]", "must be a list of sizes of at least 1");
            Check(HeadDropout >= 0 && HeadDropout < 1, nameof(HeadDropout), HeadDropout, "must be in [0, 1)");
            Check(TruncatedSteps >= 0, nameof(TruncatedSteps), TruncatedSteps, "must be at least 0 (0 = full backpropagation through time)");
            Check(TruncatedSteps == 0 || !Bidirectional, nameof(TruncatedSteps), TruncatedSteps, "must be 0 with Bidirectional (the backward direction starts at the end)");
            Check(MaxSequenceLength >= 0, nameof(MaxSequenceLength), MaxSequenceLength, "must be at least 0 (0 = the longest training sequence)");
            // Composed with a stand-in sequence so that a bad combination (truncation with a bidirectional layer...) fails here
            // (at creation and when Fit starts), not after reading the data.
            Compose(this, new SequenceLayout(FeaturesPerStep, Math.Max(2, TruncatedSteps + 1), VariableLength: false), outputs: 2);
        }

        private protected override void CopyLists()
        {
            base.CopyLists();
            HiddenLayers = HiddenLayers?.ToArray()!;
        }
    }
}
