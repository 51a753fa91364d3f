using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// <see cref="NetworkOptions.TrainingData"/>: streamed training reads the features from the <c>IDataView</c> at every
/// epoch instead of holding them. With a shuffle buffer that holds every row it trains exactly the in-memory model (the MLP's
/// feature and label standardization, the validation split and early stopping included); with a small buffer it still learns;
/// Auto streams above the memory budget and says so; a view that changes between epochs, and a trainer that cannot stream,
/// are clear errors.
/// </summary>
public class StreamedTrainingTests
{
    private static (MLContext Ml, IDataView Train, IDataView Test) Digits(int rows = 600)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows.Take(rows).ToArray(), r => r.Label, seed: 2);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(train));
        return (ml, toKey.Transform(ml.Data.LoadFromEnumerable(train)), toKey.Transform(ml.Data.LoadFromEnumerable(test)));
    }

    public static TheoryData<string> Trainers => ["mlp", "cnn", "rnn"];

    private static IEstimator<NetworkTransformer> Trainer(MLContext ml, string kind, TrainingDataMode mode, int shuffleBufferRows = 0) => kind switch
    {
        "mlp" => ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            Epochs = 4, ValidationFraction = 0.2, EarlyStoppingPatience = 2, Seed = 3, TrainingData = mode, ShuffleBufferRows = shuffleBufferRows,
        }),
        "cnn" => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
        {
            InputShape = [1, 8, 8], Epochs = 2, Seed = 3, TrainingData = mode, ShuffleBufferRows = shuffleBufferRows,
        }),
        _ => ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 8, HiddenSize = 16, Epochs = 2, Seed = 3, TrainingData = mode, ShuffleBufferRows = shuffleBufferRows,
        }),
    };

    [Theory]
    [MemberData(nameof(Trainers))]
    public void Streaming_with_a_buffer_that_holds_every_row_trains_exactly_the_in_memory_model(string kind)
    {
        var (ml, train, test) = Digits();

        using var inMemory = Trainer(ml, kind, TrainingDataMode.InMemory).Fit(train);
        using var streamed = Trainer(ml, kind, TrainingDataMode.Streamed).Fit(train);

        Assert.Equal(ScoreReader.Scores(inMemory.Transform(test)), ScoreReader.Scores(streamed.Transform(test)));
        Assert.Equal(inMemory.History.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss)), streamed.History.Epochs.Select(e => (e.TrainLoss, e.ValidationLoss)));
    }

    [Fact]
    public void A_streamed_regression_standardizes_the_label_and_features_as_in_memory()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.DiabetesRows);
        IEstimator<NetworkTransformer> Mlp(TrainingDataMode mode)
            => ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 5, Seed = 2, TrainingData = mode });

        using var inMemory = Mlp(TrainingDataMode.InMemory).Fit(data);
        using var streamed = Mlp(TrainingDataMode.Streamed).Fit(data);

        Assert.Equal(ScoreReader.Scores(inMemory.Transform(data)), ScoreReader.Scores(streamed.Transform(data)));
    }

    [Theory]
    [InlineData(AnomalyThresholdSource.Contamination)]
    [InlineData(AnomalyThresholdSource.ValidationFalsePositiveRate)]
    public void A_streamed_autoencoder_detector_chooses_the_in_memory_threshold_and_scores(AnomalyThresholdSource source)
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRowsIn(v => v / 16f);
        IDataView train = ml.Data.LoadFromEnumerable(rows[..900]), validation = ml.Data.LoadFromEnumerable(rows[900..1200]), test = ml.Data.LoadFromEnumerable(rows[1200..]);
        AutoencoderAnomalyDetectionTrainer Detector(TrainingDataMode mode) => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
        {
            Epochs = 3, Seed = 4, ThresholdSource = source, TrainingData = mode,
        });
        // The threshold's passes over streamed rows go in chunks of whole scoring batches: 2 batches of 256 rows here, so
        // the 900 training rows take 2 chunks.
        long chunkBytes = ThresholdScores.ChunkBytes;
        ThresholdScores.ChunkBytes = 2 * 256 * 64 * sizeof(float);
        try
        {
            var inMemory = Detector(TrainingDataMode.InMemory);
            var streamed = Detector(TrainingDataMode.Streamed);
            using var expected = inMemory.Fit(train, validation);
            using var actual = streamed.Fit(train, validation);

            Assert.Equal(inMemory.Threshold, streamed.Threshold);
            Assert.Equal(ScoreReader.Scores(expected.Transform(test)), ScoreReader.Scores(actual.Transform(test)));
        }
        finally
        {
            ThresholdScores.ChunkBytes = chunkBytes;
        }
    }

    [Fact]
    public void A_streamed_autoencoder_featurizer_trains_the_in_memory_one()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(300).Select(r => new Datasets.DigitRow { Features = r.Features.Select(v => v / 16f).ToArray() }));
        AutoencoderFeaturizingEstimator Featurizer(TrainingDataMode mode) => ml.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
        {
            InputColumnName = "Features", OutputColumnName = "Code", Epochs = 2, Seed = 1, TrainingData = mode,
        });

        using var inMemory = Featurizer(TrainingDataMode.InMemory).Fit(data);
        using var streamed = Featurizer(TrainingDataMode.Streamed).Fit(data);

        Assert.Equal(Codes(inMemory.Transform(data)), Codes(streamed.Transform(data)));
        static float[][] Codes(IDataView view) => view.GetColumn<float[]>("Code").ToArray();
    }

    [Fact]
    public void An_estimator_that_holds_its_rows_refuses_streaming_by_name()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(50));
        var gan = ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options { TrainingData = TrainingDataMode.Streamed });

        var error = Assert.Throws<NotSupportedException>(() => gan.Fit(data));

        Assert.StartsWith("Options.TrainingData is Streamed, but ", error.Message);
        Assert.EndsWith(" trains on rows held in memory: set it to Auto or InMemory.", error.Message);
    }

    [Fact]
    public void A_small_shuffle_buffer_still_learns()
    {
        var (ml, train, test) = Digits(rows: 1797);
        var options = new MultilayerPerceptronTrainer.Options { Seed = 3, Epochs = 15, ValidationFraction = 0 };
        using var inMemory = ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(train);
        options.TrainingData = TrainingDataMode.Streamed;
        options.ShuffleBufferRows = 128;
        using var streamed = ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(train);

        double expected = ml.MulticlassClassification.Evaluate(inMemory.Transform(test)).MicroAccuracy;
        double accuracy = ml.MulticlassClassification.Evaluate(streamed.Transform(test)).MicroAccuracy;

        Assert.True(accuracy >= expected - 0.02, $"streamed through 128 rows: {accuracy:F4}; in memory: {expected:F4}");
    }

    [Fact]
    public void Auto_streams_above_the_memory_budget_and_says_so_in_the_log()
    {
        var (ml, train, _) = Digits(rows: 200);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source == "MultilayerPerceptron" && e.Kind == ChannelMessageKind.Info) { lock (messages) { messages.Add(e.Message); } } };
        var options = new MultilayerPerceptronTrainer.Options { Epochs = 1, Seed = 1 };

        using (ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(train))
        {
            Assert.DoesNotContain(messages, m => m.Contains("streamed", StringComparison.Ordinal));
        }
        // About 140 training rows x 64 values x 4 bytes: far above a budget of 1,000 bytes.
        options.TrainingDataMemoryBudget = 1_000;
        messages.Clear();
        using (ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(train))
        {
            Assert.Contains(messages, m => m.Contains("the features are streamed from the data at every epoch (Options.TrainingData)", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Auto_reads_a_view_of_unknown_length_into_memory_up_to_the_budget_then_streams_it()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(300).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows.Select(r => r)); // a lazy enumerable: the view does not know its row count
        Assert.Null(data.GetRowCount());
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source == "MultilayerPerceptron" && e.Kind == ChannelMessageKind.Info) { lock (messages) { messages.Add(e.Message); } } };
        var options = new MultilayerPerceptronTrainer.Options { Epochs = 2, Seed = 1 };

        using var inMemory = ml.Regression.Trainers.MultilayerPerceptron(options).Fit(data);
        bool streamedFirst = messages.Any(m => m.Contains("streamed", StringComparison.Ordinal));
        options.TrainingDataMemoryBudget = 100 * 64 * sizeof(float); // 100 of the 300 rows
        using var streamed = ml.Regression.Trainers.MultilayerPerceptron(options).Fit(data);

        Assert.False(streamedFirst);
        Assert.Contains(messages, m => m.Contains("the features are streamed from the data at every epoch", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("MultilayerPerceptron: 300 training rows of 64 values", StringComparison.Ordinal));
        Assert.Equal(ScoreReader.Scores(inMemory.Transform(data)), ScoreReader.Scores(streamed.Transform(data)));
    }

    /// <summary>Rows whose values change from the third time they are read on (a file rewritten while training).</summary>
    private sealed class ChangingRows(IReadOnlyList<Datasets.DigitRow> rows) : IEnumerable<Datasets.DigitRow>
    {
        private int _reads;

        public IEnumerator<Datasets.DigitRow> GetEnumerator()
        {
            int read = Interlocked.Increment(ref _reads);
            return rows.Select(r => new Datasets.DigitRow { Features = r.Features.Select(v => read >= 3 ? v + 1 : v).ToArray(), Label = r.Label }).GetEnumerator();
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>The rows, enumerated any number of times; the enumeration <paramref name="pass"/> (1-based) cancels at row <paramref name="row"/>.</summary>
    private sealed class CancellingRows(IReadOnlyList<Datasets.DigitRow> rows, int pass, int row, CancellationTokenSource source) : IEnumerable<Datasets.DigitRow>
    {
        public List<int> RowsPerPass { get; } = [];

        public IEnumerator<Datasets.DigitRow> GetEnumerator()
        {
            int current = RowsPerPass.Count;
            RowsPerPass.Add(0);
            for (int r = 0; r < rows.Count; r++)
            {
                if (current + 1 == pass && r == row)
                {
                    source.Cancel();
                }
                RowsPerPass[current]++;
                yield return rows[r];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Theory]
    [InlineData(TrainingDataMode.InMemory, 1)]
    [InlineData(TrainingDataMode.Streamed, 1)]
    [InlineData(TrainingDataMode.Streamed, 2)]
    public void Cancellation_stops_a_reading_pass_at_the_next_row(TrainingDataMode mode, int pass)
    {
        var ml = new MLContext(seed: 1);
        using var source = new CancellationTokenSource();
        var rows = new CancellingRows(Datasets.DigitRows.Take(300).ToArray(), pass, row: 50, source);
        var trainer = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            Epochs = 2, Seed = 1, TrainingData = mode, CancellationToken = source.Token,
        });

        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.Equal(pass, rows.RowsPerPass.Count);
        Assert.InRange(rows.RowsPerPass[^1], 51, 53);
    }

    [Fact]
    public void A_view_that_changes_between_epochs_stops_training_with_an_error()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new ChangingRows(Datasets.DigitRows.Take(100).ToArray()));
        var trainer = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            Epochs = 3, Seed = 1, TrainingData = TrainingDataMode.Streamed, StandardizeFeatures = false,
        });

        var error = Assert.Throws<InvalidOperationException>(() => trainer.Fit(data));

        Assert.StartsWith("The streamed training data changed between passes: row 0 is not the row first read there", error.Message);
    }

    [Fact]
    public void The_stacked_autoencoder_refuses_streamed_training_by_name()
    {
        var (ml, train, _) = Digits(rows: 100);
        var trainer = ml.MulticlassClassification.Trainers.StackedAutoencoder(new StackedAutoencoderTrainer.Options { TrainingData = TrainingDataMode.Streamed });

        var error = Assert.Throws<NotSupportedException>(() => trainer.Fit(train));

        Assert.Equal("Options.TrainingData is Streamed, but StackedAutoencoder trains on rows held in memory: set it to Auto or InMemory.", error.Message);
    }

    [Fact]
    public void Streaming_options_out_of_range_are_named()
    {
        var ml = new MLContext();

        var budget = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { TrainingDataMemoryBudget = -1 }));
        var buffer = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { ShuffleBufferRows = 40 }));

        Assert.StartsWith("Options.TrainingDataMemoryBudget must be at least 0", budget.Message);
        Assert.StartsWith("Options.ShuffleBufferRows must be 0 (as many rows as 64 MiB hold) or at least two batches (64 rows for BatchSize 32); got 40.", buffer.Message);
    }
}
