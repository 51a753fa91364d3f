using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Onnx;
using static DeepArch.Trainers.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Architectures;

public sealed partial record SequenceToSequence
{
    /// <summary>The values of a decoding graph: tokens int64 [B, MaxTargetLength] (<see cref="Padding"/> after the last), lengths int64 [B], scores float [B].</summary>
    /// <remarks><see cref="Attention"/>, with attention: each decoded step's weights over the source steps, float [B, MaxTargetLength, S'] (S' the batch's longest source), zeros after the last step.</remarks>
    /// <remarks>A decoder that writes values gives its steps [B, MaxTargetLength * TargetFeatures] in <see cref="Tokens"/>, and no lengths, scores or attention.</remarks>
    internal sealed record DecodingValues(string Tokens, string? Lengths, string? Scores, string? Attention, string LongestSource);

    /// <summary>
    /// Emits the encoder (native <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> nodes over <c>sequence_lens</c>, time-major) and greedy decoding as one
    /// ONNX <c>Loop</c> of at most <see cref="MaxTargetLength"/> steps that stops once every row has emitted the end symbol. The
    /// body is one decoder step for the whole batch: embedding, one node per stacked layer, attention, the output layer, a
    /// log-softmax and its arg-max, exactly as <see cref="SequenceToSequenceModule.Decode"/> computes it.
    /// </summary>
    internal DecodingValues EmitDecoding(OnnxGraphBuilder graph, string input, SequenceToSequenceModule module)
    {
        string axis0 = graph.AddInt64Initializer("s2s_axis0", [0], 1), axis1 = graph.AddInt64Initializer("s2s_axis1", [1], 1);
        string axis2 = Attention == Attention.None ? "" : graph.AddInt64Initializer("s2s_axis2", [2], 1);
        int h = HiddenSize, width = Directions * h;

        // Column 0 holds each row's length L; the tokens follow. The time axis is trimmed to the batch's longest L.
        string lengths = graph.AddNode("Cast", [graph.AddNode("Squeeze", [graph.AddNode("Slice", [input, graph.AddInt64Initializer("s2s_zero1", [0], 1), axis1, axis1]), axis1])],
            ("to", (long)ElementType.Int64));
        string sequenceLengths = graph.AddNode("Cast", [lengths], ("to", OnnxInt32));
        string longest = graph.AddNode("ReduceMax", [lengths], ("keepdims", 1L));
        // valid[b, t] = t < L_b: the source tokens to read and the steps attention may weigh (neither, for values without attention).
        string valid = "";
        if (ReadsTokens || Attention != Attention.None)
        {
            string positions = graph.AddNode("Range", [graph.AddInt64Initializer("s2s_zero", [0]), graph.AddNode("Squeeze", [longest]), graph.AddInt64Initializer("s2s_one", [1])]);
            valid = graph.AddNode("Less", [graph.AddNode("Unsqueeze", [positions, axis0]), graph.AddNode("Unsqueeze", [lengths, axis1])]);
        }
        string embedded;
        if (ReadsTokens)
        {
            // Steps past a row's length may hold anything: they become token 0, which sequence_lens then keeps from the encoder.
            string sourceTokens = graph.AddNode("Where", [valid,
                graph.AddNode("Cast", [graph.AddNode("Slice", [input, axis1, graph.AddNode("Add", [longest, axis1]), axis1])], ("to", (long)ElementType.Int64)),
                graph.AddInt64Initializer("s2s_zero_token", [0])]);
            embedded = graph.AddNode("Gather", [graph.AddInitializer("s2s_source_embedding", ToArray(module.SourceEmbedding!.weight!), SourceTokens, EmbeddingSize), sourceTokens]);
        }
        else
        {
            // [B, 1 + Tmax * F] -> the steps [B, Tmax, F] -> the batch's longest [B, S', F]; sequence_lens keeps padded steps from the encoder.
            string steps = graph.AddNode("Slice", [input, axis1, graph.AddInt64Initializer("s2s_end_of_row", [long.MaxValue], 1), axis1]);
            steps = graph.AddNode("Reshape", [steps, graph.AddInt64Initializer("s2s_steps_shape", [0, MaxSourceLength, SourceFeatures], 3)]);
            embedded = graph.AddNode("Slice", [steps, graph.AddInt64Initializer("s2s_zero1", [0], 1), longest, axis1]);
        }

        // Encoder: [B, S', E] -> [S', B, E]; each layer's Y [S', D, B, H] -> [S', B, D*H] for the next.
        string x = graph.AddNode("Transpose", [embedded], ("perm", new long[] { 1, 0, 2 }));
        string layerShape = graph.AddInt64Initializer("s2s_layer_shape", [0, 0, width], 3);
        var finalHidden = new string[Layers];
        var finalCell = new string[Layers];
        for (int layer = 0; layer < Layers; layer++)
        {
            var (w, r, b) = Recurrent.EmitLayerWeights(graph, Cell, h, Directions, layer, layer == 0 ? (ReadsTokens ? EmbeddingSize : SourceFeatures) : width,
                name => SequenceToSequenceModule.RecurrentParameter(module.Encoder, name));
            string[] outputs = graph.AddNode(OperatorOf(Cell), [x, w, r, b, sequenceLengths], Cell == RecurrentCell.Lstm ? 3 : 2,
                Recurrent.NodeAttributes(Cell, h, Directions));
            x = graph.AddNode("Reshape", [graph.AddNode("Transpose", [outputs[0]], ("perm", new long[] { 0, 2, 1, 3 })), layerShape]);
            finalHidden[layer] = outputs[1];
            finalCell[layer] = Cell == RecurrentCell.Lstm ? outputs[2] : "";
        }
        string memory = graph.AddNode("Transpose", [x], ("perm", new long[] { 1, 0, 2 }));

        // The decoder's initial state [layers, B, H]: the encoder's, or per layer tanh(W [h_fwd; h_bwd] + b) when bidirectional.
        string hidden = graph.AddNode("Concat", finalHidden.Select(s => Bridge(graph, s, module.Bridge)).ToArray(), ("axis", 0L));
        string? cell = Cell == RecurrentCell.Lstm
            ? graph.AddNode("Concat", finalCell.Select(s => Bridge(graph, s, module.CellBridge)).ToArray(), ("axis", 0L))
            : null;

        // Attention's precomputed keys [B, S', H].
        string? keys = Attention == Attention.None ? null
            : graph.AddNode("MatMul", [memory, graph.AddInitializer("s2s_attention_keys", Transposed(module.AttentionKeys!.weight!, h, width), width, h)]);

        string rows = graph.AddNode("Slice", [graph.AddNode("Shape", [input]), graph.AddInt64Initializer("s2s_zero1", [0], 1), axis1]);
        var decoderWeights = Enumerable.Range(0, Layers).Select(layer => Recurrent.EmitLayerWeights(graph, Cell, h, 1, layer,
            layer == 0 ? (WritesTokens ? EmbeddingSize : TargetFeatures) : h, name => SequenceToSequenceModule.RecurrentParameter(module.Decoder, name))).ToArray();
        string? combineWeight = null, combineBias = null;
        if (Attention != Attention.None)
        {
            combineWeight = graph.AddInitializer("s2s_attention_combine_W", ToArray(module.AttentionCombine!.weight!), h, width + h);
            combineBias = graph.AddInitializer("s2s_attention_combine_B", ToArray(module.AttentionCombine.bias!), h);
        }
        var weights = new DecoderWeights(decoderWeights, keys, valid, memory, combineWeight, combineBias, axis0, axis1, axis2);
        int outputSize = WritesTokens ? TargetTokens + 1 : TargetFeatures;
        string outputWeight = graph.AddInitializer("s2s_output_W", ToArray(module.Output.weight!), outputSize, h);
        string outputBias = graph.AddInitializer("s2s_output_B", ToArray(module.Output.bias!), outputSize);
        if (!WritesTokens)
        {
            return EmitValueDecoding(graph, rows, hidden, cell, weights, outputWeight, outputBias);
        }

        // Loop-carried values start per row: the start symbol, not finished, no tokens, a score of 0.
        string start = graph.AddNode("Expand", [graph.AddInt64Initializer("s2s_end", [EndToken], 1), rows]);
        string notFinished = graph.AddNode("Expand", [graph.AddBoolInitializer("s2s_false", [false], 1), rows]);
        string noTokens = graph.AddNode("Expand", [graph.AddInt64Initializer("s2s_zero1", [0], 1), rows]);
        string noScore = graph.AddNode("Expand", [graph.AddInitializer("s2s_zero1f", [0f], 1), rows]);

        string? targetTable = graph.AddInitializer("s2s_target_embedding", ToArray(module.TargetEmbedding!.weight!), TargetTokens + 1, EmbeddingSize);
        string endToken = graph.AddInt64Initializer("s2s_end_scalar", [EndToken]);
        string padding = graph.AddInt64Initializer("s2s_padding", [Padding]);

        // One decoder step, for every row of the batch.
        var body = graph.CreateSubgraph("decode_step");
        body.AddInput("iteration", ElementType.Int64);
        body.AddInput("condition", ElementType.Bool);
        string previous = body.AddInput("previous", ElementType.Int64, Dimension.Batch);
        string state = body.AddInput("hidden", ElementType.Float, Layers, Dimension.Batch, h);
        string? cellState = cell is null ? null : body.AddInput("cell", ElementType.Float, Layers, Dimension.Batch, h);
        string finished = body.AddInput("finished", ElementType.Bool, Dimension.Batch);
        string counts = body.AddInput("lengths", ElementType.Int64, Dimension.Batch);
        string scores = body.AddInput("scores", ElementType.Float, Dimension.Batch);

        string step = body.AddNode("Unsqueeze", [body.AddNode("Gather", [targetTable!, previous]), axis0]);
        var (top, nextHidden, nextCell, stepWeights) = EmitDecoderStep(body, step, state, cellState, weights);
        string logProbabilities = body.AddNode("LogSoftmax", [body.AddNode("Gemm", [top, outputWeight, outputBias], ("transB", 1L))], ("axis", 1L));
        string token = body.AddNode("ArgMax", [logProbabilities], ("axis", 1L), ("keepdims", 0L));
        string best = body.AddNode("ReduceMax", [logProbabilities], ("axes", new long[] { 1 }), ("keepdims", 0L));
        string emitted = body.AddNode("Where", [finished, padding, token]);
        string nextScores = body.AddNode("Add", [scores, body.AddNode("Where", [finished, body.AddInitializer("s2s_zero_score", [0f]), best])]);
        string nextFinished = body.AddNode("Or", [finished, body.AddNode("Equal", [token, endToken])]);
        string running = body.AddNode("Cast", [body.AddNode("Not", [nextFinished])], ("to", (long)ElementType.Int64));
        string nextCounts = body.AddNode("Add", [counts, running]);
        string goOn = body.AddNode("Greater", [body.AddNode("ReduceSum", [running], ("keepdims", 0L)), body.AddInt64Initializer("s2s_none", [0])]);

        body.AddOutput(goOn, "condition", ElementType.Bool);
        body.AddOutput(token, "previous", ElementType.Int64, Dimension.Batch);
        body.AddOutput(body.AddNode("Concat", nextHidden, ("axis", 0L)), "hidden", ElementType.Float, Layers, Dimension.Batch, h);
        if (cellState is not null)
        {
            body.AddOutput(body.AddNode("Concat", nextCell, ("axis", 0L)), "cell", ElementType.Float, Layers, Dimension.Batch, h);
        }
        body.AddOutput(nextFinished, "finished", ElementType.Bool, Dimension.Batch);
        body.AddOutput(nextCounts, "lengths", ElementType.Int64, Dimension.Batch);
        body.AddOutput(nextScores, "scores", ElementType.Float, Dimension.Batch);
        body.AddOutput(emitted, "token", ElementType.Int64, Dimension.Batch);
        if (stepWeights is not null)
        {
            // A finished row's weights are zeros, like its padding.
            string kept = body.AddNode("Where", [body.AddNode("Unsqueeze", [finished, axis1]), body.AddInitializer("s2s_zero_weight", [0f]), stepWeights]);
            body.AddOutput(kept, "attention", ElementType.Float, Dimension.Batch, "source_steps");
        }

        var carried = new List<string> { start, hidden };
        if (cell is not null)
        {
            carried.Add(cell);
        }
        carried.AddRange([notFinished, noTokens, noScore]);
        int scans = stepWeights is null ? 1 : 2;
        string[] loop = graph.AddNode("Loop", [graph.AddInt64Initializer("s2s_max_steps", [MaxTargetLength]), graph.AddBoolInitializer("s2s_true", [true]), .. carried],
            carried.Count + scans, ("body", body));
        int k = cell is null ? 2 : 3;
        string finalLengths = loop[k + 1], finalScores = loop[k + 2];

        // The steps [T', B] -> [B, T'], the end symbol -> padding, padded to MaxTargetLength steps: pads = [0, 0, 0, MaxTargetLength - T'].
        string tokens = graph.AddNode("Transpose", [loop[carried.Count]], ("perm", new long[] { 1, 0 }));
        tokens = graph.AddNode("Where", [graph.AddNode("Equal", [tokens, endToken]), padding, tokens]);
        string taken = graph.AddNode("Slice", [graph.AddNode("Shape", [tokens]), axis1, graph.AddInt64Initializer("s2s_two", [2], 1)]);
        string extra = graph.AddNode("Sub", [graph.AddInt64Initializer("s2s_max_steps1", [MaxTargetLength], 1), taken]);
        string pads = graph.AddNode("Concat", [graph.AddInt64Initializer("s2s_pads_before", [0, 0, 0], 3), extra], ("axis", 0L));
        tokens = graph.AddNode("Pad", [tokens, pads, padding]);
        string? attention = null;
        if (stepWeights is not null)
        {
            // [T', B, S'] -> [B, T', S'], zeros after the last step: pads = [0, 0, 0, 0, MaxTargetLength - T', 0].
            attention = graph.AddNode("Transpose", [loop[carried.Count + 1]], ("perm", new long[] { 1, 0, 2 }));
            string attentionPads = graph.AddNode("Concat", [graph.AddInt64Initializer("s2s_attention_pads_before", [0, 0, 0, 0], 4), extra,
                graph.AddInt64Initializer("s2s_attention_pads_after", [0], 1)], ("axis", 0L));
            attention = graph.AddNode("Pad", [attention, attentionPads, graph.AddInitializer("s2s_attention_zero", [0f])]);
        }
        return new DecodingValues(tokens, finalLengths, finalScores, attention, longest);
    }

    private const long OnnxInt32 = 6;

    /// <summary>What every decoder step reads from the graph around it: the stacked layers' weights and the attention's values.</summary>
    private sealed record DecoderWeights((string W, string R, string B)[] Layers, string? Keys, string Valid, string Memory, string? CombineWeight, string? CombineBias,
        string Axis0, string Axis1, string Axis2);

    /// <summary>
    /// One decoder step in a loop body: <paramref name="step"/> [1, B, in] through each stacked layer (its state sliced from
    /// <paramref name="state"/> [layers, B, H]), then attention. Returns the attentional output [B, H], each layer's next states and
    /// the attention weights [B, S'] (null without attention).
    /// </summary>
    private (string Top, string[] NextHidden, string[] NextCell, string? Weights) EmitDecoderStep(OnnxGraphBuilder body, string step, string state, string? cellState,
        DecoderWeights weights)
    {
        int h = HiddenSize;
        var nextHidden = new string[Layers];
        var nextCell = new string[Layers];
        for (int layer = 0; layer < Layers; layer++)
        {
            string from = body.AddInt64Initializer("s2s_layer_from", [layer], 1), to = body.AddInt64Initializer("s2s_layer_to", [layer + 1], 1);
            var (w, r, b) = weights.Layers[layer];
            var operands = new List<string> { step, w, r, b, "", body.AddNode("Slice", [state, from, to, weights.Axis0]) };
            if (cellState is not null)
            {
                operands.Add(body.AddNode("Slice", [cellState, from, to, weights.Axis0]));
            }
            string[] outputs = body.AddNode(OperatorOf(Cell), operands, cellState is null ? 2 : 3, Recurrent.NodeAttributes(Cell, h, 1));
            step = body.AddNode("Squeeze", [outputs[0], weights.Axis1]); // Y [1, 1, B, H] -> [1, B, H]
            nextHidden[layer] = outputs[1];
            nextCell[layer] = cellState is null ? "" : outputs[2];
        }
        string top = body.AddNode("Squeeze", [step, weights.Axis0]);
        if (Attention == Attention.None)
        {
            return (top, nextHidden, nextCell, null);
        }
        string attentionScores = body.AddNode("Squeeze", [body.AddNode("MatMul", [weights.Keys!, body.AddNode("Unsqueeze", [top, weights.Axis2])]), weights.Axis2]);
        if (Attention == Attention.ScaledGeneral)
        {
            attentionScores = body.AddNode("Div", [attentionScores, body.AddInitializer("s2s_scale", [MathF.Sqrt(h)])]);
        }
        string masked = body.AddNode("Where", [weights.Valid, attentionScores, body.AddInitializer("s2s_lowest", [float.NegativeInfinity])]);
        string attention = body.AddNode("Softmax", [masked], ("axis", 1L));
        string context = body.AddNode("Squeeze", [body.AddNode("MatMul", [body.AddNode("Unsqueeze", [attention, weights.Axis1]), weights.Memory]), weights.Axis1]);
        top = body.AddNode("Tanh", [body.AddNode("Gemm", [body.AddNode("Concat", [context, top], ("axis", 1L)), weights.CombineWeight!, weights.CombineBias!], ("transB", 1L))]);
        return (top, nextHidden, nextCell, attention);
    }

    /// <summary>
    /// Decoding values: a <c>Loop</c> of exactly <see cref="MaxTargetLength"/> steps, each reading the step before (zeros first) and
    /// writing the next, [B, MaxTargetLength * TargetFeatures] (in <see cref="DecodingValues.Tokens"/>).
    /// </summary>
    private DecodingValues EmitValueDecoding(OnnxGraphBuilder graph, string rows, string hidden, string? cell, DecoderWeights weights, string outputWeight, string outputBias)
    {
        int h = HiddenSize, f = TargetFeatures;
        string start = graph.AddNode("Expand", [graph.AddInitializer("s2s_zero_step", new float[f], 1, f),
            graph.AddNode("Concat", [rows, graph.AddInt64Initializer("s2s_features", [f], 1)], ("axis", 0L))]);
        var body = graph.CreateSubgraph("decode_value_step");
        body.AddInput("iteration", ElementType.Int64);
        string condition = body.AddInput("condition", ElementType.Bool);
        string previous = body.AddInput("previous", ElementType.Float, Dimension.Batch, f);
        string state = body.AddInput("hidden", ElementType.Float, Layers, Dimension.Batch, h);
        string? cellState = cell is null ? null : body.AddInput("cell", ElementType.Float, Layers, Dimension.Batch, h);
        var (top, nextHidden, nextCell, _) = EmitDecoderStep(body, body.AddNode("Unsqueeze", [previous, weights.Axis0]), state, cellState, weights);
        string value = body.AddNode("Gemm", [top, outputWeight, outputBias], ("transB", 1L));
        body.AddOutput(body.AddNode("Identity", [condition]), "condition", ElementType.Bool);
        body.AddOutput(value, "previous", ElementType.Float, Dimension.Batch, f);
        body.AddOutput(body.AddNode("Concat", nextHidden, ("axis", 0L)), "hidden", ElementType.Float, Layers, Dimension.Batch, h);
        if (cellState is not null)
        {
            body.AddOutput(body.AddNode("Concat", nextCell, ("axis", 0L)), "cell", ElementType.Float, Layers, Dimension.Batch, h);
        }
        body.AddOutput(body.AddNode("Identity", [value]), "value", ElementType.Float, Dimension.Batch, f);
        var carried = cell is null ? new List<string> { start, hidden } : [start, hidden, cell];
        string[] loop = graph.AddNode("Loop", [graph.AddInt64Initializer("s2s_steps", [MaxTargetLength]), graph.AddBoolInitializer("s2s_true", [true]), .. carried],
            carried.Count + 1, ("body", body));
        // [T, B, F] -> [B, T, F] -> [B, T * F].
        string values = graph.AddNode("Transpose", [loop[^1]], ("perm", new long[] { 1, 0, 2 }));
        values = graph.AddNode("Reshape", [values, graph.AddInt64Initializer("s2s_values_shape", [0, MaxTargetLength * f], 2)]);
        return new DecodingValues(values, null, null, null, "");
    }

    private static string OperatorOf(RecurrentCell cell) => cell.ToString().ToUpperInvariant();

    /// <summary>A layer's final state [D, B, H] as the decoder's [1, B, H]: itself, or tanh(W [h_fwd; h_bwd] + b) for a bidirectional encoder.</summary>
    private string Bridge(OnnxGraphBuilder graph, string state, TorchSharp.Modules.Linear? bridge)
    {
        if (!Bidirectional)
        {
            return state;
        }
        string joined = graph.AddNode("Reshape", [graph.AddNode("Transpose", [state], ("perm", new long[] { 1, 0, 2 })),
            graph.AddInt64Initializer("s2s_bridge_shape", [0, 2 * HiddenSize], 2)]);
        string projected = graph.AddNode("Tanh", [graph.AddNode("Gemm", [joined,
            graph.AddInitializer("s2s_bridge_W", ToArray(bridge!.weight!), HiddenSize, 2 * HiddenSize),
            graph.AddInitializer("s2s_bridge_B", ToArray(bridge.bias!), HiddenSize)], ("transB", 1L))]);
        return graph.AddNode("Unsqueeze", [projected, graph.AddInt64Initializer("s2s_axis0", [0], 1)]);
    }

    /// <summary>A dense layer's weight [rows, columns] transposed to [columns, rows], for a <c>MatMul</c> on the right.</summary>
    private static float[] Transposed(Tensor weight, int rows, int columns)
    {
        float[] values = ToArray(weight);
        var transposed = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                transposed[c * rows + r] = values[r * columns + c];
            }
        }
        return transposed;
    }
}
