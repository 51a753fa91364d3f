using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepArch.Trainers.Layers;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Networks;

/// <summary>
/// The trained networks of a model as training left them (architecture, input shape, every parameter and buffer), stored with the
/// model so that a later <c>Fit</c> can continue training it (warm start). The exported ONNX graph holds the same weights in the
/// layout ONNX wants (gates reordered, layers fused); this keeps them in the layout the networks train in.
/// </summary>
/// <remarks>
/// Layout: <c>DAWS</c>, a format number, the network count; per network its architecture (JSON), its input shape and its tensors
/// (count; per tensor its name, element type, shape and raw bytes, little-endian). A model file is untrusted input, so
/// <see cref="Read"/> bounds every count by what is left to read, and <see cref="Restore"/> reads a tensor only into a network
/// built from an architecture the caller has compared with its own (<see cref="SameStructure"/>): its names, types and shapes must
/// match that network's, and no size read from the state allocates anything.
/// </remarks>
internal static class NetworkState
{
    private const int Format = 1;
    private static readonly byte[] Magic = "DAWS"u8.ToArray();

    /// <summary>One network of a stored state: its architecture, input shape and serialized tensors.</summary>
    internal sealed record Entry(LayerSpec Architecture, int[] InputShape, byte[] Tensors);

    /// <summary>The state of <paramref name="networks"/>, in their order.</summary>
    public static byte[] Write(IReadOnlyList<Network> networks)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Format);
            writer.Write(networks.Count);
            foreach (var network in networks)
            {
                writer.Write(LayerSpecJson.Serialize(network.Architecture));
                writer.Write(network.InputShape.Count);
                foreach (int d in network.InputShape)
                {
                    writer.Write(d);
                }
                byte[] tensors = WriteTensors(network.Module.state_dict());
                writer.Write(tensors.Length);
                writer.Write(tensors);
            }
        }
        return stream.ToArray();
    }

    /// <summary>The networks of a state written by <see cref="Write"/>.</summary>
    /// <exception cref="InvalidDataException">The state is damaged, of another format, or names an architecture this DeepArch cannot read.</exception>
    public static IReadOnlyList<Entry> Read(byte[] state)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(state, writable: false), Encoding.UTF8);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException("it does not start with DAWS.");
            }
            int format = reader.ReadInt32();
            if (format != Format)
            {
                throw new InvalidDataException($"it has format {format}; this DeepArch reads format {Format}.");
            }
            int count = Count(reader, reader.ReadInt32(), 1, "network");
            var entries = new List<Entry>(count);
            for (int i = 0; i < count; i++)
            {
                var architecture = LayerSpecJson.Deserialize(reader.ReadString());
                int rank = Count(reader, reader.ReadInt32(), sizeof(int), "input dimension");
                var shape = new int[rank];
                for (int d = 0; d < rank; d++)
                {
                    shape[d] = reader.ReadInt32();
                }
                byte[] tensors = reader.ReadBytes(Count(reader, reader.ReadInt32(), 1, "tensor byte"));
                entries.Add(new Entry(architecture, shape, tensors));
            }
            if (reader.BaseStream.Position != state.Length)
            {
                throw new InvalidDataException($"{state.Length - reader.BaseStream.Position} bytes follow the last network.");
            }
            return entries;
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{e.Message.TrimEnd('.')}.", e);
        }
    }

    /// <summary>
    /// Whether <paramref name="stored"/> is <paramref name="planned"/> up to the statistics a layer takes from the training data
    /// (a <see cref="Normalization"/>'s means and scales; their counts must agree): the same layers, sizes and options.
    /// </summary>
    public static bool SameStructure(LayerSpec planned, LayerSpec stored)
        => JsonNode.DeepEquals(Structure(planned), Structure(stored));

    /// <summary>
    /// Where <paramref name="planned"/> and <paramref name="stored"/> first differ (what <see cref="SameStructure"/> compares), as
    /// "path: planned value here, stored value in the initial model"; null when they do not.
    /// </summary>
    public static string? FirstDifference(LayerSpec planned, LayerSpec stored) => FirstDifference(Structure(planned), Structure(stored), "network");

    private static string? FirstDifference(JsonNode? planned, JsonNode? stored, string path)
    {
        switch (planned, stored)
        {
            case (JsonObject a, JsonObject b):
                foreach (string key in a.Select(p => p.Key).Union(b.Select(p => p.Key)))
                {
                    if (FirstDifference(a[key], b[key], $"{path}.{key}") is { } difference)
                    {
                        return difference;
                    }
                }
                return null;
            case (JsonArray a, JsonArray b) when a.Count == b.Count:
                for (int i = 0; i < a.Count; i++)
                {
                    if (FirstDifference(a[i], b[i], $"{path}[{i}]") is { } difference)
                    {
                        return difference;
                    }
                }
                return null;
            case (JsonArray a, JsonArray b):
                return $"{path}: {a.Count} entries with these options, {b.Count} in the initial model";
            default:
                return JsonNode.DeepEquals(planned, stored) ? null
                    : $"{path}: {planned?.ToJsonString() ?? "none"} with these options, {stored?.ToJsonString() ?? "none"} in the initial model";
        }
    }

    private static JsonNode? Structure(LayerSpec spec)
    {
        var node = JsonNode.Parse(LayerSpecJson.Serialize(spec));
        Strip(node);
        return node;

        static void Strip(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    if (o["type"]?.GetValue<string>() == "normalization")
                    {
                        foreach (string statistic in new[] { "mean", "scale" })
                        {
                            o[statistic] = (o[statistic] as JsonArray)?.Count ?? -1;
                        }
                    }
                    foreach (var (_, child) in o.ToList())
                    {
                        Strip(child);
                    }
                    break;
                case JsonArray a:
                    foreach (var child in a)
                    {
                        Strip(child);
                    }
                    break;
            }
        }
    }

    /// <summary>Copies the tensors of <paramref name="entry"/> into <paramref name="network"/>, built from its architecture.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing, unknown, or of another type or shape than the network's.</exception>
    public static void Restore(Network network, Entry entry)
    {
        var targets = network.Module.state_dict();
        try
        {
            using var reader = new BinaryReader(new MemoryStream(entry.Tensors, writable: false), Encoding.UTF8);
            int count = reader.ReadInt32();
            if (count != targets.Count)
            {
                throw new InvalidDataException($"it holds {count} tensors where the network has {targets.Count}.");
            }
            using var _ = no_grad();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                if (!targets.TryGetValue(name, out var target) || !seen.Add(name))
                {
                    throw new InvalidDataException($"it holds '{name}' {(seen.Contains(name) ? "twice" : "which the network does not have")}.");
                }
                var type = (ScalarType)reader.ReadInt32();
                int rank = reader.ReadInt32();
                var shape = new long[Math.Max(0, Math.Min(rank, 16))];
                for (int d = 0; d < shape.Length; d++)
                {
                    shape[d] = reader.ReadInt64();
                }
                if (type != target.dtype || rank != target.shape.Length || !shape.SequenceEqual(target.shape))
                {
                    throw new InvalidDataException($"its '{name}' is {type} [{string.Join(", ", shape)}] where the network's is {target.dtype} [{string.Join(", ", target.shape)}].");
                }
                using var loaded = zeros_like(target, device: CPU);
                byte[] bytes = reader.ReadBytes(checked((int)(loaded.NumberOfElements * loaded.ElementSize)));
                if (bytes.Length != loaded.NumberOfElements * loaded.ElementSize)
                {
                    throw new EndOfStreamException($"'{name}' is cut short.");
                }
                loaded.bytes = bytes;
                target.copy_(loaded);
            }
            if (reader.BaseStream.Position != entry.Tensors.Length)
            {
                throw new InvalidDataException("bytes follow the last tensor.");
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"{e.Message.TrimEnd('.')}.", e);
        }
    }

    private static byte[] WriteTensors(IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(tensors.Count);
            foreach (var (name, value) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                using var cpu = value.detach().cpu().contiguous();
                writer.Write(name);
                writer.Write((int)cpu.dtype);
                writer.Write(cpu.shape.Length);
                foreach (long d in cpu.shape)
                {
                    writer.Write(d);
                }
                writer.Write(cpu.bytes);
            }
        }
        return stream.ToArray();
    }

    /// <summary>A count read from the state, bounded by what is left to read (<paramref name="bytesEach"/> bytes each at least).</summary>
    private static int Count(BinaryReader reader, int count, int bytesEach, string what)
    {
        long left = reader.BaseStream.Length - reader.BaseStream.Position;
        return count >= 0 && (long)count * bytesEach <= left ? count : throw new InvalidDataException($"its {what} count {count} is out of bounds ({left} bytes left).");
    }
}
