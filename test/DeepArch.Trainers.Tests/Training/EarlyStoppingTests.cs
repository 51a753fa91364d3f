using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Early stopping ends training when the validation loss stops improving and restores the best weights.</summary>
public class EarlyStoppingTests
{
    private static readonly TrainingSet Validation = Fixtures.Regression(100, seed: 3);

    [Fact]
    public void An_overfitting_run_stops_early_and_restores_the_best_epochs_weights()
    {
        const int requestedEpochs = 200, patience = 2;
        var options = new TrainingOptions { Epochs = requestedEpochs, BatchSize = 4, LearningRate = 0.02, EarlyStoppingPatience = patience, Seed = 6 };
        using var network = new Network(MultilayerPerceptron.Create([64, 64], 1), [4], seed: 6);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), TinyNoisyTrainingSet(), Validation);

        Assert.Equal(StopReason.EarlyStopped, history.StopReason);
        Assert.True(history.Epochs.Count < requestedEpochs, $"{history.Epochs.Count} epochs ran");
        Assert.Equal(history.BestEpoch + patience, history.Epochs.Count);
        double[] validationLosses = history.Epochs.Select(e => e.ValidationLoss!.Value).ToArray();
        Assert.Equal(Array.IndexOf(validationLosses, validationLosses.Min()) + 1, history.BestEpoch);
        Assert.True(validationLosses[^1] > history.Best.ValidationLoss!.Value + 1e-6, "the last epoch must differ from the best for the restore to show");
        Assert.Equal(history.Best.ValidationLoss!.Value, Measure.MeanSquaredError(network, Validation), 1e-6);
    }

    [Fact]
    public void With_a_huge_min_delta_nothing_after_the_first_epoch_counts_as_an_improvement()
    {
        var options = new TrainingOptions
        {
            Epochs = 20, BatchSize = 8, LearningRate = 0.01, EarlyStoppingPatience = 3, EarlyStoppingMinDelta = 1e9, Seed = 7,
        };
        using var network = new Network(MultilayerPerceptron.Create([16], 1), [4], seed: 7);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(64, seed: 7), Validation);

        Assert.Equal(StopReason.EarlyStopped, history.StopReason);
        Assert.Equal(4, history.Epochs.Count);
        Assert.Equal(1, history.BestEpoch);
        Assert.Equal(history.Epochs[0].ValidationLoss!.Value, Measure.MeanSquaredError(network, Validation), 1e-6);
        Assert.NotEqual(history.Epochs[0].ValidationLoss!.Value, history.Epochs[^1].ValidationLoss!.Value, 1e-6);
    }

    [Fact]
    public void When_patience_never_runs_out_training_completes_holding_the_best_epochs_weights()
    {
        var options = new TrainingOptions { Epochs = 8, BatchSize = 4, LearningRate = 0.02, EarlyStoppingPatience = 100, Seed = 6 };
        using var network = new Network(MultilayerPerceptron.Create([64, 64], 1), [4], seed: 6);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), TinyNoisyTrainingSet(), Validation);

        Assert.Equal(StopReason.Completed, history.StopReason);
        Assert.Equal(8, history.Epochs.Count);
        double best = history.Epochs.Min(e => e.ValidationLoss!.Value);
        Assert.Equal(best, history.Best.ValidationLoss!.Value);
        Assert.Equal(best, Measure.MeanSquaredError(network, Validation), 1e-6);
    }

    [Fact]
    public void Early_stopping_without_validation_data_is_rejected()
    {
        var options = new TrainingOptions { Epochs = 5, EarlyStoppingPatience = 2 };
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [4], seed: 1);

        var error = Assert.Throws<ArgumentException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(32)));

        Assert.Contains("EarlyStoppingPatience", error.Message);
        Assert.Contains("ValidationFraction", error.Message);
    }

    /// <summary>12 rows with targets buried in noise (standard deviation 0.7): a 64x64 MLP learns the noise within a few epochs.</summary>
    private static TrainingSet TinyNoisyTrainingSet()
    {
        var clean = Fixtures.Regression(12, seed: 2);
        var random = new Random(2);
        float[] noisy = clean.Targets.Select(t => t + (float)(0.7 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        return new TrainingSet(clean.Features, clean.SampleShape, noisy, 1);
    }
}
