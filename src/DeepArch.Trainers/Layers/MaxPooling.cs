using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// What <see cref="MaxPool1d"/> and <see cref="MaxPool2d"/> share, apart from their number of spatial dimensions:
/// the configuration and its checks, the description, the output shape and the ONNX <c>MaxPool</c> node.
/// Each derived layer builds its own TorchSharp module.
/// </summary>
public abstract record MaxPooling : LayerSpec
{
    /// <summary>Checks and stores the configuration; errors name the derived layer, e.g. <c>MaxPool2d</c>.</summary>
    private protected MaxPooling(int kernelSize, int stride, int padding)
    {
        Stride = SpatialGeometry.CheckPooling(GetType().Name, kernelSize, stride, padding);
        KernelSize = kernelSize;
        Padding = padding;
    }

    /// <summary>The window size.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The padding on each side.</summary>
    public int Padding { get; }

    /// <summary>The number of spatial dimensions of a sample, [channels, ..spatial]: 1 or 2.</summary>
    internal abstract int SpatialRank { get; }

    /// <inheritdoc/>
    public override string Describe() => SpatialGeometry.DescribePooling(GetType().Name, KernelSize, Stride, Padding);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
        => SpatialGeometry.PoolingOutputShape(Describe(), inputShape, SpatialRank, KernelSize, Stride, Padding);

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => SpatialGeometry.EmitPooling(graph, input, "MaxPool", SpatialRank, KernelSize, Stride, Padding);
}
