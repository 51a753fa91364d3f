using System.Text.Json.Serialization;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using TorchSharp;
using Linear = TorchSharp.Modules.Linear;
using Sequential = DeepArch.Trainers.Layers.Sequential;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// An autoencoder as one layer specification: an <see cref="Encoder"/> from the input to the code and a
/// <see cref="Decoder"/> from the code back to the input's shape. Its module keeps the two halves as
/// separate children ("encoder", "decoder"), so that the trainers can reach the code (sparse penalty,
/// variational sampling) and <see cref="AutoencoderNetworks"/> can export either half from the trained
/// parameters. The exported graph of the whole spec is the reconstruction, <c>decoder(encoder(x))</c>.
/// </summary>
/// <remarks>
/// <para>Tied weights: every <see cref="TiedDense"/> in the decoder uses the weight of a
/// <see cref="Dense"/> in the encoder, mirrored — the decoder's first <see cref="TiedDense"/> the encoder's
/// last <see cref="Dense"/>, and so on — so the counts must match.</para>
/// <para>Variational: the encoder's last layer is the <see cref="Dense"/> that gives the Gaussian's mean;
/// the module adds a "log_variance" <see cref="Dense"/> of the same size on the same input. Training
/// mode decodes a sample <c>mean + exp(logVar / 2) * eps</c>; eval mode (and every export) decodes the mean.</para>
/// Build it with <see cref="Autoencoder.Create"/> or <see cref="Autoencoder.CreateVariational"/>.
/// </remarks>
public sealed record AutoencoderSpec : LayerSpec
{
    /// <summary>Creates an autoencoder from its two halves.</summary>
    /// <param name="encoder">From the input to the code.</param>
    /// <param name="decoder">From the code to the input's shape.</param>
    /// <param name="variational">Whether the encoder is Gaussian (its last layer a <see cref="Dense"/> giving the mean).</param>
    [JsonConstructor]
    public AutoencoderSpec(Sequential encoder, Sequential decoder, bool variational = false)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(decoder);
        int tied = decoder.Layers.Count(l => l is TiedDense);
        int dense = encoder.Layers.Count(l => l is Dense);
        if (variational && encoder.Layers[^1] is not Dense)
        {
            throw new ArgumentException(
                $"A variational encoder ends with the Dense layer that gives the mean; this one ends with {encoder.Layers[^1].Describe()}.", nameof(encoder));
        }
        if (variational && tied > 0)
        {
            throw new ArgumentException("A variational autoencoder cannot tie its decoder's weights to its encoder's.", nameof(decoder));
        }
        if (tied > 0 && tied != dense)
        {
            throw new ArgumentException(
                $"The decoder's {tied} TiedDense layers must mirror the encoder's {dense} Dense layers one for one.", nameof(decoder));
        }
        Encoder = encoder;
        Decoder = decoder;
        Variational = variational;
    }

    /// <summary>From the input to the code.</summary>
    public Sequential Encoder { get; }

    /// <summary>From the code to the input's shape.</summary>
    public Sequential Decoder { get; }

    /// <summary>Whether the encoder is Gaussian (mean and log-variance).</summary>
    public bool Variational { get; }

    /// <summary>Whether the decoder's weights are the encoder's, transposed.</summary>
    [JsonIgnore]
    public bool TiedWeights => Decoder.Layers.Any(l => l is TiedDense);

    /// <inheritdoc/>
    public override string Describe()
        => $"{(Variational ? "VariationalAutoencoder" : "Autoencoder")}({Encoder.Layers.Count} + {Decoder.Layers.Count} layers{(TiedWeights ? ", tied" : "")})";

    /// <summary>The per-sample code shape for the per-sample <paramref name="inputShape"/>.</summary>
    public int[] CodeShape(IReadOnlyList<int> inputShape) => Encoder.OutputShape(inputShape);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        var encoderShapes = Encoder.ShapesThrough(inputShape);
        var decoderShapes = Decoder.ShapesThrough(encoderShapes[^1]);
        if (!decoderShapes[^1].SequenceEqual(inputShape))
        {
            throw new ArgumentException(
                $"The decoder must give back the input's shape {Shapes.Format(inputShape)}; it gives {Shapes.Format(decoderShapes[^1])}.", nameof(inputShape));
        }
        foreach (var (dense, tied) in TiedPairs(encoderShapes, decoderShapes))
        {
            if (dense.Inputs != tied.Units || dense.Units != tied.Inputs)
            {
                throw new ArgumentException(
                    $"TiedDense {tied.Inputs} -> {tied.Units} cannot use the weight of Dense {dense.Inputs} -> {dense.Units}: it must map {dense.Units} -> {dense.Inputs}.",
                    nameof(inputShape));
            }
        }
        return decoderShapes[^1];
    }

    /// <inheritdoc/>
    /// <remarks>A tied decoder layer adds only its bias (its weight is the encoder's); a variational encoder adds its log-variance layer.</remarks>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        var encoderShapes = Encoder.ShapesThrough(inputShape);
        var decoderShapes = Decoder.ShapesThrough(encoderShapes[^1]);
        long decoder = Decoder.Layers.Select((layer, i) => layer is TiedDense tied ? tied.BiasCount : layer.ParameterCount(decoderShapes[i])).Sum();
        long logVariance = Variational ? Encoder.Layers[^1].ParameterCount(encoderShapes[^2]) : 0;
        return Encoder.ParameterCount(inputShape) + decoder + logVariance;
    }

    internal override long ActivationValues(IReadOnlyList<int> inputShape)
    {
        var codeShape = CodeShape(inputShape);
        long code = Variational ? 2 * Shapes.LongSize(codeShape) : 0; // the log-variance and the sampled code
        return Encoder.ActivationValues(inputShape) + Decoder.ActivationValues(codeShape) + code;
    }

    /// <summary>A variational autoencoder samples its code from libtorch's global generator; the others are as independent as their halves' layers.</summary>
    internal override bool RowsIndependentInTraining => !Variational && Encoder.RowsIndependentInTraining && Decoder.RowsIndependentInTraining;

    internal override IEnumerable<LayerSpec> Sublayers() => [Encoder, Decoder];

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        var encoderShapes = Encoder.ShapesThrough(inputShape);
        var encoder = (Sequential.SequentialModule)Encoder.CreateModule(inputShape);
        var decoderShapes = Decoder.ShapesThrough(encoderShapes[^1]);
        // The k-th TiedDense of the decoder shares the weight of the k-th Dense of the encoder counted from the end.
        var sources = new Stack<Linear>(Encoder.Layers.Select((l, i) => (l, i)).Where(p => p.l is Dense).Select(p => (Linear)encoder[p.i]));
        var decoderModules = Decoder.Layers.Select((layer, i) => layer is TiedDense tied
            ? tied.CreateTiedModule(decoderShapes[i], sources.Pop())
            : layer.CreateModule(decoderShapes[i])).ToList();
        var decoder = new Sequential.SequentialModule(decoderModules);
        Linear? logVariance = null;
        if (Variational)
        {
            var mean = (Dense)Encoder.Layers[^1];
            logVariance = nn.Linear(encoderShapes[^2][0], mean.Units, hasBias: mean.UseBias);
        }
        return new AutoencoderModule(encoder, decoder, logVariance);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var autoencoder = (AutoencoderModule)module;
        string code = Encoder.EmitOnnx(graph, input, autoencoder.Encoder, inputShape);
        return Decoder.EmitOnnx(graph, code, autoencoder.Decoder, CodeShape(inputShape));
    }

    private IEnumerable<((int Inputs, int Units) Dense, (int Inputs, int Units) Tied)> TiedPairs(IReadOnlyList<int[]> encoderShapes, IReadOnlyList<int[]> decoderShapes)
    {
        var dense = Encoder.Layers.Select((l, i) => (l, i)).Where(p => p.l is Dense).Select(p => (encoderShapes[p.i][0], encoderShapes[p.i + 1][0])).Reverse().ToList();
        var tied = Decoder.Layers.Select((l, i) => (l, i)).Where(p => p.l is TiedDense).Select(p => (decoderShapes[p.i][0], decoderShapes[p.i + 1][0])).ToList();
        return dense.Zip(tied);
    }

    /// <summary>The module of <paramref name="network"/>, which must be an autoencoder (its <see cref="Network.Architecture"/> an <see cref="AutoencoderSpec"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="variational">When true, the autoencoder must be variational; when false, it must not be; null accepts both.</param>
    /// <param name="user">What needs the autoencoder, for the error message.</param>
    /// <exception cref="ArgumentException">The network is not such an autoencoder.</exception>
    internal static AutoencoderModule ModuleOf(Network network, string user, bool? variational = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network.Architecture is not AutoencoderSpec spec || (variational is { } v && spec.Variational != v))
        {
            string needed = variational switch { true => "Autoencoder.CreateVariational", false => "Autoencoder.Create", _ => "an AutoencoderSpec" };
            throw new ArgumentException($"{user} needs a network built from {needed}; this one is {network.Architecture.Describe()}.", nameof(network));
        }
        return (AutoencoderModule)network.Module;
    }

    /// <summary>The TorchSharp side of <see cref="AutoencoderSpec"/>: children "encoder", "decoder" and, when variational, "log_variance".</summary>
    internal sealed class AutoencoderModule : nn.Module<Tensor, Tensor>
    {
        public AutoencoderModule(Sequential.SequentialModule encoder, Sequential.SequentialModule decoder, Linear? logVariance) : base(nameof(AutoencoderSpec))
        {
            Encoder = encoder;
            Decoder = decoder;
            LogVariance = logVariance;
            register_module("encoder", encoder);
            register_module("decoder", decoder);
            if (logVariance is not null)
            {
                register_module("log_variance", logVariance);
            }
        }

        public Sequential.SequentialModule Encoder { get; }

        public Sequential.SequentialModule Decoder { get; }

        /// <summary>The variational encoder's log-variance layer, or null.</summary>
        public Linear? LogVariance { get; }

        /// <summary>The code (for a variational encoder, the mean).</summary>
        public Tensor Encode(Tensor input) => Encoder.call(input);

        /// <summary>The Gaussian encoder's mean and log-variance; only for a variational autoencoder.</summary>
        public (Tensor Mean, Tensor LogVariance) EncodeGaussian(Tensor input)
        {
            if (LogVariance is null)
            {
                throw new InvalidOperationException("Only a variational autoencoder has a Gaussian encoder.");
            }
            Tensor hidden = input;
            for (int i = 0; i < Encoder.Count - 1; i++)
            {
                hidden = Encoder[i].call(hidden);
            }
            return (Encoder[Encoder.Count - 1].call(hidden), LogVariance.call(hidden));
        }

        /// <summary>The reconstruction of a code.</summary>
        public Tensor Decode(Tensor code) => Decoder.call(code);

        /// <summary>
        /// The decoder's parameters and buffers by name, tied weights included (under the name the
        /// decoder's layer would give its own weight), so that a stand-alone decoder can load them.
        /// </summary>
        public Dictionary<string, Tensor> DecoderState()
        {
            var state = Decoder.state_dict().ToDictionary(p => p.Key, p => p.Value);
            foreach (var (name, module) in Decoder.named_modules())
            {
                if (module is TiedDense.TiedDenseModule { IsTied: true } tied)
                {
                    state[$"{name}.weight"] = tied.Weight;
                }
            }
            return state;
        }

        public override Tensor forward(Tensor input)
        {
            if (LogVariance is null || !training)
            {
                return Decode(Encode(input));
            }
            var (mean, logVariance) = EncodeGaussian(input);
            return Decode(Reparameterize(mean, logVariance));
        }

        /// <summary><c>mean + exp(logVar / 2) * eps</c>, eps ~ N(0, I) from torch's generator: a sample differentiable in both.</summary>
        public static Tensor Reparameterize(Tensor mean, Tensor logVariance)
        {
            // A held Scalar, and the sum as add(b, Scalars.One), what the + operator calls with a temporary one: see Scalars in ScalarSafeOptimizers.cs.
            using Scalar half = 0.5.ToScalar();
            return mean.add((logVariance * half).exp() * randn_like(mean), DeepArch.Trainers.Training.Scalars.One);
        }
    }
}
