using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Inverted dropout: during training each value is zeroed with probability <see cref="Rate"/> and the
/// rest are scaled by <c>1 / (1 - Rate)</c>; in eval mode it is the identity, so it emits no ONNX node.
/// </summary>
/// <remarks>
/// Monte-Carlo dropout at scoring time does not go through this layer: <see cref="Architectures.ForecasterScoringExport"/>
/// writes fixed masks drawn from a seed, so that a score is repeatable (an ONNX <c>Dropout</c> in training mode would draw
/// new masks on every run, and ONNX Runtime's inference builds remove it unless its mask output is consumed).
/// </remarks>
public sealed record Dropout : LayerSpec
{
    /// <summary>Creates a dropout layer.</summary>
    /// <param name="rate">The probability of zeroing a value, in [0, 1).</param>
    public Dropout(float rate)
    {
        if (!(rate >= 0 && rate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        }
        Rate = rate;
    }

    /// <summary>The probability of zeroing a value during training.</summary>
    public float Rate { get; }

    /// <inheritdoc/>
    public override string Describe() => $"Dropout({Rate})";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape) => inputShape.ToArray();

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape) => nn.Dropout(Rate);

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => input;
}
