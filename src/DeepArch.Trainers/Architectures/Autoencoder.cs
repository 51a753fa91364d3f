using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The fully connected autoencoders (seeds 000, 002, 003, 004): a symmetric encoder and decoder from a list
/// of layer sizes. <c>[64, 32, 2]</c> is the input (64) -> 32 -> the code (2) -> 32 -> 64. Each hidden block
/// is <see cref="Dense"/> -> optional <see cref="BatchNorm1d"/> -> the activation -> optional
/// <see cref="Dropout"/>; the code layer and the output layer have no batch norm and no dropout.
/// </summary>
/// <remarks>
/// The same spec serves the undercomplete/deep, sparse, denoising and tied-weights kinds (the training
/// differs: <see cref="Training.SparseObjective"/>, <see cref="Training.DenoisingObjective"/>);
/// <see cref="CreateVariational"/> builds the variational kind. Train the spec as a
/// <see cref="Networks.Network"/> on inputs shaped <c>[layerSizes[0]]</c>; the ML.NET stages export the
/// reconstruction with <see cref="Networks.Network.ExportOnnx(string, string, IReadOnlyDictionary{string, string})"/> and the halves through
/// <see cref="AutoencoderNetworks.ExtractEncoder"/> and <see cref="AutoencoderNetworks.ExtractDecoder"/>.
/// </remarks>
public static class Autoencoder
{
    /// <summary>Composes a (deep) autoencoder.</summary>
    /// <param name="layerSizes">The input size, the hidden sizes, then the code size; at least two sizes, each at least 1.</param>
    /// <param name="activation">The hidden layers' activation.</param>
    /// <param name="outputActivation">Applied to the reconstruction: Identity for standardized data, Sigmoid for values in [0, 1].</param>
    /// <param name="codeActivation">Applied to the code: Identity by default; Sigmoid for the KL sparsity target (codes in (0, 1)).</param>
    /// <param name="dropout">The dropout rate after each hidden activation, in [0, 1); 0 adds no dropout layer.</param>
    /// <param name="batchNorm">Whether each hidden dense layer is followed by <see cref="BatchNorm1d"/>.</param>
    /// <param name="tiedWeights">Whether the decoder's dense layers use the encoder's weights transposed (<see cref="TiedDense"/>).</param>
    public static AutoencoderSpec Create(IReadOnlyList<int> layerSizes, ActivationKind activation = ActivationKind.ReLU,
        ActivationKind outputActivation = ActivationKind.Identity, ActivationKind codeActivation = ActivationKind.Identity,
        float dropout = 0, bool batchNorm = false, bool tiedWeights = false)
    {
        Check(layerSizes);
        var encoder = HiddenBlocks(layerSizes, activation, dropout, batchNorm);
        encoder.Add(new Dense(layerSizes[^1]));
        encoder.Add(new Activation(codeActivation));
        return new AutoencoderSpec(new Sequential(encoder), Decoder(layerSizes, activation, outputActivation, dropout, batchNorm, tiedWeights));
    }

    /// <summary>
    /// Composes a variational autoencoder: the encoder's hidden blocks end in a <see cref="Dense"/> giving the
    /// Gaussian's mean (no activation), beside a log-variance layer the module adds; the decoder is as in
    /// <see cref="Create"/>. Train it with <see cref="Training.VariationalObjective"/>.
    /// </summary>
    /// <param name="layerSizes">The input size, the hidden sizes, then the latent size; at least two sizes, each at least 1.</param>
    /// <param name="activation">The hidden layers' activation.</param>
    /// <param name="outputActivation">Applied to the reconstruction.</param>
    /// <param name="dropout">The dropout rate after each hidden activation, in [0, 1).</param>
    /// <param name="batchNorm">Whether each hidden dense layer is followed by <see cref="BatchNorm1d"/>.</param>
    public static AutoencoderSpec CreateVariational(IReadOnlyList<int> layerSizes, ActivationKind activation = ActivationKind.ReLU,
        ActivationKind outputActivation = ActivationKind.Identity, float dropout = 0, bool batchNorm = false)
    {
        Check(layerSizes);
        var encoder = HiddenBlocks(layerSizes, activation, dropout, batchNorm);
        encoder.Add(new Dense(layerSizes[^1]));
        return new AutoencoderSpec(new Sequential(encoder), Decoder(layerSizes, activation, outputActivation, dropout, batchNorm, tiedWeights: false), variational: true);
    }

    private static Sequential Decoder(IReadOnlyList<int> layerSizes, ActivationKind activation, ActivationKind outputActivation,
        float dropout, bool batchNorm, bool tiedWeights)
    {
        var decoder = new List<LayerSpec>();
        foreach (int units in layerSizes.Skip(1).SkipLast(1).Reverse())
        {
            decoder.AddRange(MultilayerPerceptron.HiddenBlock(tiedWeights ? new TiedDense(units) : new Dense(units), activation, dropout, batchNorm));
        }
        decoder.Add(tiedWeights ? new TiedDense(layerSizes[0]) : new Dense(layerSizes[0]));
        decoder.Add(new Activation(outputActivation));
        return new Sequential(decoder);
    }

    /// <summary>The encoder's hidden blocks, one per size between the input and the code.</summary>
    private static List<LayerSpec> HiddenBlocks(IReadOnlyList<int> layerSizes, ActivationKind activation, float dropout, bool batchNorm)
        => layerSizes.Skip(1).SkipLast(1).SelectMany(units => MultilayerPerceptron.HiddenBlock(new Dense(units), activation, dropout, batchNorm)).ToList();

    private static void Check(IReadOnlyList<int> layerSizes)
    {
        ArgumentNullException.ThrowIfNull(layerSizes);
        if (layerSizes.Count < 2 || layerSizes.Any(s => s < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(layerSizes), Shapes.Format(layerSizes),
                $"An autoencoder needs the input size and the code size (hidden sizes between them), each at least 1; got {Shapes.Format(layerSizes)}.");
        }
    }
}
