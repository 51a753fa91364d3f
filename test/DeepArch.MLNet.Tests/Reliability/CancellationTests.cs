using System.Diagnostics;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;
using Xunit.Abstractions;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;
using Tensor = TorchSharp.torch.Tensor;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Options.CancellationToken cancels Fit between batches: OperationCanceledException within a second,
/// no TorchSharp tensor left alive, the training lock released, and the same estimator fits again
/// (with a new token: a cancelled token stays cancelled) to exactly the model an uncancelled fit gives.
/// </summary>
[Collection(SerialReliabilityCollection.Name)]
public class CancellationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("from the progress callback")]
    [InlineData("from another thread")]
    public async Task Cancelling_after_the_first_epoch_stops_within_a_second_leaks_nothing_and_the_estimator_fits_again(string how)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(240));
        using var cancellation = new CancellationTokenSource();
        using var firstEpoch = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();
        TimeSpan cancelledAt = default;
        void Cancel()
        {
            cancelledAt = clock.Elapsed;
            cancellation.Cancel();
        }
        var reports = new List<EpochReport>();
        var trainer = Trainer(ml, "regression", Options("regression", o =>
        {
            o.Epochs = 60;
            o.Seed = 4;
            o.CancellationToken = cancellation.Token;
            o.Progress = new OnEpoch(report =>
            {
                reports.Add(report);
                if (report.Epoch == 1)
                {
                    if (how == "from the progress callback")
                    {
                        Cancel();
                    }
                    firstEpoch.Set();
                }
            });
        }));
        var canceller = Task.Run(() =>
        {
            firstEpoch.Wait(Patience);
            if (how == "from another thread")
            {
                Thread.Sleep(20); // let training run into the second epoch
                Cancel();
            }
        });
        long networkLeftovers = NetworkLeftovers();
        long liveTensors = LiveTensors();

        var fit = Task.Run(() => trainer.Fit(data));
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fit.WaitAsync(Patience));
        var latency = clock.Elapsed - cancelledAt;
        await canceller;
        output.WriteLine($"cancelled {how} after {reports.Count} epoch(s); Fit threw {latency.TotalMilliseconds:F1} ms after the cancel");

        Assert.Equal(cancellation.Token, error.CancellationToken);
        Assert.True(latency < TimeSpan.FromSeconds(1), $"Fit took {latency.TotalMilliseconds:F0} ms to stop after the cancel.");
        Assert.InRange(reports.Count, 1, 59);
        Assert.Equal(liveTensors + networkLeftovers, Tensor.TotalCount);

        // A cancelled token stays cancelled: give the same estimator a new one. It fits on another thread
        // (so the training lock was released) to the same model as a fit that was never cancelled.
        trainer.TrainerOptions.CancellationToken = CancellationToken.None;
        using var refit = await Task.Run(() => trainer.Fit(data)).WaitAsync(Patience);
        using var fresh = Trainer(new MLContext(seed: 1), "regression", Options("regression", o => { o.Epochs = 60; o.Seed = 4; })).Fit(data);

        Assert.Equal(60, refit.History.Epochs.Count);
        Assert.Equal(Bits(Scores(fresh.Transform(data))), Bits(Scores(refit.Transform(data))));
    }

    /// <summary>
    /// A Fit queued behind another one (the training lock: libtorch's random generator is process-wide) is cancelled at once,
    /// not when the other ends: an outside probe's waited 3.4 s, until the running Fit finished.
    /// </summary>
    [Fact]
    public async Task Cancelling_a_Fit_that_waits_for_another_ones_training_stops_it_at_once()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(240));
        using var stopRunning = new CancellationTokenSource();
        using var stopWaiting = new CancellationTokenSource();
        using var running = new ManualResetEventSlim();
        var first = Trainer(ml, "regression", Options("regression", o =>
        {
            o.Epochs = 100_000;
            o.CancellationToken = stopRunning.Token;
            o.Progress = new OnEpoch(_ => running.Set());
        }));
        var second = Trainer(ml, "regression", Options("regression", o => o.CancellationToken = stopWaiting.Token));
        var firstFit = Task.Run(() => first.Fit(data));
        Assert.True(running.Wait(Patience), "The first Fit never reached its first epoch.");

        var secondFit = Task.Run(() => second.Fit(data));
        var waiting = Stopwatch.StartNew();
        while (DeepArch.Trainers.TorchRuntime.TrainingWaiters == 0 && waiting.Elapsed < Patience && !secondFit.IsCompleted)
        {
            Thread.Sleep(5); // until the second Fit has read its rows and waits for the lock
        }
        Assert.Equal(1, DeepArch.Trainers.TorchRuntime.TrainingWaiters);
        var clock = Stopwatch.StartNew();
        stopWaiting.Cancel();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => secondFit.WaitAsync(Patience));
        var latency = clock.Elapsed;
        bool firstStillTraining = !firstFit.IsCompleted;
        stopRunning.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => firstFit.WaitAsync(Patience));

        output.WriteLine($"the waiting Fit stopped {latency.TotalMilliseconds:F1} ms after its cancel; the first was still training: {firstStillTraining}");
        Assert.Equal(stopWaiting.Token, error.CancellationToken);
        Assert.True(firstStillTraining, "The first Fit had ended, so the second did not wait behind it.");
        Assert.True(latency < TimeSpan.FromSeconds(1), $"The waiting Fit took {latency.TotalMilliseconds:F0} ms to stop.");
    }

    [Fact]
    public void An_already_cancelled_token_stops_Fit_before_training()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<EpochReport>();
        var trainer = Trainer(ml, "binary", Options("binary", o =>
        {
            o.CancellationToken = new CancellationToken(canceled: true);
            o.Progress = new OnEpoch(reports.Add);
        }));
        long liveTensors = LiveTensors();

        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(Rows(40))));

        Assert.Empty(reports);
        Assert.Equal(liveTensors, Tensor.TotalCount);
    }

    /// <summary>
    /// What building and disposing one network of the tested architecture adds to TorchSharp's live tensor
    /// count: nn.Linear leaves the tensors it initializes its parameters from to the finalizer, which
    /// does not update the count (native memory stays flat: see NativeMemoryTests). A cancelled fit must
    /// add nothing beyond that.
    /// </summary>
    private static long NetworkLeftovers()
    {
        long before = LiveTensors();
        using (new Network(MultilayerPerceptron.Create([8], 1), [6], seed: 1))
        {
        }
        return Tensor.TotalCount - before;
    }

    /// <summary>The live tensor count once every unreachable tensor has been finalized.</summary>
    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Tensor.TotalCount;
    }

    private sealed class OnEpoch(Action<EpochReport> action) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => action(value);
    }
}
