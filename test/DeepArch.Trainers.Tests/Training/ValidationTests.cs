using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Validation data, held out by fraction or given separately.</summary>
public class ValidationTests
{
    [Fact]
    public void Validation_fraction_holds_out_rows_and_reports_a_validation_loss_every_epoch()
    {
        // 80 rows, 25% held out: 60 training rows in batches of 10.
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 4, BatchSize = 10, LearningRate = 0.01, ValidationFraction = 0.25, Seed = 1, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(80, seed: 1));

        Assert.Equal(4, history.Epochs.Count);
        Assert.All(history.Epochs, e => Assert.True(e.ValidationLoss is > 0 and < double.PositiveInfinity, $"epoch {e.Epoch}: {e.ValidationLoss}"));
        Assert.All(Enumerable.Range(1, 4), epoch => Assert.Equal(6, callback.Batches.Count(b => b.Epoch == epoch)));
    }

    [Fact]
    public void A_separate_validation_set_is_scored_exactly_and_overrides_the_fraction()
    {
        var train = Fixtures.Regression(80, seed: 2);
        var validation = Fixtures.Regression(40, seed: 3);
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 10, LearningRate = 0.01, ValidationFraction = 0.5, Seed = 2, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 2);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train, validation);

        Assert.Equal(Measure.MeanSquaredError(network, validation), history.Epochs[^1].ValidationLoss!.Value, 1e-6);
        Assert.Equal(3 * 8, callback.Batches.Count); // every one of the 80 training rows was used
    }

    [Fact]
    public void Without_validation_data_the_reports_have_no_validation_loss()
    {
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [4], seed: 1);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(32));

        Assert.All(history.Epochs, e => Assert.Null(e.ValidationLoss));
    }

    [Theory]
    [InlineData(3, 0.1, "no validation")] // round(0.3) = 0 rows held out
    [InlineData(3, 0.9, "no training")] // round(2.7) = 3 rows held out
    public void A_validation_fraction_that_leaves_no_rows_is_rejected(int rows, double fraction, string what)
    {
        var options = new TrainingOptions { Epochs = 1, ValidationFraction = fraction };
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [4], seed: 1);

        var error = Assert.Throws<ArgumentException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(rows)));

        Assert.Contains("ValidationFraction", error.Message);
        Assert.Contains(what, error.Message);
    }

    [Fact]
    public void A_validation_set_of_the_wrong_shape_is_rejected_naming_both_shapes()
    {
        var options = new TrainingOptions { Epochs = 1 };
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [4], seed: 1);

        var error = Assert.Throws<ArgumentException>(() =>
            new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(8), Fixtures.Regression(8, features: 3)));

        Assert.Equal("validation", error.ParamName);
        Assert.Contains("[3]", error.Message);
        Assert.Contains("[4]", error.Message);
    }
}
