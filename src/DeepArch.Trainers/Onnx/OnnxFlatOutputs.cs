using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx.Proto;

namespace DeepArch.Trainers.Onnx;

/// <summary>
/// Flat copies of graph outputs, for ML.NET's <c>OnnxTransformer</c>: it types an output declared [batch, k] as
/// <c>Vector&lt;Single, 1, k&gt;</c>, where DeepArch's own transformer gives <c>Vector&lt;Single, k&gt;</c> (ML.NET's type for a
/// multiclass score), and a trainer fitted on the one refuses the other. A flat copy is the output reshaped to [-1] and
/// declared with one symbolic dimension, which the <c>OnnxTransformer</c>'s shape dictionary fixes to [k]: one dimension,
/// the same values. <see cref="Add"/> makes the model a saved ML.NET chain holds; <see cref="Remove"/> gives back the
/// model as exported, byte for byte.
/// </summary>
internal static class OnnxFlatOutputs
{
    /// <summary>The start of every name <see cref="Add"/> gives a node, an initializer or an output.</summary>
    public const string Prefix = "__DeepArch_Flat_";

    private const string ShapeName = Prefix + "Shape";

    /// <summary>The metadata entry that keeps a signed model's signature while the flat copies are in (it covers the model without them).</summary>
    private const string SignatureKey = Prefix + "Signature";

    /// <summary>The name of the flat copy of graph output <paramref name="output"/>.</summary>
    public static string FlatName(string output) => Prefix + output;

    /// <summary>
    /// Returns <paramref name="sealedModel"/> with a flat copy of each of <paramref name="outputs"/> (float outputs of the
    /// graph), re-sealed; <paramref name="sealedModel"/> itself when there are none or when it already has them.
    /// </summary>
    /// <exception cref="ArgumentException">An output is not a float output of the graph.</exception>
    public static byte[] Add(byte[] sealedModel, IReadOnlyCollection<string> outputs)
    {
        ArgumentNullException.ThrowIfNull(sealedModel);
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count == 0)
        {
            return sealedModel;
        }
        var model = ModelProto.Parser.ParseFrom(sealedModel);
        var graph = model.Graph;
        if (graph.Output.Any(o => o.Name.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            return sealedModel;
        }
        graph.Initializer.Add(new TensorProto { Name = ShapeName, DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { -1 } });
        foreach (string output in outputs)
        {
            if (!graph.Output.Any(o => o.Name == output && o.Type?.TensorType?.ElemType == (int)TensorProto.Types.DataType.Float))
            {
                throw new ArgumentException($"The graph has no float output '{output}' to flatten.", nameof(outputs));
            }
            string flat = FlatName(output);
            graph.Node.Add(new NodeProto { Name = flat, OpType = "Reshape", Input = { output, ShapeName }, Output = { flat } });
            graph.Output.Add(new ValueInfoProto
            {
                Name = flat,
                Type = new TypeProto
                {
                    TensorType = new TypeProto.Types.Tensor
                    {
                        ElemType = (int)TensorProto.Types.DataType.Float,
                        Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = flat } } },
                    },
                },
            });
        }
        // A signature covers the bytes without the copies: it is kept in the metadata, and Remove appends it again as it was.
        var metadata = Metadata(model);
        if (model.MetadataProps.LastOrDefault(p => p.Key == MetadataKeys.Signature) is { } signature)
        {
            metadata[SignatureKey] = signature.Value;
        }
        return OnnxGraphBuilder.WriteSealed(model, metadata);
    }

    /// <summary>
    /// Returns <paramref name="sealedModel"/> without what <see cref="Add"/> added, re-sealed; <paramref name="sealedModel"/>
    /// itself when it has no flat copies, or when anything else in the graph reads them (then they stay).
    /// </summary>
    public static byte[] Remove(byte[] sealedModel)
    {
        ArgumentNullException.ThrowIfNull(sealedModel);
        var model = ModelProto.Parser.ParseFrom(sealedModel);
        var graph = model.Graph;
        static bool Added(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);
        if (graph is null || !graph.Output.Any(o => Added(o.Name)))
        {
            return sealedModel;
        }
        var kept = graph.Node.Where(n => !Added(n.Name)).ToList();
        // What Add wrote is read by nothing else: no kept node, no node of a subgraph (a Loop's or an If's body), no graph input.
        if (kept.SelectMany(Inputs).Any(Added) || graph.Input.Any(i => Added(i.Name))
            || graph.Node.Where(n => Added(n.Name)).Any(n => n.OpType != "Reshape" || !n.Output.All(Added)))
        {
            return sealedModel;
        }
        if (model.MetadataProps.GroupBy(p => p.Key).Any(g => g.Count() > 1))
        {
            return sealedModel; // not a model Add wrote
        }
        graph.Node.Clear();
        graph.Node.Add(kept);
        var initializers = graph.Initializer.Where(t => !Added(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.Add(initializers);
        var outputs = graph.Output.Where(o => !Added(o.Name)).ToList();
        graph.Output.Clear();
        graph.Output.Add(outputs);
        string? signature = model.MetadataProps.LastOrDefault(p => p.Key == SignatureKey)?.Value; // read before WriteSealed rewrites the metadata
        byte[] restored = OnnxGraphBuilder.WriteSealed(model, Metadata(model));
        return signature is null ? restored : OnnxIntegrity.AppendSignature(restored, signature);
    }

    /// <summary>Every input a node reads, its subgraphs' nodes included.</summary>
    private static IEnumerable<string> Inputs(NodeProto node)
        => node.Input.Concat(node.Attribute
            .SelectMany(a => a.G is { } g ? [g] : a.Graphs)
            .SelectMany(g => g.Node.SelectMany(Inputs)));

    /// <summary>The model's metadata but what sealing writes (the seal, a signature) and the signature <see cref="Add"/> keeps.</summary>
    private static Dictionary<string, string> Metadata(ModelProto model) => model.MetadataProps
        .Where(p => p.Key != MetadataKeys.Integrity && p.Key != MetadataKeys.Signature && p.Key != SignatureKey)
        .ToDictionary(p => p.Key, p => p.Value);
}
