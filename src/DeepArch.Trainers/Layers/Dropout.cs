using DeepArch.Trainers.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Inverted dropout: during training each value is zeroed with probability <see cref="Rate"/> and the
/// rest are scaled by <c>1 / (1 - Rate)</c>; in eval mode it is the identity, so it emits no ONNX node, unless the
/// graph is written for Monte-Carlo dropout (<see cref="OnnxGraphBuilder.StochasticDropout"/>): then it emits an ONNX
/// <c>Dropout</c> in training mode, which draws a fresh mask on every run.
/// </summary>
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
        => graph.StochasticDropout && Rate > 0 ? EmitTrainingMode(graph, input, Rate) : input;

    /// <summary>Emits an ONNX <c>Dropout</c> with <c>training_mode = true</c>: inverted dropout at <paramref name="rate"/> on every run.</summary>
    internal static string EmitTrainingMode(OnnxGraphBuilder graph, string input, float rate)
    {
        string[] outputs = graph.AddNode("Dropout",
            [input, graph.AddInitializer("dropout_ratio", [rate]), graph.AddBoolInitializer("dropout_training_mode", true)], 2);
        // ONNX Runtime's inference builds delete every Dropout whose mask output is unused, whatever its training_mode
        // (the EliminateDropout rewrite rule), so the mask is consumed here: Where(mask, y, 0) is y itself.
        return graph.AddNode("Where", [outputs[1], outputs[0], graph.AddInitializer("dropout_zero", [0f])]);
    }
}
