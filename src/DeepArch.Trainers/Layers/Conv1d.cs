using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A 1-D convolution over [channels, length] samples (sequences, signals): <see cref="Filters"/> learned
/// kernels of <see cref="KernelSize"/> taps, each spanning every input channel. Exported as one ONNX
/// <c>Conv</c> node with explicit pads.
/// </summary>
public sealed record Conv1d : LayerSpec
{
    /// <summary>Creates a 1-D convolution.</summary>
    /// <param name="filters">The number of kernels, i.e. output channels; at least 1.</param>
    /// <param name="kernelSize">The number of taps per kernel; at least 1.</param>
    /// <param name="stride">The step between windows; at least 1; must be 1 with <see cref="ConvPadding.Same"/>.</param>
    /// <param name="padding">Zero padding on each side (an <c>int</c>), or <see cref="ConvPadding.Same"/>; none by default.</param>
    /// <param name="dilation">The spacing between kernel taps; at least 1.</param>
    /// <param name="useBias">Whether each filter adds a learned bias.</param>
    public Conv1d(int filters, int kernelSize, int stride = 1, ConvPadding padding = default, int dilation = 1, bool useBias = true)
    {
        SpatialGeometry.RequireAtLeast(filters, 1, nameof(filters), nameof(Conv1d));
        SpatialGeometry.RequireAtLeast(kernelSize, 1, nameof(kernelSize), nameof(Conv1d));
        SpatialGeometry.RequireAtLeast(stride, 1, nameof(stride), nameof(Conv1d));
        SpatialGeometry.RequireAtLeast(dilation, 1, nameof(dilation), nameof(Conv1d));
        if (padding.IsSame && stride != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"Conv1d padding 'same' needs stride 1 (as in PyTorch); got stride {stride}.");
        }
        Filters = filters;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        UseBias = useBias;
    }

    /// <summary>The number of kernels (output channels).</summary>
    public int Filters { get; }

    /// <summary>The number of taps per kernel.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The zero padding.</summary>
    public ConvPadding Padding { get; }

    /// <summary>The spacing between kernel taps.</summary>
    public int Dilation { get; }

    /// <summary>Whether each filter adds a learned bias.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string Describe() => SpatialGeometry.DescribeConvolution(nameof(Conv1d), 1, Filters, KernelSize, Stride, Padding, Dilation, UseBias);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
        => SpatialGeometry.ConvolutionOutputShape(Describe(), inputShape, 1, Filters, KernelSize, Stride, Padding, Dilation);

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return (long)Filters * inputShape[0] * KernelSize + (UseBias ? Filters : 0);
    }

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return Padding.IsSame
            ? nn.Conv1d(inputShape[0], Filters, KernelSize, TorchSharp.Padding.Same, dilation: Dilation, bias: UseBias)
            : nn.Conv1d(inputShape[0], Filters, KernelSize, Stride, Padding.Size, Dilation, bias: UseBias);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => SpatialGeometry.EmitConvolution(graph, input, (TorchSharp.Modules.Convolution)module, 1, KernelSize, Stride, Padding, Dilation, UseBias);
}
