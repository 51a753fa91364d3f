using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>A chain of layers, each fed the output of the one before.</summary>
public sealed record Sequential : LayerSpec
{
    /// <summary>Creates a chain of <paramref name="layers"/>; there must be at least one.</summary>
    [System.Text.Json.Serialization.JsonConstructor]
    public Sequential(IReadOnlyList<LayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("A Sequential needs at least one layer.", nameof(layers));
        }
        if (layers.Any(l => l is null))
        {
            throw new ArgumentException("A Sequential's layers must not be null.", nameof(layers));
        }
        Layers = layers.ToArray();
    }

    /// <summary>Creates a chain of <paramref name="layers"/>.</summary>
    public Sequential(params LayerSpec[] layers) : this((IReadOnlyList<LayerSpec>)layers)
    {
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <inheritdoc/>
    public override string Describe() => $"Sequential({Layers.Count} layers)";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        IReadOnlyList<int> shape = inputShape;
        foreach (var layer in Layers)
        {
            shape = layer.OutputShape(shape);
        }
        return shape.ToArray();
    }

    /// <summary>The per-sample input shape of every layer, followed by the chain's output shape.</summary>
    public IReadOnlyList<int[]> ShapesThrough(IReadOnlyList<int> inputShape)
    {
        var shapes = new List<int[]> { inputShape.ToArray() };
        foreach (var layer in Layers)
        {
            shapes.Add(layer.OutputShape(shapes[^1]));
        }
        return shapes;
    }

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
    {
        var shapes = ShapesThrough(inputShape);
        return Layers.Select((layer, i) => layer.ParameterCount(shapes[i])).Sum();
    }

    internal override long ActivationValues(IReadOnlyList<int> inputShape)
    {
        var shapes = ShapesThrough(inputShape);
        return Layers.Select((layer, i) => layer.ActivationValues(shapes[i])).Sum();
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => Layers.All(l => l.RowsIndependentInTraining);

    internal override IEnumerable<LayerSpec> Sublayers() => Layers;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        var shapes = ShapesThrough(inputShape);
        return new SequentialModule(Layers.Select((layer, i) => layer.CreateModule(shapes[i])));
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var chain = (SequentialModule)module;
        var shapes = ShapesThrough(inputShape);
        string value = input;
        for (int i = 0; i < Layers.Count; i++)
        {
            value = Layers[i].EmitOnnx(graph, value, chain[i], shapes[i]);
        }
        return value;
    }

    /// <summary>The TorchSharp side of <see cref="Sequential"/>: children registered as "0", "1", ...</summary>
    internal sealed class SequentialModule : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> layers;

        public SequentialModule(IEnumerable<nn.Module<Tensor, Tensor>> modules) : base(nameof(Sequential))
        {
            layers = nn.ModuleList(modules.ToArray());
            RegisterComponents();
        }

        public nn.Module<Tensor, Tensor> this[int index] => layers[index];

        public int Count => layers.Count;

        public override Tensor forward(Tensor input)
        {
            Tensor x = input;
            foreach (var layer in layers)
            {
                x = layer.call(x);
            }
            return x;
        }
    }
}
