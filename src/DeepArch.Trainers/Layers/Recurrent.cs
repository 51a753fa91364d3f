using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A stack of recurrent layers (Elman RNN, LSTM or GRU; optionally bidirectional) over a sequence stored flat, the way
/// an ML.NET vector column holds it: batch-first, step-major, <c>x[t * Features + f]</c>.
/// </summary>
/// <remarks>
/// <para>
/// Fixed length: a sample is <c>[T * Features]</c> values. Variable length (<see cref="VariableLength"/>): a sample is
/// <c>[1 + Tmax * Features]</c> values, the first being the true number of steps L (an integer stored as a float,
/// 1 &lt;= L &lt;= Tmax) and the steps following, right-padded after L steps with any values: padded steps never
/// reach the output. Each batch is trimmed to its longest sequence before the recurrence runs.
/// </para>
/// <para>
/// TorchSharp runs <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c> (packed sequences when the length varies); ONNX
/// export writes one native <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> node per stacked layer, time-major, with
/// <c>sequence_lens</c> when the length varies (see <c>RecurrentOnnx.cs</c>).
/// </para>
/// </remarks>
public sealed partial record Recurrent : LayerSpec
{
    /// <summary>Creates a recurrent layer.</summary>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="hiddenSize">The size of the hidden state of each direction; at least 1.</param>
    /// <param name="features">The number of values per step; at least 1.</param>
    /// <param name="layers">The number of stacked layers; at least 1.</param>
    /// <param name="bidirectional">Whether each layer also runs the sequence backwards and concatenates both directions.</param>
    /// <param name="dropout">The dropout rate on the outputs of every layer but the last, during training only, in [0, 1); it has no effect with one layer.</param>
    /// <param name="output">What the layer outputs per sample.</param>
    /// <param name="variableLength">Whether each sample starts with its number of steps (see the remarks of <see cref="Recurrent"/>).</param>
    /// <param name="nonlinearity">The Elman cell's nonlinearity; LSTM and GRU take only <see cref="RecurrentNonlinearity.Tanh"/>.</param>
    /// <param name="truncatedSteps">
    /// Truncated backpropagation through time: when above 0, training backpropagates through the last
    /// <paramref name="truncatedSteps"/> steps only (the steps before run without gradients and hand over their state);
    /// 0 backpropagates through every step. Evaluation always runs the whole sequence. Needs a unidirectional,
    /// fixed-length layer. A value of at least the number of steps is full backpropagation.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">A size or rate is out of its range, or an enum value is undefined.</exception>
    /// <exception cref="ArgumentException">The options do not go together.</exception>
    public Recurrent(RecurrentCell cell, int hiddenSize, int features, int layers = 1, bool bidirectional = false,
        float dropout = 0, RecurrentOutput output = RecurrentOutput.Last, bool variableLength = false,
        RecurrentNonlinearity nonlinearity = RecurrentNonlinearity.Tanh, int truncatedSteps = 0)
    {
        if (!Enum.IsDefined(cell))
        {
            throw new ArgumentOutOfRangeException(nameof(cell), cell, "Unknown recurrent cell; expected Rnn, Lstm or Gru.");
        }
        if (hiddenSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(hiddenSize), hiddenSize, $"Recurrent hiddenSize must be at least 1; got {hiddenSize}.");
        }
        if (features < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(features), features, $"Recurrent features (values per step) must be at least 1; got {features}.");
        }
        if (layers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(layers), layers, $"Recurrent layers must be at least 1; got {layers}.");
        }
        if (!(dropout >= 0 && dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"Recurrent dropout must be in [0, 1); got {dropout.ToString(CultureInfo.InvariantCulture)}.");
        }
        if (!Enum.IsDefined(output))
        {
            throw new ArgumentOutOfRangeException(nameof(output), output, "Unknown recurrent output; expected Last, Mean, Max or Sequence.");
        }
        if (!Enum.IsDefined(nonlinearity))
        {
            throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "Unknown recurrent nonlinearity; expected Tanh or Relu.");
        }
        if (cell != RecurrentCell.Rnn && nonlinearity != RecurrentNonlinearity.Tanh)
        {
            throw new ArgumentException(
                $"Only the Elman cell (Rnn) takes a nonlinearity; {cell} has fixed gate nonlinearities, so leave it at Tanh (got {nonlinearity}).", nameof(nonlinearity));
        }
        if (truncatedSteps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(truncatedSteps), truncatedSteps, $"Recurrent truncatedSteps must be at least 0 (0 = full backpropagation); got {truncatedSteps}.");
        }
        if (truncatedSteps > 0 && bidirectional)
        {
            throw new ArgumentException(
                "Truncated backpropagation through time (truncatedSteps > 0) needs a unidirectional layer: the backward direction starts from the last step.", nameof(truncatedSteps));
        }
        if (truncatedSteps > 0 && variableLength)
        {
            throw new ArgumentException(
                "Truncated backpropagation through time (truncatedSteps > 0) needs fixed-length sequences: with variable lengths the last steps differ per row.", nameof(truncatedSteps));
        }
        Cell = cell;
        HiddenSize = hiddenSize;
        Features = features;
        Layers = layers;
        Bidirectional = bidirectional;
        Dropout = dropout;
        Output = output;
        VariableLength = variableLength;
        Nonlinearity = nonlinearity;
        TruncatedSteps = truncatedSteps;
    }

    /// <summary>The recurrent cell.</summary>
    public RecurrentCell Cell { get; }

    /// <summary>The size of the hidden state of each direction.</summary>
    public int HiddenSize { get; }

    /// <summary>The number of values per step.</summary>
    public int Features { get; }

    /// <summary>The number of stacked layers.</summary>
    public int Layers { get; }

    /// <summary>Whether each layer also runs the sequence backwards.</summary>
    public bool Bidirectional { get; }

    /// <summary>The dropout rate between stacked layers during training.</summary>
    public float Dropout { get; }

    /// <summary>What the layer outputs per sample.</summary>
    public RecurrentOutput Output { get; }

    /// <summary>Whether each sample starts with its number of steps.</summary>
    public bool VariableLength { get; }

    /// <summary>The Elman cell's nonlinearity (always <see cref="RecurrentNonlinearity.Tanh"/> for LSTM and GRU).</summary>
    public RecurrentNonlinearity Nonlinearity { get; }

    /// <summary>The number of last steps training backpropagates through; 0 for all of them.</summary>
    public int TruncatedSteps { get; }

    /// <summary>The number of directions: 2 when bidirectional, else 1.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>The number of steps T of a sample of <paramref name="inputShape"/> (the maximum, Tmax, when the length varies).</summary>
    /// <exception cref="ArgumentException">The shape is not a flat sequence of whole steps.</exception>
    public int Steps(IReadOnlyList<int> inputShape)
    {
        int size = RequireVector(inputShape);
        int values = VariableLength ? size - 1 : size;
        if (values < Features || values % Features != 0)
        {
            throw new ArgumentException(VariableLength
                ? $"{Describe()} takes 1 + Tmax * {Features} values per sample (the length, then Tmax steps of {Features} features); got {size}, and {size} - 1 is not a positive multiple of {Features}."
                : $"{Describe()} takes T * {Features} values per sample (T steps of {Features} features); got {size}, which is not a positive multiple of {Features}.",
                nameof(inputShape));
        }
        return values / Features;
    }

    /// <inheritdoc/>
    public override string Describe()
    {
        var parts = new List<string>
        {
            HiddenSize.ToString(CultureInfo.InvariantCulture),
            Layers == 1 ? "1 layer" : $"{Layers} layers",
        };
        if (Bidirectional)
        {
            parts.Add("bidirectional");
        }
        if (Cell == RecurrentCell.Rnn && Nonlinearity == RecurrentNonlinearity.Relu)
        {
            parts.Add("relu");
        }
        if (Dropout > 0)
        {
            parts.Add($"dropout {Dropout.ToString(CultureInfo.InvariantCulture)}");
        }
        if (VariableLength)
        {
            parts.Add("variable length");
        }
        if (TruncatedSteps > 0)
        {
            parts.Add($"truncated to {TruncatedSteps} steps");
        }
        parts.Add(Output.ToString().ToLowerInvariant());
        return $"{Cell.ToString().ToUpperInvariant()}({string.Join(", ", parts)})";
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        int steps = Steps(inputShape);
        int width = Directions * HiddenSize;
        return Output == RecurrentOutput.Sequence ? [steps, width] : [width];
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Per layer and direction, as PyTorch's <c>nn.RNN</c>/<c>LSTM</c>/<c>GRU</c> hold them: input and hidden weights of
    /// gates x hidden rows, and two biases; the first layer reads the step's features, the others both directions' states.
    /// </remarks>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        Steps(inputShape);
        long rows = (long)Gates * HiddenSize, total = 0;
        for (int layer = 0; layer < Layers; layer++)
        {
            long inputs = layer == 0 ? Features : (long)Directions * HiddenSize;
            total += Directions * (rows * (inputs + HiddenSize) + 2 * rows);
        }
        return total;
    }

    /// <summary>Without dropout between stacked layers (which draws from libtorch's global generator), each sequence's output is its own.</summary>
    internal override bool RowsIndependentInTraining => Dropout == 0 || Layers == 1;

    /// <summary>Every step of every layer and direction keeps its gates and its state (and an LSTM's cell) for the backward pass.</summary>
    internal override long ActivationValues(IReadOnlyList<int> inputShape)
        => (long)Steps(inputShape) * Layers * Directions * HiddenSize * (Gates + 2) + Shapes.LongSize(OutputShape(inputShape));

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => new RecurrentModule(this, Steps(inputShape));

    /// <summary>The number of gates of the cell, as stacked in its weights (PyTorch and ONNX alike).</summary>
    private int Gates => GateCount(Cell);

    /// <summary>The number of gates of <paramref name="cell"/>, as stacked in its weights (PyTorch and ONNX alike).</summary>
    internal static int GateCount(RecurrentCell cell) => cell switch
    {
        RecurrentCell.Lstm => 4,
        RecurrentCell.Gru => 3,
        _ => 1,
    };
}
