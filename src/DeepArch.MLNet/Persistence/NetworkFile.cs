using System.Text.Json;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;

namespace DeepArch.MLNet;

/// <summary>
/// A DeepArch network read from a model file, checked as untrusted input before anything else sees it: its integrity
/// seal (and signature, when a key is given), its structure (<see cref="OnnxModelCheck"/>), its model info's values
/// against their bounds (<see cref="ModelInfo.CheckLoaded"/>), and the agreement between the model info and the graph
/// (input names and sizes, every output the transformer reads with its shape). An autoencoder's decoder or a generator's
/// discriminator, stored beside the model info, is checked the same way.
/// </summary>
internal static class NetworkFile
{
    /// <summary>Checks <paramref name="onnx"/> and returns its model info.</summary>
    /// <param name="onnx">The ONNX model's bytes.</param>
    /// <param name="signingKey">The key the model must be signed with, or null to check only its integrity.</param>
    /// <param name="what">How messages name the model, for example "The ONNX model in zip entry 'X'".</param>
    /// <exception cref="InvalidDataException">The model is damaged, not a DeepArch network, or holds values out of bounds; the message says which.</exception>
    public static ModelInfo Open(byte[] onnx, byte[]? signingKey, string what) => Open(onnx, signingKey, what, nested: false);

    private static ModelInfo Open(byte[] onnx, byte[]? signingKey, string what, bool nested)
    {
        ModelProto proto;
        try
        {
            // Bounds what the parse below allocates (every field it would build), whatever the bytes: an ONNX file of empty
            // messages takes 100 times its size once parsed. Fields DeepArch does not write are counted here, refused by the check.
            OnnxWireScan.Check(onnx, OnnxWireScan.Mode.Lenient);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{what} is {(OnnxWireScan.IsLimit(e) ? "refused" : "damaged")}: {e.Message}", e);
        }
        try
        {
            proto = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidOperationException)
        {
            throw new InvalidDataException($"{what} is damaged: {e.Message}", e);
        }
        try
        {
            OnnxIntegrity.Verify(onnx);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(OnnxIntegrity.ClaimsDeepArch(proto)
                ? $"{what} was written by DeepArch but is damaged: {e.Message}"
                : $"{what} is not an ONNX model written by DeepArch: {e.Message}", e);
        }
        try
        {
            if (signingKey is not null)
            {
                OnnxIntegrity.VerifySignature(onnx, signingKey);
            }
            proto = OnnxModelCheck.Check(onnx);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{what} is refused: {e.Message}", e);
        }
        var entries = proto.MetadataProps.Where(p => p.Key == ModelInfo.MetadataKey).ToList();
        if (entries.Count != 1)
        {
            throw new InvalidDataException($"{what} holds {entries.Count} '{ModelInfo.MetadataKey}' metadata entries; a DeepArch network holds one.");
        }
        ModelInfo info;
        try
        {
            info = ModelInfo.FromJson(entries[0].Value);
            info.CheckLoaded();
            CheckGraph(info, proto.Graph);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException or FormatException or OverflowException or InvalidDataException)
        {
            throw new InvalidDataException($"{what} holds a damaged DeepArch network: {e.Message}", e);
        }
        return info with
        {
            Decoder = Companion(proto, ModelInfo.DecoderKey, "decoder", info.Task is VectorOutputTask && info.Generation is null, what, nested),
            Discriminator = Companion(proto, ModelInfo.DiscriminatorKey, "discriminator", info.Generation is not null, what, nested),
            TrainingState = Base64Entry(proto, ModelInfo.TrainingStateKey, "training state", allowed: !nested, what),
        };
    }

    /// <summary>
    /// The network stored in metadata entry <paramref name="key"/> beside the model info (an autoencoder's decoder, a generator's
    /// discriminator), checked like the model itself; null when there is none. It may be there only when <paramref name="allowed"/>.
    /// </summary>
    private static byte[]? Companion(ModelProto proto, string key, string role, bool allowed, string what, bool nested)
    {
        byte[]? companion = Base64Entry(proto, key, role, allowed && !nested, what);
        if (companion is not null)
        {
            Open(companion, null, $"The {role} inside {char.ToLowerInvariant(what[0])}{what[1..]}", nested: true);
        }
        return companion;
    }

    /// <summary>The bytes of metadata entry <paramref name="key"/>, base64; null when there is none. It may be there only when <paramref name="allowed"/>.</summary>
    private static byte[]? Base64Entry(ModelProto proto, string key, string role, bool allowed, string what)
    {
        var entries = proto.MetadataProps.Where(p => p.Key == key).ToList();
        if (entries.Count == 0)
        {
            return null;
        }
        if (entries.Count > 1 || !allowed)
        {
            throw new InvalidDataException($"{what} holds a {role} where DeepArch writes none (or more than one).");
        }
        try
        {
            return Convert.FromBase64String(entries[0].Value);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{what} holds a damaged {role} entry: {e.Message}", e);
        }
    }

    /// <summary>
    /// The graph reads the float inputs the model info names (the features, then a condition's one-hot key), each shaped
    /// [batch, size], and has every output the task reads, shaped [batch, ..shape].
    /// </summary>
    private static void CheckGraph(ModelInfo info, GraphProto graph)
    {
        var inputs = info.Inputs;
        if (!graph.Input.Select(i => i.Name).SequenceEqual(inputs.Select(i => i.Name)))
        {
            throw new InvalidDataException(
                $"the model info names the input{(inputs.Count > 1 ? "s" : "")} {string.Join(", ", inputs.Select(i => $"'{i.Name}'"))} " +
                $"but the graph's inputs are [{string.Join(", ", graph.Input.Select(i => $"'{i.Name}'"))}].");
        }
        for (int i = 0; i < inputs.Count; i++)
        {
            // A sequence-to-sequence graph reads sources of any width (a saved chain hands it 1 + 255 values, the scorer 1 + MaxSourceLength).
            CheckValue(graph.Input[i], [inputs[i].Size], "input", info.Translation is null ? null : "source_width");
        }
        foreach (var (name, shape) in info.Task.ScoringOutputs(info))
        {
            var output = graph.Output.FirstOrDefault(o => o.Name == name)
                ?? throw new InvalidDataException($"the model info reads the output '{name}' but the graph has no such output.");
            CheckValue(output, shape, "output");
        }
    }

    private static void CheckValue(ValueInfoProto value, int[] rowShape, string role, string? symbolicWidth = null)
    {
        var dims = value.Type?.TensorType?.Shape?.Dim;
        bool matches = value.Type?.TensorType?.ElemType == (int)TensorProto.Types.DataType.Float
            && dims is not null && dims.Count == rowShape.Length + 1
            && dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam
            && dims.Skip(1).Select((d, i) => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue == rowShape[i]
                : symbolicWidth is not null && rowShape.Length == 1 && d.DimParam == symbolicWidth).All(ok => ok);
        if (!matches)
        {
            string actual = dims is null ? "no shape" : "[" + string.Join(", ", dims.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? d.DimParam : d.DimValue.ToString())) + "]";
            throw new InvalidDataException(
                $"the model info says the graph's {role} '{value.Name}' is float [batch, {string.Join(", ", rowShape)}] but the graph declares {actual}.");
        }
    }
}
