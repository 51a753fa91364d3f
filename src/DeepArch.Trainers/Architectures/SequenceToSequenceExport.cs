using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using static DeepArch.Trainers.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Architectures;

/// <summary>Sequences decoded greedily, row-major.</summary>
/// <param name="Tokens">Per row, <see cref="SequenceToSequence.MaxTargetLength"/> values: the tokens, then <see cref="SequenceToSequence.Padding"/>.</param>
/// <param name="Lengths">Per row, the number of tokens.</param>
/// <param name="Scores">Per row, the sum of the log-probabilities of its tokens and of the end symbol when it was emitted.</param>
public sealed record DecodedSequences(long[] Tokens, long[] Lengths, float[] Scores);

/// <summary>
/// Greedy decoding of a trained <see cref="SequenceToSequence"/> network, in TorchSharp (<see cref="Decode"/>) and as an ONNX
/// graph (<see cref="ExportOnnx"/>) whose one <c>Loop</c> decodes a whole batch in one run, in any ONNX runtime.
/// </summary>
public static class SequenceToSequenceExport
{
    /// <summary>The name of the decoded tokens' output: int64 [batch, MaxTargetLength], <see cref="SequenceToSequence.Padding"/> after the last token.</summary>
    public const string TokensOutput = "tokens";

    /// <summary>The name of the token counts' output: int64 [batch].</summary>
    public const string LengthsOutput = "lengths";

    /// <summary>The name of the scores' output: float [batch], the sum of the decoded tokens' log-probabilities (the end symbol's included).</summary>
    public const string ScoresOutput = "scores";

    /// <summary>
    /// With attention, the name of the attention weights' output: float [batch, MaxTargetLength, source steps], each decoded step's weights over
    /// the source tokens (each row of a step sums to 1), zeros after the last step and, in a numbered graph, past the longest source.
    /// </summary>
    public const string AttentionOutput = "attention";

    /// <summary>
    /// Writes <paramref name="network"/>'s greedy decoder as an ONNX model: input <paramref name="inputName"/> float [batch, 1 + MaxSourceLength]
    /// (the length, then the tokens), outputs <see cref="TokensOutput"/>, <see cref="LengthsOutput"/> and <see cref="ScoresOutput"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The network is not a <see cref="SequenceToSequence"/>.</exception>
    public static byte[] ExportOnnx(Network network, string inputName = "source", IReadOnlyDictionary<string, string>? metadata = null)
    {
        var spec = SpecOf(network);
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        var graph = new OnnxGraphBuilder();
        string input = graph.AddInput(inputName, network.InputShape);
        var decoded = spec.EmitDecoding(graph, input, (SequenceToSequence.SequenceToSequenceModule)network.Module);
        graph.AddOutput(decoded.Tokens, TokensOutput, ElementType.Int64, Dimension.Batch, spec.MaxTargetLength);
        graph.AddOutput(decoded.Lengths!, LengthsOutput, ElementType.Int64, Dimension.Batch);
        graph.AddOutput(decoded.Scores!, ScoresOutput, ElementType.Float, Dimension.Batch);
        if (decoded.Attention is not null)
        {
            graph.AddOutput(decoded.Attention, AttentionOutput, ElementType.Float, Dimension.Batch, spec.MaxTargetLength, "source_steps");
        }
        return graph.ToModelBytes(network, metadata);
    }

    /// <summary>
    /// Writes <paramref name="network"/>'s greedy decoder as a graph over an application's token numbers (ML.NET's key values):
    /// input <paramref name="inputName"/> float [batch, width] holding each row's length L, then L source numbers (any width of at
    /// least 1 + L; what follows is never read); <paramref name="sourceTokenOf"/>[number] is the network's source token of a number
    /// (a number outside the table, or mapped to -1, makes the run fail rather than decode garbage). Outputs: <paramref name="tokensOutput"/>
    /// float [batch, MaxTargetLength], the target numbers <paramref name="numberOfTargetToken"/>[token] of the decoded tokens, then 0;
    /// and <paramref name="scoreOutput"/> float [batch, 1], the decoded sequence's log-probability.
    /// </summary>
    internal static byte[] ExportNumberedOnnx(Network network, string inputName, IReadOnlyList<long> sourceTokenOf, IReadOnlyList<long> numberOfTargetToken,
        string tokensOutput, string scoreOutput, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var spec = SpecOf(network);
        if (numberOfTargetToken.Count != spec.TargetTokens)
        {
            throw new ArgumentException($"Expected a number for each of the {spec.TargetTokens} target tokens, got {numberOfTargetToken.Count}.", nameof(numberOfTargetToken));
        }
        var graph = new OnnxGraphBuilder();
        string input = graph.AddInput(inputName, ElementType.Float, Dimension.Batch, "source_width");
        string axis1 = graph.AddInt64Initializer("numbers_axis1", [1], 1);
        // [L, numbers...] -> [L, tokens...]: an unknown number maps to SourceTokens, which the embedding's Gather refuses.
        string lengthColumn = graph.AddNode("Slice", [input, graph.AddInt64Initializer("numbers_zero", [0], 1), axis1, axis1]);
        string numbers = graph.AddNode("Cast", [graph.AddNode("Slice", [input, axis1, graph.AddInt64Initializer("numbers_end", [long.MaxValue], 1), axis1])],
            ("to", (long)ElementType.Int64));
        long[] table = sourceTokenOf.Select(t => t < 0 ? spec.SourceTokens : t).ToArray();
        string tokens = graph.AddNode("Gather", [graph.AddInt64Initializer("numbers_source_tokens", table, table.Length), numbers]);
        string source = graph.AddNode("Concat", [lengthColumn, graph.AddNode("Cast", [tokens], ("to", (long)ElementType.Float))], ("axis", 1L));
        var decoded = spec.EmitDecoding(graph, source, (SequenceToSequence.SequenceToSequenceModule)network.Module);
        // Tokens -> numbers, padding (-1) -> 0: index t + 1 of [0, numbers...].
        long[] targetNumbers = [0, .. numberOfTargetToken];
        string shifted = graph.AddNode("Add", [decoded.Tokens, graph.AddInt64Initializer("numbers_one", [1])]);
        string targets = graph.AddNode("Gather", [graph.AddInt64Initializer("numbers_target_numbers", targetNumbers, targetNumbers.Length), shifted]);
        graph.AddOutput(graph.AddNode("Cast", [targets], ("to", (long)ElementType.Float)), tokensOutput, [spec.MaxTargetLength]);
        graph.AddOutput(graph.AddNode("Unsqueeze", [decoded.Scores!, axis1]), scoreOutput, [1]);
        if (decoded.Attention is not null)
        {
            // [B, MaxTargetLength, S'] -> [B, MaxTargetLength, MaxSourceLength]: zeros for the source steps past the batch's longest.
            string wider = graph.AddNode("Sub", [graph.AddInt64Initializer("numbers_max_source", [spec.MaxSourceLength], 1), decoded.LongestSource]);
            string pads = graph.AddNode("Concat", [graph.AddInt64Initializer("numbers_attention_pads", [0, 0, 0, 0, 0], 5), wider], ("axis", 0L));
            graph.AddOutput(graph.AddNode("Pad", [decoded.Attention, pads, graph.AddInitializer("numbers_attention_zero", [0f])]), AttentionOutput,
                [spec.MaxTargetLength, spec.MaxSourceLength]);
        }
        return graph.ToModelBytes(network, metadata, [1 + spec.MaxSourceLength]);
    }

    /// <summary>The name of a reconstructing detector's per-step errors output: float [batch, steps], each step's mean squared error.</summary>
    public const string StepErrorsOutput = "StepErrors";

    /// <summary>
    /// Writes a network that reads and writes values as a forecaster over fixed-length windows: input <paramref name="inputName"/> float
    /// [batch, MaxSourceLength * SourceFeatures] (no length in front: every window is MaxSourceLength steps), output <paramref name="outputName"/>
    /// float [batch, MaxTargetLength * TargetFeatures], the steps decoded autoregressively.
    /// </summary>
    public static byte[] ExportForecastOnnx(Network network, string inputName, string outputName, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var spec = ValueSpecOf(network);
        var graph = new OnnxGraphBuilder();
        string window = graph.AddInput(inputName, [spec.MaxSourceLength * spec.SourceFeatures]);
        var decoded = spec.EmitDecoding(graph, WithLength(graph, window, spec.MaxSourceLength), (SequenceToSequence.SequenceToSequenceModule)network.Module);
        // A window holding a NaN or an infinity forecasts NaN: the GRU kernels would turn it into finite values.
        graph.AddOutput(graph.PropagateNonFinite(window, 2, decoded.Tokens, 2), outputName, [spec.MaxTargetLength * spec.TargetFeatures]);
        return graph.ToModelBytes(network, metadata, [spec.MaxSourceLength * spec.SourceFeatures]);
    }

    /// <summary>
    /// Writes a network trained to reconstruct its windows backwards (the decoder writes the last step first; Malhotra et al., 2016) as an
    /// anomaly scorer: input <paramref name="inputName"/> float [batch, steps * features]; outputs <see cref="StepErrorsOutput"/> (each step's mean
    /// squared reconstruction error), <see cref="ForecasterScoringExport.ScoreOutput"/> (the largest step error, so that a fault anywhere in the
    /// window counts, standardized by <paramref name="standardization"/> when given; NaN for a window that is not all finite) and, with a
    /// <paramref name="threshold"/>, <see cref="ForecasterScoringExport.AnomalyOutput"/>.
    /// </summary>
    public static byte[] ExportReconstructionScoringOnnx(Network network, string inputName, (float Mean, float Std)? standardization = null, float? threshold = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var spec = ValueSpecOf(network);
        int steps = spec.MaxSourceLength, features = spec.SourceFeatures;
        if (spec.MaxTargetLength != steps || spec.TargetFeatures != features)
        {
            throw new ArgumentException($"A reconstructing network writes what it reads; {spec.Describe()} does not.", nameof(network));
        }
        AutoencoderScoringExport.CheckThreshold(threshold);
        AutoencoderScoringExport.CheckStandardization(standardization);
        var graph = new OnnxGraphBuilder();
        string window = graph.AddInput(inputName, [steps * features]);
        var decoded = spec.EmitDecoding(graph, WithLength(graph, window, steps), (SequenceToSequence.SequenceToSequenceModule)network.Module);
        // The decoder wrote the steps last first: turn them back, then each step's mean squared error.
        string reversed = graph.AddNode("Reshape", [decoded.Tokens, graph.AddInt64Initializer("reconstruction_shape", [0, steps, features], 3)]);
        string reconstruction = graph.AddNode("Gather", [reversed, graph.AddInt64Initializer("reverse_steps", Enumerable.Range(0, steps).Select(t => (long)(steps - 1 - t)).ToArray(), steps)],
            ("axis", 1L));
        string actual = graph.AddNode("Reshape", [window, graph.AddInt64Initializer("window_shape", [0, steps, features], 3)]);
        string difference = graph.AddNode("Sub", [reconstruction, actual]);
        string stepErrors = graph.AddNode("ReduceMean", [graph.AddNode("Mul", [difference, difference])], ("axes", new long[] { 2 }), ("keepdims", 0L));
        graph.AddOutput(stepErrors, StepErrorsOutput, [steps]);
        AutoencoderScoringExport.AddScoreOutputs(graph, window, graph.AddNode("ReduceMax", [stepErrors], ("axes", new long[] { 1 }), ("keepdims", 1L)),
            standardization, threshold);
        return graph.ToModelBytes(network, metadata, [steps * features]);
    }

    /// <summary>Rows of <paramref name="steps"/> steps [B, steps * F] as the network reads them, [B, 1 + steps * F]: the length in front.</summary>
    private static string WithLength(OnnxGraphBuilder graph, string window, int steps)
    {
        string rows = graph.AddNode("Slice", [graph.AddNode("Shape", [window]), graph.AddInt64Initializer("window_zero", [0], 1), graph.AddInt64Initializer("window_one", [1], 1)]);
        string shape = graph.AddNode("Concat", [rows, graph.AddInt64Initializer("window_one_column", [1], 1)], ("axis", 0L));
        string lengths = graph.AddNode("Expand", [graph.AddInitializer("window_length", [steps], 1, 1), shape]);
        return graph.AddNode("Concat", [lengths, window], ("axis", 1L));
    }

    /// <summary>The network's architecture, which must be an encoder–decoder of values.</summary>
    private static SequenceToSequence ValueSpecOf(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var spec = network.Architecture as SequenceToSequence
            ?? throw new ArgumentException($"Expected a SequenceToSequence network; got {network.Architecture.Describe()}.", nameof(network));
        return !spec.ReadsTokens && !spec.WritesTokens ? spec
            : throw new ArgumentException($"{spec.Describe()} reads or writes tokens; this export is for networks of values.", nameof(network));
    }

    /// <summary>Decodes <paramref name="rows"/> sources (row-major, 1 + MaxSourceLength values each) greedily in TorchSharp, in eval mode.</summary>
    public static DecodedSequences Decode(Network network, ReadOnlySpan<float> sources, int rows)
    {
        var spec = SpecOf(network);
        int width = 1 + spec.MaxSourceLength;
        if (rows < 1 || sources.Length != rows * width)
        {
            throw new ArgumentException($"Expected {rows} rows of {width} values ({rows * width}), got {sources.Length}.", nameof(sources));
        }
        float[] values = sources.ToArray();
        return network.OnItsOwnKernels(() =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            network.SetTraining(false);
            var input = tensor(values, [rows, width]).clone().to(network.Device);
            var decoded = ((SequenceToSequence.SequenceToSequenceModule)network.Module).Decode(input);
            return new DecodedSequences(decoded.Tokens.cpu().data<long>().ToArray(), decoded.Lengths.cpu().data<long>().ToArray(), decoded.Scores.cpu().data<float>().ToArray());
        });
    }

    /// <summary>
    /// The attention weights of decoding one source greedily: [steps decoded, source length] (each row sums to 1), or null
    /// for a network without attention; for an attention map.
    /// </summary>
    public static float[,]? AttentionMap(Network network, ReadOnlySpan<float> source)
    {
        var spec = SpecOf(network);
        float[] values = source.ToArray();
        // One choice of kernels for both passes (Decode, inside, runs on it as it is).
        return network.OnItsOwnKernels(() => AttentionMap(network, spec, Decode(network, values, 1), values));
    }

    private static float[,]? AttentionMap(Network network, SequenceToSequence spec, DecodedSequences decoded, float[] source)
    {
        int steps = (int)Math.Min(decoded.Lengths[0] + 1, spec.MaxTargetLength);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var module = (SequenceToSequence.SequenceToSequenceModule)network.Module;
        var input = tensor(source, [1, 1 + spec.MaxSourceLength]).to(network.Device);
        // The teacher-forced pass over the decoded tokens gives the same steps as decoding did.
        var previous = new long[steps];
        previous[0] = spec.EndToken;
        for (int t = 1; t < steps; t++)
        {
            previous[t] = decoded.Tokens[t - 1];
        }
        var encoding = module.Encode(input);
        var weights = module.AttentionWeights(module.DecoderOutputs(encoding, tensor(previous, [1, steps]).to(network.Device)), encoding);
        if (weights is null)
        {
            return null;
        }
        var values = weights.squeeze(0).cpu().contiguous();
        int sourceLength = (int)values.shape[1];
        var map = new float[steps, sourceLength];
        var flat = values.data<float>().ToArray();
        for (int t = 0; t < steps; t++)
        {
            for (int s = 0; s < sourceLength; s++)
            {
                map[t, s] = flat[t * sourceLength + s];
            }
        }
        return map;
    }

    /// <summary>The network's architecture, which must be an encoder–decoder that writes tokens.</summary>
    private static SequenceToSequence SpecOf(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var spec = network.Architecture as SequenceToSequence
            ?? throw new ArgumentException($"Expected a SequenceToSequence network; got {network.Architecture.Describe()}.", nameof(network));
        return spec.WritesTokens ? spec
            : throw new ArgumentException($"{spec.Describe()} writes values, not tokens: Network.Predict decodes it and Network.ExportOnnx exports its decoder.", nameof(network));
    }
}
