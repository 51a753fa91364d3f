using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A 1-D convolution over [channels, length] samples (sequences, signals): <see cref="Convolution.Filters"/> learned
/// kernels of <see cref="Convolution.KernelSize"/> taps, each spanning every input channel. Exported as one ONNX
/// <c>Conv</c> node with explicit pads.
/// </summary>
public sealed record Conv1d : Convolution
{
    /// <summary>Creates a 1-D convolution.</summary>
    /// <param name="filters">The number of kernels, i.e. output channels; at least 1.</param>
    /// <param name="kernelSize">The number of taps per kernel; at least 1.</param>
    /// <param name="stride">The step between windows; at least 1; must be 1 with <see cref="ConvPadding.Same"/>.</param>
    /// <param name="padding">Zero padding on each side (an <c>int</c>), or <see cref="ConvPadding.Same"/>; none by default.</param>
    /// <param name="dilation">The spacing between kernel taps; at least 1.</param>
    /// <param name="useBias">Whether each filter adds a learned bias.</param>
    public Conv1d(int filters, int kernelSize, int stride = 1, ConvPadding padding = default, int dilation = 1, bool useBias = true)
        : base(filters, kernelSize, stride, padding, dilation, useBias)
    {
    }

    internal override int SpatialRank => 1;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return Padding.IsSame
            ? nn.Conv1d(inputShape[0], Filters, KernelSize, TorchSharp.Padding.Same, dilation: Dilation, bias: UseBias)
            : nn.Conv1d(inputShape[0], Filters, KernelSize, Stride, Padding.Size, Dilation, bias: UseBias);
    }
}
