using DeepArch.Trainers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Training whose loss, or validation loss, becomes NaN or infinite stops with an error that says which, where and what to change;
/// no model comes back (before, a NaN validation loss reached the history and Fit failed at the end writing the model's metadata).
/// </summary>
public class DivergenceTests
{
    [Theory]
    [MemberData(nameof(Tasks), MemberType = typeof(ReliabilityData))]
    public void A_huge_learning_rate_on_unscaled_data_stops_with_TrainingDivergedException(string task)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(64);
        foreach (var row in rows)
        {
            row.Features = row.Features.Select(f => f * 1000).ToArray();
            row.Target *= 1000;
        }
        var reports = new List<EpochReport>();
        NetworkTransformerHolder holder = new();

        var error = Assert.Throws<TrainingDivergedException>(() => holder.Network = Fit(ml, task, rows, o =>
        {
            o.Optimizer = OptimizerKind.Sgd;
            o.LearningRate = 1e6;
            o.Epochs = 20;
            o.Progress = new Recorder(reports);
        }));

        Assert.Null(holder.Network);
        Assert.Matches("^Training diverged: the loss became (NaN|infinite) at epoch [0-9]+, batch [0-9]+ \\(learning rate 1000000\\)\\.", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
        Assert.True(double.IsNaN(error.Loss) || double.IsInfinity(error.Loss));
        Assert.Equal(error.Epoch - 1, reports.Count);
    }

    [Fact]
    public void A_validation_set_with_extreme_values_stops_with_TrainingDivergedException_naming_the_validation_loss()
    {
        var ml = new MLContext(seed: 1);
        var validationRows = Rows(16, seed: 3);
        foreach (var row in validationRows)
        {
            row.Features = row.Features.Select(f => f * 1e30f).ToArray();
        }
        var reports = new List<EpochReport>();
        NetworkTransformerHolder holder = new();
        var trainer = Trainer(ml, "regression", Options("regression", o => o.Progress = new Recorder(reports)));

        var error = Assert.Throws<TrainingDivergedException>(() =>
            holder.Network = trainer.Fit(ml.Data.LoadFromEnumerable(Rows(64)), ml.Data.LoadFromEnumerable(validationRows)));

        Assert.Null(holder.Network);
        Assert.True(error.IsValidationLoss);
        Assert.Equal((1, 0), (error.Epoch, error.Batch));
        Assert.Matches("^Training diverged: the validation loss became (NaN|infinite) at epoch 1, while the training loss stayed finite \\([0-9.E-]+\\)\\. " +
                       "The validation data holds values the trained network cannot score: check it for extreme values", error.Message);
        Assert.Contains("standardize it the same way as the training data", error.Message);
        Assert.Empty(reports);
    }

    [Fact]
    public void Extreme_rows_held_out_by_ValidationFraction_stop_training_the_same_way()
    {
        const int Seed = 5, Count = 60;
        var ml = new MLContext(seed: 1);
        var rows = Rows(Count);
        foreach (int held in DeepArch.Trainers.Training.TrainingLoop.ValidationRows(Count, 0.25, Seed).Take(3))
        {
            rows[held].Features = rows[held].Features.Select(f => f * 1e30f).ToArray();
        }
        NetworkTransformerHolder holder = new();

        var error = Assert.Throws<TrainingDivergedException>(() => holder.Network = Fit(ml, "regression", rows, o =>
        {
            o.ValidationFraction = 0.25;
            o.Seed = Seed;
        }));

        Assert.Null(holder.Network);
        Assert.True(error.IsValidationLoss);
        Assert.StartsWith("Training diverged: the validation loss became", error.Message);
    }

    private sealed class NetworkTransformerHolder
    {
        public NetworkTransformer? Network { get; set; }
    }

    private sealed class Recorder(List<EpochReport> reports) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => reports.Add(value);
    }
}
