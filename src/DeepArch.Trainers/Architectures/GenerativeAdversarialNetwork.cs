using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The two networks of a generative adversarial network ("Generative Adversarial Nets", Goodfellow et al., 2014): a
/// generator from <see cref="NoiseSize"/> noise values to a data row of <see cref="DataSize"/> values in [-1, 1] (a tanh
/// output), and a discriminator from a data row to one logit, the log-odds that the row is real. When
/// <see cref="Classes"/> is above 0 both are <see cref="Conditioned"/> on a class label (a conditional GAN).
/// </summary>
/// <param name="Generator">The generator: [NoiseSize] (and a label) to [DataSize].</param>
/// <param name="Discriminator">The discriminator: [DataSize] (and a label) to [1], a logit.</param>
/// <param name="NoiseSize">The noise values per generated row.</param>
/// <param name="DataSize">The values per data row.</param>
/// <param name="Classes">The number of class labels the networks are conditioned on; 0 for an unconditional GAN.</param>
public sealed record GanNetworks(LayerSpec Generator, LayerSpec Discriminator, int NoiseSize, int DataSize, int Classes);

/// <summary>
/// The GAN architectures of the lecture notes: a GAN of dense layers for vectors (<see cref="CreateDense"/>) and a DCGAN
/// for images (<see cref="CreateConvolutional"/>, "Unsupervised Representation Learning with Deep Convolutional
/// Generative Adversarial Networks", Radford et al., 2016), each optionally conditioned on a class label ("Conditional
/// Generative Adversarial Nets", Mirza and Osindero, 2014). Inputs and outputs are flat rows, as in an ML.NET vector
/// column; an image is [channels, height, width] row-major.
/// </summary>
public static class GenerativeAdversarialNetwork
{
    /// <summary>The hidden sizes of each network of <see cref="CreateDense"/> when none are given.</summary>
    public static IReadOnlyList<int> DefaultHiddenLayers { get; } = [256, 256];

    /// <summary>
    /// A GAN of dense layers. The generator: noise (joined with the label's embedding) -> Dense -> LeakyReLU(0.2) per
    /// hidden size -> Dense(dataSize) -> Tanh. The discriminator: the row (joined with the label's embedding) -> Dense ->
    /// LeakyReLU(0.2) per hidden size -> Dense(1).
    /// </summary>
    /// <param name="noiseSize">Noise values per generated row; at least 1.</param>
    /// <param name="dataSize">Values per data row; at least 1.</param>
    /// <param name="generatorLayers">The generator's hidden sizes; null gives <see cref="DefaultHiddenLayers"/>.</param>
    /// <param name="discriminatorLayers">The discriminator's hidden sizes; null gives <see cref="DefaultHiddenLayers"/>.</param>
    /// <param name="classes">Class labels to condition on; 0 (default) for an unconditional GAN.</param>
    /// <param name="embeddingSize">The size of a label's embedding in each network; 0 (default) uses <paramref name="classes"/>.</param>
    public static GanNetworks CreateDense(int noiseSize, int dataSize, IReadOnlyList<int>? generatorLayers = null,
        IReadOnlyList<int>? discriminatorLayers = null, int classes = 0, int embeddingSize = 0)
    {
        CheckSizes(noiseSize, dataSize, classes, embeddingSize);
        var generator = new List<LayerSpec>();
        foreach (int units in Checked(generatorLayers, nameof(generatorLayers)))
        {
            generator.AddRange([new Dense(units), new Activation(ActivationKind.LeakyReLU, 0.2f)]);
        }
        generator.AddRange([new Dense(dataSize), new Activation(ActivationKind.Tanh)]);
        var discriminator = new List<LayerSpec>();
        foreach (int units in Checked(discriminatorLayers, nameof(discriminatorLayers)))
        {
            discriminator.AddRange([new Dense(units), new Activation(ActivationKind.LeakyReLU, 0.2f)]);
        }
        discriminator.Add(new Dense(1));
        int embedding = embeddingSize > 0 ? embeddingSize : classes;
        return new(Condition(new Sequential(generator), classes, embedding), Condition(new Sequential(discriminator), classes, embedding),
            noiseSize, dataSize, classes);
    }

    /// <summary>
    /// A DCGAN sized from the image shape. The generator: noise (joined with the label's embedding) -> Dense to
    /// 2F maps of a quarter of the height and width -> BatchNorm -> ReLU -> ConvTranspose(F, 4x4, stride 2) -> BatchNorm ->
    /// ReLU -> ConvTranspose(channels, 4x4, stride 2) -> Tanh. The discriminator: the image (with the label's embedding as
    /// one more channel, a learned map per label) -> Conv(F, 4x4, stride 2) -> LeakyReLU(0.2) -> Conv(2F, 4x4, stride 2) ->
    /// BatchNorm -> LeakyReLU(0.2) -> Dense(1). Strided convolutions instead of pooling, batch norm, ReLU in the
    /// generator and LeakyReLU in the discriminator are the paper's guidelines; initialize with <see cref="InitializeWeights"/>.
    /// </summary>
    /// <param name="noiseSize">Noise values per generated image; at least 1.</param>
    /// <param name="imageShape">[channels, height, width]; height and width divisible by 4.</param>
    /// <param name="filters">F, the maps of the generator's last hidden layer and the discriminator's first; at least 1.</param>
    /// <param name="classes">Class labels to condition on; 0 (default) for an unconditional DCGAN.</param>
    /// <param name="embeddingSize">The size of a label's embedding in the generator; 0 (default) uses <paramref name="classes"/>.</param>
    public static GanNetworks CreateConvolutional(int noiseSize, IReadOnlyList<int> imageShape, int filters = 32, int classes = 0, int embeddingSize = 0)
    {
        ArgumentNullException.ThrowIfNull(imageShape);
        if (imageShape.Count != 3 || imageShape.Any(d => d < 1) || imageShape[1] % 4 != 0 || imageShape[2] % 4 != 0)
        {
            throw new ArgumentException(
                $"A DCGAN's image shape is [channels, height, width] with height and width divisible by 4, got {Shapes.Format(imageShape)}.", nameof(imageShape));
        }
        if (filters < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(filters), filters, "A DCGAN needs at least 1 filter.");
        }
        int channels = imageShape[0], height = imageShape[1], width = imageShape[2];
        CheckSizes(noiseSize, channels * height * width, classes, embeddingSize);
        var generator = new Sequential(
            new Dense(2 * filters * (height / 4) * (width / 4)), new Reshape(2 * filters, height / 4, width / 4), new BatchNorm2d(), new Activation(ActivationKind.ReLU),
            new ConvTranspose2d(filters, 4, stride: 2, padding: 1), new BatchNorm2d(), new Activation(ActivationKind.ReLU),
            new ConvTranspose2d(channels, 4, stride: 2, padding: 1), new Activation(ActivationKind.Tanh), new Flatten());
        // The label's embedding of height x width values, appended to the flat image, is one more channel of it (row-major).
        var discriminator = new Sequential(
            new Reshape(channels + (classes > 0 ? 1 : 0), height, width),
            new Conv2d(filters, 4, stride: 2, padding: 1), new Activation(ActivationKind.LeakyReLU, 0.2f),
            new Conv2d(2 * filters, 4, stride: 2, padding: 1), new BatchNorm2d(), new Activation(ActivationKind.LeakyReLU, 0.2f),
            new Flatten(), new Dense(1));
        return new(Condition(generator, classes, embeddingSize > 0 ? embeddingSize : classes), Condition(discriminator, classes, height * width),
            noiseSize, channels * height * width, classes);
    }

    /// <summary>
    /// The DCGAN paper's initialization, drawn from <paramref name="seed"/>: convolution, transposed convolution and dense
    /// weights from N(0, 0.02), batch norm scales from N(1, 0.02), biases and shifts 0. Label embeddings keep their N(0, 1).
    /// </summary>
    public static void InitializeWeights(Network network, int seed)
    {
        ArgumentNullException.ThrowIfNull(network);
        TorchRuntime.EnsureInitialized();
        lock (TorchRuntime.TrainingLock)
        {
            using var _ = no_grad();
            var generator = new Generator(unchecked((ulong)seed));
            foreach (var module in network.Module.modules())
            {
                var (weight, bias, mean) = module switch
                {
                    TorchSharp.Modules.Linear linear => (linear.weight, linear.bias, 0.0),
                    TorchSharp.Modules.Convolution convolution => (convolution.weight, convolution.bias, 0.0),
                    TorchSharp.Modules.BatchNorm norm => (norm.weight, norm.bias, 1.0),
                    _ => (null, null, 0.0),
                };
                if (weight is not null)
                {
                    nn.init.normal_(weight, mean, 0.02, generator);
                    bias?.zero_();
                }
            }
        }
    }

    private static LayerSpec Condition(Sequential body, int classes, int embeddingSize)
        => classes > 0 ? new Conditioned(classes, embeddingSize, body) : body;

    private static void CheckSizes(int noiseSize, int dataSize, int classes, int embeddingSize)
    {
        if (noiseSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(noiseSize), noiseSize, "A GAN needs at least 1 noise value.");
        }
        if (dataSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dataSize), dataSize, "A GAN's data rows need at least 1 value.");
        }
        if (classes < 0 || classes == 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "A conditional GAN needs at least 2 classes (0 for an unconditional GAN).");
        }
        if (embeddingSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(embeddingSize), embeddingSize, "The embedding size must be at least 0 (0 = the number of classes).");
        }
    }

    private static IReadOnlyList<int> Checked(IReadOnlyList<int>? layers, string name)
    {
        layers ??= DefaultHiddenLayers;
        if (layers.Any(u => u < 1))
        {
            throw new ArgumentException($"Hidden sizes must be at least 1, got {Shapes.Format(layers)}.", name);
        }
        return layers;
    }
}
