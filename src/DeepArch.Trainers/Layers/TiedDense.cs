using DeepArch.Trainers.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A fully connected layer whose weight is stored transposed, <c>y = x W + b</c> with W shaped
/// [inputs, units]: the decoder half of a tied-weights autoencoder (seed 002: "if we constrain W' to be
/// W^T, it is called tied weights"). Inside <see cref="Architectures.AutoencoderSpec"/> the weight is the
/// mirrored encoder <see cref="Dense"/> layer's own weight (shared, trained once, no copy); on its own
/// (for instance in a decoder exported without its encoder) it holds its own weight. Exported as one
/// ONNX <c>Gemm</c> node without <c>transB</c>.
/// </summary>
public sealed record TiedDense : LayerSpec
{
    /// <summary>Creates a tied dense layer with <paramref name="units"/> outputs.</summary>
    /// <param name="units">The number of outputs; at least 1. Tied to an encoder layer, it equals that layer's inputs.</param>
    /// <param name="useBias">Whether the layer adds its own learned bias (biases are never tied).</param>
    public TiedDense(int units, bool useBias = true)
    {
        if (units < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(units), units, "TiedDense units must be at least 1.");
        }
        Units = units;
        UseBias = useBias;
    }

    /// <summary>The number of outputs.</summary>
    public int Units { get; }

    /// <summary>Whether the layer adds a learned bias.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string Describe() => $"TiedDense({Units}{(UseBias ? "" : ", no bias")})";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        RequireVector(inputShape);
        return [Units];
    }

    /// <inheritdoc/>
    /// <remarks>On its own the layer holds its weight; inside an autoencoder whose encoder it is tied to, only its bias (see <see cref="BiasCount"/>).</remarks>
    public override long ParameterCount(IReadOnlyList<int> inputShape) => (long)RequireVector(inputShape) * Units + BiasCount;

    /// <summary>The parameters the layer holds when its weight is an encoder layer's: its bias alone.</summary>
    internal int BiasCount => UseBias ? Units : 0;

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => new TiedDenseModule(RequireVector(inputShape), Units, UseBias, source: null);

    /// <summary>Creates the module with the weight of <paramref name="source"/> (an encoder layer mapping this layer's outputs to its inputs).</summary>
    internal nn.Module<Tensor, Tensor> CreateTiedModule(IReadOnlyList<int> inputShape, Linear source)
    {
        int inputs = RequireVector(inputShape);
        long[] expected = [inputs, Units];
        if (!source.weight!.shape.SequenceEqual(expected))
        {
            throw new ArgumentException(
                $"{Describe()} on {inputs} inputs needs an encoder weight shaped {Shapes.Format(expected.Select(d => (int)d).ToArray())} "
                + $"(a Dense({inputs}) on {Units} inputs); got {Shapes.Format(source.weight.shape.Select(d => (int)d).ToArray())}.",
                nameof(source));
        }
        return new TiedDenseModule(inputs, Units, UseBias, source);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var tied = (TiedDenseModule)module;
        int inputs = RequireVector(inputShape);
        // Gemm computes A * B + C without transB: the weight keeps its [inputs, units] layout, which is
        // exactly the tied encoder layer's PyTorch [out, in] layout.
        string weight = graph.AddInitializer("tied_weight", ToArray(tied.Weight), inputs, Units);
        var operands = new List<string> { input, weight };
        if (UseBias)
        {
            operands.Add(graph.AddInitializer("tied_bias", ToArray(tied.Bias!), Units));
        }
        return graph.AddNode("Gemm", operands);
    }

    /// <summary>
    /// The TorchSharp side of <see cref="TiedDense"/>. Tied, it registers only its bias and reads the
    /// source layer's weight at every call (the source is not registered, so the optimizer and the state
    /// dictionary see the shared weight once, under the encoder's name). Untied, it registers its own weight.
    /// </summary>
    internal sealed class TiedDenseModule : nn.Module<Tensor, Tensor>
    {
        // Named like TorchSharp's Linear fields so that device moves, which update fields by parameter name, find them.
#pragma warning disable IDE1006 // Naming: TorchSharp convention
        private Parameter? weight;
        private Parameter? bias;
#pragma warning restore IDE1006
        // A delegate, not a Linear field: module registration walks fields, and the source belongs to the encoder.
        private readonly Func<Tensor>? _sourceWeight;

        public TiedDenseModule(int inputs, int units, bool useBias, Linear? source) : base(nameof(TiedDense))
        {
            _sourceWeight = source is null ? null : () => source.weight!;
            double bound = 1 / Math.Sqrt(inputs);
            using (no_grad())
            {
                if (source is null)
                {
                    weight = nn.Parameter(empty(inputs, units).uniform_(-bound, bound));
                    register_parameter(nameof(weight), weight);
                }
                if (useBias)
                {
                    bias = nn.Parameter(empty(units).uniform_(-bound, bound));
                    register_parameter(nameof(bias), bias);
                }
            }
        }

        /// <summary>Whether the weight is an encoder layer's.</summary>
        public bool IsTied => _sourceWeight is not null;

        /// <summary>The weight in use, [inputs, units]: the source layer's when tied, else this module's own.</summary>
        public Tensor Weight => _sourceWeight?.Invoke() ?? weight!;

        /// <summary>The bias, or null.</summary>
        public Tensor? Bias => bias;

        public override Tensor forward(Tensor input)
        {
            var product = input.matmul(Weight);
            return bias is null ? product : product.add(bias, DeepArch.Trainers.Training.Scalars.One); // a held Scalar: see ScalarSafeOptimizers
        }
    }
}
