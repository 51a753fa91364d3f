using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// LeNet-5, the default convolutional network and the convolutional autoencoder: their adaptation to the
/// input size, and ONNX parity after a little training. (Kept beside the layer tests: the Architectures
/// test folder belongs to another change in progress.)
/// </summary>
public class ConvolutionalArchitectureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(32, 16 * 5 * 5)]
    [InlineData(28, 16 * 5 * 5)]
    [InlineData(16, 16 * 2 * 2)]
    [InlineData(8, 16 * 2 * 2)]
    [InlineData(4, 16 * 1 * 1)]
    public void LeNet5_pads_its_convolutions_only_as_much_as_the_input_size_needs(int side, int flattened)
    {
        var spec = LeNet5.Create([1, side, side], 10);

        var shapes = spec.ShapesThrough([1, side, side]);

        Assert.Equal([flattened], shapes[7]);
        Assert.Equal([10], shapes[^1]);
        Assert.Equal(6, ((Conv2d)spec.Layers[0]).Filters);
        Assert.Equal(16, ((Conv2d)spec.Layers[3]).Filters);
        Assert.Equal([120], shapes[8]);
        Assert.Equal([84], shapes[10]);
    }

    [Fact]
    public void LeNet5_on_32x32_is_the_original_network()
    {
        var shapes = LeNet5.Create([1, 32, 32], 10).ShapesThrough([1, 32, 32]);

        Assert.Equal([[1, 32, 32], [6, 28, 28], [6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 10, 10], [16, 5, 5], [400]], shapes.Take(8));
    }

    [Fact]
    public void LeNet5_rejects_inputs_below_4x4_and_non_images()
    {
        Assert.Contains("at least 4x4", Assert.Throws<ArgumentException>(() => LeNet5.Create([1, 3, 8], 10)).Message);
        Assert.Contains("[channels, height, width]", Assert.Throws<ArgumentException>(() => LeNet5.Create([1, 64], 10)).Message);
    }

    [Fact]
    public void Default_network_fits_images_and_signals_down_to_one_value()
    {
        Assert.Equal([10], ConvolutionalNetwork.Create([1, 8, 8], 10).OutputShape([1, 8, 8]));
        Assert.Equal([3], ConvolutionalNetwork.Create([3, 1, 5], 3).OutputShape([3, 1, 5]));
        Assert.Equal([2], ConvolutionalNetwork.Create([2, 20], 2).OutputShape([2, 20]));
        Assert.Equal([1], ConvolutionalNetwork.Create([1, 1], 1).OutputShape([1, 1]));
    }

    [Fact]
    public void LeNet5_matches_onnx_runtime_after_training()
    {
        var spec = new Sequential([new Reshape(1, 8, 8), .. LeNet5.Create([1, 8, 8], 4).Layers]);
        using var network = new Network(spec, [64], seed: 5);
        Train(network, LossFunction.CrossEntropy, Blobs(64));

        output.WriteLine($"LeNet-5 (8x8, {network.ParameterCount} parameters): max abs error {OnnxAssert.Parity(network, rows: 20, seed: 2):G3}");
    }

    [Fact]
    public void Default_network_matches_onnx_runtime_after_training()
    {
        var spec = new Sequential([new Reshape(2, 6, 5), .. ConvolutionalNetwork.Create([2, 6, 5], 4).Layers]);
        using var network = new Network(spec, [60], seed: 6);
        Train(network, LossFunction.CrossEntropy, Blobs(60));

        output.WriteLine($"Default CNN (2x6x5): max abs error {OnnxAssert.Parity(network, rows: 20, seed: 3):G3}");
    }

    [Fact]
    public void Convolutional_autoencoder_reconstructs_its_input_shape_and_matches_onnx_runtime()
    {
        var spec = ConvolutionalAutoencoder.Create([1, 8, 8], outputActivation: ActivationKind.Sigmoid);
        using var network = new Network(spec, [64], seed: 7);
        var data = Fixtures.Regression(96, features: 64, seed: 7);
        var reconstruction = new TrainingSet(data.Features, [64], data.Features, 64);
        Train(network, LossFunction.MeanSquaredError, reconstruction);

        Assert.Equal([64], network.OutputShape);
        Assert.Equal([8, 2, 2], ConvolutionalAutoencoder.CodeShape([1, 8, 8]));
        Assert.Equal([32], ConvolutionalAutoencoder.Encoder([1, 8, 8]).OutputShape([64]));
        Assert.Equal([64], ConvolutionalAutoencoder.Decoder([1, 8, 8]).OutputShape([32]));
        output.WriteLine($"Convolutional autoencoder: max abs error {OnnxAssert.Parity(network, rows: 20, seed: 4):G3}");
    }

    [Fact]
    public void Convolutional_autoencoder_rejects_sizes_its_pooling_cannot_halve()
    {
        var error = Assert.Throws<ArgumentException>(() => ConvolutionalAutoencoder.Create([1, 10, 8]));

        Assert.Contains("divisible by 4; got 10x8", error.Message);
    }

    private static void Train(Network network, LossFunction loss, TrainingSet data)
        => new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 1 }).Fit(new SupervisedObjective(network, loss), data);

    /// <summary>Four seeded classes of flat "images": Gaussian blobs as in <see cref="Fixtures.Blobs"/>.</summary>
    private static TrainingSet Blobs(int features) => Fixtures.Blobs(96, features: features, classes: 4, seed: 1);
}
