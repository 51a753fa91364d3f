using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The convolutional autoencoder (seed 003): an encoder of convolution ("same", 3x3) -> activation ->
/// max pooling 2 blocks, and a mirrored decoder of transposed convolutions (2x2, stride 2: each doubles
/// the height and width) -> activation, closed by a 3x3 convolution back to the input's channels.
/// Inputs and outputs are flat vectors (as in an ML.NET feature column) of
/// <c>channels * height * width</c> values; the code is the flattened last encoder map.
/// </summary>
/// <remarks>
/// For the 8x8 digits with the default filters [16, 8]: 1@8x8 -> 16@4x4 -> 8@2x2 (a 32-value code)
/// -> 8@4x4 -> 16@8x8 -> 1@8x8. Height and width must be divisible by 2 to the number of levels.
/// The autoencoder ML.NET stages (anomaly detection, featurization) use <see cref="Encoder"/>,
/// <see cref="Decoder"/> or <see cref="Create"/> as their network.
/// </remarks>
public static class ConvolutionalAutoencoder
{
    /// <summary>The filters of each encoder level when none are given.</summary>
    public static IReadOnlyList<int> DefaultFilters { get; } = [16, 8];

    /// <summary>The whole autoencoder: a flat input of the image's size to a flat reconstruction of the same size.</summary>
    /// <param name="inputShape">The image shape [channels, height, width]; height and width divisible by 2^levels.</param>
    /// <param name="filters">Filters per encoder level (the decoder mirrors them); null gives [16, 8].</param>
    /// <param name="activation">The hidden activation.</param>
    /// <param name="outputActivation">Applied to the reconstruction: Identity for standardized data, Sigmoid for values in [0, 1].</param>
    public static Sequential Create(IReadOnlyList<int> inputShape, IReadOnlyList<int>? filters = null,
        ActivationKind activation = ActivationKind.ReLU, ActivationKind outputActivation = ActivationKind.Identity)
    {
        var levels = Check(inputShape, filters);
        return new Sequential([new Reshape(inputShape), .. EncoderBlocks(levels, activation), .. DecoderBlocks(inputShape, levels, activation, outputActivation), new Flatten()]);
    }

    /// <summary>The encoder: a flat input to the flat code (the last level's map, flattened).</summary>
    public static Sequential Encoder(IReadOnlyList<int> inputShape, IReadOnlyList<int>? filters = null, ActivationKind activation = ActivationKind.ReLU)
    {
        var levels = Check(inputShape, filters);
        return new Sequential([new Reshape(inputShape), .. EncoderBlocks(levels, activation), new Flatten()]);
    }

    /// <summary>The decoder: a flat code (as <see cref="Encoder"/> gives) to a flat reconstruction.</summary>
    public static Sequential Decoder(IReadOnlyList<int> inputShape, IReadOnlyList<int>? filters = null,
        ActivationKind activation = ActivationKind.ReLU, ActivationKind outputActivation = ActivationKind.Identity)
    {
        var levels = Check(inputShape, filters);
        return new Sequential([new Reshape(CodeShape(inputShape, levels)), .. DecoderBlocks(inputShape, levels, activation, outputActivation), new Flatten()]);
    }

    /// <summary>
    /// The same network as an <see cref="AutoencoderSpec"/> (flat input, flat code, flat reconstruction), so that
    /// the autoencoder stages can train it, export its encoder and decoder, and score it like the dense kinds.
    /// </summary>
    public static AutoencoderSpec CreateSpec(IReadOnlyList<int> inputShape, IReadOnlyList<int>? filters = null,
        ActivationKind activation = ActivationKind.ReLU, ActivationKind outputActivation = ActivationKind.Identity)
        => new(Encoder(inputShape, filters, activation), Decoder(inputShape, filters, activation, outputActivation));

    /// <summary>The code's shape [filters of the last level, height / 2^levels, width / 2^levels].</summary>
    public static int[] CodeShape(IReadOnlyList<int> inputShape, IReadOnlyList<int>? filters = null)
    {
        var levels = Check(inputShape, filters);
        int scale = 1 << levels.Count;
        return [levels[^1], inputShape[1] / scale, inputShape[2] / scale];
    }

    private static IEnumerable<LayerSpec> EncoderBlocks(IReadOnlyList<int> levels, ActivationKind activation)
        => levels.SelectMany(f => new LayerSpec[] { new Conv2d(f, 3, padding: ConvPadding.Same), new Activation(activation), new MaxPool2d(2) });

    private static IEnumerable<LayerSpec> DecoderBlocks(IReadOnlyList<int> inputShape, IReadOnlyList<int> levels, ActivationKind activation, ActivationKind outputActivation)
    {
        foreach (int f in levels.Reverse())
        {
            yield return new ConvTranspose2d(f, 2, stride: 2);
            yield return new Activation(activation);
        }
        yield return new Conv2d(inputShape[0], 3, padding: ConvPadding.Same);
        yield return new Activation(outputActivation);
    }

    private static IReadOnlyList<int> Check(IReadOnlyList<int> inputShape, IReadOnlyList<int>? filters)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        var levels = filters ?? DefaultFilters;
        if (levels.Count == 0 || levels.Any(f => f < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(filters), Shapes.Format(levels), $"The autoencoder needs at least one level, each with at least 1 filter; got {Shapes.Format(levels)}.");
        }
        if (inputShape.Count != 3 || inputShape.Any(d => d < 1))
        {
            throw new ArgumentException($"The convolutional autoencoder takes inputs shaped [channels, height, width]; got {Shapes.Format(inputShape)}.", nameof(inputShape));
        }
        int scale = 1 << levels.Count;
        if (inputShape[1] % scale != 0 || inputShape[2] % scale != 0)
        {
            throw new ArgumentException(
                $"The convolutional autoencoder's {levels.Count} pooling levels need a height and width divisible by {scale}; got {inputShape[1]}x{inputShape[2]}.",
                nameof(inputShape));
        }
        return levels;
    }
}
