using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Cancellation is checked between batches and leaves the network and trainer usable.</summary>
public class CancellationTests
{
    [Fact]
    public void Cancelling_after_a_batch_stops_before_the_next_and_the_network_trains_again()
    {
        using var cancellation = new CancellationTokenSource();
        var callback = new RecordingCallback { AfterBatch = (epoch, batch) => { if ((epoch, batch) == (2, 2)) cancellation.Cancel(); } };
        var train = Fixtures.Regression(64, seed: 8);
        var options = new TrainingOptions { Epochs = 10, BatchSize = 16, LearningRate = 0.01, Seed = 8, Callbacks = { callback } };
        var loop = new TrainingLoop(options);
        using var network = new Network(MultilayerPerceptron.Create([16], 1), [4], seed: 8);

        var error = Assert.ThrowsAny<OperationCanceledException>(() => loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train, cancellationToken: cancellation.Token));

        Assert.Equal(cancellation.Token, error.CancellationToken);
        Assert.Equal((2, 2), (callback.Batches[^1].Epoch, callback.Batches[^1].Batch)); // no batch after the cancel
        Assert.Equal(4 + 2, callback.Batches.Count);
        Assert.DoesNotContain("TrainingEnd", callback.Events);

        // The same loop and network train on; the cancelled run's optimizer and tensors are gone.
        double before = Measure.MeanSquaredError(network, train);
        var history = loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train);

        Assert.Equal(StopReason.Completed, history.StopReason);
        Assert.Equal(10, history.Epochs.Count);
        double after = Measure.MeanSquaredError(network, train);
        Assert.True(after < 0.5 * before, $"MSE {before:G3} -> {after:G3} after the second run");
    }

    [Fact]
    public void An_already_cancelled_token_runs_no_batch_and_leaves_the_weights_alone()
    {
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, Seed = 1, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        int[] before = Measure.ParameterBits(network);

        Assert.ThrowsAny<OperationCanceledException>(() =>
            new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(32), cancellationToken: new CancellationToken(true)));

        Assert.Empty(callback.Batches);
        Assert.Equal(before, Measure.ParameterBits(network));
    }
}
