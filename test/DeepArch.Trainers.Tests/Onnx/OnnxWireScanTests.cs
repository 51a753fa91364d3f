using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;
using Xunit;

namespace DeepArch.Trainers.Tests.Onnx;

/// <summary>
/// <see cref="OnnxWireScan"/>, the walk over an ONNX file's encoding that runs before any parser: every model DeepArch exports
/// passes it (<see cref="OnnxAssert.CheckModel"/> runs it through <see cref="OnnxModelCheck"/>); these are the encodings it refuses.
/// </summary>
public class OnnxWireScanTests
{
    private static byte[] SmallModel()
    {
        var graph = new OnnxGraphBuilder();
        string input = graph.AddInput("x", [2]);
        string weight = graph.AddInitializer("w", [1f, 2f, 3f, 4f], 2, 2);
        graph.AddOutput(graph.AddNode("MatMul", [input, weight]), "y", [2]);
        return graph.ToModelBytes("scan test", new Dictionary<string, string>());
    }

    [Fact]
    public void A_model_DeepArch_writes_passes_and_its_fields_are_counted()
    {
        byte[] model = SmallModel();
        var proto = ModelProto.Parser.ParseFrom(model);

        long fields = OnnxWireScan.Check(model, OnnxWireScan.Mode.Strict);

        Assert.InRange(fields, proto.Graph.Node.Count + proto.Graph.Initializer.Count + 4, 200);
    }

    [Fact]
    public void A_length_running_past_its_message_is_refused()
    {
        byte[] model = SmallModel();

        var error = Assert.Throws<InvalidDataException>(() => OnnxWireScan.Check(model.AsSpan(0, model.Length - 3), OnnxWireScan.Mode.Lenient));

        Assert.StartsWith("The ONNX model ", error.Message);
        Assert.Contains("bytes where", error.Message);
    }

    [Fact]
    public void A_field_DeepArch_never_writes_is_refused_when_strict_and_counted_when_lenient()
    {
        byte[] model = [.. SmallModel(), .. Field(25, [1, 2, 3])]; // ModelProto.functions

        long lenient = OnnxWireScan.Check(model, OnnxWireScan.Mode.Lenient);
        var strict = Assert.Throws<InvalidDataException>(() => OnnxWireScan.Check(model, OnnxWireScan.Mode.Strict));

        Assert.Equal(OnnxWireScan.Check(SmallModel(), OnnxWireScan.Mode.Strict) + 1, lenient);
        Assert.Equal("The ONNX model holds fields or encodings DeepArch never writes (field 25 of ModelProto): it was written by another tool or edited.", strict.Message);
    }

    [Fact]
    public void Packed_dimensions_where_DeepArch_writes_them_one_by_one_are_refused()
    {
        // TensorProto.dims as one packed field (wire type 2): what an outside probe used to hide a field behind an encoding of the same length.
        byte[] tensor = Field(1, [2, 3]);
        byte[] model = Field(7, Field(5, tensor)); // ModelProto.graph, GraphProto.initializer

        var error = Assert.Throws<InvalidDataException>(() => OnnxWireScan.Check(model, OnnxWireScan.Mode.Strict));

        Assert.Contains("(field 1 of TensorProto in wire type 2, where DeepArch writes wire type 0)", error.Message);
    }

    [Fact]
    public void Subgraphs_nested_past_the_limit_are_refused_before_a_parser_recurses_into_them()
    {
        byte[] graph = [];
        for (int i = 0; i < 30; i++)
        {
            graph = Field(1, Field(5, Field(6, graph))); // GraphProto.node, NodeProto.attribute, AttributeProto.g
        }

        var error = Assert.Throws<InvalidDataException>(() => OnnxWireScan.Check(Field(7, graph), OnnxWireScan.Mode.Lenient));

        Assert.Equal($"The ONNX model nests messages more than {OnnxWireScan.MaxDepth} deep.", error.Message);
    }

    [Fact]
    public void Packed_integers_count_one_field_per_value_so_one_byte_values_cannot_swell_eightfold_in_the_parser()
    {
        // TensorProto.int64_data of 300,000 one-byte values: 300 KB in the file, 2.4 MB once parsed (a file of 200 MB, 1.6 GB).
        byte[] values = new byte[300_000];
        byte[] model = Field(7, Field(5, Field(7, values))); // ModelProto.graph, GraphProto.initializer, TensorProto.int64_data
        byte[] few = Field(7, Field(5, Field(7, new byte[3])));

        var error = Assert.Throws<InvalidDataException>(() => OnnxWireScan.Check(model, OnnxWireScan.Mode.Lenient));

        Assert.True(OnnxWireScan.IsLimit(error));
        Assert.Contains("packed values", error.Message);
        Assert.Equal(3 + 3, OnnxWireScan.Check(few, OnnxWireScan.Mode.Lenient)); // three fields, three values
    }

    [Fact]
    public void A_group_is_refused_in_either_mode()
    {
        byte[] model = [(2 << 3) | 3, (2 << 3) | 4]; // an empty group in field 2 (producer_name)

        var error = Assert.Throws<InvalidDataException>(() => OnnxWireScan.Check(model, OnnxWireScan.Mode.Lenient));

        Assert.Contains("wire type 3", error.Message);
    }

    /// <summary>A length-delimited field <paramref name="number"/> holding <paramref name="content"/>.</summary>
    private static byte[] Field(int number, byte[] content)
    {
        using var output = new MemoryStream();
        using (var coded = new CodedOutputStream(output, leaveOpen: true))
        {
            coded.WriteTag(number, WireFormat.WireType.LengthDelimited);
            coded.WriteBytes(ByteString.CopyFrom(content));
        }
        return output.ToArray();
    }
}
