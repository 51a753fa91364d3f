using System.Collections.Frozen;
using System.Text.Json;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;

namespace DeepArch.Trainers.Onnx;

/// <summary>
/// Builds one ONNX graph (opset 17, IR version 8) from inputs, initializers, nodes and outputs, and writes it
/// as a sealed <c>ModelProto</c>. Value names are made unique with a counter; attributes are written sorted
/// by name so that the same network always gives the same bytes.
/// </summary>
/// <remarks>
/// The protobuf classes come from <c>onnx_subset.proto</c> (field numbers copied from onnx.proto).
/// Inputs and outputs are float, int64 or bool tensors; their dimensions are fixed or symbolic (<see cref="Dimension"/>),
/// and the shorthand overloads that take a per-sample shape put the symbolic <c>batch</c> first.
/// <see cref="CreateSubgraph"/> builds the bodies of <c>Loop</c>, <c>If</c> and <c>Scan</c>, passed to
/// <see cref="AddNode(string, IReadOnlyList{string}, int, ValueTuple{string, object}[])"/> as graph-valued attributes.
/// <see cref="ToModelBytes(Network, IReadOnlyDictionary{string, string}?, IReadOnlyList{int}?)"/> is the one place a model's
/// metadata and integrity seal are written.
/// </remarks>
internal sealed class OnnxGraphBuilder
{
    /// <summary>The default-domain operator set every exported model imports.</summary>
    public const int OpsetVersion = 17;

    /// <summary>ONNX IR version 8 is the one that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>The name of the symbolic batch dimension.</summary>
    public const string BatchDimension = "batch";

    /// <summary>
    /// Every operator DeepArch exports, all of the default domain at <see cref="OpsetVersion"/>. <see cref="AddNode(string, IReadOnlyList{string}, int, ValueTuple{string, object}[])"/>
    /// refuses any other, and <see cref="OnnxModelCheck"/> refuses a model file that uses one, so this list is the one place
    /// a new layer adds its operators.
    /// </summary>
    public static readonly FrozenSet<string> Operators = new[]
    {
        "Add", "ArgMax", "AveragePool", "BatchNormalization", "Cast", "Concat", "Conv", "ConvTranspose", "Div", "Dropout", "Equal", "Exp",
        "Expand", "Flatten", "GRU", "Gather", "Gemm", "GlobalAveragePool", "Greater", "Identity", "If", "IsNaN", "LSTM", "LeakyRelu", "Less",
        "LogSoftmax", "Loop", "MatMul", "MaxPool", "Mul", "Not", "Or", "Pad", "RNN", "Range", "ReduceMax", "ReduceMean", "ReduceSum", "Relu",
        "Reshape", "Scan", "Shape", "Sigmoid", "Slice", "Softmax", "Softplus", "Squeeze", "Sub", "Tanh", "Transpose",
        "Unsqueeze", "Where",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The element types of graph inputs, outputs and initializers (values of ONNX's <c>TensorProto.DataType</c>).</summary>
    public enum ElementType
    {
        /// <summary>32-bit float.</summary>
        Float = (int)TensorProto.Types.DataType.Float,
        /// <summary>64-bit signed integer (token ids, counters, indices).</summary>
        Int64 = (int)TensorProto.Types.DataType.Int64,
        /// <summary>Boolean (flags, a loop's condition).</summary>
        Bool = (int)TensorProto.Types.DataType.Bool,
    }

    /// <summary>One dimension of a declared shape: a fixed size (from an <c>int</c>) or a symbolic name (from a <c>string</c>).</summary>
    /// <remarks>Dimensions with the same name have the same size wherever they appear in the model, subgraphs included.</remarks>
    public readonly record struct Dimension
    {
        private Dimension(int size, string? name) => (Size, Name) = (size, name);

        /// <summary>The symbolic batch dimension, <see cref="BatchDimension"/>.</summary>
        public static Dimension Batch { get; } = new(0, BatchDimension);

        /// <summary>The fixed size; 0 for a symbolic dimension.</summary>
        public int Size { get; }

        /// <summary>The symbolic name, or null for a fixed size.</summary>
        public string? Name { get; }

        /// <summary>A fixed size (not negative).</summary>
        public static implicit operator Dimension(int size)
            => size >= 0 ? new(size, null) : throw new ArgumentOutOfRangeException(nameof(size), size, "A dimension's size cannot be negative.");

        /// <summary>A symbolic dimension.</summary>
        public static implicit operator Dimension(string name)
            => string.IsNullOrEmpty(name) ? throw new ArgumentException("A symbolic dimension needs a name.", nameof(name)) : new(0, name);
    }

    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _sideInputs = new(StringComparer.Ordinal);
    private readonly OnnxGraphBuilder? _enclosing;
    private int _counter;
    private bool _attached;

    /// <summary>Starts an empty top-level graph.</summary>
    public OnnxGraphBuilder() => _graph = new GraphProto { Name = "deeparch" };

    private OnnxGraphBuilder(OnnxGraphBuilder enclosing, string name)
    {
        _enclosing = enclosing;
        _graph = new GraphProto { Name = name };
    }

    /// <summary>The top-level graph's builder, which holds the names of every graph of the model.</summary>
    private OnnxGraphBuilder Root => _enclosing?.Root ?? this;

    /// <summary>Returns a value name based on <paramref name="hint"/> that no other value in the model, subgraphs included, has.</summary>
    public string UniqueName(string hint)
    {
        var root = Root;
        string name = hint;
        while (!root._names.Add(name))
        {
            name = $"{hint}_{++root._counter}";
        }
        return name;
    }

    /// <summary>
    /// Starts the body of a <c>Loop</c>, <c>If</c> or <c>Scan</c> node of this graph, passed to <see cref="AddNode(string, IReadOnlyList{string}, int, ValueTuple{string, object}[])"/>
    /// as the attribute's value. Its value names are unique across the whole model, since a body may read the values of the
    /// graphs around it by name; its input and output names are hints (a body's inputs and outputs bind by position).
    /// </summary>
    /// <param name="name">The body graph's name, for example <c>loop_body</c>.</param>
    public OnnxGraphBuilder CreateSubgraph(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new OnnxGraphBuilder(this, name);
    }

    /// <summary>Declares a graph input shaped [batch, ..sampleShape].</summary>
    public string AddInput(string name, IReadOnlyList<int> sampleShape, ElementType type = ElementType.Float)
        => AddInput(name, type, [Dimension.Batch, .. sampleShape.Select(d => (Dimension)d)]);

    /// <summary>Declares a graph input of <paramref name="type"/> shaped <paramref name="shape"/> (no dimensions: a scalar).</summary>
    /// <returns>
    /// The input's name: <paramref name="name"/>, which the model must not hold yet; in a subgraph, a unique name made of the
    /// subgraph's and <paramref name="name"/> (so that a body does not take the names the top-level graph's outputs will need).
    /// </returns>
    public string AddInput(string name, ElementType type, params Dimension[] shape)
    {
        name = _enclosing is null ? Claim(name) : UniqueName($"{_graph.Name}_{name}");
        _graph.Input.Add(ValueInfo(name, type, shape));
        return name;
    }

    /// <summary>
    /// Makes <paramref name="value"/> the value a layer reads as its side input <paramref name="name"/> (<see cref="Layers.LayerSpec.SideInputs"/>),
    /// for a graph that computes it instead of declaring it as a graph input (a label given one-hot, then turned into an index).
    /// </summary>
    public void BindSideInput(string name, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(value);
        Root._sideInputs[name] = value;
    }

    /// <summary>The value holding side input <paramref name="name"/>: the one bound by <see cref="BindSideInput"/>, else the graph input of that name.</summary>
    public string SideInput(string name) => Root._sideInputs.TryGetValue(name, out string? value) ? value : name;

    /// <summary>Adds a float initializer (a constant, usually a trained parameter) and returns its name.</summary>
    public string AddInitializer(string hint, ReadOnlySpan<float> values, params long[] dims)
    {
        var tensor = AddTensor(hint, ElementType.Float, values.Length, dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        return tensor.Name;
    }

    /// <summary>Adds an int64 initializer (shapes, axes, indices, counters) and returns its name.</summary>
    public string AddInt64Initializer(string hint, ReadOnlySpan<long> values, params long[] dims)
    {
        var tensor = AddTensor(hint, ElementType.Int64, values.Length, dims);
        tensor.Int64Data.AddRange(values.ToArray());
        return tensor.Name;
    }

    /// <summary>Adds a bool initializer (a loop's condition, masks) and returns its name.</summary>
    public string AddBoolInitializer(string hint, ReadOnlySpan<bool> values, params long[] dims)
    {
        var tensor = AddTensor(hint, ElementType.Bool, values.Length, dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values)); // one byte per value, 0 or 1
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns that output's name.</summary>
    /// <param name="opType">The ONNX operator, for example <c>Gemm</c>.</param>
    /// <param name="inputs">Input value names; an empty string marks an omitted optional input.</param>
    /// <param name="attributes">
    /// Attributes as (name, value): long, float, string, long[], float[], string[], or a body from <see cref="CreateSubgraph"/>
    /// (<see cref="OnnxGraphBuilder"/>, a graph-valued attribute; an array of them for a list of graphs).
    /// </param>
    public string AddNode(string opType, IReadOnlyList<string> inputs, params (string Name, object Value)[] attributes)
        => AddNode(opType, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputCount"/> outputs and returns their names.</summary>
    public string[] AddNode(string opType, IReadOnlyList<string> inputs, int outputCount, params (string Name, object Value)[] attributes)
    {
        if (!Operators.Contains(opType))
        {
            throw new ArgumentException($"'{opType}' is not in OnnxGraphBuilder.Operators; add it there (loaders refuse operators outside that list).", nameof(opType));
        }
        var node = new NodeProto { OpType = opType, Name = UniqueName($"{opType}_node") };
        node.Input.AddRange(inputs);
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++)
        {
            outputs[i] = UniqueName(opType.ToLowerInvariant());
        }
        node.Output.AddRange(outputs);
        foreach (var (name, value) in attributes.OrderBy(a => a.Name, StringComparer.Ordinal))
        {
            node.Attribute.Add(Attribute(name, value));
        }
        _graph.Node.Add(node);
        return outputs;
    }

    /// <summary>
    /// <paramref name="value"/> (shaped [batch, ...], of rank <paramref name="valueRank"/>) plus, for each row, the sum of
    /// <c>input - input</c> over the row's values of <paramref name="input"/> (rank <paramref name="inputRank"/>): 0 where they
    /// are all finite, which leaves the value as it is, and NaN where one is NaN or infinite. ONNX Runtime's LSTM and GRU
    /// kernels turn a NaN input into finite outputs (their activations clamp it), which would hide a bad row behind an
    /// ordinary-looking score; through this, the row's outputs are NaN, as every other DeepArch network's are.
    /// </summary>
    public string PropagateNonFinite(string input, int inputRank, string value, int valueRank)
    {
        if (inputRank < 2 || valueRank < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(inputRank), $"Input rank {inputRank} and value rank {valueRank}: both hold a batch axis, and the input at least one more.");
        }
        string zeros = AddNode("Sub", [input, input]);
        string axes = AddInt64Initializer("nonfinite_axes", Enumerable.Range(1, inputRank - 1).Select(a => (long)a).ToArray(), inputRank - 1);
        string perRow = AddNode("ReduceSum", [zeros, axes], ("keepdims", 0L));
        string shape = AddInt64Initializer("nonfinite_shape", [-1, .. Enumerable.Repeat(1L, valueRank - 1)], valueRank);
        return AddNode("Add", [value, AddNode("Reshape", [perRow, shape])]);
    }

    /// <summary>Declares <paramref name="value"/> a graph output named <paramref name="outputName"/>, shaped [batch, ..sampleShape].</summary>
    public string AddOutput(string value, string outputName, IReadOnlyList<int> sampleShape, ElementType type = ElementType.Float)
        => AddOutput(value, outputName, type, [Dimension.Batch, .. sampleShape.Select(d => (Dimension)d)]);

    /// <summary>Declares <paramref name="value"/> a graph output of <paramref name="type"/> shaped <paramref name="shape"/> (no dimensions: a scalar).</summary>
    /// <returns>
    /// The output's name: <paramref name="outputName"/>, which the model must not hold yet unless it is <paramref name="value"/>;
    /// in a subgraph, <paramref name="value"/> itself when the two are equal, else a unique name made of the subgraph's and <paramref name="outputName"/>.
    /// </returns>
    public string AddOutput(string value, string outputName, ElementType type, params Dimension[] shape)
    {
        if (value != outputName)
        {
            outputName = _enclosing is null ? Claim(outputName) : UniqueName($"{_graph.Name}_{outputName}");
            var identity = new NodeProto { OpType = "Identity", Name = UniqueName("Identity_node") };
            identity.Input.Add(value);
            identity.Output.Add(outputName);
            _graph.Node.Add(identity);
        }
        _graph.Output.Add(ValueInfo(outputName, type, shape));
        return outputName;
    }

    /// <summary>
    /// Writes the graph as the sealed model of <paramref name="network"/>: its summary as the description, and as metadata its
    /// architecture and the graph input's per-sample shape (<paramref name="inputShape"/>, or the network's when null) besides
    /// <paramref name="metadata"/>. Every exporter of a network ends here.
    /// </summary>
    public byte[] ToModelBytes(Network network, IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyList<int>? inputShape = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var all = new Dictionary<string, string>(metadata ?? NoMetadata)
        {
            [MetadataKeys.Architecture] = JsonSerializer.Serialize(network.Architecture, LayerSpecJson.Options),
            [MetadataKeys.InputShape] = JsonSerializer.Serialize(inputShape ?? network.InputShape),
        };
        return ToModelBytes(network.Summarize().ToString(), all);
    }

    /// <summary>Writes the graph as a model with a description and string metadata, sealed (see <see cref="WriteSealed"/>).</summary>
    /// <exception cref="InvalidOperationException">This is a subgraph, or the graph has no outputs.</exception>
    public byte[] ToModelBytes(string description, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (_enclosing is not null)
        {
            throw new InvalidOperationException($"'{_graph.Name}' is a subgraph: it is written as an attribute of its node, not as a model.");
        }
        if (_graph.Output.Count == 0)
        {
            throw new InvalidOperationException("The graph has no outputs; declare at least one with AddOutput.");
        }
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "DeepArch",
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            Domain = "ai.deeparch",
            ModelVersion = 1,
            DocString = description,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        return WriteSealed(model, metadata ?? NoMetadata);
    }

    /// <summary>
    /// Replaces the metadata of <paramref name="model"/> with <paramref name="metadata"/>, written sorted by key, and returns its bytes with the
    /// <see cref="MetadataKeys.Integrity"/> entry appended (<see cref="OnnxIntegrity.Seal"/>): what <see cref="ToModelBytes(string, IReadOnlyDictionary{string, string}?)"/>
    /// does, and what re-seals a model edited after export.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="metadata"/> holds a key DeepArch writes itself (the seal's or the signature's).</exception>
    public static byte[] WriteSealed(ModelProto model, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(metadata);
        if (new[] { MetadataKeys.Integrity, MetadataKeys.Signature }.FirstOrDefault(metadata.ContainsKey) is { } reserved)
        {
            throw new ArgumentException($"'{reserved}' is reserved: export writes it.", nameof(metadata));
        }
        model.MetadataProps.Clear();
        foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return OnnxIntegrity.Seal(model.ToByteArray());
    }

    /// <summary>Marks <paramref name="name"/> as taken, or throws when a value of the model already has it.</summary>
    private string Claim(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Root._names.Add(name) ? name : throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
    }

    /// <summary>A new initializer of <paramref name="count"/> values shaped <paramref name="dims"/>, without its data.</summary>
    private TensorProto AddTensor(string hint, ElementType type, int count, long[] dims)
    {
        long expected = dims.Aggregate(1L, (a, d) => a * d);
        if (expected != count)
        {
            throw new ArgumentException($"Initializer '{hint}' has {count} values but its shape [{string.Join(", ", dims)}] holds {expected}.");
        }
        var tensor = new TensorProto { Name = UniqueName(hint), DataType = (int)type };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        return tensor;
    }

    /// <summary>The graph of a body built by <see cref="CreateSubgraph"/> of this model, which may be attached to one node only.</summary>
    private GraphProto Body(OnnxGraphBuilder body)
    {
        if (body._enclosing is null || body.Root != Root)
        {
            throw new ArgumentException("A graph-valued attribute must be a body created by CreateSubgraph of the same model.");
        }
        if (body._attached)
        {
            throw new ArgumentException($"Subgraph '{body._graph.Name}' is already the body of another node; value names must be unique.");
        }
        body._attached = true;
        return body._graph;
    }

    private static ValueInfoProto ValueInfo(string name, ElementType type, IEnumerable<Dimension> dimensions)
    {
        if (!Enum.IsDefined(type))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown element type.");
        }
        var shape = new TensorShapeProto();
        foreach (var d in dimensions)
        {
            shape.Dim.Add(d.Name is null ? new TensorShapeProto.Types.Dimension { DimValue = d.Size } : new TensorShapeProto.Types.Dimension { DimParam = d.Name });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private AttributeProto Attribute(string name, object value)
    {
        var attribute = new AttributeProto { Name = name };
        switch (value)
        {
            case int i:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = i;
                break;
            case long l:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = l;
                break;
            case float f:
                attribute.Type = AttributeProto.Types.AttributeType.Float;
                attribute.F = f;
                break;
            case string s:
                attribute.Type = AttributeProto.Types.AttributeType.String;
                attribute.S = ByteString.CopyFromUtf8(s);
                break;
            case long[] ints:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.AddRange(ints);
                break;
            case int[] ints32:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.AddRange(ints32.Select(v => (long)v));
                break;
            case float[] floats:
                attribute.Type = AttributeProto.Types.AttributeType.Floats;
                attribute.Floats.AddRange(floats);
                break;
            case string[] strings:
                attribute.Type = AttributeProto.Types.AttributeType.Strings;
                attribute.Strings.AddRange(strings.Select(ByteString.CopyFromUtf8));
                break;
            case OnnxGraphBuilder body:
                attribute.Type = AttributeProto.Types.AttributeType.Graph;
                attribute.G = Body(body);
                break;
            case OnnxGraphBuilder[] bodies:
                attribute.Type = AttributeProto.Types.AttributeType.Graphs;
                attribute.Graphs.AddRange(bodies.Select(Body));
                break;
            default:
                throw new ArgumentException($"Attribute '{name}' has unsupported type {value?.GetType().Name ?? "null"}.");
        }
        return attribute;
    }
}
