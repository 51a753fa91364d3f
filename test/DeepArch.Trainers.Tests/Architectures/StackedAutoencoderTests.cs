using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>The stacked autoencoder classifier: pretraining then fine-tuning, measured against the head alone; parity; errors.</summary>
public class StackedAutoencoderTests(ITestOutputHelper output)
{
    private const int Size = 16;

    [Fact]
    public void Fine_tuning_the_whole_stack_beats_training_the_head_on_the_pretrained_codes()
    {
        var (train, test, labels) = Data();

        double tuned = Accuracy(fineTuneEncoders: true, train, test, labels, out var history);
        double headOnly = Accuracy(fineTuneEncoders: false, train, test, labels, out _);

        output.WriteLine($"test accuracy: fine-tuned stack {tuned:P1}, head only on the pretrained codes {headOnly:P1}; "
            + $"pretraining reconstruction loss per level {string.Join(", ", history.Pretraining.Select(h => h.Epochs[^1].TrainLoss.ToString("F4")))}");
        Assert.Equal(2, history.Pretraining.Count);
        Assert.True(tuned > headOnly + 0.1, $"Fine-tuned {tuned:P1} vs head only {headOnly:P1}.");
        Assert.True(tuned > 0.8, $"Fine-tuned accuracy {tuned:P1}.");
    }

    [Fact]
    public void Pretrained_and_fine_tuned_classifier_matches_onnx_runtime()
    {
        var (train, _, _) = Data();
        using var network = new Network(StackedAutoencoder.Create([Size, 8, 3], 3), [Size], seed: 2);
        new LayerwisePretraining(Options(3), Options(3), gaussianNoise: 0.1f).Fit(network, train);

        OnnxAssert.Parity(network, rows: 19, seed: 4);
    }

    [Fact]
    public void A_network_of_another_shape_is_rejected_by_name()
    {
        using var network = new Network(Autoencoder.Create([Size, 4]), [Size], seed: 0);

        var error = Assert.Throws<ArgumentException>(() => new LayerwisePretraining(Options(1), Options(1)).Fit(network, Fixtures.Blobs(30, features: Size)));
        Assert.Contains("StackedAutoencoder.Create", error.Message);
    }

    [Fact]
    public void Options_are_validated_under_their_own_names()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LayerwisePretraining(new TrainingOptions { Epochs = 0 }, Options(1)));
        Assert.Contains("Pretraining.Epochs", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LayerwisePretraining(Options(1), Options(1), LossFunction.MeanSquaredError));
    }

    private static double Accuracy(bool fineTuneEncoders, TrainingSet train, float[] test, float[] labels, out StackedAutoencoderHistory history)
    {
        using var network = new Network(StackedAutoencoder.Create([Size, 8, 3], 3), [Size], seed: 1);
        history = new LayerwisePretraining(Options(25), Options(40), fineTuneEncoders: fineTuneEncoders).Fit(network, train);
        float[] scores = network.Predict(test, labels.Length);
        int correct = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            var row = scores.AsSpan(r * 3, 3);
            correct += row.IndexOf(MaxOf(row)) == (int)labels[r] ? 1 : 0;
        }
        return (double)correct / labels.Length;
    }

    private static float MaxOf(Span<float> values)
    {
        float max = float.NegativeInfinity;
        foreach (float v in values)
        {
            max = Math.Max(max, v);
        }
        return max;
    }

    /// <summary>
    /// Three classes told apart by a small class pattern (0.5 per value) on top of a large smooth signal
    /// (amplitudes up to 1) that carries no class: an autoencoder with a 3-value code spends it on the
    /// signal, so the label has to shape the code.
    /// </summary>
    private static (TrainingSet Train, float[] Test, float[] TestLabels) Data()
    {
        var random = new Random(12);
        var patterns = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, Size).Select(_ => random.Next(2) * 2f - 1).ToArray()).ToArray();
        (float[] X, float[] Y) Make(int rows, int seed)
        {
            float[] x = AutoencoderData.Signals(rows, Size, seed);
            var y = new float[rows];
            for (int r = 0; r < rows; r++)
            {
                y[r] = r % 3;
                for (int i = 0; i < Size; i++)
                {
                    x[r * Size + i] += 0.5f * patterns[r % 3][i];
                }
            }
            return (AutoencoderData.AddNoise(x, 0.1, seed + 1), y);
        }
        var (trainX, trainY) = Make(300, 20);
        var (testX, testY) = Make(150, 30);
        return (new TrainingSet(trainX, [Size], trainY, 1), testX, testY);
    }

    private static TrainingOptions Options(int epochs) => new() { Epochs = epochs, BatchSize = 32, LearningRate = 0.01, Seed = 3, Threads = 1 };
}
