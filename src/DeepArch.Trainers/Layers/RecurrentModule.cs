using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using PackedSequence = TorchSharp.torch.nn.utils.rnn.PackedSequence;

namespace DeepArch.Trainers.Layers;

public sealed partial record Recurrent
{
    /// <summary>
    /// A native <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c>, batch first, whose parameters are PyTorch's (<c>weight_ih_l0</c>, ...); the
    /// dropout applies between stacked layers only, as PyTorch does (which warns about it with a single layer, so it is 0 then).
    /// Every DeepArch layer that runs a native recurrent module builds it here.
    /// </summary>
    internal static nn.Module CreateNative(RecurrentCell cell, int inputs, int hiddenSize, int layers, float dropout, bool bidirectional,
        RecurrentNonlinearity nonlinearity = RecurrentNonlinearity.Tanh)
    {
        double between = layers > 1 ? dropout : 0;
        return cell switch
        {
            RecurrentCell.Lstm => nn.LSTM(inputs, hiddenSize, layers, batchFirst: true, dropout: between, bidirectional: bidirectional),
            RecurrentCell.Gru => nn.GRU(inputs, hiddenSize, layers, batchFirst: true, dropout: between, bidirectional: bidirectional),
            _ => nn.RNN(inputs, hiddenSize, layers, nonlinearity == RecurrentNonlinearity.Relu ? nn.NonLinearities.ReLU : nn.NonLinearities.Tanh,
                batchFirst: true, dropout: between, bidirectional: bidirectional),
        };
    }

    /// <summary>The trained parameter <paramref name="name"/> of a native module (e.g. <c>weight_ih_l0_reverse</c>); <paramref name="owner"/> names it in the error.</summary>
    internal static Tensor NativeParameter(nn.Module rnn, string name, string owner)
        => rnn.named_parameters().FirstOrDefault(p => p.name == name).parameter
           ?? throw new InvalidOperationException($"The {owner} module has no parameter '{name}'.");

    /// <summary>Runs a native module from <paramref name="state"/> (zeros when null). An LSTM also hands over its cell state; a GRU and an Elman RNN only their hidden state.</summary>
    internal static (Tensor Output, (Tensor Hidden, Tensor? Cell) State) RunNative(nn.Module rnn, Tensor x, (Tensor Hidden, Tensor? Cell)? state)
    {
        if (rnn is LSTM lstm)
        {
            var (lstmOutput, lstmHidden, cell) = lstm.call(x, state is { } s ? (s.Hidden, s.Cell!) : null);
            return (lstmOutput, (lstmHidden, cell));
        }
        var (output, hidden) = rnn is GRU gru ? gru.call(x, state?.Hidden) : ((RNN)rnn).call(x, state?.Hidden);
        return (output, (hidden, null));
    }

    /// <summary>Runs a native module over a packed batch, from zeros.</summary>
    internal static (PackedSequence Output, (Tensor Hidden, Tensor? Cell) State) RunNativePacked(nn.Module rnn, PackedSequence x)
    {
        if (rnn is LSTM lstm)
        {
            var (lstmOutput, lstmHidden, cell) = lstm.call(x);
            return (lstmOutput, (lstmHidden, cell));
        }
        var (output, hidden) = rnn is GRU gru ? gru.call(x) : ((RNN)rnn).call(x);
        return (output, (hidden, null));
    }

    /// <summary>
    /// The TorchSharp side of <see cref="Recurrent"/>: a native <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c> (batch first,
    /// child "rnn", so its parameters are PyTorch's <c>rnn.weight_ih_l0</c>, ...) between the flat input and the output.
    /// </summary>
    internal sealed class RecurrentModule : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module rnn;
        private readonly Recurrent _spec;
        private readonly int _steps;

        public RecurrentModule(Recurrent spec, int steps) : base(nameof(Recurrent))
        {
            _spec = spec;
            _steps = steps;
            rnn = CreateNative(spec.Cell, spec.Features, spec.HiddenSize, spec.Layers, spec.Dropout, spec.Bidirectional, spec.Nonlinearity);
            RegisterComponents();
        }

        /// <summary>The trained parameter <paramref name="name"/> of the native module, e.g. <c>weight_ih_l0_reverse</c>.</summary>
        public Tensor Parameter(string name) => NativeParameter(rnn, name, _spec.Describe());

        public override Tensor forward(Tensor input)
        {
            long batch = input.shape[0];
            if (!_spec.VariableLength)
            {
                var x = input.reshape(batch, _steps, _spec.Features);
                var (output, hidden) = training && _spec.TruncatedSteps > 0 && _spec.TruncatedSteps < _steps
                    ? RunTruncated(x)
                    : Run(x, null);
                return Pool(output, hidden, null, null);
            }

            long[] lengths = ReadLengths(input);
            long longest = lengths.Max();
            var values = input.narrow(1, 1, (long)_steps * _spec.Features).reshape(batch, _steps, _spec.Features).narrow(1, 0, longest);
            using var lengthsCpu = tensor(lengths);
            var packed = nn.utils.rnn.pack_padded_sequence(values, lengthsCpu, batch_first: true, enforce_sorted: false);
            var (packedOutput, packedHidden) = RunPacked(packed);
            Tensor? padded = null;
            if (_spec.Output != RecurrentOutput.Last)
            {
                // Zeros at the padded steps; the Sequence output is padded back to Tmax.
                long total = _spec.Output == RecurrentOutput.Sequence ? _steps : longest;
                padded = nn.utils.rnn.pad_packed_sequence(packedOutput, batch_first: true, total_length: total).Item1;
            }
            return Pool(padded, packedHidden, lengths, input.device);
        }

        /// <summary>
        /// The per-row lengths of a variable-length batch, checked here so that a bad row gives a clear error
        /// instead of a native failure (or silently wrong output) inside the packing.
        /// </summary>
        private long[] ReadLengths(Tensor input)
        {
            float[] values = ToArray(input.narrow(1, 0, 1));
            var lengths = new long[values.Length];
            for (int row = 0; row < values.Length; row++)
            {
                float length = values[row];
                if (!(length >= 1 && length <= _steps && length == MathF.Floor(length)))
                {
                    throw new ArgumentException(
                        $"Row {row} has sequence length {length.ToString(CultureInfo.InvariantCulture)}; {_spec.Describe()} needs the first value of each row to be a whole number of steps in [1, {_steps}].",
                        nameof(input));
                }
                lengths[row] = (long)length;
            }
            return lengths;
        }

        /// <summary>
        /// Truncated backpropagation through time: the first T - K steps run without gradients; their final state
        /// (detached, as it holds no graph) starts the last K steps, which backpropagate. The no-gradient outputs are
        /// kept so that Mean, Max and Sequence still see every step.
        /// </summary>
        private (Tensor Output, (Tensor Hidden, Tensor? Cell) State) RunTruncated(Tensor x)
        {
            long head = _steps - _spec.TruncatedSteps;
            Tensor headOutput;
            (Tensor Hidden, Tensor? Cell) headState;
            using (no_grad())
            {
                (headOutput, headState) = Run(x.narrow(1, 0, head), null);
            }
            var (tailOutput, tailState) = Run(x.narrow(1, head, _spec.TruncatedSteps), (headState.Hidden.detach(), headState.Cell?.detach()));
            return (cat([headOutput.detach(), tailOutput], 1), tailState);
        }

        private (Tensor Output, (Tensor Hidden, Tensor? Cell) State) Run(Tensor x, (Tensor Hidden, Tensor? Cell)? state) => RunNative(rnn, x, state);

        private (PackedSequence Output, (Tensor Hidden, Tensor? Cell) State) RunPacked(PackedSequence x) => RunNativePacked(rnn, x);

        /// <summary>
        /// Reduces the last layer's outputs [B, T', D*H] (zeros at padded steps) or final hidden states to the layer's output.
        /// <paramref name="lengths"/> is null for fixed-length input.
        /// </summary>
        private Tensor Pool(Tensor? output, (Tensor Hidden, Tensor? Cell) state, long[]? lengths, Device? device)
        {
            int directions = _spec.Directions;
            switch (_spec.Output)
            {
                case RecurrentOutput.Last:
                {
                    // h_n is [layers * D, B, H], layer-major; the last layer's D rows -> [B, D * H] as [fwd, bwd].
                    var last = state.Hidden.narrow(0, (_spec.Layers - 1) * directions, directions);
                    return last.permute(1, 0, 2).reshape(last.shape[1], directions * _spec.HiddenSize);
                }
                case RecurrentOutput.Sequence:
                    return output!;
                case RecurrentOutput.Mean when lengths is null:
                    return output!.mean([1]);
                case RecurrentOutput.Max when lengths is null:
                    return output!.amax([1]);
                case RecurrentOutput.Mean:
                {
                    // Padded steps are zeros, so the sum covers the valid steps only.
                    var counts = tensor(lengths!.Select(l => (float)l).ToArray(), device: device).unsqueeze(1);
                    return output!.sum([1]).div(counts);
                }
                default:
                {
                    long steps = output!.shape[1];
                    var padding = new bool[lengths!.Length * steps];
                    for (int row = 0; row < lengths.Length; row++)
                    {
                        for (long t = lengths[row]; t < steps; t++)
                        {
                            padding[row * steps + t] = true;
                        }
                    }
                    var mask = tensor(padding, [lengths.Length, steps, 1], device: device);
                    using Scalar lowest = float.NegativeInfinity.ToScalar();
                    return output.masked_fill(mask, lowest).amax([1]);
                }
            }
        }
    }
}
