using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// A small default convolutional network for images ([channels, height, width]) or signals
/// ([channels, length]): two blocks of convolution (3x3 or 3 taps, "same" padding, 16 then 32 filters) ->
/// activation -> max pooling 2, then flatten -> dense 64 -> activation -> a bare output layer.
/// </summary>
/// <remarks>
/// A block's pooling is left out when the map it would pool is already smaller than 2 on a side, so
/// inputs down to 1x1 fit. On the 8x8 digits: 8x8 -> 16@4x4 -> 32@2x2 -> 128 -> 64 -> 10, 13,706 parameters.
/// </remarks>
public static class ConvolutionalNetwork
{
    /// <summary>The filters of the convolution blocks.</summary>
    private static readonly int[] BlockFilters = [16, 32];

    /// <summary>The units of the hidden dense layer.</summary>
    private const int HiddenUnits = 64;

    /// <summary>Composes the network.</summary>
    /// <param name="inputShape">[channels, height, width] or [channels, length]; sizes at least 1.</param>
    /// <param name="outputs">The number of outputs; at least 1.</param>
    /// <param name="activation">The activation after each convolution and the hidden dense layer.</param>
    /// <exception cref="ArgumentException">The shape is neither [channels, length] nor [channels, height, width].</exception>
    public static Sequential Create(IReadOnlyList<int> inputShape, int outputs, ActivationKind activation = ActivationKind.ReLU)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count is not (2 or 3) || inputShape.Any(d => d < 1))
        {
            throw new ArgumentException(
                $"The default convolutional network takes inputs shaped [channels, length] or [channels, height, width]; got {Shapes.Format(inputShape)}.",
                nameof(inputShape));
        }
        bool twoD = inputShape.Count == 3;
        var layers = new List<LayerSpec>();
        int[] shape = inputShape.ToArray();
        foreach (int filters in BlockFilters)
        {
            layers.Add(twoD ? new Conv2d(filters, 3, padding: ConvPadding.Same) : new Conv1d(filters, 3, padding: ConvPadding.Same));
            layers.Add(new Activation(activation));
            shape = [filters, .. shape[1..]];
            if (shape[1..].All(d => d >= 2))
            {
                LayerSpec pool = twoD ? new MaxPool2d(2) : new MaxPool1d(2);
                shape = pool.OutputShape(shape);
                layers.Add(pool);
            }
        }
        layers.Add(new Flatten());
        layers.Add(new Dense(HiddenUnits));
        layers.Add(new Activation(activation));
        layers.Add(new Dense(outputs));
        var spec = new Sequential(layers);
        spec.OutputShape(inputShape);
        return spec;
    }
}
