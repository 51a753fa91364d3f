using System.Globalization;

namespace DeepArch.Trainers.Onnx;

/// <summary>
/// Walks the protobuf encoding of an ONNX <c>ModelProto</c> without building it, before any parser does, and refuses one that
/// parsing would blow up: more than <see cref="MaxFields"/> fields in all, messages nested deeper than <see cref="MaxDepth"/>,
/// lengths that run past their message, or groups. A parser turns each field into an object: an empty <c>NodeProto</c> takes two
/// bytes in the file and about 200 in memory, so a file of a few megabytes of them would take gigabytes before any check
/// could look at it (an outside probe measured 2.9 GB). The walk allocates nothing, and the fields it allows bound the memory a
/// parse takes to a few hundred megabytes, whatever the file's size. Weights as bytes or packed floats cost their size; a packed
/// field of integers (a tensor's <c>dims</c>, <c>int32_data</c> or <c>int64_data</c>, an attribute's <c>ints</c>) becomes 4 or 8
/// bytes per value, a value can take one byte in the file, so each of its values counts as a field.
/// </summary>
/// <remarks>
/// It knows the messages of <c>onnx_subset.proto</c> and recurses into them. <see cref="Mode.Strict"/> refuses any other field,
/// or a field in another wire type than DeepArch writes it (the check that follows would refuse both, after the parse);
/// <see cref="Mode.Lenient"/> skips them, counted, for a reader that still wants to parse a model DeepArch did not write, to say so.
/// </remarks>
internal static class OnnxWireScan
{
    /// <summary>
    /// The most fields a model may hold, every message, string and value counted once wherever it nests: at most about 50 MB
    /// once parsed, whatever they are. The largest of the 263 exports that DeepArch.Trainers.Tests checks (2026-12-05) holds 1,498;
    /// a network's weights are a few fields per tensor, whatever their size.
    /// </summary>
    public const int MaxFields = 250_000;

    /// <summary>How deep messages may nest: a graph inside a node inside a graph, <see cref="OnnxModelCheck.MaxSubgraphDepth"/> times, with room for the types inside.</summary>
    public const int MaxDepth = 8 * (OnnxModelCheck.MaxSubgraphDepth + 1);

    /// <summary>Whether <paramref name="error"/>, thrown by <see cref="Check"/>, is a limit (<see cref="MaxFields"/>, <see cref="MaxDepth"/>) rather than a malformed encoding: refused, not damaged.</summary>
    public static bool IsLimit(InvalidDataException error) => error.Data.Contains(nameof(IsLimit));

    /// <summary>Whether fields outside <c>onnx_subset.proto</c> are refused or skipped.</summary>
    public enum Mode
    {
        /// <summary>Refuse any field DeepArch does not write, or in another encoding.</summary>
        Strict,

        /// <summary>Skip (and count) fields outside the subset, as a parser keeping unknown fields would keep them.</summary>
        Lenient,
    }

    private enum Message : byte
    {
        None,
        Model,
        Graph,
        Node,
        Attribute,
        Tensor,
        ValueInfo,
        Type,
        TypeTensor,
        Shape,
        Dimension,
        StringEntry,
        OperatorSet,
    }

    private const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5;

    /// <summary>
    /// The wire type each field of each message is written in, and the message a length-delimited field holds (None for
    /// strings, bytes and packed values); -1 for a field the subset does not have. Field numbers from onnx.proto.
    /// </summary>
    private static (int WireType, Message Holds) Field(Message message, int number) => (message, number) switch
    {
        (Message.Model, 1 or 5) => (Varint, Message.None),
        (Message.Model, 2 or 3 or 4 or 6) => (LengthDelimited, Message.None),
        (Message.Model, 7) => (LengthDelimited, Message.Graph),
        (Message.Model, 8) => (LengthDelimited, Message.OperatorSet),
        (Message.Model, 14) => (LengthDelimited, Message.StringEntry),
        (Message.Graph, 1) => (LengthDelimited, Message.Node),
        (Message.Graph, 2 or 10) => (LengthDelimited, Message.None),
        (Message.Graph, 5) => (LengthDelimited, Message.Tensor),
        (Message.Graph, 11 or 12 or 13) => (LengthDelimited, Message.ValueInfo),
        (Message.Node, 1 or 2 or 3 or 4 or 6 or 7) => (LengthDelimited, Message.None),
        (Message.Node, 5) => (LengthDelimited, Message.Attribute),
        (Message.Attribute, 1 or 4 or 9) => (LengthDelimited, Message.None),
        (Message.Attribute, 2 or 7) => (Fixed32, Message.None),
        (Message.Attribute, 3 or 8 or 20) => (Varint, Message.None),
        (Message.Attribute, 5 or 10) => (LengthDelimited, Message.Tensor),
        (Message.Attribute, 6 or 11) => (LengthDelimited, Message.Graph),
        (Message.Tensor, 1 or 2 or 14) => (Varint, Message.None),
        (Message.Tensor, 4 or 5 or 7 or 8 or 9 or 12) => (LengthDelimited, Message.None),
        (Message.Tensor, 13) => (LengthDelimited, Message.StringEntry),
        (Message.ValueInfo, 1 or 3) => (LengthDelimited, Message.None),
        (Message.ValueInfo, 2) => (LengthDelimited, Message.Type),
        (Message.Type, 1) => (LengthDelimited, Message.TypeTensor),
        (Message.Type, 6) => (LengthDelimited, Message.None),
        (Message.TypeTensor, 1) => (Varint, Message.None),
        (Message.TypeTensor, 2) => (LengthDelimited, Message.Shape),
        (Message.Shape, 1) => (LengthDelimited, Message.Dimension),
        (Message.Dimension, 1) => (Varint, Message.None),
        (Message.Dimension, 2 or 3) => (LengthDelimited, Message.None),
        (Message.StringEntry, 1 or 2) => (LengthDelimited, Message.None),
        (Message.OperatorSet, 1) => (LengthDelimited, Message.None),
        (Message.OperatorSet, 2) => (Varint, Message.None),
        _ => (-1, Message.None),
    };

    /// <summary>Walks <paramref name="model"/>, a serialized <c>ModelProto</c>.</summary>
    /// <returns>How many fields it holds, nested ones included.</returns>
    /// <exception cref="InvalidDataException">The encoding is malformed, over a limit or, in <see cref="Mode.Strict"/>, holds something DeepArch does not write; the message says what.</exception>
    public static long Check(ReadOnlySpan<byte> model, Mode mode)
    {
        long fields = 0;
        Walk(model, Message.Model, 0, mode, ref fields);
        return fields;
    }

    private static void Walk(ReadOnlySpan<byte> bytes, Message message, int depth, Mode mode, ref long fields)
    {
        if (depth > MaxDepth)
        {
            throw Limit($"nests messages more than {MaxDepth} deep");
        }
        int position = 0;
        while (position < bytes.Length)
        {
            ulong tag = ReadVarint(bytes, ref position);
            int wireType = (int)(tag & 7);
            ulong number = tag >> 3;
            if (number == 0 || number > 536_870_911)
            {
                throw Invalid($"holds a field numbered {number}, which protobuf does not allow");
            }
            if (++fields > MaxFields)
            {
                throw Limit($"holds more than {MaxFields:N0} protobuf fields; the networks DeepArch exports hold a few thousand");
            }
            var (expected, holds) = Field(message, (int)number);
            if (expected != wireType && (mode == Mode.Strict || wireType is StartGroup or EndGroup))
            {
                throw expected < 0
                    ? Invalid($"holds fields or encodings DeepArch never writes (field {number} of {Name(message)}): it was written by another tool or edited")
                    : Invalid($"holds fields or encodings DeepArch never writes (field {number} of {Name(message)} in wire type {wireType}, where DeepArch writes wire type {expected}): it was written by another tool or edited");
            }
            switch (wireType)
            {
                case Varint:
                    _ = ReadVarint(bytes, ref position);
                    break;
                case Fixed64:
                    Skip(bytes, ref position, 8);
                    break;
                case Fixed32:
                    Skip(bytes, ref position, 4);
                    break;
                case LengthDelimited:
                    ulong length = ReadVarint(bytes, ref position);
                    if (length > (ulong)(bytes.Length - position))
                    {
                        throw Invalid($"holds a field {number} of {Name(message)} of {length:N0} bytes where {bytes.Length - position:N0} are left");
                    }
                    var content = bytes.Slice(position, (int)length);
                    position += (int)length;
                    if (expected == LengthDelimited && holds != Message.None)
                    {
                        Walk(content, holds, depth + 1, mode, ref fields);
                    }
                    else if (PackedIntegers(message, number))
                    {
                        fields += Varints(content);
                        if (fields > MaxFields)
                        {
                            throw Limit($"holds more than {MaxFields:N0} protobuf fields and packed values; the networks DeepArch exports hold a few thousand");
                        }
                    }
                    break;
                default:
                    throw Invalid($"holds a field {number} of {Name(message)} in wire type {wireType}, which DeepArch never writes");
            }
        }
    }

    /// <summary>Whether field <paramref name="number"/> of <paramref name="message"/>, length-delimited, is a packed repeated integer field the parser reads.</summary>
    private static bool PackedIntegers(Message message, ulong number) => (message, number) is (Message.Tensor, 1 or 5 or 7) or (Message.Attribute, 8);

    /// <summary>How many values packed varints in <paramref name="content"/> hold: the bytes that end one.</summary>
    private static int Varints(ReadOnlySpan<byte> content)
    {
        int count = 0;
        foreach (byte b in content)
        {
            count += b < 0x80 ? 1 : 0;
        }
        return count;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> bytes, ref int position)
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (position >= bytes.Length)
            {
                throw Invalid($"ends inside a number");
            }
            byte b = bytes[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw Invalid($"holds a number longer than 10 bytes");
    }

    private static void Skip(ReadOnlySpan<byte> bytes, ref int position, int count)
    {
        if (bytes.Length - position < count)
        {
            throw Invalid($"ends inside a field");
        }
        position += count;
    }

    /// <summary>The message's name in onnx.proto.</summary>
    private static string Name(Message message) => message switch
    {
        Message.TypeTensor => "TypeProto.Tensor",
        Message.Dimension => "TensorShapeProto.Dimension",
        Message.StringEntry => "StringStringEntryProto",
        Message.OperatorSet => "OperatorSetIdProto",
        _ => $"{message}Proto",
    };

    private static InvalidDataException Limit(FormattableString what)
    {
        var error = Invalid(what);
        error.Data[nameof(IsLimit)] = true;
        return error;
    }

    private static InvalidDataException Invalid(FormattableString what) => new($"The ONNX model {what.ToString(CultureInfo.InvariantCulture)}.");
}
