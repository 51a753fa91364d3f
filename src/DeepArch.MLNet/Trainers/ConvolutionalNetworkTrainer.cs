using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>The ready-made networks of <see cref="ConvolutionalNetworkTrainer"/>.</summary>
public enum ConvolutionalPreset
{
    /// <summary>
    /// A small network: two blocks of convolution (16, then 32 filters, 3x3 or 3 taps, "same") -> activation ->
    /// max pooling 2, then dense 64 -> output. Images and signals (<see cref="DeepArch.Trainers.Architectures.ConvolutionalNetwork"/>).
    /// </summary>
    Default,

    /// <summary>LeNet-5, its convolutions padded as much as the input size needs (<see cref="DeepArch.Trainers.Architectures.LeNet5"/>); images of at least 4x4.</summary>
    LeNet5,
}

/// <summary>
/// Trains a convolutional network with TorchSharp and returns a <see cref="NetworkTransformer"/> that
/// scores it with ONNX Runtime. The feature column is a flat vector (what ML.NET's <c>ExtractPixels</c>
/// produces, or any vector of the right size) and <see cref="Options.InputShape"/> says how to read it:
/// (channels, height, width) or (channels, length), row-major. Created by <c>ConvolutionalNetwork</c> in
/// <c>mlContext.MulticlassClassification.Trainers</c>, <c>BinaryClassification.Trainers</c> and
/// <c>Regression.Trainers</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA)</description></item>
/// <item><term>Feature column</term><description>Known-size vector of <c>Single</c> holding channels x height x width (or channels x length) values,
/// channel-planar and row-major, as <c>ExtractPixels</c> writes them by default (<c>interleavePixelColors: false</c>), in any units: the network standardizes each channel (<see cref="Options.StandardizeFeatures"/>)</description></item>
/// <item><term>Label column</term><description>Multiclass: key (<c>MapValueToKey</c>); binary: <c>Boolean</c>; regression: <c>Single</c></description></item>
/// <item><term>Output columns</term><description>Multiclass: <c>Score</c> (class probabilities), <c>PredictedLabel</c> (key, label's key values);
/// binary: <c>Score</c> (logit), <c>Probability</c>, <c>PredictedLabel</c> (Boolean); regression: <c>Score</c></description></item>
/// <item><term>Network</term><description><see cref="Options.Preset"/> (<see cref="ConvolutionalPreset.Default"/> or <see cref="ConvolutionalPreset.LeNet5"/>),
/// or <see cref="Options.Layers"/>; a <see cref="Reshape"/> to <see cref="Options.InputShape"/> comes first</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime); reading image files needs Microsoft.ML.ImageAnalytics</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// The network is checked against <see cref="Options.InputShape"/> when the trainer is created and again when
/// <c>Fit</c> starts (a kernel or pooling window larger than what reaches it is an error naming the layer and the
/// sizes), and the shape's size against the feature column's at the start of <c>Fit</c>, before any row is read.
/// <c>Fit</c> reads every option when it starts: a change to <c>TrainerOptions</c> after creation applies in full.
/// </remarks>
public sealed class ConvolutionalNetworkTrainer : SupervisedNetworkTrainer<ConvolutionalNetworkTrainer.Options>
{
    internal ConvolutionalNetworkTrainer(IHostEnvironment environment, Options options, TaskKind task)
        : base(environment, options, task, "ConvolutionalNetwork")
    {
    }

    /// <summary>With <see cref="Options.StandardizeFeatures"/> (the default) the network standardizes its input itself.</summary>
    private protected override bool ReadsFeaturesAsTheyCome(Options options) => !options.StandardizeFeatures;

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        var network = o.Network(data.Task!.NetworkOutputs);
        LayerSpec architecture = o.StandardizeFeatures
            ? new Sequential([Normalization.AdaptPerChannel(data.Train, o.InputShape[0], data.TrainingRows), .. network.Layers])
            : network;
        return new(architecture, o.Names());
    }

    private protected override void CheckFeature(Options options, DataViewSchema.Column column, int size)
    {
        int expected = options.InputShape.Aggregate(1, (a, d) => checked(a * d));
        if (size != expected)
        {
            throw new ArgumentException(
                $"Options.InputShape [{string.Join(", ", options.InputShape)}] holds {expected} values but feature column '{column.Name}' " +
                $"has {size} ({SchemaErrors.Describe(column.Type)}). Declare the shape the feature vector was made with.");
        }
        ConvolutionalShape.CheckLayout("Options.InputShape", options.InputShape, column);
    }

    /// <summary>The whole network: reshape to the declared shape, then the preset or the explicit layers and an output layer.</summary>
    private static Sequential Compose(int[] inputShape, ConvolutionalPreset preset, ActivationKind activation, LayerSpec[]? layers, int outputs)
    {
        string option = layers is null ? $"Options.Preset {preset}" : "Options.Layers";
        try
        {
            IReadOnlyList<LayerSpec> body;
            if (layers is null)
            {
                body = (preset == ConvolutionalPreset.LeNet5
                    ? LeNet5.Create(inputShape, outputs, activation)
                    : ConvolutionalNetwork.Create(inputShape, outputs, activation)).Layers;
            }
            else
            {
                var bodyShape = new Sequential(layers).OutputShape(inputShape);
                body = bodyShape.Length == 1 ? [.. layers, new Dense(outputs)] : [.. layers, new Flatten(), new Dense(outputs)];
            }
            var network = new Sequential([new Reshape(inputShape), .. body]);
            network.OutputShape([inputShape.Aggregate(1, (a, d) => checked(a * d))]);
            return network;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{option} does not fit Options.InputShape [{string.Join(", ", inputShape)}]: {e.Message}", e);
        }
    }

    /// <summary>Options of <see cref="ConvolutionalNetworkTrainer"/>.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>
        /// Creates the options with the convolutional networks' defaults, those of the simple overloads: learning rate 3e-3 and
        /// 20 epochs. On the digits (<c>eng/quality</c> <c>presets</c>, three seeds, 20 epochs; docs/quality-presets.md) the default
        /// CNN reached accuracy 0.9777 with 3e-3 where 1e-3 reached 0.9654 (ML.NET's best, 0.9685); on the same seeds 20 epochs reached
        /// 0.9808 and 40 epochs 0.9790 at twice the time (docs/quality-presets-convolutional.md). Measured on classification; a
        /// regression CNN takes the same defaults.
        /// </summary>
        public Options()
        {
            LearningRate = 3e-3;
            Epochs = 20;
        }

        /// <summary>
        /// How to read the flat feature vector: (channels, height, width) for images or (channels, length) for
        /// signals, row-major; every size at least 1, and their product the feature column's size. Required.
        /// </summary>
        public IReadOnlyList<int> InputShape { get; set; } = [];

        /// <summary>
        /// Whether the network standardizes its input itself (default true): its first layer is a <c>Normalization</c> that maps each
        /// channel to mean 0 and standard deviation 1, with that channel's statistics over every position of the training rows (not the
        /// rows <c>ValidationFraction</c> holds out), as torchvision's <c>Normalize</c> does, and the exported graph does the same. Pixels
        /// of 0 to 255 or signals in their own units then need no scaling transform. False reads the values as they come.
        /// </summary>
        public bool StandardizeFeatures { get; set; } = true;

        /// <summary>The ready-made network to train when <see cref="Layers"/> is null; <see cref="ConvolutionalPreset.Default"/> by default.</summary>
        public ConvolutionalPreset Preset { get; set; } = ConvolutionalPreset.Default;

        /// <summary>The activation after the preset's convolutions and hidden dense layers (not used with <see cref="Layers"/>).</summary>
        public ActivationKind Activation { get; set; } = ActivationKind.ReLU;

        /// <summary>
        /// An explicit network instead of a preset: the layers that follow the reshape to <see cref="InputShape"/>
        /// (convolutions, pooling, activations, dropout, batch norm, dense layers...), without the output layer,
        /// which the trainer adds (after a <see cref="Flatten"/> when the last layer's output is not a vector).
        /// Null (default) uses <see cref="Preset"/>; cannot be combined with a preset other than Default.
        /// </summary>
        public IReadOnlyList<LayerSpec>? Layers { get; set; }

        internal override void Validate()
        {
            base.Validate();
            Check(InputShape is not null, nameof(InputShape), "null", "must be (channels, height, width) or (channels, length)");
            Check(InputShape!.Count is 2 or 3 && InputShape.All(d => d >= 1), nameof(InputShape), $"[{string.Join(", ", InputShape)}]",
                "must be (channels, height, width) or (channels, length) with sizes of at least 1");
            Check(Enum.IsDefined(Preset), nameof(Preset), Preset, "must be a defined ConvolutionalPreset");
            Check(Enum.IsDefined(Activation), nameof(Activation), Activation, "must be a defined ActivationKind");
            if (Layers is not null)
            {
                Check(Layers.Count > 0 && Layers.All(l => l is not null), nameof(Layers), $"{Layers.Count} layers", "must hold at least one layer and no nulls");
                Check(Preset == ConvolutionalPreset.Default, nameof(Preset), Preset, "must stay Default when Options.Layers is set (use one or the other)");
            }
            // Composed with a stand-in output count, so that a network that does not fit the declared shape fails here
            // (at creation and when Fit starts) rather than after the data has been read.
            var network = Network(outputs: 2);
            CheckBatchSizeForBatchNorm(network, Layers is null
                ? $"Options.Preset {Preset}"
                : $"the {string.Join(" and ", BatchNormalization.LayerKinds(network))} of Options.Layers");
        }

        private protected override void CopyLists()
        {
            base.CopyLists();
            InputShape = InputShape?.ToArray()!;
            Layers = Layers?.ToArray();
        }

        /// <summary>The network these options describe, with <paramref name="outputs"/> outputs.</summary>
        internal Sequential Network(int outputs) => Compose(InputShape.ToArray(), Preset, Activation, Layers?.ToArray(), outputs);

        /// <summary>The options that size the network, as errors name them.</summary>
        internal NetworkOptionNames Names() => Layers is null
            ? new($"Options.Preset {Preset} on Options.InputShape {Shapes.Format(InputShape)}",
                "Options.InputShape (or use Options.Layers with fewer filters and units)")
            : new($"Options.Layers ({Layers.Count} layer{(Layers.Count == 1 ? "" : "s")}) on Options.InputShape {Shapes.Format(InputShape)}",
                "the filters and units of Options.Layers, or Options.InputShape", "The batch normalization of Options.Layers");
    }
}
