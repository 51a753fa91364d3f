using DeepArch.Trainers.Onnx;
using BatchNorm1dModule = TorchSharp.Modules.BatchNorm1d;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Batch normalization over the features of a one-dimensional sample. Training normalizes with the
/// batch statistics and updates running estimates; eval mode (and the ONNX
/// <c>BatchNormalization</c> node) uses the running estimates.
/// </summary>
public sealed record BatchNorm1d : LayerSpec
{
    /// <summary>Creates a batch-normalization layer.</summary>
    /// <param name="epsilon">Added to the variance for numerical stability; positive.</param>
    /// <param name="momentum">The weight of the current batch in the running estimates, in (0, 1].</param>
    public BatchNorm1d(float epsilon = 1e-5f, float momentum = 0.1f)
    {
        if (!(epsilon > 0) || float.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive and finite.");
        }
        if (!(momentum > 0 && momentum <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in (0, 1].");
        }
        Epsilon = epsilon;
        Momentum = momentum;
    }

    /// <summary>Added to the variance for numerical stability.</summary>
    public float Epsilon { get; }

    /// <summary>The weight of the current batch in the running estimates.</summary>
    public float Momentum { get; }

    /// <inheritdoc/>
    public override string Describe() => "BatchNorm1d";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        RequireVector(inputShape);
        return inputShape.ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>A scale and a shift per feature; the running mean and variance are buffers, not parameters.</remarks>
    public override long ParameterCount(IReadOnlyList<int> inputShape) => 2L * RequireVector(inputShape);

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => nn.BatchNorm1d(RequireVector(inputShape), eps: Epsilon, momentum: Momentum);

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var norm = (BatchNorm1dModule)module;
        int features = RequireVector(inputShape);
        return graph.AddNode(
            "BatchNormalization",
            [
                input,
                graph.AddInitializer("bn_scale", ToArray(norm.weight!), features),
                graph.AddInitializer("bn_bias", ToArray(norm.bias!), features),
                graph.AddInitializer("bn_mean", ToArray(norm.running_mean!), features),
                graph.AddInitializer("bn_var", ToArray(norm.running_var!), features),
            ],
            ("epsilon", Epsilon));
    }
}
