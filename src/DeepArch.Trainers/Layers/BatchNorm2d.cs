using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Batch normalization of each channel of [channels, height, width] samples, over the batch and all
/// positions. Training normalizes with the batch statistics and updates running estimates; eval mode
/// (and the ONNX <c>BatchNormalization</c> node) uses the running estimates.
/// </summary>
public sealed record BatchNorm2d : BatchNorm
{
    /// <summary>Creates a 2-D batch-normalization layer.</summary>
    /// <param name="epsilon">Added to the variance for numerical stability; positive.</param>
    /// <param name="momentum">The weight of the current batch in the running estimates, in (0, 1].</param>
    public BatchNorm2d(float epsilon = 1e-5f, float momentum = 0.1f)
        : base(epsilon, momentum)
    {
    }

    private protected override int Channels(IReadOnlyList<int> inputShape)
    {
        SpatialGeometry.RequireRank(Describe(), inputShape, 2);
        return inputShape[0];
    }

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => new HeldScalarBatchNorm(Channels(inputShape), Epsilon, Momentum, inputRank: 4);
}
