using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The supervised stacked autoencoder (seed 003, "Supervised Stacked Autoencoders"; seed 002 stacks
/// denoising ones): the stacked encoders of autoencoders trained one level at a time, topped by a dense
/// layer, then trained as a whole. The network is a chain <c>Dense -> activation</c> per level and a
/// bare <see cref="Dense"/> head (its softmax comes with the cross-entropy loss and the export's output
/// transform, as for <see cref="MultilayerPerceptron"/>); <see cref="Training.LayerwisePretraining"/>
/// pretrains the levels, then fine-tunes.
/// </summary>
public static class StackedAutoencoder
{
    /// <summary>Composes the classifier whose encoder levels the stacked autoencoder pretrains.</summary>
    /// <param name="layerSizes">The input size, then each level's code size; at least two sizes, each at least 1.</param>
    /// <param name="outputs">The head's outputs (classes); at least 1.</param>
    /// <param name="activation">Each level's code activation.</param>
    public static Sequential Create(IReadOnlyList<int> layerSizes, int outputs, ActivationKind activation = ActivationKind.Sigmoid)
    {
        ArgumentNullException.ThrowIfNull(layerSizes);
        if (layerSizes.Count < 2 || layerSizes.Any(s => s < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(layerSizes), Shapes.Format(layerSizes),
                $"A stacked autoencoder needs the input size and at least one level's code size, each at least 1; got {Shapes.Format(layerSizes)}.");
        }
        return MultilayerPerceptron.Create(layerSizes.Skip(1).ToArray(), outputs, activation);
    }
}
