using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// The recurrent trainers on real data: the digits read row by row (8 steps of 8 pixels) for classification, and
/// the weekly CO2 series for one-step forecasting against the naive last-value forecast.
/// </summary>
public class RecurrentNetworkTests(ITestOutputHelper output)
{
    private static IEstimator<ITransformer> Prepare(MLContext ml)
        => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.NormalizeMinMax("Features"));

    private static (MLContext Ml, IDataView Train, IDataView Test) Digits(int seed = 1)
    {
        var ml = new MLContext(seed);
        var (trainRows, testRows) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        return (ml, ml.Data.LoadFromEnumerable(trainRows), ml.Data.LoadFromEnumerable(testRows));
    }

    [Fact]
    public void Digits_read_row_by_row_lstm_test_accuracy_is_at_least_0_95()
    {
        var (ml, train, test) = Digits();
        var pipeline = Prepare(ml).Append(ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 8,
            Cell = RecurrentCell.Lstm,
            HiddenSize = 64,
            Epochs = 25,
            BatchSize = 32,
            LearningRate = 3e-3,
            TrainingThreads = 1,
        }));

        var model = pipeline.Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));

        output.WriteLine($"digits as 8 steps of 8 pixels, LSTM(64): test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
        Assert.True(metrics.MicroAccuracy >= 0.95, $"accuracy {metrics.MicroAccuracy:F4}");
    }

    [Fact]
    public void A_stacked_bidirectional_gru_classifier_saves_and_loads_through_both_paths_with_identical_scores()
    {
        var (ml, train, test) = Digits();
        var pipeline = Prepare(ml).Append(ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 8,
            Cell = RecurrentCell.Gru,
            HiddenSize = 16,
            Layers = 2,
            Dropout = 0.1f,
            Bidirectional = true,
            Pooling = RecurrentOutput.Mean,
            Epochs = 6,
            LearningRate = 1e-2,
            TrainingThreads = 1,
        }));
        var model = pipeline.Fit(train);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-rnn-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, path);
            var before = ScoreReader.Scores(model.Transform(test));

            var fresh = new MLContext();
            var batched = DeepArchModel.Load(fresh, path, out _);
            DeepArchModel.Register(fresh);
            var plain = fresh.Model.Load(path, out _);

            var afterBatched = ScoreReader.Scores(batched.Transform(test));
            var afterPlain = ScoreReader.Scores(plain.Transform(test));
            for (int i = 0; i < before.Length; i++)
            {
                for (int c = 0; c < before[i].Length; c++)
                {
                    Assert.Equal(before[i][c], afterBatched[i][c], 1e-5f);
                    Assert.Equal(before[i][c], afterPlain[i][c], 1e-5f);
                }
            }
            var metrics = fresh.MulticlassClassification.Evaluate(plain.Transform(test));
            output.WriteLine($"bidirectional 2-layer GRU(16), 6 epochs: accuracy {metrics.MicroAccuracy:F4} after a plain Model.Load");
            Assert.True(metrics.MicroAccuracy > 0.8, $"accuracy {metrics.MicroAccuracy:F4}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Binary_elman_rnn_output_is_accepted_by_Evaluate()
    {
        var ml = new MLContext(1);
        var rows = Datasets.DigitRows.Where(r => r.Label is 3 or 8)
            .Select(r => new BinaryRow { Features = r.Features.Select(v => v / 16f).ToArray(), Label = r.Label == 8 }).ToArray();
        var (trainRows, testRows) = Datasets.RandomSplit(rows);
        var trainer = ml.BinaryClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 8,
            Cell = RecurrentCell.Rnn,
            HiddenSize = 32,
            Pooling = RecurrentOutput.Max,
            Epochs = 15,
            TrainingThreads = 1,
        });

        var model = trainer.Fit(ml.Data.LoadFromEnumerable(trainRows));
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(testRows)));

        output.WriteLine($"3 vs 8, Elman RNN(32), max over time: AUC {metrics.AreaUnderRocCurve:F4}, accuracy {metrics.Accuracy:F4}");
        Assert.True(metrics.AreaUnderRocCurve > 0.95, $"AUC {metrics.AreaUnderRocCurve:F4}");
    }

    [Fact]
    public void Sequences_in_their_own_units_need_no_normalizing_transform()
    {
        // The digits read row by row as a sensor's raw counts, 1,000 to 1,255: read as they come (the default), the LSTM's gates
        // saturate on the offset and it learns nothing (0.10 over five seeds, docs/quality-presets-units.md); standardized per feature
        // by its first layer (StandardizeFeatures), it learns.
        var ml = new MLContext(1);
        var (trainRows, testRows) = Datasets.StratifiedSplit(Datasets.DigitRowsIn(v => v * 255f / 16 + 1000), r => r.Label);
        var (train, test) = (ml.Data.LoadFromEnumerable(trainRows), ml.Data.LoadFromEnumerable(testRows));
        double Accuracy(bool standardize) => ml.MulticlassClassification.Evaluate(ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options { FeaturesPerStep = 8, Epochs = 8, StandardizeFeatures = standardize }))
            .Fit(train).Transform(test)).MicroAccuracy;

        double standardized = Accuracy(true), raw = Accuracy(false);

        output.WriteLine($"rows of pixels of 1,000 to 1,255: accuracy {standardized:F4} standardized, {raw:F4} as they come (default)");
        Assert.True(standardized >= 0.9, $"standardized: {standardized:F4}");
        Assert.True(raw < standardized - 0.1, $"as they come: {raw:F4}, standardized: {standardized:F4}");
    }

    [Fact]
    public void Co2_one_step_lstm_forecast_beats_the_naive_last_value_forecast_on_the_last_20_percent()
    {
        var (train, test) = Co2Windows();
        var ml = new MLContext(1);
        var trainer = ml.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 1,
            Cell = RecurrentCell.Lstm,
            HiddenSize = 32,
            Epochs = 30,
            BatchSize = 32,
            LearningRate = 3e-3,
            TrainingThreads = 1,
        });

        var model = trainer.Fit(ml.Data.LoadFromEnumerable(train));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(test));
        var metrics = ml.Regression.Evaluate(scored);
        float[] predicted = ScoreReader.Scores(scored).Select(s => s[0]).ToArray();
        double lstm = Math.Sqrt(test.Select((w, i) => Math.Pow((predicted[i] - w.Label) * Co2Scale, 2)).Average());
        double naive = Math.Sqrt(test.Select(w => Math.Pow(w.Label * Co2Scale, 2)).Average());

        output.WriteLine($"CO2 weekly, one-step forecast on the last 20% ({test.Length} weeks): LSTM RMSE {lstm:F4} ppm, naive last-value RMSE {naive:F4} ppm (R² of the change {metrics.RSquared:F4})");
        Assert.True(lstm < naive, $"LSTM RMSE {lstm:F4} >= naive {naive:F4}");
    }

    [Fact]
    public void A_known_size_column_that_is_not_whole_steps_names_the_column_its_length_and_the_features_per_step()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(i => new TenValues { Features = new float[10], Label = i % 2 }));
        var trainer = ml.Regression.Trainers.RecurrentNetwork(featuresPerStep: 3, epochs: 1);

        var error = Assert.Throws<ArgumentException>(() => trainer.Fit(data));

        Assert.Equal("Feature column 'Features' holds 10 values, which is not a whole number of steps of 3 features (Options.FeaturesPerStep = 3).", error.Message);
    }

    [Fact]
    public void Truncated_backpropagation_and_gradient_clipping_train_a_working_model()
    {
        var (ml, train, test) = Digits();
        var pipeline = Prepare(ml).Append(ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 8,
            HiddenSize = 32,
            TruncatedSteps = 4,
            GradientClipNorm = 1,
            Epochs = 8,
            LearningRate = 3e-3,
            TrainingThreads = 1,
        }));

        var metrics = ml.MulticlassClassification.Evaluate(pipeline.Fit(train).Transform(test));

        output.WriteLine($"LSTM(32), backpropagation through the last 4 of 8 steps, clip norm 1, 8 epochs: accuracy {metrics.MicroAccuracy:F4}");
        Assert.True(metrics.MicroAccuracy > 0.8, $"accuracy {metrics.MicroAccuracy:F4}");
    }

    /// <summary>TruncatedSteps of 20 on sequences of 8 steps truncates nothing; Fit said nothing of it (an outside probe).</summary>
    [Theory]
    [InlineData(20, true)]
    [InlineData(8, true)]
    [InlineData(4, false)]
    public void TruncatedSteps_not_below_the_sequence_length_is_a_warning_in_the_log(int truncatedSteps, bool warned)
    {
        var ml = new MLContext(1);
        var warnings = Fixtures.Warnings(ml);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(i => new SixteenValues { Features = Enumerable.Range(0, 16).Select(j => (i + j) % 3 / 2f).ToArray(), Label = i % 2 }));

        using var model = ml.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options { FeaturesPerStep = 2, TruncatedSteps = truncatedSteps, Epochs = 1 }).Fit(data);

        Assert.Equal(warned, warnings.Any(m => m.Contains($"RecurrentNetwork: Options.TruncatedSteps ({truncatedSteps}) is not below the sequences' 8 steps, so nothing is truncated", StringComparison.Ordinal)));
    }

    [Fact]
    public void Bad_recurrent_options_name_the_option_and_the_value()
    {
        var ml = new MLContext(1);

        var truncated = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.RecurrentNetwork(
            new RecurrentNetworkTrainer.Options { TruncatedSteps = 3, Bidirectional = true }));
        var relu = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.RecurrentNetwork(
            new RecurrentNetworkTrainer.Options { Cell = RecurrentCell.Gru, Nonlinearity = RecurrentNonlinearity.Relu }));
        var sequence = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.RecurrentNetwork(
            new RecurrentNetworkTrainer.Options { Pooling = RecurrentOutput.Sequence }));

        Assert.StartsWith("Options.TruncatedSteps must be 0 with Bidirectional", truncated.Message);
        Assert.StartsWith("Options.Nonlinearity must stay Tanh for the Gru cell", relu.Message);
        Assert.StartsWith("Options.Pooling must be Last, Mean or Max", sequence.Message);
    }

    /// <summary>Scale of the CO2 windows: ppm per unit.</summary>
    internal const float Co2Scale = 2f;

    /// <summary>Weeks per CO2 window: half a year.</summary>
    internal const int Co2Window = 26;

    /// <summary>
    /// One-step windows of the CO2 series: <see cref="Co2Window"/> values relative to the window's last value (so the trend
    /// does not push the test part out of the training range), the label the next week's change; the last 20% of the weeks
    /// are the test part. The naive forecast (no change) is label 0.
    /// </summary>
    internal static (SeriesWindow[] Train, SeriesWindow[] Test) Co2Windows()
    {
        const int window = Co2Window;
        var series = Datasets.Co2Weekly;
        var windows = new List<SeriesWindow>();
        for (int end = window; end < series.Count; end++)
        {
            float last = series[end - 1];
            windows.Add(new SeriesWindow
            {
                Features = Enumerable.Range(end - window, window).Select(i => (series[i] - last) / Co2Scale).ToArray(),
                Label = (series[end] - last) / Co2Scale,
                Target = end,
            });
        }
        int testStart = (int)(series.Count * 0.8);
        return (windows.Where(w => w.Target < testStart).ToArray(), windows.Where(w => w.Target >= testStart).ToArray());
    }

    /// <summary>A window of a univariate series and the change that follows it.</summary>
    public sealed class SeriesWindow
    {
        /// <summary>The window (<see cref="Co2Window"/> values).</summary>
        [VectorType(Co2Window)]
        public float[] Features { get; set; } = [];

        /// <summary>The next value's change from the window's last value, scaled.</summary>
        public float Label { get; set; }

        /// <summary>The index of the forecast week in the series.</summary>
        public int Target { get; set; }
    }

    private sealed class BinaryRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    private sealed class SixteenValues
    {
        [VectorType(16)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    private sealed class TenValues
    {
        [VectorType(10)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}
