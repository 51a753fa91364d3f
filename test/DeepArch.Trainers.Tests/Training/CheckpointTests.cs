using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// Checkpoints: a run cancelled midway and resumed from its checkpoint ends with exactly the weights of an uninterrupted run
/// (dropout, Adam, a step schedule, shuffling, a validation split and early stopping's best weights all restored or replayed);
/// a checkpoint of another run, or a damaged one, is a clear error; a finished run resumes to the same model at once, and
/// raising the epochs trains on. Serial: a bit-for-bit comparison with dropout, which draws from libtorch's global generator.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public sealed class CheckpointTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"deeparch-checkpoints-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static Network NewNetwork() => new(MultilayerPerceptron.Create([16, 8], 3, dropout: 0.2f), [5], seed: 3);

    private TrainingOptions Options(int epochs = 8, string? folder = null, double learningRate = 0.01) => new()
    {
        Epochs = epochs, BatchSize = 16, LearningRate = learningRate, Seed = 5, ValidationFraction = 0.2, EarlyStoppingPatience = 50,
        Schedule = new StepDecay(3, 0.5), CheckpointDirectory = folder,
    };

    private static TrainingSet Data() => Fixtures.Blobs(120, features: 5, classes: 3, seed: 4);

    private static (int[] Bits, TrainingHistory History) Train(TrainingOptions options, CancellationToken cancellation = default)
    {
        using var network = NewNetwork();
        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), Data(), cancellationToken: cancellation);
        return (Measure.ParameterBits(network), history);
    }

    [Fact]
    public void A_run_cancelled_midway_and_resumed_ends_with_the_uninterrupted_weights()
    {
        var (expected, expectedHistory) = Train(Options());

        using var cancellation = new CancellationTokenSource();
        var interrupted = Options(folder: _folder);
        interrupted.Callbacks.Add(new RecordingCallback { AfterBatch = (epoch, batch) => { if ((epoch, batch) == (4, 2)) cancellation.Cancel(); } });
        Assert.ThrowsAny<OperationCanceledException>(() => Train(interrupted, cancellation.Token));
        Assert.Equal("epoch-00003", File.ReadAllText(Path.Combine(_folder, "latest")));

        var (resumed, history) = Train(Options(folder: _folder));

        Assert.Equal(expected, resumed);
        Assert.Equal(expectedHistory.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss, e.LearningRate)), history.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss, e.LearningRate)));
        Assert.Equal(expectedHistory.BestEpoch, history.BestEpoch);
        Assert.Single(Directory.GetDirectories(_folder));
    }

    [Fact]
    public void A_finished_run_resumes_to_the_same_model_and_more_epochs_train_on()
    {
        var (first, _) = Train(Options(epochs: 4, folder: _folder));
        var (again, history) = Train(Options(epochs: 4, folder: _folder));
        Assert.Equal(first, again);
        Assert.Equal(4, history.Epochs.Count);

        var (longer, longerHistory) = Train(Options(epochs: 6, folder: _folder));
        var (uninterrupted, _) = Train(Options(epochs: 6));
        Assert.Equal(6, longerHistory.Epochs.Count);
        Assert.Equal(uninterrupted, longer);
    }

    [Fact]
    public void A_checkpoint_of_another_run_or_a_damaged_one_is_a_clear_error()
    {
        Train(Options(epochs: 2, folder: _folder));
        var mismatch = Assert.Throws<InvalidDataException>(() => Train(Options(epochs: 2, folder: _folder, learningRate: 0.02)));
        Assert.Contains("was written for another run", mismatch.Message);
        Assert.Contains(_folder, mismatch.Message);

        string weights = Path.Combine(_folder, "epoch-00002", "network-0.bin");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..40]);
        var damaged = Assert.Throws<InvalidDataException>(() => Train(Options(epochs: 2, folder: _folder)));
        Assert.Contains("is damaged", damaged.Message);

        File.WriteAllText(Path.Combine(_folder, "latest"), "../elsewhere");
        Assert.Contains("is damaged", Assert.Throws<InvalidDataException>(() => Train(Options(epochs: 2, folder: _folder))).Message);

        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { CheckpointEvery = 0 }.Validate());
    }

    /// <summary>
    /// Damage that leaves a file readable: a flipped bit in a weight (it resumed silently, from weights of 5e35), a state whose
    /// epoch disagrees with its history (an index error, or negative epochs trained), 'latest' made a folder (a raw IOException).
    /// </summary>
    [Fact]
    public void A_checkpoint_changed_but_still_readable_is_damaged()
    {
        Train(Options(epochs: 2, folder: _folder));
        string folder = Path.Combine(_folder, "epoch-00002");
        string weights = Path.Combine(folder, "network-0.bin");
        byte[] original = File.ReadAllBytes(weights);
        byte[] flipped = (byte[])original.Clone();
        flipped[^3] ^= 0x40;
        File.WriteAllBytes(weights, flipped);
        var bit = Assert.Throws<InvalidDataException>(() => Train(Options(epochs: 2, folder: _folder)));
        Assert.Contains("its file 'network-0.bin' does not match the SHA-256 its state records", bit.Message);
        File.WriteAllBytes(weights, original);

        string statePath = Path.Combine(folder, "state.json");
        string state = File.ReadAllText(statePath);
        File.WriteAllText(statePath, System.Text.RegularExpressions.Regex.Replace(state, "\"Epoch\":\\s*2", "\"Epoch\": 99"));
        var epoch = Assert.Throws<InvalidDataException>(() => Train(Options(epochs: 2, folder: _folder)));
        Assert.Contains("its state is inconsistent (epoch 99, 2 history entries", epoch.Message);
        File.WriteAllText(statePath, state);
        Assert.Equal(2, Train(Options(epochs: 2, folder: _folder)).History.Epochs.Count);

        string latest = Path.Combine(_folder, "latest");
        File.Delete(latest);
        Directory.CreateDirectory(latest);
        Assert.Contains("'latest' is a folder", Assert.Throws<InvalidDataException>(() => Train(Options(epochs: 2, folder: _folder))).Message);
    }
}
