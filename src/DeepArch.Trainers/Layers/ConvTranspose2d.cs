using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A 2-D transposed convolution ("deconvolution") over [channels, height, width] samples: the gradient
/// of a convolution with respect to its input, which upsamples a feature map by <see cref="Stride"/> —
/// the decoder's building block in convolutional autoencoders. Output size per spatial dimension:
/// <c>(input - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1</c>.
/// Exported as one ONNX <c>ConvTranspose</c> node; PyTorch's weight layout
/// [channels, filters, kernel, kernel] is ONNX's too.
/// </summary>
public sealed record ConvTranspose2d : LayerSpec
{
    /// <summary>Creates a 2-D transposed convolution.</summary>
    /// <param name="filters">The number of output channels; at least 1.</param>
    /// <param name="kernelSize">The kernel's height and width; at least 1.</param>
    /// <param name="stride">The upsampling step; at least 1.</param>
    /// <param name="padding">Rows and columns removed from each side of the full output; at least 0.</param>
    /// <param name="outputPadding">Rows and columns added at the bottom and right, to reach sizes a strided
    /// convolution maps to the same input size; at least 0 and below <paramref name="stride"/> or <paramref name="dilation"/>.</param>
    /// <param name="dilation">The spacing between kernel taps; at least 1.</param>
    /// <param name="useBias">Whether each filter adds a learned bias.</param>
    public ConvTranspose2d(int filters, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int dilation = 1, bool useBias = true)
    {
        SpatialGeometry.RequireAtLeast(filters, 1, nameof(filters), nameof(ConvTranspose2d));
        SpatialGeometry.RequireAtLeast(kernelSize, 1, nameof(kernelSize), nameof(ConvTranspose2d));
        SpatialGeometry.RequireAtLeast(stride, 1, nameof(stride), nameof(ConvTranspose2d));
        SpatialGeometry.RequireAtLeast(padding, 0, nameof(padding), nameof(ConvTranspose2d));
        SpatialGeometry.RequireAtLeast(outputPadding, 0, nameof(outputPadding), nameof(ConvTranspose2d));
        SpatialGeometry.RequireAtLeast(dilation, 1, nameof(dilation), nameof(ConvTranspose2d));
        if (outputPadding >= Math.Max(stride, dilation))
        {
            throw new ArgumentOutOfRangeException(nameof(outputPadding), outputPadding,
                $"ConvTranspose2d outputPadding must be smaller than the stride or the dilation ({Math.Max(stride, dilation)}); got {outputPadding}.");
        }
        Filters = filters;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        OutputPadding = outputPadding;
        Dilation = dilation;
        UseBias = useBias;
    }

    /// <summary>The number of output channels.</summary>
    public int Filters { get; }

    /// <summary>The kernel's height and width.</summary>
    public int KernelSize { get; }

    /// <summary>The upsampling step.</summary>
    public int Stride { get; }

    /// <summary>Rows and columns removed from each side of the full output.</summary>
    public int Padding { get; }

    /// <summary>Rows and columns added at the bottom and right of the output.</summary>
    public int OutputPadding { get; }

    /// <summary>The spacing between kernel taps.</summary>
    public int Dilation { get; }

    /// <summary>Whether each filter adds a learned bias.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string Describe()
        => SpatialGeometry.DescribeConvolution(nameof(ConvTranspose2d), 2, Filters, KernelSize, Stride, Padding, Dilation, UseBias, OutputPadding);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        SpatialGeometry.RequireRank(Describe(), inputShape, 2);
        var shape = new int[3];
        shape[0] = Filters;
        for (int i = 0; i < 2; i++)
        {
            int size = (inputShape[i + 1] - 1) * Stride - 2 * Padding + Dilation * (KernelSize - 1) + OutputPadding + 1;
            if (size < 1)
            {
                throw new ArgumentException(
                    $"{Describe()}: padding {Padding} removes the whole output {SpatialGeometry.DimensionName(2, i)} " +
                    $"(input {inputShape[i + 1]} gives {size}). Use less padding or a larger kernel.");
            }
            shape[i + 1] = size;
        }
        return shape;
    }

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return (long)inputShape[0] * Filters * KernelSize * KernelSize + (UseBias ? Filters : 0);
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.ConvTranspose2d(inputShape[0], Filters, KernelSize, Stride, Padding, OutputPadding, Dilation, bias: UseBias);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var conv = (TorchSharp.Modules.Convolution)module;
        long[] weightShape = conv.weight!.shape;
        var operands = new List<string> { input, graph.AddInitializer("deconv_weight", ToArray(conv.weight!), weightShape) };
        if (UseBias)
        {
            operands.Add(graph.AddInitializer("deconv_bias", ToArray(conv.bias!), Filters));
        }
        return graph.AddNode("ConvTranspose", operands,
            ("dilations", SpatialGeometry.PerDimension(2, Dilation)),
            ("kernel_shape", SpatialGeometry.PerDimension(2, KernelSize)),
            ("output_padding", SpatialGeometry.PerDimension(2, OutputPadding)),
            ("pads", SpatialGeometry.OnnxPads(2, Padding, Padding)),
            ("strides", SpatialGeometry.PerDimension(2, Stride)));
    }
}
