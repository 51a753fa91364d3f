using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// What <see cref="AvgPool1d"/> and <see cref="AvgPool2d"/> share, apart from their number of spatial dimensions:
/// the configuration and its checks, the description, the output shape and the ONNX <c>AveragePool</c> node.
/// Each derived layer builds its own TorchSharp module.
/// </summary>
public abstract record AveragePooling : LayerSpec
{
    /// <summary>Checks and stores the configuration; errors name the derived layer, e.g. <c>AvgPool2d</c>.</summary>
    private protected AveragePooling(int kernelSize, int stride, int padding, bool countIncludePad)
    {
        Stride = SpatialGeometry.CheckPooling(GetType().Name, kernelSize, stride, padding);
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
    /// <remarks>
    /// DeepArch's default, false, divides by the number of real input values under the window (ONNX
    /// <c>AveragePool</c>'s default and Keras's behaviour), so that the borders are not darkened by zeros;
    /// true divides by the full window size (PyTorch's default). Without padding both are the same.
    /// </remarks>
    public bool CountIncludePad { get; }

    /// <summary>The number of spatial dimensions of a sample, [channels, ..spatial]: 1 or 2.</summary>
    internal abstract int SpatialRank { get; }

    /// <inheritdoc/>
    public override string Describe()
        => SpatialGeometry.DescribePooling(GetType().Name, KernelSize, Stride, Padding, CountIncludePad && Padding > 0 ? "count pad" : null);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
        => SpatialGeometry.PoolingOutputShape(Describe(), inputShape, SpatialRank, KernelSize, Stride, Padding);

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => SpatialGeometry.EmitPooling(graph, input, "AveragePool", SpatialRank, KernelSize, Stride, Padding, ("count_include_pad", CountIncludePad ? 1L : 0L));
}
