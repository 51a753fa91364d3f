using System.Text.Json;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Tests;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.MLNet.Tests.Tasks;

/// <summary>
/// Each task declares the graph outputs it names, with the nodes its task adds on top of the network's output (multiclass a
/// softmax, binary a sigmoid), and scores what TorchSharp's output with that function applied gives.
/// </summary>
public class TaskOnnxOutputTests
{
    private const int Rows = 7, Features = 4;

    public static TheoryData<string> Tasks => ["multiclass", "binary", "regression", "vector"];

    private static PredictionTask Create(string task) => task switch
    {
        "multiclass" => new MulticlassTask(3, null, null),
        "binary" => new BinaryTask(),
        "regression" => new RegressionTask(),
        _ => new VectorOutputTask("Code", "Features", 3),
    };

    [Theory]
    [MemberData(nameof(Tasks))]
    public void A_tasks_graph_outputs_are_the_ones_it_names_computed_from_the_network_output(string task)
    {
        var prediction = Create(task);
        using var network = new Network(new Dense(prediction.NetworkOutputs), [Features], seed: 2);
        var random = new Random(4);
        float[] input = Enumerable.Range(0, Rows * Features).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        float[] raw = network.Predict(input, Rows);

        byte[] model = network.ExportOnnx("Features", prediction.AddOnnxOutputs);
        OnnxAssert.CheckModel(model);
        var proto = OnnxModelCheck.Check(model);
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(input, [Rows, Features]))]);

        Assert.Equal(prediction.OnnxOutputNames, proto.Graph.Output.Select(o => o.Name));
        int width = prediction.NetworkOutputs;
        float[] Expected(string output) => (task, output) switch
        {
            ("multiclass", _) => raw.Chunk(width).SelectMany(row =>
            {
                double[] e = row.Select(v => Math.Exp(v - row.Max())).ToArray();
                return e.Select(v => (float)(v / e.Sum()));
            }).ToArray(),
            ("binary", BinaryTask.RawProbability) => raw.Select(v => (float)(1 / (1 + Math.Exp(-v)))).ToArray(),
            _ => raw,
        };
        foreach (string output in prediction.OnnxOutputNames)
        {
            float[] actual = results.Single(r => r.Name == output).AsTensor<float>().ToArray();
            double error = Expected(output).Zip(actual, (e, a) => Math.Abs(e - (double)a)).Max();
            Assert.True(error <= 1e-6, $"{task}/{output}: max abs error {error:G3}");
        }
    }

    [Theory]
    [MemberData(nameof(Tasks))]
    public void A_tasks_output_names_are_not_written_into_the_model_metadata(string task)
    {
        string json = JsonSerializer.Serialize(Create(task), new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

        Assert.DoesNotContain("onnxOutput", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void An_anomaly_tasks_outputs_come_from_its_scoring_graph()
    {
        var prediction = new AnomalyTask { FeatureSize = 3, MissingValues = MissingValuePolicy.FlagAsAnomaly };
        using var network = new Network(new Dense(3), [3], seed: 1);

        Assert.Throws<NotSupportedException>(() => network.ExportOnnx("Features", prediction.AddOnnxOutputs));
    }
}
