using System.Text.Json.Serialization;
using DeepArch.Trainers.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// A network that also reads a class label per sample: the label's learned embedding is joined to the input and
/// <see cref="Body"/> runs on the result, as in a conditional GAN's generator G(z, y) and discriminator D(x, y)
/// ("Conditional Generative Adversarial Nets", Mirza and Osindero, 2014). A vector input [features] becomes
/// [features + EmbeddingSize]; an input with channels first ([channels, ..positions], an image or a signal) gets the
/// embedding as <see cref="EmbeddingSize"/> extra channels, the same at every position.
/// </summary>
/// <remarks>
/// The label is the network's second input, <see cref="InputName"/>: one int64 in [0, <see cref="Classes"/>) per sample
/// (<see cref="Networks.Network.Forward(Tensor, Tensor[])"/>; in the exported model, an int64 input shaped [batch]).
/// Because the label enters before the first layer, a <see cref="Conditioned"/> is the network's outermost layer.
/// Exported as ONNX <c>Gather</c> (the embedding) and <c>Concat</c> (after <c>Unsqueeze</c> and <c>Expand</c> for inputs with positions).
/// </remarks>
public sealed record Conditioned : LayerSpec
{
    /// <summary>The default name of the label input.</summary>
    public const string DefaultInputName = "label";

    /// <summary>Creates a label-conditioned network.</summary>
    /// <param name="classes">The number of labels; at least 1. Labels are 0 to <paramref name="classes"/> - 1.</param>
    /// <param name="embeddingSize">The size of a label's embedding; at least 1.</param>
    /// <param name="body">The layers that run on the input joined with the embedding.</param>
    /// <param name="inputName">The name of the label input (the exported model's second input).</param>
    [JsonConstructor]
    public Conditioned(int classes, int embeddingSize, LayerSpec body, string inputName = DefaultInputName)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentException.ThrowIfNullOrWhiteSpace(inputName);
        if (classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "A Conditioned network needs at least 1 class.");
        }
        if (embeddingSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(embeddingSize), embeddingSize, "A label embedding needs at least 1 value.");
        }
        if (body.SideInputs.Count > 0 || Descendants(body).Any(l => l.SideInputs.Count > 0))
        {
            throw new ArgumentException($"The body of a Conditioned network cannot read another input ({body.Describe()} does).", nameof(body));
        }
        Classes = classes;
        EmbeddingSize = embeddingSize;
        Body = body;
        InputName = inputName;
    }

    /// <summary>The number of labels.</summary>
    public int Classes { get; }

    /// <summary>The size of a label's embedding.</summary>
    public int EmbeddingSize { get; }

    /// <summary>The layers that run on the input joined with the label's embedding.</summary>
    public LayerSpec Body { get; }

    /// <summary>The name of the label input.</summary>
    public string InputName { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<IndexInput> SideInputs => [new(InputName, Classes)];

    /// <inheritdoc/>
    public override string Describe() => $"Conditioned({Classes} classes, embedding {EmbeddingSize}, {Body.Describe()})";

    /// <summary>The per-sample shape <see cref="Body"/> gets: the input with the embedding joined on its first dimension.</summary>
    /// <exception cref="ArgumentException">The input has no dimension.</exception>
    public int[] JoinedShape(IReadOnlyList<int> inputShape)
    {
        if (inputShape.Count == 0)
        {
            throw new ArgumentException($"{Describe()} needs an input of at least one dimension per sample, got shape [].", nameof(inputShape));
        }
        return [inputShape[0] + EmbeddingSize, .. inputShape.Skip(1)];
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape) => Body.OutputShape(JoinedShape(inputShape));

    /// <inheritdoc/>
    public override long ParameterCount(IReadOnlyList<int> inputShape)
        => (long)Classes * EmbeddingSize + Body.ParameterCount(JoinedShape(inputShape));

    internal override long ActivationValues(IReadOnlyList<int> inputShape)
    {
        var joined = JoinedShape(inputShape);
        return Shapes.LongSize(joined) + Body.ActivationValues(joined);
    }

    internal override IEnumerable<LayerSpec> Sublayers() => [Body];

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
        => new ConditionedModule(this, Body.CreateModule(JoinedShape(inputShape)));

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        var conditioned = (ConditionedModule)module;
        var joinedShape = JoinedShape(inputShape);
        string table = graph.AddInitializer("label_embedding", ToArray(conditioned.Embedding.weight!), Classes, EmbeddingSize);
        string embedding = graph.AddNode("Gather", [table, graph.SideInput(InputName)], ("axis", 0L)); // [batch, EmbeddingSize]
        if (inputShape.Count > 1)
        {
            // [batch, E] -> [batch, E, 1, ..] -> [batch, E, ..positions]: Expand broadcasts the leading 1 against the batch.
            long[] positions = Enumerable.Range(2, inputShape.Count - 1).Select(a => (long)a).ToArray();
            string unsqueezed = graph.AddNode("Unsqueeze", [embedding, graph.AddInt64Initializer("label_axes", positions, positions.Length)]);
            long[] target = [1, EmbeddingSize, .. inputShape.Skip(1).Select(d => (long)d)];
            embedding = graph.AddNode("Expand", [unsqueezed, graph.AddInt64Initializer("label_shape", target, target.Length)]);
        }
        string joined = graph.AddNode("Concat", [input, embedding], ("axis", 1L));
        return Body.EmitOnnx(graph, joined, conditioned.Body, joinedShape);
    }

    private static IEnumerable<LayerSpec> Descendants(LayerSpec spec) => spec.Sublayers().SelectMany(l => Descendants(l).Prepend(l));

    /// <summary>The TorchSharp side of <see cref="Conditioned"/>: children "embedding" and "body".</summary>
    internal sealed class ConditionedModule : nn.Module<Tensor, Tensor>, ISideInputModule
    {
        private readonly Conditioned _spec;
        private readonly Embedding embedding;
        private readonly nn.Module<Tensor, Tensor> body;

        public ConditionedModule(Conditioned spec, nn.Module<Tensor, Tensor> body) : base(nameof(Conditioned))
        {
            _spec = spec;
            embedding = nn.Embedding(spec.Classes, spec.EmbeddingSize);
            this.body = body;
            RegisterComponents();
        }

        public Embedding Embedding => embedding;

        public nn.Module<Tensor, Tensor> Body => body;

        public override Tensor forward(Tensor input)
            => throw new InvalidOperationException($"{_spec.Describe()} also needs its '{_spec.InputName}' input: call Network.Forward(input, labels).");

        public Tensor Forward(Tensor input, IReadOnlyList<Tensor> sideInputs)
        {
            var labels = sideInputs[0];
            if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != input.shape[0])
            {
                throw new ArgumentException(
                    $"The '{_spec.InputName}' input must hold one int64 per sample ({input.shape[0]}), got {labels.dtype} shaped [{string.Join(", ", labels.shape)}].");
            }
            if (labels.numel() > 0)
            {
                long min = labels.min().item<long>(), max = labels.max().item<long>();
                if (min < 0 || max >= _spec.Classes)
                {
                    throw new ArgumentOutOfRangeException(
                        _spec.InputName, $"The '{_spec.InputName}' input must be in [0, {_spec.Classes - 1}], got values from {min} to {max}.");
                }
            }
            var code = embedding.call(labels);
            if (input.dim() > 2)
            {
                long[] shape = [.. code.shape, .. Enumerable.Repeat(1L, (int)input.dim() - 2)];
                code = code.view(shape).expand([.. code.shape, .. input.shape.Skip(2)]);
            }
            return body.call(cat([input, code], 1));
        }
    }
}

/// <summary>An int64 input of a network besides its features: one index per sample in [0, <paramref name="Count"/>), such as a class label.</summary>
/// <param name="Name">The input's name (in the exported model, an int64 input shaped [batch]).</param>
/// <param name="Count">The number of valid indices.</param>
public sealed record IndexInput(string Name, int Count);

/// <summary>A module that reads inputs besides its features (<see cref="LayerSpec.SideInputs"/>), in that order.</summary>
internal interface ISideInputModule
{
    Tensor Forward(Tensor input, IReadOnlyList<Tensor> sideInputs);
}
