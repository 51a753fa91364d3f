using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Same seed and data give the same model bit for bit; the seeds really drive initialization, shuffling and dropout.</summary>
[Collection(SerialTorchCollection.Name)]
public class DeterminismTests
{
    private static readonly TrainingSet Train = Fixtures.Regression(64, seed: 0);
    private static readonly TrainingSet Probe = Fixtures.Regression(20, seed: 99);

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0f, true)]
    [InlineData(0.3f, false)]
    [InlineData(0.3f, true)]
    public void Same_seeds_and_data_give_bit_identical_predictions(float dropout, bool shuffle)
    {
        var (first, firstLosses) = TrainAndPredict(dropout, shuffle, initSeed: 5, trainingSeed: 7);
        var (second, secondLosses) = TrainAndPredict(dropout, shuffle, initSeed: 5, trainingSeed: 7);

        Assert.Equal(Measure.Bits(first), Measure.Bits(second));
        Assert.Equal(firstLosses, secondLosses);
    }

    [Theory]
    [InlineData(0f, true)] // only the shuffle order depends on the training seed
    [InlineData(0.3f, false)] // only the dropout masks do
    [InlineData(0.3f, true)]
    public void A_different_training_seed_gives_a_different_model(float dropout, bool shuffle)
    {
        var (first, _) = TrainAndPredict(dropout, shuffle, initSeed: 5, trainingSeed: 7);
        var (second, _) = TrainAndPredict(dropout, shuffle, initSeed: 5, trainingSeed: 8);

        Assert.True(MaxAbsDifference(first, second) > 1e-4, $"max difference {MaxAbsDifference(first, second):G3}");
    }

    [Fact]
    public void A_different_initialization_seed_gives_a_different_model()
    {
        var (first, _) = TrainAndPredict(0f, false, initSeed: 5, trainingSeed: 7);
        var (second, _) = TrainAndPredict(0f, false, initSeed: 6, trainingSeed: 7);

        Assert.True(MaxAbsDifference(first, second) > 1e-4, $"max difference {MaxAbsDifference(first, second):G3}");
    }

    [Fact]
    public void Without_shuffle_or_dropout_the_training_seed_does_not_matter()
    {
        var (first, _) = TrainAndPredict(0f, false, initSeed: 5, trainingSeed: 7);
        var (second, _) = TrainAndPredict(0f, false, initSeed: 5, trainingSeed: 8);

        Assert.Equal(Measure.Bits(first), Measure.Bits(second));
    }

    [Fact]
    public void Validation_losses_are_bit_identical_wherever_the_validation_arrays_live()
    {
        // Some vectorized kernels round differently on 16- and 32-byte-aligned data (by an ulp, in the
        // rows past the last full block of 8). To make an ulp visible in the loss, the learning rate is
        // so small that Adam's steps (about the rate) vanish in float32, the weights stay at their
        // initialization, and the validation targets sit 1e-4 from the network's outputs. The arrays
        // allocated before each copy of the validation set shift where the copy lands by 8 bytes.
        var probe = Fixtures.Regression(10, seed: 9);
        float[] targets;
        using (var initial = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 5))
        {
            targets = initial.Predict(probe.Features, probe.Count).Select(v => v + 1e-4f).ToArray();
        }
        var keepAlive = new List<byte[]>();
        long? first = null;
        for (int padding = 0; padding <= 64; padding += 8)
        {
            keepAlive.Add(new byte[padding]);
            var validation = new TrainingSet(probe.Features.ToArray(), probe.SampleShape, targets.ToArray(), 1);
            using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 5);
            var options = new TrainingOptions { Epochs = 1, BatchSize = 16, LearningRate = 1e-30, Seed = 7 };

            var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Train, validation);

            long loss = BitConverter.DoubleToInt64Bits(history.Epochs[0].ValidationLoss!.Value);
            first ??= loss;
            Assert.Equal(first, loss);
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.25)] // the validation split keeps the sharing in both halves
    public void A_reconstruction_set_trains_as_a_set_with_a_separate_copy_of_its_targets(double validationFraction)
    {
        // ReconstructionSet passes the features as the targets; the trainer then holds one tensor for both
        // (the targets a view of the features). The model must be the one separate target memory gives.
        float[] rows = Fixtures.Regression(96, features: 6, seed: 4).Features.Select(v => 1 / (1 + MathF.Exp(-v))).ToArray();
        int[] Train(TrainingSet set, out double[] losses)
        {
            using var network = new Network(Autoencoder.Create([6, 4, 2], ActivationKind.ReLU, ActivationKind.Sigmoid), [6], seed: 5);
            var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 7, ValidationFraction = validationFraction };
            var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), set);
            losses = history.Epochs.SelectMany(e => new[] { e.TrainLoss, e.ValidationLoss ?? 0 }).ToArray();
            return Measure.ParameterBits(network);
        }

        int[] shared = Train(ReconstructionSet.Create(rows, 6), out var sharedLosses);
        int[] separate = Train(new TrainingSet(rows, [6], rows.ToArray(), 6), out var separateLosses);

        Assert.Equal(separate, shared);
        Assert.Equal(separateLosses, sharedLosses);
        Assert.True(sharedLosses[^2] < sharedLosses[0], "the autoencoder did not learn");
    }

    private static (float[] Predictions, double[] TrainLosses) TrainAndPredict(float dropout, bool shuffle, int initSeed, int trainingSeed)
    {
        using var network = new Network(MultilayerPerceptron.Create([16], 1, dropout: dropout), [4], initSeed);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = trainingSeed, Shuffle = shuffle };
        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Train);
        return (network.Predict(Probe.Features, Probe.Count), history.Epochs.Select(e => e.TrainLoss).ToArray());
    }

    private static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
}
