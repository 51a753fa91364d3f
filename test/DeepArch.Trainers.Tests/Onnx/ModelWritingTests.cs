using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Onnx.Proto;
using Xunit;

namespace DeepArch.Trainers.Tests.Onnx;

/// <summary><see cref="OnnxGraphBuilder.ToModelBytes(string, IReadOnlyDictionary{string, string}?)"/>, the one writer of a model's metadata and seal.</summary>
public class ModelWritingTests
{
    private static OnnxGraphBuilder Graph()
    {
        var graph = new OnnxGraphBuilder();
        graph.AddOutput(graph.AddNode("Relu", [graph.AddInput("x", [2])]), "y", [2]);
        return graph;
    }

    [Fact]
    public void Metadata_is_written_sorted_by_key_and_sealed_last()
    {
        byte[] model = Graph().ToModelBytes("test", new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });

        OnnxIntegrity.Verify(model);
        Assert.Equal(["a", "b", MetadataKeys.Integrity], ModelProto.Parser.ParseFrom(model).MetadataProps.Select(p => p.Key));
    }

    [Fact]
    public void A_network_model_carries_its_architecture_and_the_graph_inputs_shape()
    {
        using var network = new Network(new Dense(2), [3], seed: 1);
        var graph = new OnnxGraphBuilder();
        graph.AddOutput(graph.AddInput("x", [5]), "y", [5]);

        var metadata = ModelProto.Parser.ParseFrom(graph.ToModelBytes(network, inputShape: [5])).MetadataProps.ToDictionary(p => p.Key, p => p.Value);

        Assert.Equal("[5]", metadata[MetadataKeys.InputShape]);
        Assert.Equal(LayerSpecJson.Serialize(network.Architecture), metadata[MetadataKeys.Architecture]);
    }

    [Theory]
    [InlineData(MetadataKeys.Integrity)]
    [InlineData(MetadataKeys.Signature)]
    public void The_seal_and_signature_keys_are_reserved(string key)
    {
        var error = Assert.Throws<ArgumentException>(() => Graph().ToModelBytes("test", new Dictionary<string, string> { [key] = "x" }));

        Assert.Equal("metadata", error.ParamName);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void A_graph_without_outputs_is_not_written()
    {
        var graph = new OnnxGraphBuilder();
        graph.AddInput("x", [2]);

        Assert.Throws<InvalidOperationException>(() => graph.ToModelBytes("test"));
    }
}
