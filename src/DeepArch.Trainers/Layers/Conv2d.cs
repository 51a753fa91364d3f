using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A 2-D convolution over [channels, height, width] samples: <see cref="Convolution.Filters"/> learned kernels of
/// <see cref="Convolution.KernelSize"/> x <see cref="Convolution.KernelSize"/>, each spanning every input channel (sparse
/// interaction and parameter sharing). Exported as one ONNX <c>Conv</c> node with explicit pads.
/// </summary>
public sealed record Conv2d : Convolution
{
    /// <summary>Creates a 2-D convolution.</summary>
    /// <param name="filters">The number of kernels, i.e. output channels; at least 1.</param>
    /// <param name="kernelSize">The kernel's height and width; at least 1.</param>
    /// <param name="stride">The step between windows; at least 1; must be 1 with <see cref="ConvPadding.Same"/>.</param>
    /// <param name="padding">Zero padding on each side (an <c>int</c>), or <see cref="ConvPadding.Same"/>; none by default.</param>
    /// <param name="dilation">The spacing between kernel taps; at least 1.</param>
    /// <param name="useBias">Whether each filter adds a learned bias.</param>
    public Conv2d(int filters, int kernelSize, int stride = 1, ConvPadding padding = default, int dilation = 1, bool useBias = true)
        : base(filters, kernelSize, stride, padding, dilation, useBias)
    {
    }

    internal override int SpatialRank => 2;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return Padding.IsSame
            ? nn.Conv2d(inputShape[0], Filters, KernelSize, TorchSharp.Padding.Same, dilation: Dilation, bias: UseBias)
            : nn.Conv2d(inputShape[0], Filters, KernelSize, Stride, Padding.Size, Dilation, bias: UseBias);
    }
}
