using System.Collections.Frozen;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;

namespace DeepArch.Trainers.Onnx;

/// <summary>
/// Builds one ONNX graph (opset 17, IR version 8) from inputs, initializers and nodes, and writes it
/// as a <c>ModelProto</c>. Value names are made unique with a counter; attributes are written sorted
/// by name so that the same network always gives the same bytes.
/// </summary>
/// <remarks>
/// The protobuf classes come from <c>onnx_subset.proto</c> (field numbers copied from onnx.proto).
/// The per-sample batch dimension of every graph input and output is the symbolic <c>batch</c>.
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
        "Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Conv", "ConvTranspose", "Div", "Dropout", "Exp",
        "Flatten", "GRU", "Gemm", "GlobalAveragePool", "Greater", "Identity", "IsNaN", "LSTM", "LeakyRelu", "Less",
        "MatMul", "MaxPool", "Mul", "Or", "Pad", "RNN", "Range", "ReduceMax", "ReduceMean", "ReduceSum", "Relu",
        "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Softplus", "Squeeze", "Sub", "Tanh", "Transpose",
        "Unsqueeze", "Where",
    }.ToFrozenSet(StringComparer.Ordinal);

    private readonly GraphProto _graph = new() { Name = "deeparch" };
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    /// <summary>Returns a value name based on <paramref name="hint"/> that no other value in the graph has.</summary>
    public string UniqueName(string hint)
    {
        string name = hint;
        while (!_names.Add(name))
        {
            name = $"{hint}_{++_counter}";
        }
        return name;
    }

    /// <summary>Declares a float graph input shaped [batch, ..sampleShape].</summary>
    public string AddInput(string name, IReadOnlyList<int> sampleShape)
    {
        if (!_names.Add(name))
        {
            throw new ArgumentException($"The graph already has a value named '{name}'.", nameof(name));
        }
        _graph.Input.Add(FloatValueInfo(name, sampleShape));
        return name;
    }

    /// <summary>Adds a float initializer (a constant, usually a trained parameter) and returns its name.</summary>
    public string AddInitializer(string hint, ReadOnlySpan<float> values, params long[] dims)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        if (count != values.Length)
        {
            throw new ArgumentException(
                $"Initializer '{hint}' has {values.Length} values but its shape [{string.Join(", ", dims)}] holds {count}.");
        }
        var tensor = new TensorProto
        {
            Name = UniqueName(hint),
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values)),
        };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds an int64 initializer (shapes, axes, indices) and returns its name.</summary>
    public string AddInt64Initializer(string hint, ReadOnlySpan<long> values, params long[] dims)
    {
        var tensor = new TensorProto { Name = UniqueName(hint), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values.ToArray());
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns that output's name.</summary>
    /// <param name="opType">The ONNX operator, for example <c>Gemm</c>.</param>
    /// <param name="inputs">Input value names; an empty string marks an omitted optional input.</param>
    /// <param name="attributes">Attributes as (name, value): long, float, string, long[] or float[].</param>
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

    /// <summary>Declares <paramref name="value"/> a graph output named <paramref name="outputName"/>, shaped [batch, ..sampleShape].</summary>
    public void AddOutput(string value, string outputName, IReadOnlyList<int> sampleShape)
    {
        if (value != outputName)
        {
            if (!_names.Add(outputName))
            {
                throw new ArgumentException($"The graph already has a value named '{outputName}'.", nameof(outputName));
            }
            var identity = new NodeProto { OpType = "Identity", Name = UniqueName("Identity_node") };
            identity.Input.Add(value);
            identity.Output.Add(outputName);
            _graph.Node.Add(identity);
        }
        _graph.Output.Add(FloatValueInfo(outputName, sampleShape));
    }

    /// <summary>Writes the graph as a model, with a description and string metadata.</summary>
    public byte[] ToModelBytes(string description, IReadOnlyDictionary<string, string> metadata)
    {
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
        foreach (var (key, value) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return model.ToByteArray();
    }

    private static ValueInfoProto FloatValueInfo(string name, IReadOnlyList<int> sampleShape)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        foreach (int d in sampleShape)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }

    private static AttributeProto Attribute(string name, object value)
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
            default:
                throw new ArgumentException($"Attribute '{name}' has unsupported type {value?.GetType().Name ?? "null"}.");
        }
        return attribute;
    }
}
