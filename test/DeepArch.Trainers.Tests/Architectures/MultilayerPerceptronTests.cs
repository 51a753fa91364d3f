using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Tests.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>The multilayer perceptron: its composition, and ONNX parity for each task's outputs after training.</summary>
public class MultilayerPerceptronTests
{
    [Fact]
    public void Create_composes_dense_batchnorm_activation_dropout_and_a_bare_output_layer()
    {
        var spec = MultilayerPerceptron.Create([8, 4], 3, ActivationKind.Tanh, dropout: 0.2f, batchNorm: true);

        LayerSpec[] expected =
        [
            new Dense(8), new BatchNorm1d(), new Activation(ActivationKind.Tanh), new Dropout(0.2f),
            new Dense(4), new BatchNorm1d(), new Activation(ActivationKind.Tanh), new Dropout(0.2f),
            new Dense(3),
        ];
        Assert.Equal(expected, spec.Layers);
    }

    [Fact]
    public void Without_hidden_layers_it_is_a_linear_model()
        => Assert.Equal([new Dense(2)], MultilayerPerceptron.Create([], 2).Layers);

    [Fact]
    public void Regressor_with_one_output_matches_onnx_runtime_raw_and_through_a_sigmoid()
    {
        using var network = new Network(MultilayerPerceptron.Create([16, 8], 1, batchNorm: true, dropout: 0.1f), [4], seed: 1);
        new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 1 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(64, seed: 1));

        OnnxAssert.Parity(network, rows: 23, seed: 2);
        AssertTransformedOutputsMatch(network, TaskTransform.Sigmoid, raw => raw.Select(v => 1 / (1 + Math.Exp(-v))).ToArray());
    }

    [Fact]
    public void Classifier_with_three_outputs_matches_onnx_runtime_raw_and_through_a_softmax()
    {
        using var network = new Network(MultilayerPerceptron.Create([16], 3, ActivationKind.Tanh, batchNorm: true), [5], seed: 2);
        new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 2 })
            .Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), Fixtures.Blobs(60, seed: 2));

        OnnxAssert.Parity(network, rows: 23, seed: 3);
        AssertTransformedOutputsMatch(network, TaskTransform.Softmax, raw =>
        {
            double max = raw.Max();
            double[] exp = raw.Select(v => Math.Exp(v - max)).ToArray();
            return exp.Select(e => e / exp.Sum()).ToArray();
        });
    }

    /// <summary>
    /// Exports the raw output and <paramref name="transform"/> of it side by side, runs both in ONNX
    /// Runtime, and compares them with <see cref="Network.Predict"/> and with <paramref name="oracle"/>
    /// applied to it per row (max abs error 1e-5).
    /// </summary>
    private static void AssertTransformedOutputsMatch(Network network, TaskTransform transform, Func<double[], double[]> oracle)
    {
        const int rows = 19;
        int inputs = network.InputShape[0], outputs = network.OutputShape[0];
        var random = new Random(5);
        float[] input = Enumerable.Range(0, rows * inputs).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        float[] expected = network.Predict(input, rows);

        using var session = new InferenceSession(TaskOutputs.Export(network, "features", [new TaskOutput("score"), new TaskOutput("probability", transform)]));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("features", new DenseTensor<float>(input, [rows, inputs]))]);
        float[] score = results.Single(r => r.Name == "score").AsTensor<float>().ToArray();
        float[] probability = results.Single(r => r.Name == "probability").AsTensor<float>().ToArray();

        Assert.Equal(expected.Length, score.Length);
        Assert.Equal(expected.Length, probability.Length);
        for (int r = 0; r < rows; r++)
        {
            double[] raw = expected.Skip(r * outputs).Take(outputs).Select(v => (double)v).ToArray();
            double[] transformed = oracle(raw);
            for (int o = 0; o < outputs; o++)
            {
                Assert.Equal(raw[o], score[r * outputs + o], 1e-5);
                Assert.Equal(transformed[o], probability[r * outputs + o], 1e-5);
            }
        }
    }
}
