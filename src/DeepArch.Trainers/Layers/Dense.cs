using DeepArch.Trainers.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>A fully connected layer: <c>y = x W^T + b</c>. Exported as one ONNX <c>Gemm</c> node.</summary>
public sealed record Dense : LayerSpec
{
    /// <summary>Creates a dense layer with <paramref name="units"/> outputs.</summary>
    /// <param name="units">The number of outputs; at least 1.</param>
    /// <param name="useBias">Whether the layer adds a learned bias.</param>
    public Dense(int units, bool useBias = true)
    {
        if (units < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(units), units, "Dense units must be at least 1.");
        }
        Units = units;
        UseBias = useBias;
    }

    /// <summary>The number of outputs.</summary>
    public int Units { get; }

    /// <summary>Whether the layer adds a learned bias.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string Describe() => $"Dense({Units}{(UseBias ? "" : ", no bias")})";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        RequireVector(inputShape);
        return [Units];
    }

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => nn.Linear(RequireVector(inputShape), Units, hasBias: UseBias);

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var linear = (Linear)module;
        int inputs = RequireVector(inputShape);
        // Gemm computes A * B^T + C with transB = 1, so the weight keeps PyTorch's [out, in] layout.
        string weight = graph.AddInitializer("dense_weight", ToArray(linear.weight!), Units, inputs);
        var operands = new List<string> { input, weight };
        if (UseBias)
        {
            operands.Add(graph.AddInitializer("dense_bias", ToArray(linear.bias!), Units));
        }
        return graph.AddNode("Gemm", operands, ("transB", 1L));
    }
}
