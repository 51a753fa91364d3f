using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// Monte-Carlo dropout in exported graphs (<see cref="OnnxGraphBuilder.StochasticDropout"/>): dropout layers and the
/// dropout between stacked recurrent layers become ONNX <c>Dropout</c> nodes in training mode; default exports keep none.
/// </summary>
public class RecurrentMonteCarloDropoutTests(ITestOutputHelper output)
{
    private const int Copies = 4000;

    private static byte[] Export(Network network, bool stochastic)
    {
        var graph = new OnnxGraphBuilder { StochasticDropout = stochastic };
        string input = graph.AddInput("input", network.InputShape);
        string value = network.Architecture.EmitOnnx(graph, input, network.Module, network.InputShape);
        graph.AddOutput(value, "output", network.OutputShape);
        return graph.ToModelBytes("Monte-Carlo dropout test", new Dictionary<string, string>());
    }

    private static int DropoutNodes(byte[] model) => ModelProto.Parser.ParseFrom(model).Graph.Node.Count(n => n.OpType == "Dropout");

    /// <summary><see cref="Copies"/> copies of one sample.</summary>
    private static float[] Repeat(float[] sample) => Enumerable.Range(0, Copies).SelectMany(_ => sample).ToArray();

    [Fact]
    public void Default_exports_have_no_dropout_node()
    {
        using var network = new Network(new Sequential(new Recurrent(RecurrentCell.Lstm, 4, 3, layers: 3, dropout: 0.3f), new Dropout(0.5f), new Dense(2)), [15], seed: 1);

        Assert.Equal(0, DropoutNodes(network.ExportOnnx("input", [new OnnxOutput("output")])));
        Assert.Equal(0, DropoutNodes(Export(network, stochastic: false)));
        Assert.Equal(1 + 2, DropoutNodes(Export(network, stochastic: true)));
    }

    [Fact]
    public void Stochastic_dropout_layer_averages_to_the_eval_output()
    {
        using var network = new Network(new Sequential(new Dense(8), new Activation(ActivationKind.Tanh), new Dropout(0.5f), new Dense(2)), [5], seed: 3);
        float[] sample = [0.5f, -1f, 2f, 0.25f, -0.75f];
        float[] expected = network.Predict(sample, 1);
        byte[] model = Export(network, stochastic: true);
        OnnxAssert.CheckModel(model);

        float[] runs = RecurrentTestData.RunOnnx(model, network, Repeat(sample), Copies);

        for (int o = 0; o < 2; o++)
        {
            double[] values = Enumerable.Range(0, Copies).Select(r => (double)runs[r * 2 + o]).ToArray();
            double mean = values.Average();
            double deviation = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (Copies - 1));
            double standardError = deviation / Math.Sqrt(Copies);
            output.WriteLine($"output {o}: eval {expected[o]:F4}, Monte-Carlo mean {mean:F4} (standard error {standardError:G3}, spread {deviation:G3})");
            Assert.True(deviation > 1e-3, "The stochastic graph gives the same output on every run.");
            Assert.True(Math.Abs(mean - expected[o]) <= 5 * standardError, $"Monte-Carlo mean {mean} is more than 5 standard errors from the eval output {expected[o]}.");
        }
    }

    [Theory]
    [InlineData(RecurrentCell.Gru, false)]
    [InlineData(RecurrentCell.Lstm, true)]
    public void Stacked_recurrent_layers_drop_between_layers_only_when_stochastic(RecurrentCell cell, bool variableLength)
    {
        var layer = new Recurrent(cell, 4, 3, layers: 2, dropout: 0.4f, variableLength: variableLength);
        int size = variableLength ? 1 + 5 * 3 : 5 * 3;
        using var network = new Network(layer, [size], seed: 4);
        float[] sample = variableLength ? RecurrentTestData.Variable([4], 5, 3, seed: 4) : RecurrentTestData.Fixed(1, 5, 3, seed: 4);
        float[] expected = network.Predict(sample, 1);
        byte[] stochastic = Export(network, stochastic: true);
        OnnxAssert.CheckModel(stochastic);

        float[] deterministicRuns = RecurrentTestData.RunOnnx(Export(network, stochastic: false), network, Repeat(sample), Copies);
        float[] stochasticRuns = RecurrentTestData.RunOnnx(stochastic, network, Repeat(sample), Copies);

        Assert.Equal(1, DropoutNodes(stochastic));
        Assert.True(RecurrentTestData.MaxError(Repeat(expected), deterministicRuns) <= 1e-5);
        int distinct = Enumerable.Range(0, Copies).Select(r => stochasticRuns[r * 4]).Distinct().Count();
        output.WriteLine($"{layer.Describe()}: {distinct} distinct values of the first output over {Copies} runs");
        Assert.True(distinct > 10, $"Only {distinct} distinct outputs over {Copies} stochastic runs.");
    }
}
