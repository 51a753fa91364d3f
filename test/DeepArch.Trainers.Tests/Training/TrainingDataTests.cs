using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Data that cannot train the network is rejected up front, naming the set and both numbers.</summary>
public class TrainingDataTests
{
    [Theory]
    [InlineData(LossFunction.MeanSquaredError)] // would broadcast [rows, 1] against [rows, 3] and train silently
    [InlineData(LossFunction.BinaryCrossEntropyWithLogits)]
    public void Targets_must_match_the_network_outputs(LossFunction loss)
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 3), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, loss), Fixtures.Regression(16, targets: 1)));

        Assert.Equal("train", error.ParamName);
        Assert.Contains("1 targets per row", error.Message);
        Assert.Contains("3 outputs", error.Message);
    }

    [Fact]
    public void Validation_targets_are_checked_too()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 2), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(16, targets: 2), Fixtures.Regression(8, targets: 3)));

        Assert.Equal("validation", error.ParamName);
        Assert.Contains("3 targets per row", error.Message);
    }

    [Theory]
    [InlineData(3f, "3")]
    [InlineData(-1f, "-1")]
    [InlineData(1.5f, "1.5")]
    public void Cross_entropy_targets_must_be_class_indices_of_the_network(float bad, string echo)
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 3), [5], seed: 1);
        var blobs = Fixtures.Blobs(12);
        blobs.Targets[7] = bad;
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), blobs));

        Assert.Contains("[0, 3)", error.Message);
        Assert.Contains($"row 7 of the train set has {echo}.", error.Message);
    }

    [Fact]
    public void Cross_entropy_needs_one_target_per_row()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 3), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), Fixtures.Regression(8, targets: 3)));

        Assert.Contains("3 targets per row", error.Message);
    }

    [Fact]
    public void An_empty_training_or_validation_set_is_rejected()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1 });

        var noTraining = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(0)));
        var noValidation = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(8), Fixtures.Regression(0)));

        Assert.Equal(("train", "validation"), (noTraining.ParamName, noValidation.ParamName));
        Assert.Contains("no rows", noTraining.Message);
        Assert.Contains("no rows", noValidation.Message); // instead of a NaN validation loss every epoch
    }

    [Fact]
    public void Training_samples_of_the_wrong_shape_are_rejected_naming_both_shapes()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(8, features: 6)));

        Assert.Equal("train", error.ParamName);
        Assert.Contains("[6]", error.Message);
        Assert.Contains("[4]", error.Message);
    }
}
