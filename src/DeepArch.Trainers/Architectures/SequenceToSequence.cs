using System.Globalization;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// An encoder–decoder network that reads one token sequence and writes another (Sutskever et al., 2014; Cho et al., 2014):
/// an encoder RNN (an embedding of the source tokens; GRU, LSTM or Elman cells; stacked; optionally bidirectional, its two
/// final states projected into one) and a decoder RNN (an embedding of the previous output token, the same cell and depth,
/// optionally <see cref="DeepArch.Trainers.Attention"/> over the encoder's outputs, a dense layer over the target tokens and the end symbol).
/// </summary>
/// <remarks>
/// <para>
/// <b>Input</b>, per sample: <c>[1 + MaxSourceLength]</c> values, the first being the source length L (1 &lt;= L &lt;= MaxSourceLength)
/// and the next L the source tokens, whole numbers in [0, <see cref="SourceTokens"/>), stored as floats (the layout of a
/// variable-length <see cref="Recurrent"/> layer); padding after L is never read.
/// </para>
/// <para>
/// <b>Tokens.</b> Target tokens are 0 to <see cref="TargetTokens"/> - 1; <see cref="EndToken"/> (= <see cref="TargetTokens"/>)
/// is the end symbol the decoder emits last, and the start symbol it reads first. Training targets are rows of
/// <see cref="TargetWidth"/> values: the tokens, the end symbol, then <see cref="Padding"/> (-1).
/// </para>
/// <para>
/// <b>Output</b>, per sample: <c>[MaxTargetLength]</c> — greedy decoding, the most probable token at each step fed back until
/// the end symbol or <see cref="MaxTargetLength"/> tokens, the tokens as floats with -1 after the last. The exported graph
/// decodes inside one ONNX <c>Loop</c> (<see cref="SequenceToSequenceExport"/>), so that one run decodes a whole batch.
/// </para>
/// </remarks>
public sealed partial record SequenceToSequence : LayerSpec
{
    /// <summary>The value that fills a target row after its end symbol, and a decoded row after its last token.</summary>
    public const int Padding = -1;

    /// <summary>Creates an encoder–decoder.</summary>
    /// <param name="sourceTokens">The number of distinct source tokens; at least 1.</param>
    /// <param name="targetTokens">The number of distinct target tokens (without the end symbol); at least 1.</param>
    /// <param name="maxSourceLength">The most source tokens a sample holds; at least 1.</param>
    /// <param name="maxTargetLength">The most tokens decoding writes (without the end symbol); at least 1.</param>
    /// <param name="cell">The recurrent cell of the encoder and the decoder.</param>
    /// <param name="hiddenSize">The hidden state of each RNN (of each direction of the encoder); at least 1.</param>
    /// <param name="embeddingSize">The size of a token's embedding, in the encoder and the decoder; at least 1.</param>
    /// <param name="layers">The stacked layers of the encoder and of the decoder; at least 1.</param>
    /// <param name="bidirectional">Whether the encoder also reads the source backwards (its final states are projected to the decoder's size).</param>
    /// <param name="attention">How the decoder attends to the encoder's outputs.</param>
    /// <param name="dropout">During training only, the dropout rate on the embeddings, between stacked layers and before the output layer, in [0, 1).</param>
    /// <param name="sourceFeatures">
    /// 0 (default) when the source is tokens; else the source is a series of values, this many per step, and <paramref name="sourceTokens"/> must be 0:
    /// a sample is then the length L and L steps of values, <c>[1 + MaxSourceLength * sourceFeatures]</c>, read by the encoder as they are.
    /// </param>
    /// <param name="targetFeatures">
    /// 0 (default) when the target is tokens; else the decoder writes exactly <paramref name="maxTargetLength"/> steps of this many values each (no end
    /// symbol), reading zeros first and then each step it wrote (its targets while training), and <paramref name="targetTokens"/> must be 0.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">A size or rate is out of its range, or an enum value is undefined.</exception>
    /// <exception cref="ArgumentException">A side has both tokens and values, or neither.</exception>
    public SequenceToSequence(int sourceTokens, int targetTokens, int maxSourceLength, int maxTargetLength, RecurrentCell cell = RecurrentCell.Gru,
        int hiddenSize = 256, int embeddingSize = 64, int layers = 1, bool bidirectional = false, Attention attention = Attention.ScaledGeneral, float dropout = 0,
        int sourceFeatures = 0, int targetFeatures = 0)
    {
        RequireOneKind(sourceTokens, sourceFeatures, nameof(sourceTokens), nameof(sourceFeatures));
        RequireOneKind(targetTokens, targetFeatures, nameof(targetTokens), nameof(targetFeatures));
        RequireAtLeastOne(maxSourceLength, nameof(maxSourceLength));
        RequireAtLeastOne(maxTargetLength, nameof(maxTargetLength));
        RequireAtLeastOne(hiddenSize, nameof(hiddenSize));
        RequireAtLeastOne(embeddingSize, nameof(embeddingSize));
        RequireAtLeastOne(layers, nameof(layers));
        if (!Enum.IsDefined(cell))
        {
            throw new ArgumentOutOfRangeException(nameof(cell), cell, "Unknown recurrent cell; expected Rnn, Lstm or Gru.");
        }
        if (!Enum.IsDefined(attention))
        {
            throw new ArgumentOutOfRangeException(nameof(attention), attention, "Unknown attention; expected None, General or ScaledGeneral.");
        }
        if (!(dropout >= 0 && dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"SequenceToSequence dropout must be in [0, 1); got {dropout.ToString(CultureInfo.InvariantCulture)}.");
        }
        // The targets and the decoded tokens travel as floats: every token index must be exact in a float.
        const int MaxTokens = 1 << 24;
        if (sourceTokens >= MaxTokens || targetTokens >= MaxTokens)
        {
            throw new ArgumentOutOfRangeException(sourceTokens >= MaxTokens ? nameof(sourceTokens) : nameof(targetTokens),
                Math.Max(sourceTokens, targetTokens), $"A vocabulary may hold at most {MaxTokens - 1} tokens.");
        }
        SourceTokens = sourceTokens;
        TargetTokens = targetTokens;
        SourceFeatures = sourceFeatures;
        TargetFeatures = targetFeatures;
        MaxSourceLength = maxSourceLength;
        MaxTargetLength = maxTargetLength;
        Cell = cell;
        HiddenSize = hiddenSize;
        EmbeddingSize = embeddingSize;
        Layers = layers;
        Bidirectional = bidirectional;
        Attention = attention;
        Dropout = dropout;
    }

    /// <summary>The number of distinct source tokens; 0 when the source is values.</summary>
    public int SourceTokens { get; }

    /// <summary>The number of distinct target tokens, without the end symbol; 0 when the target is values.</summary>
    public int TargetTokens { get; }

    /// <summary>Values per source step when the source is a series of values; 0 when it is tokens.</summary>
    public int SourceFeatures { get; }

    /// <summary>Values per target step when the decoder writes values; 0 when it writes tokens.</summary>
    public int TargetFeatures { get; }

    /// <summary>Whether the decoder writes tokens (and stops at the end symbol) rather than a fixed number of steps of values.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool WritesTokens => TargetFeatures == 0;

    /// <summary>Whether the encoder reads tokens rather than steps of values.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool ReadsTokens => SourceFeatures == 0;

    /// <summary>Values per source step: 1 token, or <see cref="SourceFeatures"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    internal int SourceStepSize => ReadsTokens ? 1 : SourceFeatures;

    /// <summary>The most source tokens a sample holds.</summary>
    public int MaxSourceLength { get; }

    /// <summary>The most tokens decoding writes, without the end symbol.</summary>
    public int MaxTargetLength { get; }

    /// <summary>The recurrent cell of the encoder and the decoder.</summary>
    public RecurrentCell Cell { get; }

    /// <summary>The hidden size of each RNN (of each direction of the encoder).</summary>
    public int HiddenSize { get; }

    /// <summary>The size of a token's embedding.</summary>
    public int EmbeddingSize { get; }

    /// <summary>The stacked layers of the encoder and of the decoder.</summary>
    public int Layers { get; }

    /// <summary>Whether the encoder is bidirectional.</summary>
    public bool Bidirectional { get; }

    /// <summary>How the decoder attends to the encoder's outputs.</summary>
    public Attention Attention { get; }

    /// <summary>The dropout rate during training.</summary>
    public float Dropout { get; }

    /// <summary>The end symbol the decoder emits last, and the start symbol it reads first: <see cref="TargetTokens"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int EndToken => TargetTokens;

    /// <summary>Values per training target row: <see cref="MaxTargetLength"/> tokens and the end symbol; or <see cref="MaxTargetLength"/> steps of <see cref="TargetFeatures"/> values.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int TargetWidth => WritesTokens ? MaxTargetLength + 1 : MaxTargetLength * TargetFeatures;

    /// <summary>The per-sample input shape: <c>[1 + MaxSourceLength]</c> for tokens, <c>[1 + MaxSourceLength * SourceFeatures]</c> for values.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int[] InputShape => [1 + MaxSourceLength * SourceStepSize];

    [System.Text.Json.Serialization.JsonIgnore]
    private int Directions => Bidirectional ? 2 : 1;

    [System.Text.Json.Serialization.JsonIgnore]
    private int Gates => Recurrent.GateCount(Cell);

    /// <inheritdoc/>
    public override string Describe()
    {
        var parts = new List<string>
        {
            $"{(ReadsTokens ? $"{SourceTokens} tokens" : $"{SourceFeatures} values per step")} -> {(WritesTokens ? $"{TargetTokens} tokens" : $"{TargetFeatures} values per step")}",
            $"{Cell.ToString().ToUpperInvariant()} {HiddenSize.ToString(CultureInfo.InvariantCulture)}",
        };
        if (Layers > 1)
        {
            parts.Add($"{Layers} layers");
        }
        if (Bidirectional)
        {
            parts.Add("bidirectional encoder");
        }
        if (Attention != Attention.None)
        {
            parts.Add($"{Attention} attention");
        }
        parts.Add($"at most {MaxSourceLength} in, {MaxTargetLength} out");
        return $"SequenceToSequence({string.Join(", ", parts)})";
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        CheckInputShape(inputShape);
        return [WritesTokens ? MaxTargetLength : MaxTargetLength * TargetFeatures];
    }

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        CheckInputShape(inputShape);
        long h = HiddenSize, e = EmbeddingSize, width = (long)Directions * HiddenSize, outputs = WritesTokens ? TargetTokens + 1L : TargetFeatures;
        long total = ReadsTokens ? (long)SourceTokens * e + RecurrentParameters(e, Directions) : RecurrentParameters(SourceFeatures, Directions);
        total += WritesTokens ? outputs * e + RecurrentParameters(e, 1) : RecurrentParameters(TargetFeatures, 1);
        if (Bidirectional)
        {
            total += (Cell == RecurrentCell.Lstm ? 2 : 1) * (2 * h * h + h);
        }
        if (Attention != Attention.None)
        {
            total += width * h + (width + h) * h + h;
        }
        return total + h * outputs + outputs;
    }

    /// <summary>
    /// Without dropout (libtorch's global generator), each row's loss depends on that row alone: its source is packed to its own
    /// length, attention masks the steps past it, and its target's padding is masked.
    /// </summary>
    internal override bool RowsIndependentInTraining => Dropout == 0;

    /// <summary>The encoder's and decoder's steps keep their gates and states; the decoder's logits are kept at every step.</summary>
    internal override long ActivationValues(IReadOnlyList<int> inputShape)
    {
        CheckInputShape(inputShape);
        long perStep = (long)Layers * Directions * HiddenSize * (Gates + 2) + EmbeddingSize;
        return (MaxSourceLength + (long)MaxTargetLength + 1) * perStep + (MaxTargetLength + 1L) * (TargetTokens + TargetFeatures + 1L + 3L * HiddenSize);
    }

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        CheckInputShape(inputShape);
        return new SequenceToSequenceModule(this);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        CheckInputShape(inputShape);
        var decoded = EmitDecoding(graph, input, (SequenceToSequenceModule)module);
        return WritesTokens ? graph.AddNode("Cast", [decoded.Tokens], ("to", (long)OnnxGraphBuilder.ElementType.Float)) : decoded.Tokens;
    }

    /// <summary>The parameters of one stacked RNN reading <paramref name="inputs"/> values per step.</summary>
    private long RecurrentParameters(long inputs, int directions)
    {
        long rows = (long)Gates * HiddenSize, total = 0;
        for (int layer = 0; layer < Layers; layer++)
        {
            long layerInputs = layer == 0 ? inputs : (long)directions * HiddenSize;
            total += directions * (rows * (layerInputs + HiddenSize) + 2 * rows);
        }
        return total;
    }

    private void CheckInputShape(IReadOnlyList<int> inputShape)
    {
        int size = RequireVector(inputShape);
        if (size != InputShape[0])
        {
            throw new ArgumentException(ReadsTokens
                ? $"{Describe()} takes 1 + MaxSourceLength = {InputShape[0]} values per sample (the length, then the tokens); got {size}."
                : $"{Describe()} takes 1 + MaxSourceLength * SourceFeatures = {InputShape[0]} values per sample (the length, then the steps); got {size}.", nameof(inputShape));
        }
    }

    private static void RequireOneKind(int tokens, int features, string tokensName, string featuresName)
    {
        if (tokens < 0 || features < 0 || (tokens > 0) == (features > 0))
        {
            throw new ArgumentException(
                $"SequenceToSequence needs either {tokensName} or {featuresName} above 0 (tokens or values), and the other 0; got {tokens} and {features}.", tokens <= 0 ? tokensName : featuresName);
        }
    }

    private static void RequireAtLeastOne(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"SequenceToSequence {name} must be at least 1; got {value}.");
        }
    }
}
