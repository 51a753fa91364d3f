using DeepArch.Trainers.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A fully connected layer: <c>y = x W^T + b</c>, applied to the last dimension like PyTorch's <c>Linear</c>, so a
/// [steps, features] sample becomes [steps, units] (one dense layer per step). Exported as one ONNX <c>Gemm</c> node for
/// vector samples, and as <c>MatMul</c> with the transposed weight plus <c>Add</c> for samples of higher rank.
/// </summary>
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
        if (inputShape.Count == 0)
        {
            throw new ArgumentException($"{Describe()} needs an input of at least one dimension per sample, got shape [].", nameof(inputShape));
        }
        return [.. inputShape.Take(inputShape.Count - 1), Units];
    }

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return (long)inputShape[^1] * Units + (UseBias ? Units : 0);
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return nn.Linear(inputShape[^1], Units, hasBias: UseBias);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var linear = (Linear)module;
        OutputShape(inputShape);
        int inputs = inputShape[^1];
        float[] weights = ToArray(linear.weight!);
        if (inputShape.Count > 1)
        {
            // [batch, ..., in] x [in, out] (+ [out]): MatMul broadcasts over the leading dimensions.
            var transposed = new float[weights.Length];
            for (int o = 0; o < Units; o++)
            {
                for (int i = 0; i < inputs; i++)
                {
                    transposed[i * Units + o] = weights[o * inputs + i];
                }
            }
            string product = graph.AddNode("MatMul", [input, graph.AddInitializer("dense_weight_t", transposed, inputs, Units)]);
            return UseBias ? graph.AddNode("Add", [product, graph.AddInitializer("dense_bias", ToArray(linear.bias!), Units)]) : product;
        }
        // Gemm computes A * B^T + C with transB = 1, so the weight keeps PyTorch's [out, in] layout.
        string weight = graph.AddInitializer("dense_weight", weights, Units, inputs);
        var operands = new List<string> { input, weight };
        if (UseBias)
        {
            operands.Add(graph.AddInitializer("dense_bias", ToArray(linear.bias!), Units));
        }
        return graph.AddNode("Gemm", operands, ("transB", 1L));
    }
}
