using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

public sealed partial record Recurrent
{
    // ONNX element types used in Cast's "to" attribute (TensorProto.DataType).
    private const long OnnxFloat = 1, OnnxInt32 = 6, OnnxInt64 = 7;

    /// <summary>
    /// Emits one native ONNX <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> node per stacked layer. ONNX Runtime supports only
    /// <c>layout = 0</c>, so the sequence is made time-major [T, B, F] first, and each layer's Y [T, D, B, H]
    /// becomes [T, B, D*H] for the next. Variable length: <c>sequence_lens</c> on every node, the time axis trimmed
    /// to the batch's longest sequence, and explicit masks for the pooled outputs (padded steps are never trusted). A row
    /// whose input holds a NaN or an infinity gets NaN outputs (<see cref="OnnxGraphBuilder.PropagateNonFinite"/>): ONNX
    /// Runtime's LSTM and GRU kernels would give it finite ones.
    /// </summary>
    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => graph.PropagateNonFinite(input, inputShape.Count + 1, EmitCells(graph, input, module, inputShape), Output == RecurrentOutput.Sequence ? 3 : 2);

    private string EmitCells(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var recurrent = (RecurrentModule)module;
        int steps = Steps(inputShape);
        int width = Directions * HiddenSize;
        string x;
        string? axis1 = null, lengths = null, sequenceLengths = null, longest = null;
        if (!VariableLength)
        {
            x = graph.AddNode("Reshape", [input, graph.AddInt64Initializer("recurrent_shape", [0, steps, Features], 3)]);
        }
        else
        {
            // Column 0 holds each row's length L; the steps follow. Trim the time axis to the longest L of the batch.
            // (axis1 holds [1]: it is both the end of the length column and the axis sliced.)
            axis1 = graph.AddInt64Initializer("recurrent_axis1", [1], 1);
            string lengthColumn = graph.AddNode("Slice", [input, graph.AddInt64Initializer("recurrent_start", [0], 1), axis1, axis1]);
            lengths = graph.AddNode("Cast", [graph.AddNode("Squeeze", [lengthColumn, axis1])], ("to", OnnxInt64));
            sequenceLengths = graph.AddNode("Cast", [lengths], ("to", OnnxInt32));
            longest = graph.AddNode("ReduceMax", [lengths], ("keepdims", 1L));
            string values = graph.AddNode("Slice", [input, axis1, graph.AddInt64Initializer("recurrent_end", [long.MaxValue], 1), axis1]);
            values = graph.AddNode("Reshape", [values, graph.AddInt64Initializer("recurrent_shape", [0, steps, Features], 3)]);
            x = graph.AddNode("Slice", [values, graph.AddInt64Initializer("recurrent_start", [0], 1), longest, axis1]);
        }
        x = graph.AddNode("Transpose", [x], ("perm", new long[] { 1, 0, 2 }));

        string lastHidden = "";
        string layerShape = graph.AddInt64Initializer("recurrent_layer_shape", [0, 0, width], 3);
        for (int layer = 0; layer < Layers; layer++)
        {
            var (w, r, b) = LayerWeights(graph, recurrent, layer, layer == 0 ? Features : width);
            var operands = new List<string> { x, w, r, b };
            if (sequenceLengths is not null)
            {
                operands.Add(sequenceLengths);
            }
            string[] outputs = graph.AddNode(Cell.ToString().ToUpperInvariant(), operands, 2, NodeAttributes(Cell, HiddenSize, Directions, Nonlinearity));
            lastHidden = outputs[1];
            // Y [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H].
            x = graph.AddNode("Reshape", [graph.AddNode("Transpose", [outputs[0]], ("perm", new long[] { 0, 2, 1, 3 })), layerShape]);
        }

        if (Output == RecurrentOutput.Last)
        {
            // Y_h [D, B, H] -> [B, D, H] -> [B, D*H]: forward at step L-1, backward at step 0.
            string transposed = graph.AddNode("Transpose", [lastHidden], ("perm", new long[] { 1, 0, 2 }));
            return graph.AddNode("Reshape", [transposed, graph.AddInt64Initializer("recurrent_last_shape", [0, width], 2)]);
        }
        string sequence = graph.AddNode("Transpose", [x], ("perm", new long[] { 1, 0, 2 }));
        if (!VariableLength)
        {
            return Output switch
            {
                RecurrentOutput.Mean => graph.AddNode("ReduceMean", [sequence], ("axes", new long[] { 1 }), ("keepdims", 0L)),
                RecurrentOutput.Max => graph.AddNode("ReduceMax", [sequence], ("axes", new long[] { 1 }), ("keepdims", 0L)),
                _ => sequence,
            };
        }

        // valid[b, t] = t < L_b, as [B, T', 1] to broadcast over the features.
        string positions = graph.AddNode("Range", [
            graph.AddInt64Initializer("recurrent_zero", [0]),
            graph.AddNode("Squeeze", [longest!]),
            graph.AddInt64Initializer("recurrent_one", [1])]);
        string axis0 = graph.AddInt64Initializer("recurrent_axis0", [0], 1);
        string valid = graph.AddNode("Less", [graph.AddNode("Unsqueeze", [positions, axis0]), graph.AddNode("Unsqueeze", [lengths!, axis1!])]);
        valid = graph.AddNode("Unsqueeze", [valid, graph.AddInt64Initializer("recurrent_axis2", [2], 1)]);
        switch (Output)
        {
            case RecurrentOutput.Max:
            {
                string masked = graph.AddNode("Where", [valid, sequence, graph.AddInitializer("recurrent_lowest", [float.NegativeInfinity])]);
                return graph.AddNode("ReduceMax", [masked], ("axes", new long[] { 1 }), ("keepdims", 0L));
            }
            case RecurrentOutput.Mean:
            {
                string masked = graph.AddNode("Where", [valid, sequence, graph.AddInitializer("recurrent_zero", [0f])]);
                string sum = graph.AddNode("ReduceSum", [masked, axis1!], ("keepdims", 0L));
                string counts = graph.AddNode("Cast", [graph.AddNode("Unsqueeze", [lengths!, axis1!])], ("to", OnnxFloat));
                return graph.AddNode("Div", [sum, counts]);
            }
            default:
            {
                // Zeros at the padded steps, then padded back from T' to Tmax steps: pads = [0, 0, 0, 0, Tmax - T', 0].
                string masked = graph.AddNode("Where", [valid, sequence, graph.AddInitializer("recurrent_zero", [0f])]);
                string extra = graph.AddNode("Sub", [graph.AddInt64Initializer("recurrent_steps", [steps], 1), longest!]);
                string pads = graph.AddNode("Concat", [
                    graph.AddInt64Initializer("recurrent_pads_before", [0, 0, 0, 0], 4),
                    extra,
                    graph.AddInt64Initializer("recurrent_pads_after", [0], 1)], ("axis", 0L));
                return graph.AddNode("Pad", [masked, pads]);
            }
        }
    }

    /// <summary>One stacked layer's ONNX weights, from this layer's trained module.</summary>
    private (string W, string R, string B) LayerWeights(OnnxGraphBuilder graph, RecurrentModule module, int layer, int inputs)
        => EmitLayerWeights(graph, Cell, HiddenSize, Directions, layer, inputs, module.Parameter);

    /// <summary>
    /// One stacked layer's ONNX weights W [D, G*H, in], R [D, G*H, H] and B [D, 2*G*H] = [W_b, R_b], directions in
    /// the order forward, reverse, from PyTorch's <c>weight_ih_l{k}</c>, <c>weight_hh_l{k}</c>, <c>bias_ih_l{k}</c>,
    /// <c>bias_hh_l{k}</c> (suffix <c>_reverse</c> for the backward direction), read by <paramref name="parameter"/>.
    /// Shared by every exporter of a native <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c> (a sequence-to-sequence network's encoder and decoder too).
    /// </summary>
    internal static (string W, string R, string B) EmitLayerWeights(OnnxGraphBuilder graph, RecurrentCell cell, int hiddenSize, int directions,
        int layer, int inputs, Func<string, Tensor> parameter)
    {
        int rows = GateCount(cell) * hiddenSize;
        var w = new List<float>(directions * rows * inputs);
        var r = new List<float>(directions * rows * hiddenSize);
        var b = new List<float>(directions * 2 * rows);
        for (int direction = 0; direction < directions; direction++)
        {
            string suffix = $"_l{layer}{(direction == 1 ? "_reverse" : "")}";
            w.AddRange(ToOnnxGateOrder(cell, hiddenSize, ToArray(parameter("weight_ih" + suffix)), inputs));
            r.AddRange(ToOnnxGateOrder(cell, hiddenSize, ToArray(parameter("weight_hh" + suffix)), hiddenSize));
            b.AddRange(ToOnnxGateOrder(cell, hiddenSize, ToArray(parameter("bias_ih" + suffix)), 1));
            b.AddRange(ToOnnxGateOrder(cell, hiddenSize, ToArray(parameter("bias_hh" + suffix)), 1));
        }
        return (
            graph.AddInitializer("recurrent_W", w.ToArray(), directions, rows, inputs),
            graph.AddInitializer("recurrent_R", r.ToArray(), directions, rows, hiddenSize),
            graph.AddInitializer("recurrent_B", b.ToArray(), directions, 2 * rows));
    }

    /// <summary>The attributes of an ONNX <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> node that runs PyTorch's cell of <paramref name="cell"/>.</summary>
    internal static (string Name, object Value)[] NodeAttributes(RecurrentCell cell, int hiddenSize, int directions, RecurrentNonlinearity nonlinearity = RecurrentNonlinearity.Tanh)
    {
        var attributes = new List<(string, object)>
        {
            ("direction", directions == 2 ? "bidirectional" : "forward"),
            ("hidden_size", (long)hiddenSize),
        };
        if (cell == RecurrentCell.Gru)
        {
            attributes.Add(("linear_before_reset", 1L));
        }
        if (cell == RecurrentCell.Rnn)
        {
            string activation = nonlinearity == RecurrentNonlinearity.Relu ? "Relu" : "Tanh";
            attributes.Add(("activations", Enumerable.Repeat(activation, directions).ToArray()));
        }
        return [.. attributes];
    }

    /// <summary>
    /// Reorders the gate blocks (H rows of <paramref name="rowLength"/> values each) of one direction's weight or bias.
    /// PyTorch stacks LSTM gates as i, f, g, o and ONNX as i, o, f, c (c = PyTorch's g); PyTorch stacks GRU gates as
    /// r, z, n and ONNX as z, r, h (h = n, which with <c>linear_before_reset = 1</c> is PyTorch's formulation).
    /// ONNX block k is PyTorch block <c>order[k]</c>.
    /// </summary>
    private static float[] ToOnnxGateOrder(RecurrentCell cell, int hiddenSize, float[] values, int rowLength)
    {
        int[] order = cell switch
        {
            RecurrentCell.Lstm => [0, 3, 1, 2],
            RecurrentCell.Gru => [1, 0, 2],
            _ => [0],
        };
        int block = hiddenSize * rowLength;
        var reordered = new float[values.Length];
        for (int k = 0; k < order.Length; k++)
        {
            Array.Copy(values, order[k] * block, reordered, k * block, block);
        }
        return reordered;
    }
}
