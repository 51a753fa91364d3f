using System.Diagnostics;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>One dispose scope per batch: the process's memory does not grow from epoch to epoch.</summary>
[Collection(SerialTorchCollection.Name)]
public class NativeMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void The_working_set_stays_flat_over_many_small_batches()
    {
        // 30 epochs x 32 batches of 32 rows through a 64-128-1 MLP. A batch's tensors (inputs, targets,
        // activations, their gradients, the loss) take about 100 KB; leaking them in every batch would
        // add some 50 MB between the two windows compared (epochs 5-10 and 20-30), and leaking a single
        // 32 x 128 activation per batch about 9 MB. Running alone (serial collection), with the
        // allocator's buffers warmed up by epoch 5, the working set moves by about 1 MB. One libtorch
        // thread: on a busy 2-core machine two spinning OpenMP threads slow small batches down a lot.
        const int epochs = 30;
        var workingSet = new long[epochs + 1];
        using var process = Process.GetCurrentProcess();
        var callback = new WorkingSetCallback(process, workingSet);
        var options = new TrainingOptions { Epochs = epochs, BatchSize = 32, LearningRate = 1e-3, Seed = 1, Threads = 1, Callbacks = { callback } };
        var train = Fixtures.Regression(1024, features: 64, seed: 1);
        using var network = new Network(MultilayerPerceptron.Create([128], 1), [64], seed: 1);

        new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train);

        double early = Median(workingSet[5..11]), late = Median(workingSet[20..31]);
        double growthMb = (late - early) / (1 << 20);
        output.WriteLine($"working set: epochs 5-10 median {early / (1 << 20):F1} MB, epochs 20-30 median {late / (1 << 20):F1} MB, growth {growthMb:F1} MB");
        Assert.True(growthMb < 20, $"The working set grew by {growthMb:F1} MB between epochs 5-10 and 20-30.");
    }

    private static double Median(long[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2.0;
    }

    private sealed class WorkingSetCallback(Process process, long[] workingSet) : TrainingCallback
    {
        public override void OnEpochEnd(EpochReport report)
        {
            process.Refresh();
            workingSet[report.Epoch] = process.WorkingSet64;
        }
    }
}
