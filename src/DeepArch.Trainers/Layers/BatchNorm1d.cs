using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Batch normalization over the features of a one-dimensional sample. Training normalizes with the
/// batch statistics and updates running estimates; eval mode (and the ONNX
/// <c>BatchNormalization</c> node) uses the running estimates.
/// </summary>
public sealed record BatchNorm1d : BatchNorm
{
    /// <summary>Creates a batch-normalization layer.</summary>
    /// <param name="epsilon">Added to the variance for numerical stability; positive.</param>
    /// <param name="momentum">The weight of the current batch in the running estimates, in (0, 1].</param>
    public BatchNorm1d(float epsilon = 1e-5f, float momentum = 0.1f)
        : base(epsilon, momentum)
    {
    }

    private protected override int Channels(IReadOnlyList<int> inputShape) => RequireVector(inputShape);

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => new HeldScalarBatchNorm(Channels(inputShape), Epsilon, Momentum, inputRank: 2);
}
