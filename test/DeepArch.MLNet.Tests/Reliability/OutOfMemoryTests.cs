using System.Diagnostics;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static TorchSharp.torch;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// A network too large for the process fails fast with an <see cref="InsufficientMemoryException"/> that says how much training
/// needs, how much the process may use, and which options to reduce — refused before anything large is allocated, so the
/// process goes on and the next fit trains. libtorch's own allocation failures become the same exception, without C++ frames.
/// Sizes are far beyond any machine's memory (terabytes), so the tests allocate nothing large wherever they run.
/// </summary>
public class OutOfMemoryTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_huge_multilayer_perceptron_fails_fast_naming_Options_HiddenLayers_and_the_process_goes_on()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Wide.Rows(32));
        var clock = Stopwatch.StartNew();

        var error = Assert.Throws<InsufficientMemoryException>(() => ml.Regression.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { HiddenLayers = [1_000_000, 1_000_000], Epochs = 1 }).Fit(data));

        Assert.True(clock.Elapsed < Fast, $"took {clock.Elapsed}");
        Assert.Matches(@"^Training needs about [0-9.]+ TB \(1,000,067,000,001 parameters from Options\.HiddenLayers \[1000000, 1000000\] on 64 features: " +
                       @"[0-9.]+ TB for the weights, their gradients and Adam's two moments; [0-9.]+ MB of activations for Options\.BatchSize 32; " +
                       @"[0-9.]+ KB of training data\) but [0-9.]+ [GT]B is available to this process: reduce Options\.HiddenLayers\.$", error.Message);

        // The process goes on: a normal network trains as before.
        using var model = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [8], Epochs = 2 }).Fit(data);
        Assert.Equal(2, model.History.Epochs.Count);
    }

    [Fact]
    public void A_convolutional_network_whose_activations_cannot_fit_names_the_layers_the_input_shape_and_the_batch_size()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Wide.Rows(4));
        var clock = Stopwatch.StartNew();

        // About 78 million parameters, but a row's 2^20 feature maps of 8 x 8 take 256 MB (as much again for their gradients,
        // and again flattened): a batch of 4,096 rows needs terabytes. The batch is what to reduce.
        var error = Assert.Throws<InsufficientMemoryException>(() => ml.Regression.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
        {
            InputShape = [1, 8, 8],
            Layers = [new Conv2d(1 << 20, 3, padding: ConvPadding.Same)],
            BatchSize = 4096,
            Epochs = 1,
        }).Fit(data));

        Assert.True(clock.Elapsed < Fast, $"took {clock.Elapsed}");
        Assert.Matches(@"^Training needs about [0-9.]+ TB \(77,594,625 parameters from Options\.Layers \(1 layer\) on Options\.InputShape \[1, 8, 8\]: " +
                       @"[0-9.]+ GB for the weights, their gradients and Adam's two moments; [0-9.]+ TB of activations for Options\.BatchSize 4096; " +
                       @"[0-9.]+ KB of training data\) but [0-9.]+ [GT]B is available to this process: reduce Options\.BatchSize\.$", error.Message);
    }

    [Fact]
    public void Recurrent_networks_and_autoencoders_name_their_own_size_options()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Wide.Rows(4));

        var recurrent = Assert.Throws<InsufficientMemoryException>(() => ml.Regression.Trainers.RecurrentNetwork(
            new RecurrentNetworkTrainer.Options { FeaturesPerStep = 8, HiddenSize = 2_000_000, Layers = 2, Epochs = 1 }).Fit(data));
        var transform = Assert.Throws<InsufficientMemoryException>(() => ml.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
        {
            OutputColumnName = "Code",
            InputColumnName = "Features",
            Kind = AutoencoderKind.Sparse,
            LayerSizes = [2_000_000, 2_000_000],
            Epochs = 1,
        }).Fit(data));
        var detector = Assert.Throws<InsufficientMemoryException>(() => ml.AnomalyDetection.Trainers.Autoencoder(
            new AutoencoderAnomalyDetectionTrainer.Options { LayerSizes = [2_000_000, 2_000_000, 8], Epochs = 1 }).Fit(data));
        var stacked = Assert.Throws<InsufficientMemoryException>(() => ml.BinaryClassification.Trainers.StackedAutoencoder(
            new StackedAutoencoderTrainer.Options { LabelColumnName = "Flag", HiddenLayers = [2_000_000, 2_000_000], Epochs = 1 }).Fit(data));

        Assert.Contains("parameters from Options.HiddenSize 2000000 and Options.Layers 2 (Lstm) on 8 steps of 8 values: ", recurrent.Message);
        Assert.EndsWith("reduce Options.HiddenSize or Options.Layers.", recurrent.Message);
        Assert.Contains("parameters from Options.LayerSizes [2000000, 2000000] on 64 features: ", transform.Message);
        Assert.EndsWith("reduce Options.LayerSizes.", transform.Message);
        Assert.Contains("parameters from Options.LayerSizes [2000000, 2000000, 8] on 64 features: ", detector.Message);
        Assert.Contains("parameters from Options.HiddenLayers [2000000, 2000000] on 64 features: ", stacked.Message);
    }

    [Fact]
    public void A_native_allocation_failure_while_training_names_the_options_and_keeps_only_the_first_line()
    {
        var names = new NetworkOptionNames("Options.HiddenLayers [8] on 4 features", "Options.HiddenLayers");
        var spec = MultilayerPerceptron.Create([8], 1);
        var set = new TrainingSet(new float[16], [4], new float[4], 1);

        // 2^60 bytes: more than any address space, so libtorch's allocator fails whatever the overcommit policy.
        var error = Assert.Throws<InsufficientMemoryException>(() =>
            TrainingGuard.Train(spec, [4], seed: 1, CPU, new TrainingOptions(), set, null, names, Scoring, _ => { using var huge = empty(1L << 58); return null!; }));

        Assert.StartsWith("Training ran out of memory with the network of Options.HiddenLayers [8] on 4 features, ", error.Message);
        Assert.Contains(" being available to this process: reduce Options.HiddenLayers, or Options.BatchSize. libtorch: DefaultCPUAllocator: ", error.Message);
        Assert.DoesNotContain("frame #", error.Message);
        Assert.DoesNotContain("\n", error.Message);
        Assert.Null(error.InnerException);
    }

    private static readonly DeepArch.MLNet.ScoringSettings Scoring = new(256, 1, DeepArch.Trainers.ComputeDevice.Cpu, false);

    [Fact]
    public void The_trainers_own_estimate_inside_Fit_is_named_with_the_estimators_options()
    {
        var names = new NetworkOptionNames("Options.HiddenLayers [8] on 4 features", "Options.HiddenLayers");
        var inner = new InsufficientMemoryException("Training needs about 1.0 TB (...) but 23.5 GB is available to this process: make the network smaller.");

        var error = Assert.Throws<InsufficientMemoryException>(() => TrainingGuard.Train(MultilayerPerceptron.Create([8], 1), [4], seed: 1, CPU,
            new TrainingOptions(), new TrainingSet(new float[16], [4], new float[4], 1), null, names, Scoring, _ => throw inner));

        Assert.Same(inner, error.InnerException);
        Assert.EndsWith("reduce Options.HiddenLayers, or Options.BatchSize. " + inner.Message, error.Message);
    }

    /// <summary>Rows of 64 features for the size tests.</summary>
    private static class Wide
    {
        public static WideRow[] Rows(int count) => Enumerable.Range(0, count)
            .Select(i => new WideRow { Features = Enumerable.Range(0, 64).Select(f => (float)Math.Sin(i + f)).ToArray(), Label = i % 2, Flag = i % 2 == 0 })
            .ToArray();
    }

    private sealed class WideRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }

        public bool Flag { get; set; }
    }
}
