using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The multilayer perceptron: hidden dense layers, each followed by optional batch normalization, the
/// activation and optional dropout, then a dense output layer with no activation (the task's loss and
/// export add softmax or sigmoid where they belong).
/// </summary>
public static class MultilayerPerceptron
{
    /// <summary>Composes the perceptron's layers.</summary>
    /// <param name="hiddenLayers">Sizes of the hidden layers, in order; may be empty (a linear model).</param>
    /// <param name="outputs">The number of outputs; at least 1.</param>
    /// <param name="activation">The hidden layers' activation.</param>
    /// <param name="dropout">The dropout rate after each hidden layer, in [0, 1); 0 adds no dropout layer.</param>
    /// <param name="batchNorm">Whether each hidden dense layer is followed by <see cref="BatchNorm1d"/>.</param>
    public static Sequential Create(IReadOnlyList<int> hiddenLayers, int outputs, ActivationKind activation = ActivationKind.ReLU,
        float dropout = 0, bool batchNorm = false)
    {
        ArgumentNullException.ThrowIfNull(hiddenLayers);
        var layers = hiddenLayers.SelectMany(units => HiddenBlock(new Dense(units), activation, dropout, batchNorm)).ToList();
        layers.Add(new Dense(outputs));
        return new Sequential(layers);
    }

    /// <summary>One hidden block: <paramref name="dense"/>, optional <see cref="BatchNorm1d"/>, the activation, optional <see cref="Dropout"/>.</summary>
    internal static IEnumerable<LayerSpec> HiddenBlock(LayerSpec dense, ActivationKind activation, float dropout, bool batchNorm)
    {
        yield return dense;
        if (batchNorm)
        {
            yield return new BatchNorm1d();
        }
        yield return new Activation(activation);
        if (dropout > 0)
        {
            yield return new Dropout(dropout);
        }
    }
}
