using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Gives each sample a new shape with the same number of values, read row-major: typically the first
/// layer of a convolutional network, turning a flat feature vector (what an ML.NET feature column holds)
/// into [channels, height, width] or [channels, length]. Exported as ONNX <c>Reshape</c> whose shape
/// starts with 0 (keep the batch dimension).
/// </summary>
public sealed record Reshape : LayerSpec
{
    private readonly int[] _shape;

    /// <summary>Creates a reshape to the per-sample <paramref name="shape"/>; every size at least 1.</summary>
    [System.Text.Json.Serialization.JsonConstructor]
    public Reshape(IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count == 0 || shape.Any(d => d < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(shape), Shapes.Format(shape), $"Reshape sizes must be at least 1; got {Shapes.Format(shape)}.");
        }
        _shape = shape.ToArray();
    }

    /// <summary>Creates a reshape to the per-sample <paramref name="shape"/>, e.g. <c>new Reshape(1, 8, 8)</c>.</summary>
    public Reshape(params int[] shape) : this((IReadOnlyList<int>)shape)
    {
    }

    /// <summary>The per-sample output shape.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <inheritdoc/>
    public override string Describe() => $"Reshape({Shapes.Format(_shape)})";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        int inputSize = Shapes.Size(inputShape), outputSize = Shapes.Size(_shape);
        if (inputSize != outputSize)
        {
            throw new ArgumentException(
                $"{Describe()}: shape {Shapes.Format(_shape)} holds {outputSize} values but the input {Shapes.Format(inputShape)} has {inputSize}.",
                nameof(inputShape));
        }
        return _shape.ToArray();
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return new ReshapeModule(_shape);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        // A leading 0 copies the batch dimension from the input (allowzero = 0, the default).
        long[] shape = [0, .. _shape.Select(d => (long)d)];
        return graph.AddNode("Reshape", [input, graph.AddInt64Initializer("reshape_shape", shape, shape.Length)]);
    }

    /// <summary>Compares the shapes element by element (an array field would compare by reference).</summary>
    public bool Equals(Reshape? other) => other is not null && _shape.AsSpan().SequenceEqual(other._shape);

    /// <inheritdoc/>
    public override int GetHashCode() => _shape.Aggregate(17, HashCode.Combine);

    /// <summary>The TorchSharp side: a view of each batch as [batch, ..shape].</summary>
    private sealed class ReshapeModule : nn.Module<Tensor, Tensor>
    {
        private readonly long[] _shape;

        public ReshapeModule(int[] shape) : base(nameof(Reshape))
        {
            _shape = shape.Select(d => (long)d).ToArray();
        }

        public override Tensor forward(Tensor input) => input.reshape([input.shape[0], .. _shape]);
    }
}
