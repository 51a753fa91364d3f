using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.Trainers.Tests.Onnx;

/// <summary>
/// The MLP exported as each ML.NET task exports it (multiclass: softmax probabilities; binary: logit and
/// sigmoid; regression: raw value) matches TorchSharp's eval output with the same transform applied,
/// and passes onnx.checker.
/// </summary>
public class TaskOutputExportTests
{
    public static TheoryData<string, int, TaskOutput[]> Tasks => new()
    {
        { "multiclass", 10, [new TaskOutput("Score", TaskTransform.Softmax)] },
        { "binary", 1, [new TaskOutput("logit"), new TaskOutput("probability", TaskTransform.Sigmoid)] },
        { "regression", 1, [new TaskOutput("score")] },
    };

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Mlp_task_outputs_match_torchsharp_and_pass_the_checker(string task, int outputs, TaskOutput[] exported)
    {
        using var network = new Network(MultilayerPerceptron.Create([32, 16], outputs, ActivationKind.Tanh, dropout: 0.2f, batchNorm: true), [12], seed: 7);
        const int rows = 40;
        var random = new Random(5);
        float[] input = Enumerable.Range(0, rows * 12).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        float[] raw = network.Predict(input, rows);

        byte[] model = TaskOutputs.Export(network, "Features", exported);
        OnnxAssert.CheckModel(model);
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(input, [rows, 12]))]);

        foreach (var output in exported)
        {
            float[] expected = Apply(output.Transform, raw, outputs);
            float[] actual = results.Single(r => r.Name == output.Name).AsTensor<float>().ToArray();
            double error = expected.Zip(actual, (e, a) => Math.Abs(e - (double)a)).Max();
            Assert.True(error <= 1e-5, $"{task}/{output.Name}: max abs error {error:G3}");
        }
        var proto = ModelProto.Parser.ParseFrom(model);
        Assert.Equal(17, proto.OpsetImport.Single().Version);
        Assert.Equal("batch", proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal("DeepArch", proto.ProducerName);
        Assert.Contains("Total parameters", proto.DocString);
    }

    [Fact]
    public void Export_is_deterministic_byte_for_byte()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 3), [5], seed: 1);

        Assert.Equal(network.ExportOnnx("x", "y"), network.ExportOnnx("x", "y"));
    }

    private static float[] Apply(TaskTransform transform, float[] raw, int width) => transform switch
    {
        TaskTransform.Sigmoid => raw.Select(v => 1 / (1 + MathF.Exp(-v))).ToArray(),
        TaskTransform.Softmax => raw.Chunk(width).SelectMany(row =>
        {
            float max = row.Max();
            float[] e = row.Select(v => MathF.Exp(v - max)).ToArray();
            float sum = e.Sum();
            return e.Select(v => v / sum);
        }).ToArray(),
        _ => raw,
    };
}
