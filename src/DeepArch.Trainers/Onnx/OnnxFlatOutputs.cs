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
        return Reseal(model);
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
        if (kept.Any(n => n.Input.Any(Added)) || graph.Node.Where(n => Added(n.Name)).Any(n => n.OpType != "Reshape" || !n.Output.All(Added)))
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
        return Reseal(model);
    }

    /// <summary>The model's bytes sealed again, its metadata (but the seal and any signature) as they were.</summary>
    private static byte[] Reseal(ModelProto model)
    {
        var metadata = model.MetadataProps
            .Where(p => p.Key != MetadataKeys.Integrity && p.Key != MetadataKeys.Signature)
            .ToDictionary(p => p.Key, p => p.Value);
        return OnnxGraphBuilder.WriteSealed(model, metadata);
    }
}
