using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// What <see cref="Conv1d"/> and <see cref="Conv2d"/> share, apart from their number of spatial dimensions:
/// the configuration and its checks, the description, the output shape, the parameter count and the ONNX
/// <c>Conv</c> node. Each derived layer builds its own TorchSharp module.
/// </summary>
public abstract record Convolution : LayerSpec
{
    /// <summary>Checks and stores the configuration; errors name the derived layer, e.g. <c>Conv2d</c>.</summary>
    private protected Convolution(int filters, int kernelSize, int stride, ConvPadding padding, int dilation, bool useBias)
    {
        string layer = GetType().Name;
        SpatialGeometry.RequireAtLeast(filters, 1, nameof(filters), layer);
        SpatialGeometry.RequireAtLeast(kernelSize, 1, nameof(kernelSize), layer);
        SpatialGeometry.RequireAtLeast(stride, 1, nameof(stride), layer);
        SpatialGeometry.RequireAtLeast(dilation, 1, nameof(dilation), layer);
        if (padding.IsSame && stride != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"{layer} padding 'same' needs stride 1 (as in PyTorch); got stride {stride}.");
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

    /// <summary>The kernel's size in every spatial dimension: its number of taps in 1-D, its height and width in 2-D.</summary>
    public int KernelSize { get; }

    /// <summary>The step between windows.</summary>
    public int Stride { get; }

    /// <summary>The zero padding.</summary>
    public ConvPadding Padding { get; }

    /// <summary>The spacing between kernel taps.</summary>
    public int Dilation { get; }

    /// <summary>Whether each filter adds a learned bias.</summary>
    public bool UseBias { get; }

    /// <summary>The number of spatial dimensions of a sample, [channels, ..spatial]: 1 or 2.</summary>
    internal abstract int SpatialRank { get; }

    /// <inheritdoc/>
    public override string Describe() => SpatialGeometry.DescribeConvolution(GetType().Name, SpatialRank, Filters, KernelSize, Stride, Padding, Dilation, UseBias);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        string layer = Describe();
        SpatialGeometry.RequireRank(layer, inputShape, SpatialRank);
        var (begin, end) = SpatialGeometry.Resolve(Padding, KernelSize, Dilation);
        var shape = new int[SpatialRank + 1];
        shape[0] = Filters;
        for (int i = 0; i < SpatialRank; i++)
        {
            shape[i + 1] = SpatialGeometry.OutputSize(layer, SpatialRank, i, inputShape[i + 1], KernelSize, Stride, begin, end, Dilation);
        }
        return shape;
    }

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        long weights = (long)Filters * inputShape[0];
        for (int i = 0; i < SpatialRank; i++)
        {
            weights *= KernelSize;
        }
        return weights + (UseBias ? Filters : 0);
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    /// <summary>
    /// Emits one ONNX <c>Conv</c> node (opset 17) with explicit pads. The weight keeps PyTorch's layout
    /// [filters, channels, ..kernel], which is ONNX's too.
    /// </summary>
    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var conv = (TorchSharp.Modules.Convolution)module;
        var (begin, end) = SpatialGeometry.Resolve(Padding, KernelSize, Dilation);
        long[] weightShape = conv.weight!.shape;
        var operands = new List<string> { input, graph.AddInitializer("conv_weight", ToArray(conv.weight!), weightShape) };
        if (UseBias)
        {
            operands.Add(graph.AddInitializer("conv_bias", ToArray(conv.bias!), weightShape[0]));
        }
        return graph.AddNode("Conv", operands,
            ("dilations", SpatialGeometry.PerDimension(SpatialRank, Dilation)),
            ("kernel_shape", SpatialGeometry.PerDimension(SpatialRank, KernelSize)),
            ("pads", SpatialGeometry.OnnxPads(SpatialRank, begin, end)),
            ("strides", SpatialGeometry.PerDimension(SpatialRank, Stride)));
    }
}
