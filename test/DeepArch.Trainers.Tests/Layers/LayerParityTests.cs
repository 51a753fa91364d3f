using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>Every layer: TorchSharp eval output vs ONNX Runtime (1e-5) and onnx.checker, after a little training.</summary>
public class LayerParityTests
{
    public static TheoryData<string, LayerSpec> Layers => new()
    {
        { "Dense", new Dense(7) },
        { "Dense without bias", new Dense(3, useBias: false) },
        { "Identity", new Activation(ActivationKind.Identity) },
        { "ReLU", new Activation(ActivationKind.ReLU) },
        { "LeakyReLU", new Activation(ActivationKind.LeakyReLU, 0.2f) },
        { "Softplus", new Activation(ActivationKind.Softplus) },
        { "Tanh", new Activation(ActivationKind.Tanh) },
        { "Sigmoid", new Activation(ActivationKind.Sigmoid) },
        { "Softmax", new Activation(ActivationKind.Softmax) },
        { "Dropout", new Dropout(0.5f) },
        { "BatchNorm1d", new BatchNorm1d() },
        { "Normalization", new Normalization([0.5f, -2, 100, 0, 3], [0.25f, 4, 10, 1, 0.5f]) },
        { "Sequential", new Sequential(new Dense(8), new BatchNorm1d(), new Activation(ActivationKind.Tanh), new Dropout(0.2f), new Dense(5)) },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void Layer_matches_onnx_runtime_after_training(string name, LayerSpec layer)
    {
        // Wrap the layer so that it sits between trainable layers: its parameters, and any running
        // statistics, then move away from their initial values before the comparison.
        var architecture = new Sequential(new Dense(5), layer, new Dense(5));
        using var network = new Network(architecture, [5], seed: 3);
        new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 3 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(96, features: 5, targets: 5));

        double error = OnnxAssert.Parity(network, rows: 33, seed: 11, inputScale: 30f);

        Assert.True(error <= 1e-5, name);
    }

    /// <summary>A network that starts with its training rows' standardization reads the rows in their own units, and so does its graph.</summary>
    [Fact]
    public void A_first_normalization_layer_matches_onnx_runtime_on_raw_rows()
    {
        var random = new Random(2);
        float[] rows = Enumerable.Range(0, 400).SelectMany(_ => new[] { 1000 + 300 * random.NextSingle(), 0.01f * random.NextSingle(), 7f }).ToArray();
        var normalization = Normalization.Adapt(rows, 3);
        using var network = new Network(new Sequential(normalization, new Dense(4), new Activation(ActivationKind.Tanh), new Dense(2)), [3], seed: 1);

        Assert.Equal(1, normalization.Scale[2]); // a constant feature is only shifted
        Assert.Equal(7, normalization.Mean[2]);
        OnnxAssert.Parity(network, rows: 40, seed: 5, inputScale: 1000f);
    }

    [Fact]
    public void Normalization_takes_the_statistics_of_the_rows_it_is_given_and_refuses_bad_ones()
    {
        float[] rows = [1, 10, 3, 10, 100, -50];

        var all = Normalization.Adapt(rows, 2);
        var firstTwo = Normalization.Adapt(rows, 2, use: [0, 1]);

        Assert.Equal([34.666668f, -10], all.Mean);
        Assert.Equal([2, 10], firstTwo.Mean);
        Assert.Equal([1, 1], firstTwo.Scale); // (1, 3): deviation 1; (10, 10): constant
        Assert.Equal(firstTwo, LayerSpecJson.Deserialize(LayerSpecJson.Serialize(firstTwo)));
        Assert.Throws<ArgumentException>(() => new Normalization([1, 2], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Normalization([1], [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Normalization([float.NaN], [1]));
        Assert.Throws<ArgumentException>(() => Normalization.Adapt(rows, 4));
        Assert.Throws<ArgumentException>(() => new Network(new Normalization([0, 0], [1, 1]), [3], seed: 1));
    }

    /// <summary>
    /// The statistics are Welford's update, value by value in double precision; eight values at a time in SIMD lanes where every
    /// value has the same count, which must give the same bits as one at a time: every trained model's first layer depends on them.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(21)]
    [InlineData(784)]
    public void Standardization_statistics_are_the_same_bits_as_welfords_update_one_value_at_a_time(int width)
    {
        var random = new Random(width);
        float[] rows = Enumerable.Range(0, 301 * width).Select(i => (i % 3 == 0 ? 1e6f : 1f) * (random.NextSingle() - 0.3f)).ToArray();
        int[] use = Enumerable.Range(0, 301).Where(r => r % 4 != 1).ToArray();

        var (mean, deviation) = Normalization.Moments(rows, width, use);

        var expectedMean = new double[width];
        var squares = new double[width];
        long count = 0;
        foreach (int r in use)
        {
            count++;
            for (int g = 0; g < width; g++)
            {
                double delta = rows[r * width + g] - expectedMean[g];
                expectedMean[g] += delta / count;
                squares[g] += delta * (rows[r * width + g] - expectedMean[g]);
            }
        }
        Assert.Equal(expectedMean, mean);
        Assert.Equal(squares.Select(s => Math.Sqrt(s / count)), deviation);
    }

    [Fact]
    public void Per_channel_and_per_feature_statistics_pool_a_group_and_spread_it_over_its_values()
    {
        // Two rows of two channels of 2 positions: channel 0 holds 1, 3, 5, 7 (mean 4, deviation sqrt 5); channel 1 is constant 9.
        var images = new TrainingSet([1, 3, 9, 9, 5, 7, 9, 9], [2, 2], [], 0);
        var perChannel = Normalization.AdaptPerChannel(images, channels: 2);
        Assert.Equal([4, 4, 9, 9], perChannel.Mean);
        Assert.Equal([MathF.Sqrt(5), MathF.Sqrt(5), 1, 1], perChannel.Scale);
        var firstRow = Normalization.AdaptPerChannel(images, channels: 2, use: [0]); // channel 0: 1, 3
        Assert.Equal([2, 2, 9, 9], firstRow.Mean);
        Assert.Equal([1, 1, 1, 1], firstRow.Scale);

        // Steps of 2 features, fixed length: feature 0 is 1, 3, 5, 7; feature 1 is 10, 10, 20, 20 (mean 15, deviation 5).
        var fixedLength = new TrainingSet([1, 10, 3, 10, 5, 20, 7, 20], [4], [], 0);
        var perFeature = Normalization.AdaptPerFeature(fixedLength, featuresPerStep: 2, variableLength: false);
        Assert.Equal([4, 15, 4, 15], perFeature.Mean);
        Assert.Equal([MathF.Sqrt(5), 5, MathF.Sqrt(5), 5], perFeature.Scale);

        // Variable length: [steps, x..., padding]; the count is left alone and padding is not read (1000 would move every statistic).
        var variableLength = new TrainingSet([1, 1, 10, 1000, 1000, 2, 3, 10, 5, 20], [5], [], 0);
        var lengths = Normalization.AdaptPerFeature(variableLength, featuresPerStep: 2, variableLength: true);
        Assert.Equal([0, 3, 40f / 3, 3, 40f / 3], lengths.Mean);
        Assert.Equal(1, lengths.Scale[0]);
        Assert.Equal(MathF.Sqrt(8f / 3), lengths.Scale[1], 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => Normalization.AdaptPerChannel(images, channels: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Normalization.AdaptPerFeature(fixedLength, featuresPerStep: 3, variableLength: false));
    }

    [Fact]
    public void Softplus_matches_for_large_inputs()
    {
        using var network = new Network(new Activation(ActivationKind.Softplus), [6], seed: 1);

        OnnxAssert.Parity(network, rows: 50, inputScale: 60f);
    }
}
