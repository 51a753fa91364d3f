using DeepArch.MLNet.Scoring;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet.Trainers;

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
/// <item><term>Feature column</term><description><c>Single</c> or known-size vector of <c>Single</c>; standardize it first (<c>NormalizeMeanVariance</c>)</description></item>
/// <item><term>Label column</term><description>Multiclass: key (<c>MapValueToKey</c>); binary: <c>Boolean</c>; regression: <c>Single</c></description></item>
/// <item><term>Output columns</term><description>Multiclass: <c>Score</c> (class probabilities), <c>PredictedLabel</c> (key, label's key values);
/// binary: <c>Score</c> (logit), <c>Probability</c>, <c>PredictedLabel</c> (Boolean); regression: <c>Score</c></description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// Training reads the feature and label columns into memory once (4 bytes per feature value plus one
/// target per row), because every epoch reshuffles the rows; scoring streams.
/// </remarks>
public sealed class MultilayerPerceptronTrainer : IEstimator<NetworkTransformer>
{
    private readonly SupervisedNetworkFitter _fitter;

    internal MultilayerPerceptronTrainer(IHostEnvironment environment, Options options, PredictionTask task)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TrainerOptions = options;
        int[] hidden = options.HiddenLayers.ToArray();
        _fitter = new SupervisedNetworkFitter(environment, options, task, "MultilayerPerceptron",
            (_, outputs) => MultilayerPerceptron.Create(hidden, outputs, options.Activation, options.Dropout, options.BatchNorm));
    }

    /// <summary>The options this trainer was created with.</summary>
    public Options TrainerOptions { get; }

    /// <summary>Trains on <paramref name="input"/>; validation uses <see cref="NetworkOptions.ValidationFraction"/> of it.</summary>
    public NetworkTransformer Fit(IDataView input) => _fitter.Fit(input, null);

    /// <summary>Trains on <paramref name="trainData"/> and validates every epoch on <paramref name="validationData"/>.</summary>
    public NetworkTransformer Fit(IDataView trainData, IDataView validationData)
    {
        ArgumentNullException.ThrowIfNull(validationData);
        return _fitter.Fit(trainData, validationData);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _fitter.GetOutputSchema(inputSchema);

    /// <summary>Options of <see cref="MultilayerPerceptronTrainer"/>.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>Sizes of the hidden layers, in order; each at least 1; empty gives a linear model.</summary>
        public IReadOnlyList<int> HiddenLayers { get; set; } = [128, 64];

        /// <summary>The hidden layers' activation.</summary>
        public ActivationKind Activation { get; set; } = ActivationKind.ReLU;

        /// <summary>Dropout after each hidden layer during training, in [0, 1); 0 (default) adds none.</summary>
        public float Dropout { get; set; }

        /// <summary>Whether each hidden layer is batch-normalized before its activation.</summary>
        public bool BatchNorm { get; set; }

        internal override void Validate()
        {
            base.Validate();
            Check(HiddenLayers is not null, nameof(HiddenLayers), "null", "must not be null");
            Check(HiddenLayers!.All(h => h >= 1), nameof(HiddenLayers), $"[{string.Join(", ", HiddenLayers!)}]", "must hold sizes of at least 1");
            Check(Enum.IsDefined(Activation), nameof(Activation), Activation, "must be a defined ActivationKind");
            Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
        }
    }
}
