using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Progress reports and callback hooks: which, how many, in what order, with what figures.</summary>
public class CallbackTests
{
    [Fact]
    public void Callbacks_see_every_hook_in_order_with_one_batch_end_per_batch()
    {
        // 50 rows in batches of 16: ceil(50 / 16) = 4 batches per epoch, the last one of 2 rows.
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 1, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(50));

        var expected = new List<string> { "TrainingBegin" };
        foreach (int epoch in new[] { 1, 2, 3 })
        {
            expected.Add($"EpochBegin {epoch}");
            expected.AddRange(Enumerable.Range(1, 4).Select(batch => $"BatchEnd {epoch}.{batch}"));
            expected.Add($"EpochEnd {epoch}");
        }
        expected.Add("TrainingEnd");
        Assert.Equal(expected, callback.Events);
        Assert.Same(options, callback.BeginOptions);
        Assert.Same(history, callback.EndHistory);
        Assert.Equal(history.Epochs, callback.EpochEnds);
    }

    [Fact]
    public void The_epoch_training_loss_is_the_row_weighted_mean_of_its_batch_losses()
    {
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 0.01, Seed = 1, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(50));

        int[] batchRows = [16, 16, 16, 2];
        foreach (var report in history.Epochs)
        {
            var losses = callback.Batches.Where(b => b.Epoch == report.Epoch).Select(b => b.Loss).ToArray();
            double weighted = losses.Zip(batchRows, (loss, rows) => loss * rows).Sum() / 50;
            Assert.Equal(weighted, report.TrainLoss, 1e-12);
        }
    }

    [Fact]
    public void Progress_gets_one_report_per_epoch_with_increasing_epoch_and_elapsed_time()
    {
        var progress = new RecordingProgress<EpochReport>();
        var options = new TrainingOptions { Epochs = 4, BatchSize = 16, LearningRate = 0.01, ValidationFraction = 0.25, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(48), progress: progress);

        Assert.Equal(history.Epochs, progress.Reports);
        Assert.Equal([1, 2, 3, 4], progress.Reports.Select(r => r.Epoch));
        Assert.True(progress.Reports[0].Elapsed > TimeSpan.Zero);
        Assert.All(progress.Reports.Zip(progress.Reports.Skip(1)), pair => Assert.True(pair.Second.Elapsed > pair.First.Elapsed));
        Assert.All(progress.Reports, r => Assert.NotNull(r.ValidationLoss));
    }

    [Fact]
    public void Several_callbacks_are_called_in_the_order_they_were_added()
    {
        var order = new List<string>();
        var options = new TrainingOptions
        {
            Epochs = 1, BatchSize = 32, Seed = 1,
            Callbacks = { new NamedCallback("first", order), new NamedCallback("second", order) },
        };
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [4], seed: 1);

        new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(32));

        Assert.Equal(["first begin", "second begin", "first end", "second end"], order);
    }

    private sealed class NamedCallback(string name, List<string> log) : TrainingCallback
    {
        public override void OnTrainingBegin(TrainingOptions options) => log.Add($"{name} begin");

        public override void OnTrainingEnd(TrainingHistory history) => log.Add($"{name} end");
    }
}
