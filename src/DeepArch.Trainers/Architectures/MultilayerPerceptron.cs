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
        var layers = new List<LayerSpec>();
        foreach (int units in hiddenLayers)
        {
            layers.Add(new Dense(units));
            if (batchNorm)
            {
                layers.Add(new BatchNorm1d());
            }
            layers.Add(new Activation(activation));
            if (dropout > 0)
            {
                layers.Add(new Dropout(dropout));
            }
        }
        layers.Add(new Dense(outputs));
        return new Sequential(layers);
    }
}
