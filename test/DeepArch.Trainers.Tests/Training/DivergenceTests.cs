using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>A loss that stops being finite ends training with an error that says what to do.</summary>
public class DivergenceTests
{
    [Fact]
    public void A_huge_learning_rate_diverges_with_advice_to_lower_it()
    {
        var options = new TrainingOptions { Epochs = 5, BatchSize = 8, LearningRate = 1e10, Optimizer = OptimizerKind.Sgd, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() => new NetworkTrainer(options, LossFunction.MeanSquaredError).Fit(network, Fixtures.Regression(64)));

        Assert.Contains("diverged", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
        Assert.Contains("10000000000", error.Message); // the rate in use
        Assert.False(double.IsFinite(error.Loss));
        Assert.Equal(1, error.Epoch);
        Assert.InRange(error.Batch, 2, 8); // the first batch's loss is computed before any step
    }

    [Fact]
    public void Extreme_inputs_diverge_on_the_first_batch()
    {
        var data = Fixtures.Regression(16);
        var extreme = new TrainingSet(data.Features.Select(v => v * 1e30f).ToArray(), data.SampleShape, data.Targets, 1);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() => new NetworkTrainer(options, LossFunction.MeanSquaredError).Fit(network, extreme));

        Assert.Contains("diverged", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
        Assert.Equal((1, 1), (error.Epoch, error.Batch));
        Assert.False(double.IsFinite(error.Loss));
    }
}
