using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// Anomaly detection by prediction on the weekly CO2 series: a forecaster trained on the first 60% of the weeks
/// scores later windows, half of them with a fault injected into the forecast week (a spike or a level shift).
/// </summary>
public class ForecastingAnomalyDetectionTests(ITestOutputHelper output)
{
    private const int Context = 26, Window = Context + 1;
    private const float Scale = 2f;

    /// <summary>A window (26 weeks of context, then the week to forecast) relative to the last context week, and its label.</summary>
    public sealed class WindowRow
    {
        [VectorType(Window)]
        public float[] Features { get; set; } = [];

        /// <summary>1 when a fault was injected (what AnomalyDetection.Evaluate wants).</summary>
        public float Label { get; set; }
    }

    private static WindowRow Make(IReadOnlyList<float> series, int end, float fault)
    {
        float last = series[end - 2];
        var values = Enumerable.Range(end - Window, Window).Select(i => (series[i] - last) / Scale).ToArray();
        values[^1] += fault / Scale;
        return new WindowRow { Features = values, Label = fault == 0 ? 0 : 1 };
    }

    /// <summary>Normal training windows from the first 60% of the series; test windows from the rest, every second one with a fault of 1.5 to 3 ppm.</summary>
    internal static (WindowRow[] Train, WindowRow[] Test) Data()
    {
        var series = Datasets.Co2Weekly;
        int split = (int)(series.Count * 0.6);
        var train = Enumerable.Range(Window, split - Window).Select(end => Make(series, end, 0)).ToArray();
        var random = new Random(7);
        var test = Enumerable.Range(split + Window, series.Count - split - Window).Where(end => end % 3 == 0)
            .Select((end, i) => Make(series, end, i % 2 == 0 ? 0 : (float)((random.Next(2) * 2 - 1) * (1.5 + 1.5 * random.NextDouble()))))
            .ToArray();
        return (train, test);
    }

    private static ForecastingAnomalyDetectionTrainer.Options Options(ForecastScore score = ForecastScore.PredictionError) => new()
    {
        HiddenSize = 16,
        Epochs = 12,
        LearningRate = 3e-3,
        ScoreBy = score,
        TrainingThreads = 1,
    };

    /// <summary>
    /// The stepwise score (one step ahead at every step of the window) on these faults in the forecast week, beside the default
    /// forecast of the last week, at default options: docs/recurrent-networks.md quotes both figures.
    /// </summary>
    [Fact]
    public void The_stepwise_score_also_finds_faults_in_the_forecast_week()
    {
        var (train, test) = Data();
        double Auc(ForecastScore score)
        {
            var ml = new MLContext(1);
            var model = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { Seed = 1, TrainingThreads = 1, ScoreBy = score })
                .Fit(ml.Data.LoadFromEnumerable(train));
            return ml.AnomalyDetection.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(test))).AreaUnderRocCurve;
        }
        double lastWeek = Auc(ForecastScore.PredictionError), stepwise = Auc(ForecastScore.StepwisePredictionError);
        output.WriteLine($"faults in the forecast week, default options, seed 1: ROC AUC PredictionError {lastWeek:F4}, StepwisePredictionError {stepwise:F4}");
        Assert.True(stepwise > 0.9, $"stepwise AUC {stepwise:F4}");
    }

    [Fact]
    public void Injected_faults_are_found_and_Evaluate_accepts_the_output()
    {
        var (train, test) = Data();
        var ml = new MLContext(1);
        var trainer = ml.AnomalyDetection.Trainers.RecurrentForecaster(Options());

        var model = trainer.Fit(ml.Data.LoadFromEnumerable(train));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(test));
        var metrics = ml.AnomalyDetection.Evaluate(scored);
        float[] scores = ScoreReader.Scores(scored).Select(s => s[0]).ToArray();
        bool[] predicted = ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).Select(p => p.PredictedLabel).ToArray();
        int truePositives = test.Where((w, i) => w.Label == 1 && predicted[i]).Count();
        double precision = truePositives / (double)Math.Max(1, predicted.Count(p => p));
        double recall = truePositives / (double)test.Count(w => w.Label == 1);

        output.WriteLine($"CO2 windows, {test.Length} test windows, half with a 1.5-3 ppm fault: ROC AUC {metrics.AreaUnderRocCurve:F4}, " +
            $"precision {precision:F3}, recall {recall:F3} at threshold {trainer.Threshold:F3}");
        Assert.True(metrics.AreaUnderRocCurve > 0.9, $"AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.All(predicted.Zip(scores), p => Assert.Equal(p.Second > trainer.Threshold, p.First));
    }

    [Fact]
    public void Monte_carlo_variance_is_higher_on_windows_unlike_the_training_data_and_repeatable()
    {
        var (train, test) = Data();
        var ml = new MLContext(1);
        var model = ml.AnomalyDetection.Trainers.RecurrentForecaster(Options(ForecastScore.PredictiveVariance)).Fit(ml.Data.LoadFromEnumerable(train));
        var normal = test.Where(w => w.Label == 0).ToArray();
        // Unlike anything in training: the seasonal swing ten times as large.
        var unusual = normal.Select(w => new WindowRow { Features = w.Features.Select(v => v * 10).ToArray(), Label = 1 }).ToArray();

        float[] normalScores = ScoreReader.Scores(model.Transform(ml.Data.LoadFromEnumerable(normal))).Select(s => s[0]).ToArray();
        float[] unusualScores = ScoreReader.Scores(model.Transform(ml.Data.LoadFromEnumerable(unusual))).Select(s => s[0]).ToArray();
        float[] again = ScoreReader.Scores(model.Transform(ml.Data.LoadFromEnumerable(normal))).Select(s => s[0]).ToArray();
        var metrics = ml.AnomalyDetection.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(normal.Concat(unusual))));

        output.WriteLine($"Monte-Carlo variance (20 passes): mean standardized score {normalScores.Average():F3} on normal windows, " +
            $"{unusualScores.Average():F3} on 10x windows; ROC AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(unusualScores.Average() > normalScores.Average() + 1, "windows unlike the training data should be less certain");
        Assert.Equal(normalScores, again);
    }

    [Fact]
    public void The_detector_passes_the_onnx_checker_and_saves_and_loads_through_both_paths_with_identical_scores()
    {
        var (train, test) = Data();
        var ml = new MLContext(1);
        var options = Options();
        options.Epochs = 2;
        var model = ml.AnomalyDetection.Trainers.RecurrentForecaster(options).Fit(ml.Data.LoadFromEnumerable(train));
        var data = ml.Data.LoadFromEnumerable(test);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-forecast-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            using (var onnx = new MemoryStream())
            {
                model.SaveOnnx(onnx);
                OnnxAssert.CheckModel(onnx.ToArray());
            }
            var fresh = new MLContext();
            var batched = DeepArchModel.Load(fresh, path, out _);
            DeepArchModel.Register(fresh);
            var plain = fresh.Model.Load(path, out _);

            var before = ScoreReader.Scores(model.Transform(data));
            Assert.Equal(before, ScoreReader.Scores(batched.Transform(data)));
            var afterPlain = ScoreReader.Scores(plain.Transform(data));
            Assert.All(before.Zip(afterPlain), p => Assert.Equal(p.First[0], p.Second[0], 1e-5f));
            Assert.Equal(ml.AnomalyDetection.Evaluate(model.Transform(data)).AreaUnderRocCurve,
                fresh.AnomalyDetection.Evaluate(plain.Transform(data)).AreaUnderRocCurve, 1e-6);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_window_without_context_is_a_clear_error()
    {
        var ml = new MLContext(1);
        var trainer = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { Horizon = Window, Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(Data().Train.Take(10))));

        Assert.Equal($"Feature column 'Features' holds {Window} steps but Options.Horizon is {Window}: a window needs at least one step of context before the {Window} forecast steps.", error.Message);
    }

    [Fact]
    public void Windows_that_all_score_the_same_are_a_warning_in_the_log()
    {
        // Constant windows: the forecaster's training scores have no spread to standardize by.
        var ml = new MLContext(1);
        var warnings = Fixtures.Warnings(ml);
        var constant = Enumerable.Range(0, 40).Select(_ => new WindowRow { Features = Enumerable.Repeat(0.5f, Window).ToArray() }).ToArray();

        using var model = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { Epochs = 1, Seed = 1 })
            .Fit(ml.Data.LoadFromEnumerable(constant));

        Assert.Contains(warnings, w => w.Contains("the 40 training windows score almost the same", StringComparison.Ordinal)
            && w.Contains("train on more, varied windows", StringComparison.Ordinal));
    }

    private sealed class Prediction
    {
        public bool PredictedLabel { get; set; }
    }
}
