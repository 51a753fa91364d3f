using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Average pooling over [channels, height, width] samples: the mean of each <see cref="AveragePooling.KernelSize"/> x <see cref="AveragePooling.KernelSize"/> window, channel by channel.
/// Exported as one ONNX <c>AveragePool</c> node with <c>count_include_pad</c> set to match
/// <see cref="AveragePooling.CountIncludePad"/>.
/// </summary>
/// <remarks>
/// Where a window overlaps the padding, <see cref="AveragePooling.CountIncludePad"/> says what the sum is divided by
/// (see its remarks): by default only the real input values count, unlike in PyTorch.
/// </remarks>
public sealed record AvgPool2d : AveragePooling
{
    /// <summary>Creates an average-pooling layer.</summary>
    /// <param name="kernelSize">The window size; at least 1.</param>
    /// <param name="stride">The step between windows; 0 (default) uses <paramref name="kernelSize"/>, as PyTorch does.</param>
    /// <param name="padding">Zero padding on each side, at most half of <paramref name="kernelSize"/>; none by default.</param>
    /// <param name="countIncludePad">Whether padded values count in the divisor; false by default (see remarks).</param>
    public AvgPool2d(int kernelSize, int stride = 0, int padding = 0, bool countIncludePad = false)
        : base(kernelSize, stride, padding, countIncludePad)
    {
    }

    internal override int SpatialRank => 2;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.AvgPool2d(KernelSize, Stride, Padding, ceil_mode: false, count_include_pad: CountIncludePad);
    }
}
