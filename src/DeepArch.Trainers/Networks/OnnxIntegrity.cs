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
/// The seal catches damage, not tampering: anyone can recompute a SHA-256. <see cref="Sign"/> appends a second entry,
/// a keyed HMAC-SHA256 that only a holder of the key can compute, which turns the check into an authentication.
/// </remarks>
internal static class OnnxIntegrity
{
    /// <summary><c>ModelProto.metadata_props</c> (field number from onnx.proto).</summary>
    private const int MetadataPropsField = 14;

    /// <summary>Returns <paramref name="model"/> with the integrity entry appended.</summary>
    public static byte[] Seal(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Append(model, MetadataKeys.Integrity, Convert.ToHexStringLower(SHA256.HashData(model)));
    }

    /// <summary>
    /// Returns <paramref name="sealedModel"/> with a <see cref="MetadataKeys.Signature"/> entry appended: the HMAC-SHA256
    /// under <paramref name="key"/> of every byte before it, seal included. Only a holder of the key can make one that
    /// <see cref="VerifySignature"/> accepts with that key.
    /// </summary>
    public static byte[] Sign(byte[] sealedModel, byte[] key)
    {
        ArgumentNullException.ThrowIfNull(sealedModel);
        ArgumentNullException.ThrowIfNull(key);
        // A model signed before (loaded from a signed file) is signed again, not twice: its old signature goes first.
        byte[] body = Unsigned(sealedModel);
        return Append(body, MetadataKeys.Signature, Convert.ToHexStringLower(HMACSHA256.HashData(key, body)));
    }

    /// <summary>
    /// Checks that <paramref name="model"/> ends with its integrity entry holding the SHA-256 of every byte before it,
    /// optionally followed by a signature entry (not checked here: see <see cref="VerifySignature"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The model is not well-formed protobuf, has no integrity entry, or its bytes do not match it.</exception>
    public static void Verify(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (start, entry) = IntegrityEntry(model);
        if (entry is null)
        {
            throw new InvalidDataException(
                $"The ONNX model has no '{MetadataKeys.Integrity}' integrity entry at its end: it was damaged, edited after export, or written by another tool.");
        }
        string expected = Convert.ToHexStringLower(SHA256.HashData(model.AsSpan(0, start)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(entry.Value)))
        {
            throw new InvalidDataException(
                $"The ONNX model failed its integrity check: its SHA-256 is {expected} but '{MetadataKeys.Integrity}' says " +
                $"'{(entry.Value.Length > 64 ? entry.Value[..64] + "..." : entry.Value)}'. The file was damaged or edited after export.");
        }
    }

    /// <summary>Checks that <paramref name="model"/> ends with a signature entry holding the HMAC-SHA256 under <paramref name="key"/> of every byte before it.</summary>
    /// <exception cref="InvalidDataException">The model is not signed, or not with this key, or was changed after it was signed.</exception>
    public static void VerifySignature(byte[] model, byte[] key)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(key);
        var (start, entry) = LastEntry(model);
        if (entry?.Key != MetadataKeys.Signature)
        {
            throw new InvalidDataException(
                $"The ONNX model is not signed (it has no '{MetadataKeys.Signature}' entry at its end): it was saved without a signing key, or its signature was removed.");
        }
        string expected = Convert.ToHexStringLower(HMACSHA256.HashData(key, model.AsSpan(0, start)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(entry.Value)))
        {
            throw new InvalidDataException(
                $"The ONNX model's signature does not match the signing key: it was signed with another key, or changed after it was signed.");
        }
    }

    /// <summary>The SHA-256 (lowercase hex) a sealed model's integrity entry holds: an identity of the network, for whoever must refer to it.</summary>
    /// <exception cref="InvalidDataException">The model has no integrity entry (call <see cref="Verify"/> first to check it too).</exception>
    public static string SealOf(byte[] model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return IntegrityEntry(model).Entry?.Value
            ?? throw new InvalidDataException($"The ONNX model has no '{MetadataKeys.Integrity}' integrity entry at its end.");
    }

    /// <summary>Where the integrity entry of <paramref name="model"/> starts, and that entry (null when the model does not end with one, a signature aside).</summary>
    private static (int Start, StringStringEntryProto? Entry) IntegrityEntry(byte[] model)
    {
        var (start, entry) = LastEntry(Unsigned(model));
        return (start, entry?.Key == MetadataKeys.Integrity ? entry : null);
    }

    /// <summary><paramref name="model"/> without its last entry when that is a signature: the bytes a signature covers.</summary>
    private static byte[] Unsigned(byte[] model)
    {
        var (start, last) = LastEntry(model);
        return last?.Key == MetadataKeys.Signature ? model.AsSpan(0, start).ToArray() : model;
    }

    /// <summary>Where the last top-level field of <paramref name="model"/> starts, and that field as a metadata entry (null when it is none).</summary>
    private static (int Start, StringStringEntryProto? Entry) LastEntry(byte[] model)
    {
        int lastStart = 0;
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
        try
        {
            return (lastStart, lastEntry is null ? null : StringStringEntryProto.Parser.ParseFrom(lastEntry));
        }
        catch (InvalidProtocolBufferException)
        {
            return (lastStart, null); // reported by the caller as a missing entry
        }
    }

    /// <summary>
    /// <paramref name="sealedModel"/> with the signature entry <paramref name="signature"/> (an HMAC-SHA256 in lowercase hex, as
    /// <see cref="Sign"/> writes it) appended as it was: how a model whose signed bytes were edited and restored gets its signature back.
    /// </summary>
    public static byte[] AppendSignature(byte[] sealedModel, string signature)
    {
        ArgumentNullException.ThrowIfNull(sealedModel);
        ArgumentNullException.ThrowIfNull(signature);
        return Append(sealedModel, MetadataKeys.Signature, signature);
    }

    /// <summary><paramref name="model"/> with one more <c>metadata_props</c> entry at its end.</summary>
    private static byte[] Append(byte[] model, string key, string value)
    {
        var entry = new StringStringEntryProto { Key = key, Value = value };
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
