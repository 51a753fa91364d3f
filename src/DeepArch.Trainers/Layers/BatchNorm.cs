using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;
using BatchNormModule = TorchSharp.Modules.BatchNorm;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// What <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/> share, apart from the sample shape they take:
/// the configuration and its checks, the description, the parameter count and the ONNX
/// <c>BatchNormalization</c> node (a scale, a shift and running estimates per channel). Each derived layer
/// checks its input shape and builds its own TorchSharp module.
/// </summary>
public abstract record BatchNorm : LayerSpec
{
    /// <summary>Checks and stores the configuration.</summary>
    private protected BatchNorm(float epsilon, float momentum)
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

    /// <summary>The number of normalized channels (features) of <paramref name="inputShape"/>; throws unless the layer takes that shape.</summary>
    private protected abstract int Channels(IReadOnlyList<int> inputShape);

    /// <inheritdoc/>
    public override string Describe() => GetType().Name;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        Channels(inputShape);
        return inputShape.ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>A scale and a shift per channel; the running mean and variance are buffers, not parameters.</remarks>
    public override long ParameterCount(IReadOnlyList<int> inputShape) => 2L * Channels(inputShape);

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var norm = (BatchNormModule)module;
        int channels = Channels(inputShape);
        return graph.AddNode(
            "BatchNormalization",
            [
                input,
                graph.AddInitializer("bn_scale", ToArray(norm.weight!), channels),
                graph.AddInitializer("bn_bias", ToArray(norm.bias!), channels),
                graph.AddInitializer("bn_mean", ToArray(norm.running_mean!), channels),
                graph.AddInitializer("bn_var", ToArray(norm.running_var!), channels),
            ],
            ("epsilon", Epsilon));
    }

    /// <summary>
    /// TorchSharp's batch normalization with its running-batch counter advanced by held Scalars: TorchSharp's own
    /// <c>BatchNorm1d</c>/<c>BatchNorm2d</c> run <c>num_batches_tracked.add_(1)</c> in every training step, two temporary
    /// Scalars the collector may finalize while libtorch reads them (see Scalars in Training/ScalarSafeOptimizers.cs).
    /// Otherwise the same computation, parameters and buffers (the same state-dictionary keys), so trained models keep their bits.
    /// </summary>
    private protected sealed class HeldScalarBatchNorm(long channels, float epsilonValue, float momentumValue, int inputRank)
        : BatchNormModule(channels, epsilonValue, momentumValue, affine: true, track_running_stats: true, device: null, dtype: null, name: inputRank == 2 ? nameof(BatchNorm1d) : nameof(BatchNorm2d))
    {
        protected override void ValidateInputDimensions(Tensor input)
        {
            if (input.ndim != inputRank)
            {
                throw new ArgumentException($"expected {inputRank}D input, but got {input.ndim}D input.");
            }
        }

        public override Tensor forward(Tensor input)
        {
            ValidateInputDimensions(input);
            if (training)
            {
                num_batches_tracked!.add_(DeepArch.Trainers.Training.Scalars.One, DeepArch.Trainers.Training.Scalars.One);
            }
            return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum!.Value, eps);
        }
    }
}
