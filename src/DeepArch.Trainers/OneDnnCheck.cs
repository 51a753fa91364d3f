using System.Globalization;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers;

/// <summary>
/// Whether libtorch's oneDNN kernels compute what ATen's own compute on this CPU, layer configuration by layer configuration.
/// oneDNN computes two kinds of layer in libtorch 2.10 on the CPU (float32): convolutions (1-, 2- and 3-D, transposed or not) and
/// LSTMs; GRUs and Elman RNNs gave the same bits with oneDNN on and off, and dense layers, pooling and batch normalization do not
/// call it. On an AMD EPYC with AVX-512 VP2INTERSECT and BF16 (2026-12-05; <c>ONEDNN_MAX_CPU_ISA=AVX2</c> did not fix it) oneDNN was
/// wrong for some configurations of both kinds and right for others of the same kind, so the check is per configuration, not per kind:
/// <list type="bullet">
/// <item><description>a convolution's input gradient whenever its output channels were not a multiple of 16 (1 to 15, 17, 24: up to
/// 3.9 away from ATen's, sometimes NaN, and with 2 threads different from run to run), its output and weight gradient right;</description></item>
/// <item><description>the output of transposed convolutions (oneDNN's convolution input gradient run forward) for some channel counts
/// and input sizes: 4 or 8 to 1 channels (4x4, stride 2) on inputs up to 4x4 and not from 6x6, 2 to 2 (3x3, dilated or not), while
/// the DCGAN's 64 to 32 and 32 to 1 agreed at every size;</description></item>
/// <item><description>the LSTM without gradient (eval mode, as validation and prediction run it) at hidden sizes 4, 8 and 16, up to 0.5
/// away; 32 and more agreed, and its training path (forward and backward) agreed at every size. Where it agreed it was slow (2.8 times
/// ATen's time at hidden size 128), so an LSTM also needs <see cref="LstmFamily"/> to agree: LSTMs train on ATen's kernels on that CPU.</description></item>
/// </list>
/// Batch size (2 to 64) changed no verdict. So each configuration is checked on a batch of 16 rows of its own input size (sides
/// above <see cref="LargestSide"/> at that side), channels, kernel, stride, padding, dilation and groups (an LSTM: its input and
/// hidden sizes, layers, direction): in inference and in training (forward, backward), then again after its weights changed in place
/// as an optimizer step changes them; with 1 thread (where the wrong configurations were wrong in 280 of 280 runs) and with 2 (where
/// they were sometimes right by chance), twice each. It agrees when every result is within <see cref="Tolerance"/> of ATen's and
/// oneDNN gives the same bits both times (the agreeing convolutions gave the same bits in 100 of 100 runs at 1 and 2 threads). The
/// verdicts are kept for the process. The first layer of a network trained on data never computes its input gradient, so its check
/// leaves that gradient out: LeNet-5's first convolution (1 to 6 channels) trains on oneDNN here, as its second (6 to 16) does.
/// </summary>
internal static class OneDnnCheck
{
    /// <summary>
    /// What agreeing means, relative to the largest value (at least 1): rounding in float32 reached 8e-5 of it (a 64-channel transposed
    /// convolution's weight gradient on 16x16 inputs); the disagreements seen were 0.05 and more.
    /// </summary>
    internal const double Tolerance = 1e-3;

    /// <summary>The largest input side a check runs: larger inputs are checked at this size (the disagreements seen were at every size or at sides up to 4).</summary>
    private const int LargestSide = 32;

    /// <summary>The rows of the batch a check runs; above 1, as libtorch hands a batch of one to ATen's kernels for some layers.</summary>
    private const long CheckBatch = 16;

    private static readonly Dictionary<string, string?> s_verdicts = [];

    /// <summary>
    /// A layer configuration whose kernels oneDNN computes: its description (the key of its verdict, shown when it disagrees) and
    /// what the check runs, the named results of one run on the backend currently chosen.
    /// </summary>
    internal sealed record Layer(string Description, Func<IReadOnlyList<(string What, Tensor Value)>> Run);

    /// <summary>
    /// The distinct oneDNN layer configurations of <paramref name="networks"/>, every network's convolutions and LSTMs in module
    /// order. The first network's input is data, and so is that of a network of the very same architecture (an ensemble's
    /// other members, trained one by one on the same rows): when its first layer with parameters is a convolution, that
    /// convolution's input gradient is never computed, and its check leaves it out; the other networks (a GAN's discriminator,
    /// whose input is the generator's output) need every input gradient.
    /// </summary>
    public static IReadOnlyList<Layer> Layers(IReadOnlyList<Network> networks)
    {
        var layers = new Dictionary<string, Layer>();
        for (int n = 0; n < networks.Count; n++)
        {
            var network = networks[n];
            var convolutions = network.Module.modules().OfType<TorchSharp.Modules.Convolution>().ToList();
            bool readsData = n == 0 || ReferenceEquals(network.Architecture, networks[0].Architecture);
            var first = readsData && StartsWithConvolution(network.Architecture) ? convolutions.FirstOrDefault() : null;
            var inputs = InputShapes(network.Architecture, network.InputShape).ToList();
            bool shapesKnown = inputs.Count == convolutions.Count
                && inputs.Zip(convolutions).All(p => p.First.Length == p.Second.weight!.shape.Length - 1 && p.First[0] == InputChannels(p.Second));
            foreach (var module in network.Module.modules())
            {
                if (module is TorchSharp.Modules.Convolution convolution)
                {
                    var sides = shapesKnown ? [inputs[convolutions.IndexOf(convolution)][1..]] : FallbackSides(convolution);
                    foreach (int[] side in sides)
                    {
                        var layer = ConvolutionLayer(convolution, side.Select(d => (long)Math.Min(d, LargestSide)).ToArray(), inputGradient: !ReferenceEquals(convolution, first));
                        layers.TryAdd(layer.Description, layer);
                    }
                }
                else if (module is TorchSharp.Modules.LSTM lstm)
                {
                    var layer = LstmLayer(lstm);
                    layers.TryAdd(layer.Description, layer);
                    layers.TryAdd(LstmFamily.Description, LstmFamily);
                }
            }
        }
        return [.. layers.Values];
    }

    /// <summary>
    /// Why oneDNN disagrees with ATen for <paramref name="layer"/> on this CPU (what, and by how much), or null when they agree;
    /// checked once per configuration and process. Leaves the thread count and the global random state as they were, and oneDNN
    /// in whichever state <paramref name="setOneDnn"/> last set. Call it holding <see cref="TorchRuntime.TrainingLock"/>.
    /// </summary>
    public static string? Disagreement(Layer layer, Action<bool> setOneDnn)
    {
        lock (s_verdicts)
        {
            if (!s_verdicts.TryGetValue(layer.Description, out string? verdict))
            {
                verdict = Check(layer, setOneDnn);
                s_verdicts[layer.Description] = verdict;
            }
            return verdict;
        }
    }

    /// <summary>The verdict for <paramref name="layer"/> when it has been checked (or set) in this process: true, with <paramref name="disagreement"/>.</summary>
    public static bool TryGetVerdict(Layer layer, out string? disagreement)
    {
        lock (s_verdicts)
        {
            return s_verdicts.TryGetValue(layer.Description, out disagreement);
        }
    }

    /// <summary>Records <paramref name="disagreement"/> as the verdict for layers described as <paramref name="description"/> (tests: what a CPU where they disagree gives).</summary>
    internal static void SetVerdict(string description, string? disagreement)
    {
        lock (s_verdicts)
        {
            s_verdicts[description] = disagreement;
        }
    }

    private static string? Check(Layer layer, Action<bool> setOneDnn)
    {
        var randomState = get_rng_state();
        int threads = get_num_threads();
        using var gradients = enable_grad(); // a prediction's check runs inside its no_grad
        try
        {
            foreach (int checkThreads in new[] { 1, Math.Min(2, Environment.ProcessorCount) }.Distinct())
            {
                set_num_threads(checkThreads);
                using var scope = NewDisposeScope();
                IReadOnlyList<(string What, Tensor Value)>? firstOneDnn = null;
                for (int round = 0; round < 2; round++)
                {
                    setOneDnn(false);
                    var aten = layer.Run();
                    setOneDnn(true);
                    var oneDnn = layer.Run();
                    for (int i = 0; i < aten.Count; i++)
                    {
                        double error = Error(aten[i].Value, oneDnn[i].Value);
                        if (error > Tolerance)
                        {
                            string by = double.IsInfinity(error) ? "NaN where ATen's is not" : $"{G(error)} away from ATen's";
                            return $"{layer.Description}: {oneDnn[i].What} {by} ({checkThreads} thread{(checkThreads == 1 ? "" : "s")})";
                        }
                        if (firstOneDnn is not null && !firstOneDnn[i].Value.equal(oneDnn[i].Value).all().item<bool>())
                        {
                            return $"{layer.Description}: {oneDnn[i].What} changed from run to run ({checkThreads} thread{(checkThreads == 1 ? "" : "s")})";
                        }
                    }
                    firstOneDnn = oneDnn;
                }
            }
            return null;
        }
        finally
        {
            set_num_threads(threads);
            set_rng_state(randomState);
        }
    }

    /// <summary>
    /// The check every LSTM's training needs besides its own configuration's: on the CPU where oneDNN's LSTM disagreed at hidden
    /// sizes 4 to 16, it agreed at 128 but trained the bench's LSTM 2.8 times slower than ATen's kernels (eng/bench <c>onednn</c>,
    /// 2026-12-05 21:02 UTC: 5.04 s against 1.81 s at one thread), where on CPUs where it agrees at every size it trained it 1.14
    /// to 1.54 times faster. So LSTMs train on oneDNN only where this small LSTM, wrong on that CPU, agrees too.
    /// </summary>
    private static readonly Layer LstmFamily = LstmLayer(3, 4, 1, bidirectional: true, bias: true, family: "any LSTM, as oneDNN's ");

    /// <summary>
    /// Why oneDNN disagrees with ATen on this CPU for the two layers that showed it first (an LSTM of 3 inputs and hidden size 4,
    /// bidirectional, and a dilated 3x3 transposed convolution of 2 channels), or null when both agree: the choice the process rests
    /// on outside a training (<see cref="TorchRuntime"/>). Leaves the global random state as it was.
    /// </summary>
    public static string? ProcessDisagreement(Action<bool> setOneDnn)
    {
        var randomState = get_rng_state();
        try
        {
            using var scope = NewDisposeScope();
            using var transposed = nn.ConvTranspose2d(2, 2, kernel_size: 3, dilation: 2, bias: false);
            var reasons = new[] { LstmFamily, ConvolutionLayer(transposed, [7, 6], inputGradient: true) }
                .Select(l => Disagreement(l, setOneDnn)).OfType<string>().ToList();
            return reasons.Count == 0 ? null : string.Join("; ", reasons);
        }
        finally
        {
            set_rng_state(randomState);
        }
    }

    /// <summary>Whether the first layer of <paramref name="architecture"/> with parameters is a convolution, in forward order.</summary>
    private static bool StartsWithConvolution(LayerSpec architecture)
    {
        if (architecture.SideInputs.Count > 0)
        {
            return false; // a conditioned network joins a learned embedding to its input
        }
        var first = Leaves(architecture).FirstOrDefault(l => l is not (Reshape or Flatten or Activation or Dropout or Dropout2d or MaxPooling
            or AveragePooling or GlobalAveragePool or Normalization));
        return first is Convolution;
    }

    /// <summary>The per-sample input shape of every convolution and transposed convolution of <paramref name="spec"/>, in forward order.</summary>
    private static IEnumerable<int[]> InputShapes(LayerSpec spec, IReadOnlyList<int> inputShape) => spec switch
    {
        Sequential sequential => sequential.Layers.Zip(sequential.ShapesThrough(inputShape)).SelectMany(p => InputShapes(p.First, p.Second)),
        Conditioned conditioned => InputShapes(conditioned.Body, conditioned.JoinedShape(inputShape)),
        Architectures.AutoencoderSpec autoencoder => InputShapes(autoencoder.Encoder, inputShape).Concat(InputShapes(autoencoder.Decoder, autoencoder.CodeShape(inputShape))),
        Convolution or ConvTranspose2d => [inputShape.ToArray()],
        _ => [],
    };

    /// <summary>Where the layers do not say a convolution's input size: sides of 4 and 8, or the smallest ones its kernel allows.</summary>
    private static IEnumerable<int[]> FallbackSides(TorchSharp.Modules.Convolution convolution)
        => new[] { 4, 8 }.Select(size => Enumerable.Range(0, convolution.weight!.shape.Length - 2).Select(d =>
        {
            int side = size;
            while (OutputSize(convolution, side, d) < 1)
            {
                side++;
            }
            return side;
        }).ToArray()).DistinctBy(s => string.Join("x", s));

    private static long OutputSize(TorchSharp.Modules.Convolution convolution, long size, int d)
    {
        long[] padding = (convolution.padding_mode == PaddingModes.Zeros ? convolution.padding : null) ?? new long[convolution.kernel_size.Length];
        long kernel = convolution.kernel_size[d], stride = convolution.stride[d], dilation = convolution.dilation[d];
        return convolution.padding_type == Padding.Same ? size
            : convolution.transposed ? (size - 1) * stride - 2 * padding[d] + dilation * (kernel - 1) + (convolution.output_padding?[d] ?? 0) + 1
            : (size + 2 * padding[d] - dilation * (kernel - 1) - 1) / stride + 1;
    }

    private static long InputChannels(TorchSharp.Modules.Convolution convolution)
        => convolution.transposed ? convolution.weight!.shape[0] : convolution.weight!.shape[1] * convolution.groups;

    private static IEnumerable<LayerSpec> Leaves(LayerSpec spec)
        => spec is Sequential or Architectures.AutoencoderSpec ? spec.Sublayers().SelectMany(Leaves) : [spec];

    private static Layer ConvolutionLayer(TorchSharp.Modules.Convolution convolution, long[] side, bool inputGradient)
    {
        long[] weightShape = convolution.weight!.shape;
        int rank = weightShape.Length - 2;
        bool transposed = convolution.transposed, same = convolution.padding_type == Padding.Same, bias = convolution.bias is not null;
        // Padding other than zeros is applied before the convolution, which then pads nothing.
        long[] padding = (convolution.padding_mode == PaddingModes.Zeros ? convolution.padding : null) ?? new long[rank];
        long[] kernel = convolution.kernel_size, stride = convolution.stride, dilation = convolution.dilation;
        long[] outputPadding = convolution.output_padding ?? new long[rank];
        long groups = convolution.groups, inputs = InputChannels(convolution);
        string kind = $"{(transposed ? "ConvTranspose" : "Conv")}{rank}d";
        string description = $"{kind}({inputs} to {convolution.out_channels} channels, kernel {Dims(kernel)}, stride {Dims(stride)}, " +
            $"padding {(same ? "same" : Dims(padding))}{(transposed ? $", output padding {Dims(outputPadding)}" : "")}, dilation {Dims(dilation)}, " +
            $"groups {groups}{(bias ? "" : ", no bias")}, input {string.Join("x", side)}{(inputGradient ? "" : ", without input gradient")})";
        Tensor Apply(Tensor x, Tensor w, Tensor? b) => (transposed, rank, same) switch
        {
            (true, 1, _) => nn.functional.conv_transpose1d(x, w, b, stride[0], padding[0], outputPadding[0], dilation[0], groups),
            (true, 2, _) => nn.functional.conv_transpose2d(x, w, b, stride, padding, outputPadding, dilation, groups),
            (true, _, _) => nn.functional.conv_transpose3d(x, w, b, stride, padding, outputPadding, dilation, groups),
            (false, 1, true) => nn.functional.conv1d_padding(x, w, b, stride[0], Padding.Same, dilation[0], groups),
            (false, 1, false) => nn.functional.conv1d(x, w, b, stride[0], padding[0], dilation[0], groups),
            (false, 2, true) => nn.functional.conv2d_padding(x, w, b, stride, Padding.Same, dilation, groups),
            (false, 2, false) => nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
            (false, _, true) => nn.functional.conv3d_padding(x, w, b, stride, Padding.Same, dilation, groups),
            (false, _, false) => nn.functional.conv3d(x, w, b, stride, padding, dilation, groups),
        };
        return new Layer(description, () =>
        {
            var weight = Values(weightShape, 0.3).requires_grad_(true);
            var biasValues = bias ? Values([convolution.out_channels], 0.4).requires_grad_(true) : null;
            var input = Values([CheckBatch, inputs, .. side], 0.7).requires_grad_(inputGradient);
            var results = new List<(string, Tensor)>();
            foreach (string step in new[] { "", " after a weight update" })
            {
                if (step.Length > 0)
                {
                    using (no_grad())
                    {
                        weight.add_(Values(weightShape, 0.9) * 0.05);
                    }
                }
                using (no_grad())
                {
                    results.Add(($"output without gradient{step}", Apply(input, weight, biasValues)));
                }
                weight.grad = null;
                input.grad = null;
                var output = Apply(input, weight, biasValues);
                (output * Values(output.shape, 1.3)).sum().backward();
                results.Add(($"output{step}", output.detach()));
                results.Add(($"weight gradient{step}", weight.grad!.clone()));
                if (inputGradient)
                {
                    results.Add(($"input gradient{step}", input.grad!.clone()));
                }
            }
            return results;
        });
    }

    private static Layer LstmLayer(TorchSharp.Modules.LSTM lstm)
    {
        var parameters = lstm.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        long hidden = parameters["weight_hh_l0"][1], inputs = parameters["weight_ih_l0"][1];
        long layers = parameters.Keys.Count(k => k.StartsWith("weight_ih_l", StringComparison.Ordinal) && !k.EndsWith("_reverse", StringComparison.Ordinal));
        return LstmLayer(inputs, hidden, layers, parameters.ContainsKey("weight_ih_l0_reverse"), parameters.ContainsKey("bias_ih_l0"));
    }

    private static Layer LstmLayer(long inputs, long hidden, long layers, bool bidirectional, bool bias, string? family = null)
    {
        string description = $"{family}LSTM({inputs} inputs, hidden size {hidden}, {layers} layer{(layers == 1 ? "" : "s")}" +
            $"{(bidirectional ? ", bidirectional" : "")}{(bias ? "" : ", no bias")})";
        return new Layer(description, () =>
        {
            var module = nn.LSTM(inputs, hidden, layers, bias, batchFirst: true, bidirectional: bidirectional);
            var weights = module.parameters().ToList();
            var input = Values([CheckBatch, 5, inputs], 0.7).requires_grad_(true);
            var results = new List<(string, Tensor)>();
            foreach (string step in new[] { "", " after a weight update" })
            {
                using (no_grad())
                {
                    for (int i = 0; i < weights.Count; i++)
                    {
                        weights[i].copy_(Values(weights[i].shape, 0.3 + 0.1 * i + (step.Length > 0 ? 0.05 : 0)));
                    }
                    // Validation and prediction (eval mode), and a training-mode pass without gradient.
                    module.eval();
                    results.Add(($"output in eval mode{step}", module.call(input).Item1));
                    module.train();
                    results.Add(($"output without gradient{step}", module.call(input).Item1));
                }
                module.zero_grad();
                input.grad = null;
                var output = module.call(input).Item1;
                (output * Values(output.shape, 1.3)).sum().backward();
                results.Add(($"output{step}", output.detach()));
                results.Add(($"input gradient{step}", input.grad!.clone()));
                results.Add(($"weight gradient{step}", cat(weights.Select(w => w.grad!.flatten()).ToArray())));
            }
            module.Dispose();
            return results;
        });
    }

    private static string Dims(long[] values) => values.Distinct().Count() == 1 ? $"{values[0]}" : string.Join("x", values);

    private static string G(double value) => value.ToString("G3", CultureInfo.InvariantCulture);

    /// <summary>Fixed values in [-1, 1] of <paramref name="shape"/>, different for each <paramref name="frequency"/>.</summary>
    private static Tensor Values(long[] shape, double frequency)
        => sin(arange(shape.Aggregate(1L, (a, d) => a * d), ScalarType.Float32) * frequency).reshape(shape);

    /// <summary>The largest difference relative to the largest expected value (at least 1); infinity where either holds NaN.</summary>
    private static double Error(Tensor expected, Tensor actual)
    {
        double error = (expected - actual).abs().max().item<float>() / Math.Max(1.0, expected.abs().max().item<float>());
        return double.IsNaN(error) ? double.PositiveInfinity : error;
    }
}
