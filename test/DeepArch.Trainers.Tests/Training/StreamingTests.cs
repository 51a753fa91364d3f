using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// Streamed training sets (<see cref="TrainingSet.Streamed"/>): with a shuffle buffer that holds every row, training is bit for
/// bit the in-memory run (validation split, weights, dropout, early stopping, reconstruction targets); with a small buffer,
/// every row is trained on once per epoch, no batch has one row, it learns, and a checkpointed run resumes to the
/// uninterrupted weights; a source that changes between passes is an error, not a model trained on mismatched rows.
/// Serial: bit-for-bit comparisons with dropout, which draws from libtorch's global generator.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public sealed class StreamingTests
{
    private static TrainingSet Streamed(TrainingSet set)
        => TrainingSet.Streamed(StreamedRows.FromArray(set.Features, set.Features.Length / set.Count), set.SampleShape, set.Targets, set.TargetWidth).WithWeights(set.Weights);

    private static TrainingOptions Options(int bufferRows = 0, int epochs = 6) => new()
    {
        Epochs = epochs, BatchSize = 16, LearningRate = 0.01, Seed = 5, ValidationFraction = 0.2, EarlyStoppingPatience = 3,
        ShuffleBufferRows = bufferRows,
    };

    private static (int[] Bits, TrainingHistory History) Train(TrainingOptions options, TrainingSet data, CancellationToken cancellation = default)
    {
        using var network = new Network(MultilayerPerceptron.Create([16, 8], 3, dropout: 0.2f), [5], seed: 3);
        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), data, cancellationToken: cancellation);
        return (Measure.ParameterBits(network), history);
    }

    [Fact]
    public void A_buffer_that_holds_every_row_trains_exactly_the_in_memory_model()
    {
        var data = Fixtures.Blobs(150, features: 5, classes: 3, seed: 4);
        data = data.WithWeights(Enumerable.Range(0, data.Count).Select(r => 0.5f + r % 3).ToArray());

        var (expected, expectedHistory) = Train(Options(), data);
        var (streamed, history) = Train(Options(), Streamed(data));

        Assert.Equal(expected, streamed);
        Assert.Equal(expectedHistory.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss)), history.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss)));
        Assert.Equal(expectedHistory.BestEpoch, history.BestEpoch);
    }

    [Fact]
    public void A_streamed_reconstruction_set_trains_exactly_the_in_memory_autoencoder()
    {
        var rows = Fixtures.Regression(96, features: 6, seed: 7).Features;
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 2, ValidationFraction = 0.25 };
        int[] Fit(TrainingSet set)
        {
            using var network = new Network(MultilayerPerceptron.Create([3], 6), [6], seed: 1);
            new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), set);
            return Measure.ParameterBits(network);
        }

        var streamed = TrainingSet.Streamed(StreamedRows.FromArray(rows, 6), [6], [], 6, targetsAreFeatures: true);

        Assert.Equal(Fit(ReconstructionSet.Create(rows, 6)), Fit(streamed));
    }

    [Fact]
    public void A_small_buffer_trains_on_every_row_once_per_epoch_without_one_row_batches_and_learns()
    {
        // 161 training rows (0.2 of 201 held out... 201 - 40) in batches of 16 through a buffer of 32 rows.
        var data = Fixtures.Blobs(201, features: 5, classes: 3, seed: 8);
        var callback = new RecordingCallback();
        var options = Options(bufferRows: 32, epochs: 15);
        options.EarlyStoppingPatience = 0;
        options.Callbacks.Add(callback);

        using var network = new Network(MultilayerPerceptron.Create([16], 3), [5], seed: 3);
        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), Streamed(data));

        int batchesPerEpoch = callback.Batches.Count(b => b.Epoch == 1);
        Assert.Equal(161 / 16, batchesPerEpoch); // 10 batches: the 11th would have had one row, so it joined the last (17 rows)
        Assert.True(history.Epochs[^1].TrainLoss < 0.5 * history.Epochs[0].TrainLoss,
            $"train loss {history.Epochs[0].TrainLoss} -> {history.Epochs[^1].TrainLoss}");
        float[] predicted = network.Predict(data.Features, data.Count);
        int correct = Enumerable.Range(0, data.Count).Count(r => ArgMax(predicted.AsSpan(r * 3, 3)) == (int)data.Targets[r]);
        Assert.True(correct > 0.9 * data.Count, $"{correct} of {data.Count} right");
    }

    [Theory]
    [InlineData(64, 16)]
    [InlineData(50, 16)]
    [InlineData(33, 16)]
    [InlineData(49, 16)]
    [InlineData(97, 32)]
    public void Every_row_is_in_one_batch_per_epoch(int rows, int batchSize)
    {
        // Each row's target is its index: the batches' targets, gathered over an epoch, are every index once.
        var features = Enumerable.Range(0, rows * 2).Select(i => (float)i).ToArray();
        var set = TrainingSet.Streamed(StreamedRows.FromArray(features, 2), [2], Enumerable.Range(0, rows).Select(i => (float)i).ToArray(), 1);
        var seen = new List<float>();
        var sizes = new List<int>();
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [2], seed: 1);
        var objective = new RecordingObjective(network, (features, targets) => { seen.AddRange(targets.data<float>().ToArray()); sizes.Add((int)features.shape[0]); });
        var options = new TrainingOptions { Epochs = 1, BatchSize = batchSize, Seed = 1, ShuffleBufferRows = 2 * batchSize };

        new TrainingLoop(options).Fit(objective, set);

        Assert.Equal(Enumerable.Range(0, rows).Select(i => (float)i), seen.Order());
        Assert.DoesNotContain(1, sizes);
        Assert.NotEqual(Enumerable.Range(0, rows).Select(i => (float)i), seen); // shuffled
    }

    [Fact]
    public void A_streamed_run_cancelled_midway_and_resumed_ends_with_the_uninterrupted_weights()
    {
        var data = Streamed(Fixtures.Blobs(150, features: 5, classes: 3, seed: 4));
        var (expected, _) = Train(Options(bufferRows: 40), data);
        string folder = Directory.CreateTempSubdirectory("deeparch-streaming-").FullName;
        try
        {
            using var cancellation = new CancellationTokenSource();
            var interrupted = Options(bufferRows: 40);
            interrupted.CheckpointDirectory = folder;
            interrupted.Callbacks.Add(new RecordingCallback { AfterBatch = (epoch, batch) => { if ((epoch, batch) == (4, 2)) cancellation.Cancel(); } });
            Assert.ThrowsAny<OperationCanceledException>(() => Train(interrupted, data, cancellation.Token));

            var resumedOptions = Options(bufferRows: 40);
            resumedOptions.CheckpointDirectory = folder;
            var (resumed, _) = Train(resumedOptions, data);

            Assert.Equal(expected, resumed);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_source_that_changes_between_passes_stops_training_with_an_error()
    {
        var data = Fixtures.Blobs(60, features: 5, classes: 3, seed: 1);
        var rows = new ChangingRows(data.Features, 5);
        var set = TrainingSet.Streamed(rows, [5], data.Targets, 1);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, Seed = 1, ShuffleBufferRows = 32, Callbacks = { new RecordingCallback { AfterBatch = (_, _) => rows.Change() } } };
        using var network = new Network(MultilayerPerceptron.Create([8], 3), [5], seed: 3);

        var error = Assert.Throws<InvalidOperationException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), set));

        Assert.Contains("changed between passes", error.Message);
        Assert.Contains("same rows in the same order", error.Message);
    }

    [Fact]
    public void A_streamed_set_has_no_features_in_memory()
    {
        var set = Streamed(Fixtures.Blobs(10));

        var error = Assert.Throws<InvalidOperationException>(() => set.Features);

        Assert.Contains("streamed", error.Message);
        Assert.Equal(10, set.Count);
        Assert.Equal([2, 5, 7], set.Subset([2, 5, 7]).Positions);
    }

    [Fact]
    public void A_streamed_subset_cannot_take_a_row_twice()
    {
        var set = Streamed(Fixtures.Blobs(10));

        var error = Assert.Throws<ArgumentException>(() => set.Subset([0, 0, 1]));

        Assert.Contains("cannot take a row twice", error.Message);
    }

    [Fact]
    public void Rows_too_wide_for_two_batches_in_the_buffer_are_refused_before_training()
    {
        // Rows of 1,000,000 values: the largest array holds 2,147 of them, fewer than two batches of 4,096.
        var error = Assert.Throws<ArgumentException>(() => BatchSource.ShuffleBuffer.CheckedRowsFor(0, 1_000_000, 4096, 10_000));

        Assert.Contains("fewer than two batches of BatchSize 4096: lower BatchSize", error.Message);
        Assert.Equal(2_000, BatchSource.ShuffleBuffer.CheckedRowsFor(0, 1_000_000, 4096, 2_000)); // a buffer that holds every row needs no two batches
    }

    [Fact]
    public void A_buffer_smaller_than_two_batches_is_refused_by_name()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { BatchSize = 32, ShuffleBufferRows = 40 }.Validate("Options"));

        Assert.Contains("Options.ShuffleBufferRows", error.Message);
        Assert.Contains("64 rows for BatchSize 32", error.Message);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }
        return best;
    }

    /// <summary>A regression objective that shows each training batch to a callback.</summary>
    private sealed class RecordingObjective(Network network, Action<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> onBatch)
        : SupervisedObjective(network, LossFunction.MeanSquaredError)
    {
        protected override TorchSharp.torch.Tensor StepLoss(TorchSharp.torch.Tensor features, TorchSharp.torch.Tensor targets, TorchSharp.torch.Tensor? weights)
        {
            onBatch(features, targets);
            return base.StepLoss(features, targets, weights);
        }
    }

    /// <summary>Rows whose values change when <see cref="Change"/> is called (a file rewritten while training).</summary>
    private sealed class ChangingRows(float[] rows, int size) : StreamedRows(size, FromArray(rows, size).Fingerprints.ToArray())
    {
        private int _changes;

        public void Change() => _changes++;

        public override Pass Open() => new ChangingPass(rows, RowSize, this);

        private sealed class ChangingPass(float[] rows, int size, ChangingRows owner) : Pass
        {
            private int _row = -1;

            public override bool MoveNext() => ++_row < rows.Length / size;

            public override void Read(Span<float> destination)
            {
                rows.AsSpan(_row * size, size).CopyTo(destination);
                destination[0] += owner._changes;
            }
        }
    }
}
