using DeepArch.Trainers.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>An activation layer. It has no parameters and keeps the input's shape.</summary>
public sealed record Activation : LayerSpec
{
    /// <summary>Creates an activation layer.</summary>
    /// <param name="kind">The non-linearity.</param>
    /// <param name="negativeSlope">The slope for x &lt; 0; used by <see cref="ActivationKind.LeakyReLU"/> only; at least 0.</param>
    public Activation(ActivationKind kind, float negativeSlope = 0.01f)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation kind.");
        }
        if (!(negativeSlope >= 0) || float.IsInfinity(negativeSlope))
        {
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "The negative slope must be finite and at least 0.");
        }
        Kind = kind;
        NegativeSlope = negativeSlope;
    }

    /// <summary>The non-linearity.</summary>
    public ActivationKind Kind { get; }

    /// <summary>The slope for negative inputs of <see cref="ActivationKind.LeakyReLU"/>.</summary>
    public float NegativeSlope { get; }

    /// <inheritdoc/>
    public override string Describe() => Kind == ActivationKind.LeakyReLU ? $"LeakyReLU({NegativeSlope})" : Kind.ToString();

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape) => inputShape.ToArray();

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape) => Kind switch
    {
        ActivationKind.Identity => nn.Identity(),
        ActivationKind.ReLU => nn.ReLU(),
        ActivationKind.LeakyReLU => new LeakyReLUModule(NegativeSlope),
        ActivationKind.Softplus => nn.Softplus(),
        ActivationKind.Tanh => nn.Tanh(),
        ActivationKind.Sigmoid => nn.Sigmoid(),
        ActivationKind.Softmax => nn.Softmax(-1),
        _ => throw new InvalidOperationException($"Unknown activation kind {Kind}."),
    };

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape) => Kind switch
    {
        ActivationKind.Identity => input,
        ActivationKind.ReLU => graph.AddNode("Relu", [input]),
        ActivationKind.LeakyReLU => graph.AddNode("LeakyRelu", [input], ("alpha", NegativeSlope)),
        ActivationKind.Softplus => graph.AddNode("Softplus", [input]),
        ActivationKind.Tanh => graph.AddNode("Tanh", [input]),
        ActivationKind.Sigmoid => graph.AddNode("Sigmoid", [input]),
        ActivationKind.Softmax => graph.AddNode("Softmax", [input], ("axis", -1L)),
        _ => throw new InvalidOperationException($"Unknown activation kind {Kind}."),
    };

    /// <summary>
    /// The TorchSharp side of <see cref="ActivationKind.LeakyReLU"/>: <c>nn.LeakyReLU</c>'s computation with its slope held as one
    /// Scalar for the module's life, where <c>nn.LeakyReLU</c> converts the slope into a temporary Scalar on every call, which
    /// the collector may finalize while libtorch reads it (see Scalars in Training/ScalarSafeOptimizers.cs).
    /// </summary>
    private sealed class LeakyReLUModule(float negativeSlope) : nn.Module<Tensor, Tensor>(nameof(ActivationKind.LeakyReLU))
    {
        private readonly Scalar _slope = ((double)negativeSlope).ToScalar();

        public override Tensor forward(Tensor input) => input.leaky_relu(_slope);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _slope.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
