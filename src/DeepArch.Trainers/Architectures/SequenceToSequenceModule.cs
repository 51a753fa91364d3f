using System.Globalization;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Architectures;

public sealed partial record SequenceToSequence
{
    /// <summary>What the encoder hands the decoder: its outputs, their projection for attention, which steps are real, and its final state.</summary>
    internal sealed record Encoding(Tensor Memory, Tensor? Keys, Tensor Valid, Tensor Hidden, Tensor? Cell);

    /// <summary>A batch decoded greedily: tokens [B, MaxTargetLength] (<see cref="Padding"/> after the last), their counts [B] and the sums of their log-probabilities [B], the end symbol's included.</summary>
    internal sealed record Decoded(Tensor Tokens, Tensor Lengths, Tensor Scores);

    /// <summary>
    /// The TorchSharp side of <see cref="SequenceToSequence"/>: source and target embeddings, a native encoder and decoder
    /// (<c>nn.GRU</c>/<c>nn.LSTM</c>/<c>nn.RNN</c>, batch first), the bridge from a bidirectional encoder's states, the attention's
    /// two dense layers, and the output layer. <see cref="Logits"/> is the teacher-forced pass training uses;
    /// <see cref="Decode"/> is greedy decoding, step by step, as the exported graph's <c>Loop</c> does it.
    /// </summary>
    internal sealed class SequenceToSequenceModule : nn.Module<Tensor, Tensor>
    {
        private readonly SequenceToSequence _spec;
        private readonly Embedding? _sourceEmbedding, _targetEmbedding;
        private readonly nn.Module _encoder, _decoder;
        private readonly Linear? _bridge, _cellBridge, _attentionKeys, _attentionCombine;
        private readonly Linear _output;
        private readonly TorchSharp.Modules.Dropout _dropout;

        public SequenceToSequenceModule(SequenceToSequence spec) : base(nameof(SequenceToSequence))
        {
            _spec = spec;
            int h = spec.HiddenSize, width = spec.Directions * h;
            _sourceEmbedding = spec.ReadsTokens ? nn.Embedding(spec.SourceTokens, spec.EmbeddingSize) : null;
            _encoder = Recurrent.CreateNative(spec.Cell, spec.ReadsTokens ? spec.EmbeddingSize : spec.SourceFeatures, h, spec.Layers, spec.Dropout, spec.Bidirectional);
            if (spec.Bidirectional)
            {
                _bridge = nn.Linear(2 * h, h);
                _cellBridge = spec.Cell == RecurrentCell.Lstm ? nn.Linear(2 * h, h) : null;
            }
            _targetEmbedding = spec.WritesTokens ? nn.Embedding(spec.TargetTokens + 1, spec.EmbeddingSize) : null;
            _decoder = Recurrent.CreateNative(spec.Cell, spec.WritesTokens ? spec.EmbeddingSize : spec.TargetFeatures, h, spec.Layers, spec.Dropout, bidirectional: false);
            if (spec.Attention != Attention.None)
            {
                _attentionKeys = nn.Linear(width, h, hasBias: false);
                _attentionCombine = nn.Linear(width + h, h);
            }
            _output = nn.Linear(h, spec.WritesTokens ? spec.TargetTokens + 1 : spec.TargetFeatures);
            _dropout = nn.Dropout(spec.Dropout);
            // Registered by name (optional parts only when present), so that parameters and state keys are stable.
            Register("source_embedding", _sourceEmbedding);
            register_module("encoder", _encoder);
            Register("bridge", _bridge);
            Register("cell_bridge", _cellBridge);
            Register("target_embedding", _targetEmbedding);
            register_module("decoder", _decoder);
            Register("attention_keys", _attentionKeys);
            Register("attention_combine", _attentionCombine);
            register_module("output", _output);
            register_module("dropout", _dropout);
        }

        public nn.Module Encoder => _encoder;
        public nn.Module Decoder => _decoder;
        public Embedding? SourceEmbedding => _sourceEmbedding;
        public Embedding? TargetEmbedding => _targetEmbedding;
        public Linear? Bridge => _bridge;
        public Linear? CellBridge => _cellBridge;
        public Linear? AttentionKeys => _attentionKeys;
        public Linear? AttentionCombine => _attentionCombine;
        public Linear Output => _output;

        /// <summary>The trained parameter <paramref name="name"/> of the encoder or decoder, e.g. <c>weight_ih_l0_reverse</c>.</summary>
        public static Tensor RecurrentParameter(nn.Module rnn, string name) => Recurrent.NativeParameter(rnn, name, "recurrent");

        /// <summary>Greedy decoding of a batch of sources, the tokens as floats; or the decoded steps of values (the <see cref="Networks.Network"/> contract).</summary>
        public override Tensor forward(Tensor input) => _spec.WritesTokens ? Decode(input).Tokens.to_type(ScalarType.Float32) : DecodeValues(input);

        /// <summary>
        /// The teacher-forced pass of a decoder that writes values: it reads zeros, then each target step but the last
        /// (<paramref name="targets"/> [B, MaxTargetLength * F]); the result is its prediction of every step, [B, MaxTargetLength * F].
        /// </summary>
        public Tensor Values(Tensor input, Tensor targets)
        {
            var encoding = Encode(input);
            long batch = input.shape[0];
            int steps = _spec.MaxTargetLength, features = _spec.TargetFeatures;
            var previous = cat([zeros([batch, 1, features], device: input.device), targets.view(batch, steps, features).narrow(1, 0, steps - 1)], 1);
            return _output.call(_dropout.call(Attend(DecoderOutputs(encoding, previous), encoding))).reshape(batch, steps * features);
        }

        /// <summary>Autoregressive decoding of values: zeros first, then each predicted step, <see cref="MaxTargetLength"/> steps, [B, MaxTargetLength * F].</summary>
        public Tensor DecodeValues(Tensor input)
        {
            var encoding = Encode(input);
            long batch = input.shape[0];
            var previous = zeros([batch, 1, _spec.TargetFeatures], device: input.device);
            var (hidden, cell) = (encoding.Hidden, encoding.Cell);
            var steps = new List<Tensor>();
            for (int t = 0; t < _spec.MaxTargetLength; t++)
            {
                Tensor outputs;
                (outputs, hidden, cell) = Run(_decoder, previous, hidden, cell);
                previous = _output.call(Attend(outputs, encoding));
                steps.Add(previous);
            }
            return cat(steps, 1).reshape(batch, _spec.MaxTargetLength * _spec.TargetFeatures);
        }

        /// <summary>
        /// The teacher-forced pass: the decoder reads <paramref name="previous"/> [B, T] (the start symbol, then the target
        /// tokens but the last) and the result is the logits [B, T, TargetTokens + 1] of each step's next token.
        /// </summary>
        public Tensor Logits(Tensor input, Tensor previous)
        {
            var encoding = Encode(input);
            return _output.call(_dropout.call(Attend(DecoderOutputs(encoding, previous), encoding)));
        }

        /// <summary>The decoder's top-layer outputs [B, T, H] reading <paramref name="previous"/> ([B, T] tokens, or [B, T, F] values) from the encoder's state.</summary>
        public Tensor DecoderOutputs(Encoding encoding, Tensor previous)
            => Run(_decoder, _targetEmbedding is null ? previous : _dropout.call(_targetEmbedding.call(previous)), encoding.Hidden, encoding.Cell).Outputs;

        /// <summary>Greedy decoding: the most probable token at each step, fed back, until every row has emitted the end symbol or <see cref="MaxTargetLength"/> tokens.</summary>
        public Decoded Decode(Tensor input)
        {
            var encoding = Encode(input);
            long batch = input.shape[0];
            var device = input.device;
            using Scalar end = _spec.EndToken.ToScalar();
            var previous = full([batch, 1], end, ScalarType.Int64, device);
            var finished = zeros([batch], ScalarType.Bool, device);
            var lengths = zeros([batch], ScalarType.Int64, device);
            var scores = zeros([batch], ScalarType.Float32, device);
            var (hidden, cell) = (encoding.Hidden, encoding.Cell);
            var steps = new List<Tensor>();
            using Scalar padding = Padding.ToScalar();
            for (int t = 0; t < _spec.MaxTargetLength; t++)
            {
                Tensor outputs;
                (outputs, hidden, cell) = Run(_decoder, _targetEmbedding!.call(previous), hidden, cell);
                var logProbabilities = nn.functional.log_softmax(_output.call(Attend(outputs, encoding)).squeeze(1), 1);
                var (best, token) = logProbabilities.max(1);
                steps.Add(token.masked_fill(finished, padding));
                scores = scores.add(best.masked_fill(finished, Scalars.Zero), Scalars.One);
                var ended = token.eq(end);
                lengths = lengths.add(finished.logical_or(ended).logical_not().to_type(ScalarType.Int64), Scalars.One);
                finished = finished.logical_or(ended);
                previous = token.unsqueeze(1);
                if (finished.all().item<bool>())
                {
                    break;
                }
            }
            // The end symbol itself is not a token of the output: every position from a row's end on holds the padding.
            var tokens = stack(steps, 1);
            tokens = tokens.masked_fill(tokens.eq(end), padding);
            if (tokens.shape[1] < _spec.MaxTargetLength)
            {
                tokens = nn.functional.pad(tokens, [0, _spec.MaxTargetLength - tokens.shape[1]], value: Padding);
            }
            return new Decoded(tokens, lengths, scores);
        }

        /// <summary>The encoder's pass over the valid steps of each source (packed), and the decoder's initial state.</summary>
        public Encoding Encode(Tensor input)
        {
            long batch = input.shape[0];
            long[] lengths = ReadSources(input);
            long longest = lengths.Max();
            // Numbers reach TorchSharp as held Scalars, arange's start and step too (arange(longest) would make temporary ones): see
            // Scalars in ScalarSafeOptimizers.cs.
            using Scalar stop = longest.ToScalar();
            var positions = arange(Scalars.Zero, stop, Scalars.One, device: input.device).unsqueeze(0);
            var valid = positions.lt(tensor(lengths, device: input.device).unsqueeze(1));
            Tensor embedded;
            if (_sourceEmbedding is not null)
            {
                // Steps past a row's length may hold anything: they become token 0, which the packing then never reads.
                var tokens = input.narrow(1, 1, longest).to_type(ScalarType.Int64).masked_fill(valid.logical_not(), Scalars.Zero);
                embedded = _dropout.call(_sourceEmbedding.call(tokens));
            }
            else
            {
                int features = _spec.SourceFeatures;
                embedded = input.narrow(1, 1, longest * features).reshape(batch, longest, features);
            }
            using var lengthsCpu = tensor(lengths);
            var packed = nn.utils.rnn.pack_padded_sequence(embedded, lengthsCpu, batch_first: true, enforce_sorted: false);
            var (packedOutput, (hidden, cell)) = Recurrent.RunNativePacked(_encoder, packed);
            var memory = nn.utils.rnn.pad_packed_sequence(packedOutput, batch_first: true, total_length: longest).Item1;
            if (_spec.Bidirectional)
            {
                hidden = Bridged(_bridge!, hidden);
                cell = cell is null ? null : Bridged(_cellBridge!, cell);
            }
            return new Encoding(memory, _attentionKeys?.call(memory), valid, hidden, cell);
        }

        /// <summary>[layers * 2, B, H], layer-major, forward then backward -> tanh(W [h_fwd; h_bwd] + b) per layer, [layers, B, H].</summary>
        private Tensor Bridged(Linear bridge, Tensor state)
        {
            long batch = state.shape[1];
            var joined = state.view(_spec.Layers, 2, batch, _spec.HiddenSize).permute(0, 2, 1, 3).reshape(_spec.Layers, batch, 2 * _spec.HiddenSize);
            return bridge.call(joined).tanh();
        }

        /// <summary>The attentional outputs [B, T, H] of the decoder's outputs [B, T, H]: the outputs themselves without attention.</summary>
        private Tensor Attend(Tensor outputs, Encoding encoding)
        {
            if (AttentionWeights(outputs, encoding) is not { } weights)
            {
                return outputs;
            }
            var context = weights.bmm(encoding.Memory);
            return _attentionCombine!.call(cat([context, outputs], 2)).tanh();
        }

        /// <summary>The attention weights [B, T, S] of the decoder's outputs [B, T, H] over the valid source steps; null without attention.</summary>
        public Tensor? AttentionWeights(Tensor outputs, Encoding encoding)
        {
            if (_attentionKeys is null)
            {
                return null;
            }
            var scores = outputs.bmm(encoding.Keys!.transpose(1, 2));
            if (_spec.Attention == Attention.ScaledGeneral)
            {
                using Scalar scale = MathF.Sqrt(_spec.HiddenSize).ToScalar();
                scores = scores.div(scale);
            }
            using Scalar lowest = float.NegativeInfinity.ToScalar();
            return nn.functional.softmax(scores.masked_fill(encoding.Valid.logical_not().unsqueeze(1), lowest), 2);
        }

        private static (Tensor Outputs, Tensor Hidden, Tensor? Cell) Run(nn.Module rnn, Tensor x, Tensor hidden, Tensor? cell)
        {
            var (outputs, state) = Recurrent.RunNative(rnn, x, (hidden, cell));
            return (outputs, state.Hidden, state.Cell);
        }

        /// <summary>
        /// The per-row source lengths, with every length and token checked, so that a bad row gives a clear error instead of a
        /// native failure inside the embedding or the packing.
        /// </summary>
        private long[] ReadSources(Tensor input)
        {
            using var cpu = input.detach().cpu().contiguous();
            var values = cpu.data<float>().ToArray();
            int width = _spec.InputShape[0];
            var lengths = new long[cpu.shape[0]];
            for (int row = 0; row < lengths.Length; row++)
            {
                float length = values[row * width];
                if (!(length >= 1 && length <= _spec.MaxSourceLength && length == MathF.Floor(length)))
                {
                    throw new ArgumentException(
                        $"Row {row} has source length {length.ToString(CultureInfo.InvariantCulture)}; {_spec.Describe()} needs the first value of each row to be a whole number in [1, {_spec.MaxSourceLength}].",
                        nameof(input));
                }
                lengths[row] = (long)length;
                for (int t = 1; _spec.ReadsTokens && t <= length; t++)
                {
                    float token = values[row * width + t];
                    if (!(token >= 0 && token < _spec.SourceTokens && token == MathF.Floor(token)))
                    {
                        throw new ArgumentException(
                            $"Row {row} has source token {token.ToString(CultureInfo.InvariantCulture)} at step {t - 1}; {_spec.Describe()} reads whole numbers in [0, {_spec.SourceTokens}).",
                            nameof(input));
                    }
                }
            }
            return lengths;
        }

        private void Register(string name, nn.Module? module)
        {
            if (module is not null)
            {
                register_module(name, module);
            }
        }
    }
}
