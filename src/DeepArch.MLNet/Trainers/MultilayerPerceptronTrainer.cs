using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Trains a multilayer perceptron with TorchSharp and returns a <see cref="NetworkTransformer"/> that
/// scores it with ONNX Runtime. Created by <c>MultilayerPerceptron</c> in
/// <c>mlContext.MulticlassClassification.Trainers</c>, <c>BinaryClassification.Trainers</c> and
/// <c>Regression.Trainers</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA)</description></item>
/// <item><term>Feature column</term><description><c>Single</c> or known-size vector of <c>Single</c>, in any units: the network standardizes it (<c>Options.StandardizeFeatures</c>)</description></item>
/// <item><term>Label column</term><description>Multiclass: key (<c>MapValueToKey</c>); binary: <c>Boolean</c>; regression: <c>Single</c></description></item>
/// <item><term>Output columns</term><description>Multiclass: <c>Score</c> (class probabilities), <c>PredictedLabel</c> (key, label's key values);
/// binary: <c>Score</c> (logit), <c>Probability</c>, <c>PredictedLabel</c> (Boolean); regression: <c>Score</c></description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// Training reads the feature and label columns into memory once (4 bytes per feature value plus one
/// target per row), because every epoch reshuffles the rows; above a memory budget it streams the features from the
/// <c>IDataView</c> at every epoch instead (<c>Options.TrainingData</c>); scoring streams.
/// The options are validated when the trainer is created and again when <c>Fit</c> starts, which reads them all
/// then: a change to <c>TrainerOptions</c> in between applies in full.
/// </remarks>
public sealed class MultilayerPerceptronTrainer : SupervisedNetworkTrainer<MultilayerPerceptronTrainer.Options>
{
    internal MultilayerPerceptronTrainer(IHostEnvironment environment, Options options, TaskKind task)
        : base(environment, options, task, "MultilayerPerceptron")
    {
    }

    /// <summary>With <see cref="Options.StandardizeFeatures"/> (the default) the network standardizes its features itself.</summary>
    private protected override bool ReadsFeaturesAsTheyCome(Options options) => !options.StandardizeFeatures;

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        var network = o.Network(data.Task!.NetworkOutputs);
        LayerSpec architecture = o.StandardizeFeatures ? new Sequential([Normalization.Adapt(data.Train, data.TrainingRows), .. network.Layers]) : network;
        return new(architecture, new NetworkOptionNames($"Options.HiddenLayers {Shapes.Format(o.HiddenLayers)} on {data.InputSize} features", "Options.HiddenLayers", "Options.BatchNorm"));
    }

    /// <summary>Options of <see cref="MultilayerPerceptronTrainer"/>.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>Sizes of the hidden layers, in order; each at least 1; empty gives a linear model.</summary>
        public IReadOnlyList<int> HiddenLayers { get; set; } = [128, 64];

        /// <summary>The hidden layers' activation.</summary>
        public ActivationKind Activation { get; set; } = ActivationKind.ReLU;

        /// <summary>Dropout after each hidden layer during training, in [0, 1); 0 (default) adds none.</summary>
        public float Dropout { get; set; }

        /// <summary>
        /// Whether each hidden layer is batch-normalized before its activation. Batch normalization needs at least two rows per batch:
        /// with it, <c>BatchSize</c> must be at least 2, and <c>Fit</c> rejects a training set of fewer than 2 rows (after the validation split).
        /// </summary>
        public bool BatchNorm { get; set; }

        /// <summary>
        /// Whether the network's first layer standardizes each feature by the training rows' mean and standard deviation (a
        /// <see cref="Normalization"/> layer, applied in the exported graph too, so scoring takes the data as it is); default
        /// true. The statistics come from the training rows, not those ValidationFraction holds out. A pipeline that already normalizes each
        /// feature (<c>NormalizeMinMax</c>, <c>NormalizeMeanVariance</c>) gets the same network either way, up to rounding; features in their natural units (magnesium near 100, proline near 1,000) train much better
        /// with it, grey levels 0 to 16 slightly worse: the README's MLP section has the measurement. A feature constant over the
        /// training rows is only shifted (scale 1): the network never learned what it means, so a different value at scoring moves
        /// the prediction arbitrarily; drop such features, or make sure scoring data holds the training value.
        /// </summary>
        public bool StandardizeFeatures { get; set; } = true;

        internal override void Validate()
        {
            base.Validate();
            Check(HiddenLayers is not null, nameof(HiddenLayers), "null", "must not be null");
            Check(HiddenLayers!.All(h => h >= 1), nameof(HiddenLayers), $"[{string.Join(", ", HiddenLayers!)}]", "must hold sizes of at least 1");
            Check(Enum.IsDefined(Activation), nameof(Activation), Activation, "must be a defined ActivationKind");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
            CheckBatchSizeForBatchNorm(Network(outputs: 1), "Options.BatchNorm");
        }

        private protected override void CopyLists()
        {
            base.CopyLists();
            HiddenLayers = HiddenLayers?.ToArray()!;
        }

        /// <summary>The perceptron these options describe, with <paramref name="outputs"/> outputs.</summary>
        internal Sequential Network(int outputs) => MultilayerPerceptron.Create(HiddenLayers, outputs, Activation, Dropout, BatchNorm);
    }
}
