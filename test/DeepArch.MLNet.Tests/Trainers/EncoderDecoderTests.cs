using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// The encoder–decoder on the weekly CO2 series: multi-step forecasting beside the recurrent forecaster and the naive forecast
/// (split by time), and anomaly detection by reconstruction with faults anywhere in the window, beside the forecasting detector.
/// </summary>
public class EncoderDecoderTests(ITestOutputHelper output)
{
    private const int History = 26, Horizon = 8;
    private const float Scale = 2f;

    public sealed class ForecastRow
    {
        [VectorType(History)]
        public float[] Features { get; set; } = [];

        [VectorType(Horizon)]
        public float[] Label { get; set; } = [];
    }

    public sealed class Forecast
    {
        [VectorType(Horizon)]
        public float[] Forecasted { get; set; } = [];
    }

    /// <summary>26 weeks of history and the next 8, relative to the last history week; the first 70% of the series trains.</summary>
    private static (ForecastRow[] Train, ForecastRow[] Test) ForecastData()
    {
        var series = Datasets.Co2Weekly;
        int split = (int)(series.Count * 0.7);
        ForecastRow Make(int end)
        {
            float last = series[end - 1];
            return new ForecastRow
            {
                Features = Enumerable.Range(end - History, History).Select(i => (series[i] - last) / Scale).ToArray(),
                Label = Enumerable.Range(end, Horizon).Select(i => (series[i] - last) / Scale).ToArray(),
            };
        }
        return (Enumerable.Range(History, split - History - Horizon).Select(Make).ToArray(),
            Enumerable.Range(split + History, series.Count - split - History - Horizon).Where(e => e % 2 == 0).Select(Make).ToArray());
    }

    private static double MeanAbsoluteError(IEnumerable<float[]> forecasts, ForecastRow[] rows)
        => forecasts.Zip(rows, (f, r) => f.Zip(r.Label, (a, b) => Math.Abs(a - b) * (double)Scale).Average()).Average();

    [Fact]
    public void Forecasts_several_weeks_beside_the_recurrent_forecaster_and_the_naive_forecast()
    {
        var (train, test) = ForecastData();
        var ml = new MLContext(1);
        var trainData = ml.Data.LoadFromEnumerable(train);
        var testData = ml.Data.LoadFromEnumerable(test);
        var encoderDecoder = ml.Forecasting.ForecastByEncoderDecoder(new EncoderDecoderForecastingEstimator.Options { Seed = 1, TrainingThreads = 1 }).Fit(trainData);
        var recurrent = ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options { Seed = 1, TrainingThreads = 1 }).Fit(trainData);
        float[][] Read(ITransformer model) => model.Transform(testData).GetColumn<float[]>("Forecast").ToArray();

        double naive = MeanAbsoluteError(test.Select(_ => new float[Horizon]), test);
        double ours = MeanAbsoluteError(Read(encoderDecoder), test);
        double theirs = MeanAbsoluteError(Read(recurrent), test);
        output.WriteLine($"CO2, {Horizon} weeks ahead from {History}, {test.Length} test windows (the last 30% of the weeks): mean absolute error (ppm) " +
            $"encoder-decoder {ours:F3}, recurrent forecaster {theirs:F3}, naive (last week) {naive:F3}");
        Assert.True(ours < 0.8 * naive, $"encoder-decoder {ours:F3} ppm, naive {naive:F3}");

        // Saved and loaded both ways, it forecasts the same.
        var (fresh, reloaded) = Fixtures.ReloadBothWays(ml, encoderDecoder, trainData.Schema);
        foreach (var loaded in reloaded)
        {
            var again = loaded.Transform(testData).GetColumn<float[]>("Forecast").ToArray();
            Assert.True(Read(encoderDecoder).Zip(again).All(p => p.First.Zip(p.Second).All(v => Math.Abs(v.First - v.Second) <= 1e-5)));
        }
        using var engine = ml.Model.CreatePredictionEngine<ForecastRow, Forecast>(encoderDecoder.Append(ml.Transforms.CopyColumns("Forecasted", "Forecast").Fit(encoderDecoder.Transform(testData))));
        Assert.Equal(Read(encoderDecoder)[0], engine.Predict(test[0]).Forecasted);
    }

    public sealed class WindowRow
    {
        [VectorType(History)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>Windows of 26 weeks relative to their mean; every second test window has a 1.5-3 ppm spike at a random week of the window.</summary>
    private static (WindowRow[] Train, WindowRow[] Test) AnomalyData()
    {
        var series = Datasets.Co2Weekly;
        int split = (int)(series.Count * 0.6);
        var random = new Random(7);
        WindowRow Make(int end, bool fault)
        {
            var values = Enumerable.Range(end - History, History).Select(i => series[i]).ToArray();
            float mean = values.Average();
            values = values.Select(v => (v - mean) / Scale).ToArray();
            if (fault)
            {
                values[random.Next(History)] += (float)((random.Next(2) * 2 - 1) * (1.5 + 1.5 * random.NextDouble())) / Scale;
            }
            return new WindowRow { Features = values, Label = fault ? 1 : 0 };
        }
        return (Enumerable.Range(History, split - History).Select(e => Make(e, false)).ToArray(),
            Enumerable.Range(split + History, series.Count - split - History).Where(e => e % 3 == 0).Select((e, i) => Make(e, i % 2 == 1)).ToArray());
    }

    public sealed class WeightedWindow
    {
        [VectorType(History)]
        public float[] Features { get; set; } = [];

        public float Weight { get; set; }
    }

    /// <summary>
    /// <c>ExampleWeightColumnName</c> on both window detectors: a third of the training windows carry a large spike (known bad
    /// data). Given weight 0 they leave the training loss (its last epoch's value falls to what the clean windows give) and the
    /// detectors still find the test faults. Both detectors shrug the spikes off unweighted too (a spike is not learned as
    /// normal), so here the weights do not raise the AUC; the autoencoder detector's test shows a case where they do.
    /// </summary>
    [Fact]
    public void Window_detectors_leave_out_windows_of_weight_zero()
    {
        var (train, test) = AnomalyData();
        var random = new Random(11);
        var mixed = train.Select((w, i) =>
        {
            bool bad = i % 3 == 0;
            var values = w.Features.ToArray();
            if (bad)
            {
                values[random.Next(History)] += 3f / Scale * (random.Next(2) * 2 - 1);
            }
            return new WeightedWindow { Features = values, Weight = bad ? 0 : 1 };
        }).ToArray();
        var ml = new MLContext(1);
        IDataView trainData = ml.Data.LoadFromEnumerable(mixed), testData = ml.Data.LoadFromEnumerable(test);
        (double Auc, double Loss) Fit(IEstimator<ITransformer> trainer)
        {
            using var model = (NetworkTransformer)trainer.Fit(trainData);
            return (ml.AnomalyDetection.Evaluate(model.Transform(testData)).AreaUnderRocCurve, model.History.Epochs[^1].TrainLoss);
        }
        IEstimator<ITransformer> EncoderDecoder(string? weight) => ml.AnomalyDetection.Trainers.EncoderDecoder(
            new EncoderDecoderAnomalyDetectionTrainer.Options { Seed = 1, TrainingThreads = 1, Epochs = 30, ExampleWeightColumnName = weight });
        IEstimator<ITransformer> Stepwise(string? weight) => ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options
        {
            Seed = 1, TrainingThreads = 1, ScoreBy = DeepArch.Trainers.ForecastScore.StepwisePredictionError, ExampleWeightColumnName = weight,
        });
        foreach (var (name, trainer) in new[] { ("encoder-decoder", (Func<string?, IEstimator<ITransformer>>)EncoderDecoder), ("stepwise recurrent forecaster", Stepwise) })
        {
            var (plain, weighted) = (Fit(trainer(null)), Fit(trainer("Weight")));
            output.WriteLine($"CO2 windows, a third of the training windows with a 3 ppm spike, {name}: last epoch's train loss {plain.Loss:G4} unweighted, " +
                $"{weighted.Loss:G4} with weight 0 on those; test ROC AUC {plain.Auc:F4} and {weighted.Auc:F4}");
            Assert.True(weighted.Loss < 0.8 * plain.Loss, $"{name}: train loss {weighted.Loss} weighted, {plain.Loss} unweighted");
            Assert.True(weighted.Auc > 0.95, $"{name}: AUC {weighted.Auc:F4} weighted");
        }
        Assert.Contains("example weight column 'Missing'", Assert.ThrowsAny<Exception>(() => EncoderDecoder("Missing").Fit(trainData)).Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Reconstruction_finds_faults_anywhere_in_the_window()
    {
        var (train, test) = AnomalyData();
        var ml = new MLContext(1);
        var trainData = ml.Data.LoadFromEnumerable(train);
        var testData = ml.Data.LoadFromEnumerable(test);
        var trainer = ml.AnomalyDetection.Trainers.EncoderDecoder(new EncoderDecoderAnomalyDetectionTrainer.Options { Seed = 1, TrainingThreads = 1, Epochs = 30 });
        var detector = trainer.Fit(trainData);
        var metrics = ml.AnomalyDetection.Evaluate(detector.Transform(testData));
        var forecaster = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { Seed = 1, TrainingThreads = 1, ScoreBy = DeepArch.Trainers.ForecastScore.PredictionError }).Fit(trainData);
        var forecasterMetrics = ml.AnomalyDetection.Evaluate(forecaster.Transform(testData));
        var stepwise = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options
        {
            Seed = 1, TrainingThreads = 1, ScoreBy = DeepArch.Trainers.ForecastScore.StepwisePredictionError,
        }).Fit(trainData);
        var stepwiseMetrics = ml.AnomalyDetection.Evaluate(stepwise.Transform(testData));
        output.WriteLine($"CO2 windows of {History} weeks, {test.Length} test windows, half with a 1.5-3 ppm spike at a random week: ROC AUC " +
            $"encoder-decoder reconstruction {metrics.AreaUnderRocCurve:F4}, recurrent forecaster (last week) {forecasterMetrics.AreaUnderRocCurve:F4}, " +
            $"recurrent forecaster one step ahead at every week (StepwisePredictionError) {stepwiseMetrics.AreaUnderRocCurve:F4}; threshold {trainer.Threshold:F3}");
        Assert.True(metrics.AreaUnderRocCurve > 0.9, $"AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.AreaUnderRocCurve > forecasterMetrics.AreaUnderRocCurve);
        Assert.True(stepwiseMetrics.AreaUnderRocCurve > 0.8 && stepwiseMetrics.AreaUnderRocCurve > forecasterMetrics.AreaUnderRocCurve,
            $"stepwise AUC {stepwiseMetrics.AreaUnderRocCurve:F4}");
        var (_, stepwiseReloaded) = Fixtures.ReloadBothWays(ml, stepwise, trainData.Schema);
        Assert.All(stepwiseReloaded, loaded => Assert.Equal(stepwiseMetrics.AreaUnderRocCurve, ml.AnomalyDetection.Evaluate(loaded.Transform(testData)).AreaUnderRocCurve, 6));

        // A missing value flags the window.
        var missing = new WindowRow { Features = test[0].Features.Select((v, i) => i == 3 ? float.NaN : v).ToArray() };
        var flagged = ml.Data.CreateEnumerable<Flag>(detector.Transform(ml.Data.LoadFromEnumerable(new[] { missing })), reuseRowObject: false).Single();
        Assert.True(flagged.PredictedLabel);

        var (_, reloaded) = Fixtures.ReloadBothWays(ml, detector, trainData.Schema);
        foreach (var loaded in reloaded)
        {
            Assert.Equal(metrics.AreaUnderRocCurve, ml.AnomalyDetection.Evaluate(loaded.Transform(testData)).AreaUnderRocCurve, 6);
        }
    }

    public sealed class Flag
    {
        public bool PredictedLabel { get; set; }
    }
}
