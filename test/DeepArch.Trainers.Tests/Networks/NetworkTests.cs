using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx.Proto;
using Xunit;

namespace DeepArch.Trainers.Tests.Networks;

/// <summary>A network's summary, exported metadata and prediction contract.</summary>
public class NetworkTests
{
    [Fact]
    public void Summary_lists_each_layer_with_its_output_shape_and_parameter_count()
    {
        var architecture = MultilayerPerceptron.Create([8, 4], 3, ActivationKind.Tanh, dropout: 0.25f, batchNorm: true);
        using var network = new Network(architecture, [5], seed: 1);

        var summary = network.Summarize();

        // Dense(in -> out) has in*out + out parameters; BatchNorm1d(n) has 2n (running statistics are buffers).
        (string Layer, int[] Shape, long Parameters)[] expected =
        [
            ("Dense(8)", [8], 5 * 8 + 8),
            ("BatchNorm1d", [8], 2 * 8),
            ("Tanh", [8], 0),
            (new Dropout(0.25f).Describe(), [8], 0),
            ("Dense(4)", [4], 8 * 4 + 4),
            ("BatchNorm1d", [4], 2 * 4),
            ("Tanh", [4], 0),
            (new Dropout(0.25f).Describe(), [4], 0),
            ("Dense(3)", [3], 4 * 3 + 3),
        ];
        Assert.Equal([5], summary.InputShape);
        Assert.Equal(expected.Select(e => e.Layer), summary.Rows.Select(r => r.Layer));
        Assert.Equal(expected.Select(e => e.Shape), summary.Rows.Select(r => r.OutputShape));
        Assert.Equal(expected.Select(e => e.Parameters), summary.Rows.Select(r => r.Parameters));
        Assert.Equal(expected.Sum(e => e.Parameters), summary.TotalParameters);
        Assert.Equal(network.ParameterCount, summary.TotalParameters);
        Assert.EndsWith($"Total parameters: {summary.TotalParameters}", summary.ToString());
    }

    [Fact]
    public void Summary_of_a_single_layer_network_has_one_row()
    {
        using var network = new Network(new Dense(3, useBias: false), [5], seed: 1);

        var row = Assert.Single(network.Summarize().Rows);

        Assert.Equal(("Dense(3, no bias)", 15L), (row.Layer, row.Parameters));
        Assert.Equal([3], row.OutputShape);
        Assert.Equal(15, network.ParameterCount);
    }

    [Fact]
    public void Exported_metadata_holds_the_architecture_and_input_shape()
    {
        var architecture = MultilayerPerceptron.Create([6], 2, ActivationKind.LeakyReLU, dropout: 0.1f, batchNorm: true);
        using var network = new Network(architecture, [4], seed: 1);

        var model = ModelProto.Parser.ParseFrom(network.ExportOnnx("input", "output", new Dictionary<string, string> { ["owner"] = "tests" }));

        var metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        var back = Assert.IsType<Sequential>(LayerSpecJson.Deserialize(metadata[MetadataKeys.Architecture]));
        Assert.Equal(architecture.Layers, back.Layers);
        Assert.Equal(LayerSpecJson.Serialize(architecture), LayerSpecJson.Serialize(back));
        Assert.Equal("[4]", metadata[MetadataKeys.InputShape]);
        Assert.Equal("tests", metadata["owner"]);
        Assert.Equal(network.Summarize().ToString(), model.DocString);
        Assert.Equal(17, Assert.Single(model.OpsetImport).Version);
    }

    [Fact]
    public void Predict_computes_a_dense_layer_row_by_row()
    {
        // Oracle: y = x W^T + b with W and b read back from the exported initializers.
        using var network = new Network(new Dense(3), [4], seed: 2);
        var graph = ModelProto.Parser.ParseFrom(network.ExportOnnx("input", "output")).Graph;
        float[] weight = Floats(graph.Initializer.Single(t => t.Dims.Count == 2));
        float[] bias = Floats(graph.Initializer.Single(t => t.Dims.Count == 1));
        var features = Fixtures.Regression(5, seed: 2).Features;

        float[] output = network.Predict(features, 5);

        Assert.Equal(5 * 3, output.Length);
        for (int r = 0; r < 5; r++)
        {
            for (int o = 0; o < 3; o++)
            {
                double expected = bias[o] + Enumerable.Range(0, 4).Sum(i => (double)features[r * 4 + i] * weight[o * 4 + i]);
                Assert.Equal(expected, output[r * 3 + o], 1e-5);
            }
        }
    }

    [Fact]
    public void Predict_with_the_wrong_number_of_values_names_both_counts()
    {
        using var network = new Network(new Dense(2), [5], seed: 1);

        var error = Assert.Throws<ArgumentException>(() => network.Predict(new float[14], rows: 3));

        Assert.Equal("features", error.ParamName);
        Assert.Contains("(15)", error.Message);
        Assert.Contains("got 14 values", error.Message);
    }

    [Fact]
    public void A_disposed_network_refuses_to_predict_or_export()
    {
        var network = new Network(new Dense(2), [5], seed: 1);
        network.Dispose();
        network.Dispose(); // idempotent

        Assert.Throws<ObjectDisposedException>(() => network.Predict(new float[5], 1));
        Assert.Throws<ObjectDisposedException>(() => network.ExportOnnx("input", "output"));
    }

    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 0 })]
    [InlineData(new[] { 4, -1 })]
    public void An_input_shape_without_positive_sizes_is_rejected(int[] shape)
    {
        var error = Assert.Throws<ArgumentException>(() => new Network(new Dense(2), shape, seed: 1));

        Assert.Equal("inputShape", error.ParamName);
    }

    private static float[] Floats(TensorProto tensor)
        => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
}
