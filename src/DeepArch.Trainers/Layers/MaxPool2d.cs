using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Max pooling over [channels, height, width] samples: the largest value of each <see cref="KernelSize"/> x <see cref="KernelSize"/> window, channel by channel
/// (padding counts as minus infinity, as in PyTorch and ONNX). Exported as one ONNX <c>MaxPool</c> node.
/// </summary>
public sealed record MaxPool2d : LayerSpec
{
    /// <summary>Creates a max-pooling layer.</summary>
    /// <param name="kernelSize">The window size; at least 1.</param>
    /// <param name="stride">The step between windows; 0 (default) uses <paramref name="kernelSize"/>, as PyTorch does.</param>
    /// <param name="padding">Padding on each side, at most half of <paramref name="kernelSize"/>; none by default.</param>
    public MaxPool2d(int kernelSize, int stride = 0, int padding = 0)
    {
        Stride = SpatialGeometry.CheckPooling(nameof(MaxPool2d), kernelSize, stride, padding);
        KernelSize = kernelSize;
        Padding = padding;
    }

    /// <summary>The window size.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The padding on each side.</summary>
    public int Padding { get; }

    /// <inheritdoc/>
    public override string Describe() => SpatialGeometry.DescribePooling(nameof(MaxPool2d), KernelSize, Stride, Padding);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
        => SpatialGeometry.PoolingOutputShape(Describe(), inputShape, 2, KernelSize, Stride, Padding);

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.MaxPool2d(KernelSize, Stride, Padding);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => SpatialGeometry.EmitPooling(graph, input, "MaxPool", 2, KernelSize, Stride, Padding);
}
