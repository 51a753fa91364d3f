using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// LeNet-5 (LeCun et al., 1998), as in seed 003's table: convolution 6@5x5 -> average pooling 2 ->
/// convolution 16@5x5 -> average pooling 2 -> dense 120 -> dense 84 -> output, adapted to the input size.
/// </summary>
/// <remarks>
/// <para>The original takes 32x32 images, and its convolutions have no padding: 32 -> 28 -> 14 -> 10 -> 5,
/// so the first dense layer sees 16x5x5 values. The adaptation to other sizes touches only the padding of
/// the two convolutions, never the layer sizes:</para>
/// <list type="bullet">
/// <item><description>The first convolution gets zero padding 2 (the 5x5 kernel's "same") when the input's smaller
/// side is under 32. That is what LeNet-5 did with 28x28 MNIST digits, which it saw centred in a 32x32 field.</description></item>
/// <item><description>The second convolution keeps no padding when its unpadded output would still be at least 2
/// on each side (so the second pooling has a full window), and gets padding 2 otherwise.</description></item>
/// </list>
/// <para>32x32 gives the original (16x5x5 before the dense layers); 28x28 gives 16x5x5 as in LeNet-5 on MNIST;
/// 16x16 gives 16x2x2; the 8x8 digits get both paddings: 8 -> 8 -> 4 -> 4 -> 2, so 16x2x2 = 64 values reach
/// the 120-unit layer. Inputs smaller than 4x4 are rejected. The activation is ReLU by default (the 1998 network
/// used a scaled tanh), and the output layer is bare: the task's loss and export add softmax or sigmoid.</para>
/// </remarks>
public static class LeNet5
{
    /// <summary>The smallest input side LeNet-5 accepts.</summary>
    public const int MinimumSide = 4;

    /// <summary>Composes LeNet-5 for per-sample inputs shaped [channels, height, width].</summary>
    /// <param name="inputShape">[channels, height, width]; height and width at least <see cref="MinimumSide"/>.</param>
    /// <param name="outputs">The number of outputs; at least 1.</param>
    /// <param name="activation">The activation after each convolution and hidden dense layer.</param>
    /// <exception cref="ArgumentException">The input is not [channels, height, width] or is smaller than 4x4.</exception>
    public static Sequential Create(IReadOnlyList<int> inputShape, int outputs, ActivationKind activation = ActivationKind.ReLU)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count != 3 || inputShape.Any(d => d < 1))
        {
            throw new ArgumentException($"LeNet-5 takes inputs shaped [channels, height, width]; got {Shapes.Format(inputShape)}.", nameof(inputShape));
        }
        int side = Math.Min(inputShape[1], inputShape[2]);
        if (side < MinimumSide)
        {
            throw new ArgumentException(
                $"LeNet-5 needs inputs of at least {MinimumSide}x{MinimumSide} (two 2x2 poolings after padded 5x5 convolutions); got {inputShape[1]}x{inputShape[2]}.",
                nameof(inputShape));
        }
        int firstPadding = side < 32 ? 2 : 0;
        int afterFirstPool = (side + 2 * firstPadding - 4) / 2;
        int secondPadding = afterFirstPool - 4 >= 2 ? 0 : 2;
        var spec = new Sequential(
            new Conv2d(6, 5, padding: firstPadding),
            new Activation(activation),
            new AvgPool2d(2),
            new Conv2d(16, 5, padding: secondPadding),
            new Activation(activation),
            new AvgPool2d(2),
            new Flatten(),
            new Dense(120),
            new Activation(activation),
            new Dense(84),
            new Activation(activation),
            new Dense(outputs));
        spec.OutputShape(inputShape);
        return spec;
    }
}
