using System.Globalization;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;

namespace DeepArch.Trainers.Onnx;

/// <summary>
/// Checks the bytes of an ONNX model as untrusted input, in managed code, before any ONNX Runtime session
/// parses them: only models of the shape <see cref="OnnxGraphBuilder"/> writes pass.
/// </summary>
/// <remarks>
/// What is refused, and why:
/// <list type="bullet">
/// <item><description>More fields than <see cref="OnnxWireScan.MaxFields"/>, counted on the encoding before it is parsed
/// (<see cref="OnnxWireScan"/>): parsing builds an object per field, and a file of empty messages would take a hundred times
/// its size in memory.</description></item>
/// <item><description>Any field outside <c>onnx_subset.proto</c>, or a non-canonical encoding (refused by <see cref="OnnxWireScan"/>
/// where it can, then the model is parsed with unknown fields discarded and must write back to its own bytes): training info, model-local functions, sparse
/// tensors and whatever a later ONNX version adds never reach ONNX Runtime unseen.</description></item>
/// <item><description>External tensor data (<c>data_location</c> or <c>external_data</c>): ONNX Runtime would read it
/// from files beside the model.</description></item>
/// <item><description>Another IR version or operator set than <see cref="OnnxGraphBuilder"/> writes, an operator domain
/// other than the default one, and operators outside <see cref="OnnxGraphBuilder.Operators"/>.</description></item>
/// <item><description>Tensors whose declared shape does not match the data they hold, element types DeepArch does not
/// write, negative or overflowing dimensions, graph inputs and outputs over <see cref="MaxValuesPerRow"/> values per
/// row, more than <see cref="MaxNodes"/> nodes, subgraphs nested deeper than <see cref="MaxSubgraphDepth"/>, more than
/// <see cref="MaxInitializers"/> initializers, or one that no node reads.</description></item>
/// </list>
/// Every size a tensor declares is backed by bytes present in the file, so the memory a model's constants take is
/// bounded by the file's size. The check cannot bound what an arbitrary graph of these operators computes at run
/// time; a signing key (<see cref="Networks.OnnxIntegrity"/>) is what proves that the graph is one DeepArch exported.
/// </remarks>
internal static class OnnxModelCheck
{
    /// <summary>The most nodes a model may hold, subgraphs included.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>How deep subgraphs (the bodies of <c>Loop</c> or <c>If</c>) may nest.</summary>
    public const int MaxSubgraphDepth = 8;

    /// <summary>The most initializers a model may hold, subgraphs included.</summary>
    public const int MaxInitializers = 10_000;

    /// <summary>The most values per row a graph input or output may declare (its fixed dimensions' product).</summary>
    public const long MaxValuesPerRow = 1L << 28;

    private static readonly MessageParser<ModelProto> Parser = ModelProto.Parser.WithDiscardUnknownFields(true);

    /// <summary>The element types DeepArch writes, with their sizes in bytes.</summary>
    private static readonly Dictionary<int, int> ElementSizes = new()
    {
        [(int)TensorProto.Types.DataType.Float] = 4,
        [(int)TensorProto.Types.DataType.Int32] = 4,
        [(int)TensorProto.Types.DataType.Int64] = 8,
        [(int)TensorProto.Types.DataType.Bool] = 1,
    };

    /// <summary>Parses and checks <paramref name="model"/>.</summary>
    /// <returns>The parsed model.</returns>
    /// <exception cref="InvalidDataException">The model is not well-formed or holds something DeepArch does not write; the message says what.</exception>
    public static ModelProto Check(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // Before any object is built: the encoding holds only what DeepArch writes, nested and counted within bounds.
        OnnxWireScan.Check(model, OnnxWireScan.Mode.Strict);
        ModelProto proto;
        try
        {
            proto = Parser.ParseFrom(model);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The ONNX model is not well-formed: {e.Message}", e);
        }
        // The same bytes, not only the same length: a field the parser discards (an external tensor in a sparse initializer) could
        // otherwise hide behind an encoding that re-measures larger by as much (dimensions written packed), and ONNX Runtime reads both.
        byte[] understood = proto.ToByteArray();
        if (!understood.AsSpan().SequenceEqual(model))
        {
            throw understood.Length != model.Length
                ? Invalid($"holds fields or encodings DeepArch never writes ({understood.Length:N0} of its {model.Length:N0} bytes are fields DeepArch writes): it was written by another tool or edited")
                : Invalid($"holds fields or encodings DeepArch never writes (its bytes differ from the fields DeepArch reads in them, written back): it was written by another tool or edited");
        }
        if (proto.IrVersion != OnnxGraphBuilder.IrVersion)
        {
            throw Invalid($"has IR version {proto.IrVersion}; DeepArch writes {OnnxGraphBuilder.IrVersion}");
        }
        if (proto.OpsetImport.Count != 1 || !IsDefaultDomain(proto.OpsetImport[0].Domain) || proto.OpsetImport[0].Version != OnnxGraphBuilder.OpsetVersion)
        {
            string imports = string.Join(", ", proto.OpsetImport.Select(o => $"'{o.Domain}' {o.Version}"));
            throw Invalid($"imports the operator sets [{imports}]; DeepArch writes only the default domain at version {OnnxGraphBuilder.OpsetVersion}");
        }
        if (proto.Graph is null)
        {
            throw Invalid($"has no graph");
        }
        int nodes = 0;
        CheckGraph(proto.Graph, "the graph", 0, ref nodes);
        CheckInitializersRead(proto.Graph);
        return proto;
    }

    private static void CheckGraph(GraphProto graph, string where, int depth, ref int nodes)
    {
        if (depth > MaxSubgraphDepth)
        {
            throw Invalid($"nests subgraphs more than {MaxSubgraphDepth} deep");
        }
        foreach (var tensor in graph.Initializer)
        {
            CheckTensor(tensor, $"initializer '{tensor.Name}' of {where}");
        }
        foreach (var value in graph.Input.Concat(graph.Output))
        {
            CheckValueInfo(value, where);
        }
        foreach (var node in graph.Node)
        {
            if (++nodes > MaxNodes)
            {
                throw Invalid($"has more than {MaxNodes:N0} nodes");
            }
            if (!IsDefaultDomain(node.Domain))
            {
                throw Invalid($"uses operator '{node.OpType}' of domain '{node.Domain}' in {where}; DeepArch writes only the default domain");
            }
            if (!OnnxGraphBuilder.Operators.Contains(node.OpType))
            {
                throw Invalid($"uses operator '{node.OpType}' in {where}, which DeepArch does not export");
            }
            foreach (var attribute in node.Attribute)
            {
                string owner = $"attribute '{attribute.Name}' of node '{node.Name}' in {where}";
                if (attribute.T is not null)
                {
                    CheckTensor(attribute.T, owner);
                }
                foreach (var tensor in attribute.Tensors)
                {
                    CheckTensor(tensor, owner);
                }
                if (attribute.G is not null)
                {
                    CheckGraph(attribute.G, $"the subgraph {owner}", depth + 1, ref nodes);
                }
                foreach (var subgraph in attribute.Graphs)
                {
                    CheckGraph(subgraph, $"a subgraph of {owner}", depth + 1, ref nodes);
                }
            }
        }
    }

    /// <summary>
    /// Every initializer, in the graph and its subgraphs, is read by a node or is an output, and there are at most
    /// <see cref="MaxInitializers"/>: DeepArch writes no others, and ONNX Runtime took 30 to 50 seconds to open a model of 100,000
    /// unused ones (an outside probe).
    /// </summary>
    private static void CheckInitializersRead(GraphProto graph)
    {
        var graphs = new List<GraphProto>();
        void Collect(GraphProto g)
        {
            graphs.Add(g);
            foreach (var attribute in g.Node.SelectMany(n => n.Attribute))
            {
                if (attribute.G is not null)
                {
                    Collect(attribute.G);
                }
                foreach (var subgraph in attribute.Graphs)
                {
                    Collect(subgraph);
                }
            }
        }
        Collect(graph);
        int count = graphs.Sum(g => g.Initializer.Count);
        if (count > MaxInitializers)
        {
            throw Invalid($"holds {count:N0} initializers, more than the {MaxInitializers:N0} DeepArch allows");
        }
        var read = new HashSet<string>(graphs.SelectMany(g => g.Node.SelectMany(n => n.Input).Concat(g.Output.Select(o => o.Name))), StringComparer.Ordinal);
        foreach (var g in graphs)
        {
            if (g.Initializer.FirstOrDefault(i => !read.Contains(i.Name)) is { } unread)
            {
                throw Invalid($"holds initializer '{Quote(unread.Name)}', which no node reads: DeepArch writes none such");
            }
        }
    }

    /// <summary><paramref name="text"/> cut to 80 characters for a message.</summary>
    private static string Quote(string text) => text.Length <= 80 ? text : text[..80] + "...";

    private static void CheckTensor(TensorProto tensor, string where)
    {
        if (tensor.HasDataLocation && tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
        {
            string location = tensor.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? "";
            throw Invalid($"keeps the data of {where} outside the model file (location '{location}'): DeepArch never writes external data and does not read it");
        }
        if (!ElementSizes.TryGetValue(tensor.DataType, out int size))
        {
            throw Invalid($"holds {where} of element type {tensor.DataType}, which DeepArch does not write");
        }
        long count = 1;
        foreach (long d in tensor.Dims)
        {
            if (d < 0 || (d > 0 && count > long.MaxValue / d))
            {
                throw Invalid($"declares {where} with shape [{string.Join(", ", tensor.Dims)}], which is not a valid tensor shape");
            }
            count *= d;
        }
        int sources = (tensor.RawData.Length > 0 ? 1 : 0) + (tensor.FloatData.Count > 0 ? 1 : 0) + (tensor.Int64Data.Count > 0 ? 1 : 0) + (tensor.Int32Data.Count > 0 ? 1 : 0);
        bool matches = sources <= 1 && (tensor.RawData.Length > 0
            ? tensor.RawData.Length % size == 0 && tensor.RawData.Length / size == count
            : count == tensor.DataType switch
            {
                (int)TensorProto.Types.DataType.Float => tensor.FloatData.Count,
                (int)TensorProto.Types.DataType.Int64 => tensor.Int64Data.Count,
                _ => tensor.Int32Data.Count,
            });
        if (!matches)
        {
            string held = sources > 1 ? "data in more than one field"
                : tensor.RawData.Length > 0 ? FormattableString.Invariant($"{tensor.RawData.Length:N0} bytes of raw data")
                : FormattableString.Invariant($"{tensor.FloatData.Count + tensor.Int64Data.Count + tensor.Int32Data.Count:N0} values");
            throw Invalid($"declares {where} with shape [{string.Join(", ", tensor.Dims)}] ({count:N0} values) but holds {held}");
        }
    }

    private static void CheckValueInfo(ValueInfoProto value, string where)
    {
        if (value.Type?.TensorType is not { } tensorType)
        {
            return; // a subgraph's values may leave their type to inference; the top level always declares one
        }
        if (!ElementSizes.ContainsKey(tensorType.ElemType))
        {
            throw Invalid($"declares value '{value.Name}' of {where} with element type {tensorType.ElemType}, which DeepArch does not write");
        }
        long perRow = 1;
        foreach (var dim in tensorType.Shape?.Dim ?? [])
        {
            if (dim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)
            {
                if (dim.DimValue < 0 || dim.DimValue > MaxValuesPerRow || (perRow *= Math.Max(dim.DimValue, 1)) > MaxValuesPerRow)
                {
                    throw Invalid($"declares value '{value.Name}' of {where} with more than {MaxValuesPerRow:N0} values per row");
                }
            }
        }
    }

    private static bool IsDefaultDomain(string domain) => domain is "" or "ai.onnx";

    /// <summary>The error for a model that <paramref name="what"/> (formatted invariantly).</summary>
    private static InvalidDataException Invalid(FormattableString what) => new($"The ONNX model {what.ToString(CultureInfo.InvariantCulture)}.");
}
