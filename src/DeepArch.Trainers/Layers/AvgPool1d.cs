using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Average pooling over [channels, length] samples: the mean of each <see cref="KernelSize"/> window, channel by channel.
/// Exported as one ONNX <c>AveragePool</c> node with <c>count_include_pad</c> set to match
/// <see cref="CountIncludePad"/>.
/// </summary>
/// <remarks>
/// Where a window overlaps the padding, <see cref="CountIncludePad"/> says what the sum is divided by.
/// DeepArch's default, false, divides by the number of real input values under the window (ONNX
/// <c>AveragePool</c>'s default and Keras's behaviour), so that the borders are not darkened by zeros;
/// true divides by the full window size (PyTorch's default). Without padding both are the same.
/// </remarks>
public sealed record AvgPool1d : LayerSpec
{
    /// <summary>Creates an average-pooling layer.</summary>
    /// <param name="kernelSize">The window size; at least 1.</param>
    /// <param name="stride">The step between windows; 0 (default) uses <paramref name="kernelSize"/>, as PyTorch does.</param>
    /// <param name="padding">Zero padding on each side, at most half of <paramref name="kernelSize"/>; none by default.</param>
    /// <param name="countIncludePad">Whether padded values count in the divisor; false by default (see remarks).</param>
    public AvgPool1d(int kernelSize, int stride = 0, int padding = 0, bool countIncludePad = false)
    {
        Stride = SpatialGeometry.CheckPooling(nameof(AvgPool1d), kernelSize, stride, padding);
        KernelSize = kernelSize;
        Padding = padding;
        CountIncludePad = countIncludePad;
    }

    /// <summary>The window size.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The zero padding on each side.</summary>
    public int Padding { get; }

    /// <summary>Whether padded values count in the divisor of windows that overlap the padding.</summary>
    public bool CountIncludePad { get; }

    /// <inheritdoc/>
    public override string Describe()
        => SpatialGeometry.DescribePooling(nameof(AvgPool1d), KernelSize, Stride, Padding, CountIncludePad && Padding > 0 ? "count pad" : null);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
        => SpatialGeometry.PoolingOutputShape(Describe(), inputShape, 1, KernelSize, Stride, Padding);

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.AvgPool1d(KernelSize, Stride, Padding, ceil_mode: false, count_include_pad: CountIncludePad);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => SpatialGeometry.EmitPooling(graph, input, "AveragePool", 1, KernelSize, Stride, Padding, ("count_include_pad", CountIncludePad ? 1L : 0L));
}
