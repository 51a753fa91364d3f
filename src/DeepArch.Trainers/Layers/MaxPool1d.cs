using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Max pooling over [channels, length] samples: the largest value of each <see cref="MaxPooling.KernelSize"/> window, channel by channel
/// (padding counts as minus infinity, as in PyTorch and ONNX). Exported as one ONNX <c>MaxPool</c> node.
/// </summary>
public sealed record MaxPool1d : MaxPooling
{
    /// <summary>Creates a max-pooling layer.</summary>
    /// <param name="kernelSize">The window size; at least 1.</param>
    /// <param name="stride">The step between windows; 0 (default) uses <paramref name="kernelSize"/>, as PyTorch does.</param>
    /// <param name="padding">Padding on each side, at most half of <paramref name="kernelSize"/>; none by default.</param>
    public MaxPool1d(int kernelSize, int stride = 0, int padding = 0)
        : base(kernelSize, stride, padding)
    {
    }

    internal override int SpatialRank => 1;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.MaxPool1d(KernelSize, Stride, Padding);
    }
}
