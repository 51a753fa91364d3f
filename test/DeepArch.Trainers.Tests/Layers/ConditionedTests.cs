using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>A network with a second, int64 input: the label of a conditional GAN's generator and discriminator.</summary>
public class ConditionedTests
{
    private static Conditioned VectorGenerator() => new(classes: 4, embeddingSize: 3,
        new Sequential(new Dense(16), new Activation(ActivationKind.LeakyReLU, 0.2f), new Dense(6), new Activation(ActivationKind.Tanh)));

    private static Conditioned ImageDiscriminator() => new(classes: 3, embeddingSize: 2,
        new Sequential(new Conv2d(4, 3, stride: 2, padding: ConvPadding.Explicit(1)), new Activation(ActivationKind.LeakyReLU, 0.2f), new Flatten(), new Dense(1)));

    [Fact]
    public void Vector_input_matches_onnx_runtime_after_training()
    {
        using var network = new Network(VectorGenerator(), [5], seed: 2);
        TrainToLabelMeans(network, rows: 64, steps: 30);

        OnnxAssert.Parity(network, rows: 33, seed: 5, inputScale: 3f);
    }

    [Fact]
    public void Image_input_gets_the_embedding_as_channels_and_matches_onnx_runtime()
    {
        using var network = new Network(ImageDiscriminator(), [1, 8, 8], seed: 2);

        Assert.Equal([1], network.OutputShape);
        Assert.Equal([3, 8, 8], ImageDiscriminator().JoinedShape([1, 8, 8]));
        OnnxAssert.Parity(network, rows: 9, seed: 5);
    }

    [Fact]
    public void The_label_changes_the_output_and_the_embedding_learns()
    {
        using var network = new Network(VectorGenerator(), [5], seed: 2);
        float[] noise = new float[2 * 5];
        Assert.NotEqual(network.Predict(noise, 2, [0, 0]), network.Predict(noise, 2, [0, 1]));

        var (before, after) = TrainToLabelMeans(network, rows: 64, steps: 60);

        Assert.True(after < before / 4, $"The loss went from {before} to {after}.");
    }

    [Fact]
    public void Parameters_json_and_exported_inputs_describe_the_label()
    {
        var spec = VectorGenerator();
        using var network = new Network(spec, [5], seed: 1);

        Assert.Equal(spec.ParameterCount([5]), network.ParameterCount);
        var summary = network.Summarize();
        Assert.Equal(network.ParameterCount, summary.TotalParameters);
        Assert.Equal(["Embedding(4, 3), joined", "Dense(16)", "LeakyReLU(0.2)", "Dense(6)", "Tanh"], summary.Rows.Select(r => r.Layer));
        Assert.Equal(4 * 3 + (8 * 16 + 16) + (16 * 6 + 6), network.ParameterCount);
        string json = LayerSpecJson.Serialize(spec);
        Assert.Contains("\"type\":\"conditioned\"", json);
        Assert.Equal(json, LayerSpecJson.Serialize(LayerSpecJson.Deserialize(json)));
        Assert.Equal([new IndexInput("label", 4)], network.SideInputs);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(network.ExportOnnx("noise", "sample"));
        Assert.Equal(["noise", "label"], session.InputMetadata.Keys);
        Assert.Equal(typeof(long), session.InputMetadata["label"].ElementType);
    }

    [Fact]
    public void Bad_labels_and_misplaced_conditioning_give_clear_errors()
    {
        using var network = new Network(VectorGenerator(), [5], seed: 1);
        float[] noise = new float[2 * 5];

        var outOfRange = Assert.Throws<ArgumentOutOfRangeException>(() => network.Predict(noise, 2, [0, 4]));
        Assert.Contains("'label' input must be in [0, 3], got values from 0 to 4", outOfRange.Message);
        var missing = Assert.Throws<ArgumentException>(() => network.Predict(noise, 2));
        Assert.Contains("'label'", missing.Message);
        var wrongCount = Assert.Throws<ArgumentException>(() => network.Predict(noise, 2, [1]));
        Assert.Contains("Expected 2 values of input 'label', got 1", wrongCount.Message);
        var nested = Assert.Throws<ArgumentException>(() => new Network(new Sequential(VectorGenerator(), new Dense(2)), [5], seed: 1));
        Assert.Contains("outermost layer", nested.Message);
        Assert.Throws<ArgumentException>(() => new Conditioned(2, 2, new Sequential(new Dense(3), VectorGenerator())));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Conditioned(0, 2, new Dense(3)));
    }

    /// <summary>Trains the network with Adam to output, for each label, a fixed vector of that label; returns the first and last losses.</summary>
    private static (float Before, float After) TrainToLabelMeans(Network network, int rows, int steps)
    {
        random.manual_seed(7);
        using var optimizer = optim.Adam(network.Parameters(), lr: 0.01);
        var labels = arange(rows, ScalarType.Int64) % 4;
        var noise = randn(rows, 5);
        var targets = (labels.to_type(ScalarType.Float32).unsqueeze(1) - 1.5f).expand(rows, 6) / 2;
        network.SetTraining(true);
        float first = 0, last = 0;
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(network.Forward(noise, labels), targets);
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            first = step == 0 ? last : first;
        }
        network.SetTraining(false);
        return (first, last);
    }
}
