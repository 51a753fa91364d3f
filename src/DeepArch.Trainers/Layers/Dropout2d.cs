using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Channel dropout for [channels, height, width] samples: during training each whole channel is zeroed
/// with probability <see cref="Rate"/> and the rest are scaled by <c>1 / (1 - Rate)</c> (neighbouring
/// pixels are correlated, so dropping single values regularizes little). In eval mode it is the
/// identity, so it emits no ONNX node.
/// </summary>
public sealed record Dropout2d : LayerSpec
{
    /// <summary>Creates a channel-dropout layer.</summary>
    /// <param name="rate">The probability of zeroing a channel, in [0, 1).</param>
    public Dropout2d(float rate)
    {
        if (!(rate >= 0 && rate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        }
        Rate = rate;
    }

    /// <summary>The probability of zeroing a channel during training.</summary>
    public float Rate { get; }

    /// <inheritdoc/>
    public override string Describe() => $"Dropout2d({Rate})";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        SpatialGeometry.RequireRank(Describe(), inputShape, 2);
        return inputShape.ToArray();
    }

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.Dropout2d(Rate);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => input;
}
