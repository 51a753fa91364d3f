using System.Security.Cryptography;
using System.Text;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;

namespace DeepArch.Trainers.Networks;

/// <summary>
/// The integrity seal of an exported model. <see cref="Seal"/> appends one last <c>metadata_props</c>
/// entry, <see cref="MetadataKeys.Integrity"/>, holding the SHA-256 (lowercase hex) of every byte of the
/// serialized <c>ModelProto</c> before it: the graph (nodes, weights, inputs, outputs), the opset, the
/// doc string and the other metadata. <see cref="Verify"/> checks it in managed code, so a loader can
/// reject a damaged or edited file before any ONNX Runtime session parses it.
/// </summary>
/// <remarks>
/// Protobuf lets a repeated field's entries appear anywhere, in order, so appending a serialized entry
/// to the model's bytes is the same as adding it last to <c>metadata_props</c>: the result is a valid
/// ONNX model (the official checker accepts it) whose bytes before the entry are exactly the unsealed model.
/// </remarks>
internal static class OnnxIntegrity
{
    /// <summary><c>ModelProto.metadata_props</c> (field number from onnx.proto).</summary>
    private const int MetadataPropsField = 14;

    /// <summary>Returns <paramref name="model"/> with the integrity entry appended.</summary>
    public static byte[] Seal(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var entry = new StringStringEntryProto { Key = MetadataKeys.Integrity, Value = Convert.ToHexStringLower(SHA256.HashData(model)) };
        using var output = new MemoryStream(model.Length + 128);
        output.Write(model);
        using (var coded = new CodedOutputStream(output, leaveOpen: true))
        {
            coded.WriteTag(MetadataPropsField, WireFormat.WireType.LengthDelimited);
            coded.WriteMessage(entry);
        }
        return output.ToArray();
    }

    /// <summary>
    /// Checks that the last top-level field of <paramref name="model"/> is the integrity entry and that
    /// it holds the SHA-256 of every byte before it.
    /// </summary>
    /// <exception cref="InvalidDataException">The model is not well-formed protobuf, has no integrity entry, or its bytes do not match it.</exception>
    public static void Verify(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int lastStart = -1;
        ByteString? lastEntry = null;
        try
        {
            var input = new CodedInputStream(model);
            while (!input.IsAtEnd)
            {
                int start = checked((int)input.Position);
                uint tag = input.ReadTag();
                if (WireFormat.GetTagFieldNumber(tag) == MetadataPropsField && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                {
                    lastEntry = input.ReadBytes();
                }
                else
                {
                    input.SkipLastField();
                    lastEntry = null;
                }
                lastStart = start;
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The ONNX model is not well-formed: {e.Message}", e);
        }
        StringStringEntryProto? seal = null;
        try
        {
            seal = lastEntry is null ? null : StringStringEntryProto.Parser.ParseFrom(lastEntry);
        }
        catch (InvalidProtocolBufferException)
        {
            // Reported below as a missing entry.
        }
        if (seal is null || seal.Key != MetadataKeys.Integrity)
        {
            throw new InvalidDataException(
                $"The ONNX model has no '{MetadataKeys.Integrity}' integrity entry at its end: it was damaged, edited after export, or written by another tool.");
        }
        byte[] expected = SHA256.HashData(model.AsSpan(0, lastStart));
        byte[] stored = Encoding.ASCII.GetBytes(seal.Value);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(expected)), stored))
        {
            throw new InvalidDataException(
                $"The ONNX model failed its integrity check: its SHA-256 is {Convert.ToHexStringLower(expected)} but '{MetadataKeys.Integrity}' says " +
                $"'{(seal.Value.Length > 64 ? seal.Value[..64] + "..." : seal.Value)}'. The file was damaged or edited after export.");
        }
    }

    /// <summary>
    /// Whether <paramref name="model"/> says it was written by DeepArch: its producer, its domain, its
    /// graph's name or any <c>deeparch.*</c> metadata key. Any one is enough, so that damage to one
    /// marker does not let a damaged DeepArch model pass as a foreign one and skip <see cref="Verify"/>.
    /// </summary>
    public static bool ClaimsDeepArch(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // The values OnnxGraphBuilder writes.
        return model.ProducerName == "DeepArch"
            || model.Domain == "ai.deeparch"
            || model.Graph?.Name == "deeparch"
            || model.MetadataProps.Any(p => p.Key.StartsWith("deeparch.", StringComparison.Ordinal));
    }
}
