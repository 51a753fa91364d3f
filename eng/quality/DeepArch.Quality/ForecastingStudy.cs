using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Quality;

/// <summary>
/// Issue 16's forecasting comparison: DeepArch's two forecasters with default options (their simple catalog overloads) against
/// ML.NET's regression trainers on the same windows, one model per week ahead, and the naive forecast. ML.NET's own forecaster
/// (<c>ForecastBySsa</c>, Microsoft.ML.TimeSeries) is not served by the package registry this project's machines reach, so the
/// ML.NET side is what a user of the served packages would build: a regressor per horizon step over the window's values.
/// </summary>
/// <remarks>
/// The weekly CO2 series (data/co2_weekly.csv): windows of 26 weeks and the 8 weeks after them, both relative to the window's
/// last week (ppm), one window per week; the first 70 % of the weeks train, every second window of the rest tests (as
/// <c>EncoderDecoderTests</c> does). The split is fixed by time; seed s seeds the <c>MLContext</c>.
/// </remarks>
internal static class ForecastingStudy
{
    public const int History = 26, Horizon = 8;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public sealed class Window
    {
        [VectorType(History)]
        public float[] Features { get; set; } = [];

        [VectorType(Horizon)]
        public float[] Label { get; set; } = [];
    }

    private sealed class Step
    {
        [VectorType(History)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>What one model scored on one seed: mean absolute error and root mean squared error in ppm over every test window and week ahead.</summary>
    public sealed record Result(string Model, bool DeepArch, int Seed, double Mae, double Rmse, double FitSeconds);

    public static (Window[] Train, Window[] Test) Split()
    {
        var series = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "co2_weekly.csv")).Skip(1)
            .Select(line => float.Parse(line.Split(',')[1], Inv)).ToList();
        int split = (int)(series.Count * 0.7);
        Window Make(int end)
        {
            float last = series[end - 1];
            return new Window
            {
                Features = Enumerable.Range(end - History, History).Select(i => series[i] - last).ToArray(),
                Label = Enumerable.Range(end, Horizon).Select(i => series[i] - last).ToArray(),
            };
        }
        return (Enumerable.Range(History, split - History - Horizon).Select(Make).ToArray(),
            Enumerable.Range(split + History, series.Count - split - History - Horizon).Where(e => e % 2 == 0).Select(Make).ToArray());
    }

    /// <summary>The ML.NET regressors, one per week ahead, as a user of ML.NET would set them up (linear ones after NormalizeMeanVariance).</summary>
    private static readonly (string Name, Func<MLContext, IEstimator<ITransformer>> Create)[] MlNet =
    [
        ("Sdca (NormalizeMeanVariance), one per week ahead", ml => ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Sdca())),
        ("FastTree, one per week ahead", ml => ml.Regression.Trainers.FastTree()),
        ("FastForest, one per week ahead", ml => ml.Regression.Trainers.FastForest()),
        ("LightGbm, one per week ahead", ml => ml.Regression.Trainers.LightGbm()),
    ];

    public static List<Result> Run(Window[] train, Window[] test, IReadOnlyList<int> seeds, TextWriter log)
    {
        var results = new List<Result>();
        double naiveMae = test.Average(w => w.Label.Average(v => Math.Abs((double)v)));
        double naiveRmse = Math.Sqrt(test.Average(w => w.Label.Average(v => (double)v * v)));
        foreach (int seed in seeds)
        {
            results.Add(new Result("naive (no change from the last week)", false, seed, naiveMae, naiveRmse, 0));
            var deepArch = new (string Name, Func<MLContext, IEstimator<ITransformer>> Create)[]
            {
                ("ForecastByRecurrentNetwork", ml => ml.Forecasting.ForecastByRecurrentNetwork()),
                ("ForecastByEncoderDecoder", ml => ml.Forecasting.ForecastByEncoderDecoder()),
                // The defaults before issue 16's measurement chose these (1e-3, 30 epochs for both).
                ("ForecastByRecurrentNetwork, former defaults (LearningRate 1e-3, Epochs 30)",
                    ml => ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options { LearningRate = 1e-3, Epochs = 30 })),
                ("ForecastByEncoderDecoder, former defaults (LearningRate 1e-3, Epochs 30)",
                    ml => ml.Forecasting.ForecastByEncoderDecoder(new EncoderDecoderForecastingEstimator.Options { LearningRate = 1e-3, Epochs = 30 })),
            };
            // Each forecaster as it is, and on windows divided by the training targets' standard deviation (forecasts multiplied
            // back): the standardization a careful user does by hand, which the forecasters do not do themselves.
            float spread = (float)Math.Sqrt(train.SelectMany(w => w.Label).Average(v => (double)v * v));
            foreach (var (name, create) in deepArch)
            {
                foreach (float scale in new[] { 1f, spread })
                {
                    var ml = new MLContext(seed: seed);
                    Window[] Scaled(Window[] windows) => windows.Select(w => new Window { Features = w.Features.Select(v => v / scale).ToArray(), Label = w.Label.Select(v => v / scale).ToArray() }).ToArray();
                    var watch = Stopwatch.StartNew();
                    var model = create(ml).Fit(ml.Data.LoadFromEnumerable(Scaled(train)));
                    double seconds = watch.Elapsed.TotalSeconds;
                    var forecasts = model.Transform(ml.Data.LoadFromEnumerable(Scaled(test))).GetColumn<float[]>("Forecast")
                        .Select(f => f.Select(v => v * scale).ToArray()).ToArray();
                    (model as IDisposable)?.Dispose();
                    results.Add(Score(scale == 1f ? name : $"{name}, windows divided by the targets' spread ({spread.ToString("F2", Inv)} ppm)", true, seed, forecasts, test, seconds, log));
                }
            }
            foreach (var (name, create) in MlNet)
            {
                var ml = new MLContext(seed: seed);
                var forecasts = test.Select(_ => new float[Horizon]).ToArray();
                var watch = Stopwatch.StartNew();
                for (int h = 0; h < Horizon; h++)
                {
                    var steps = ml.Data.LoadFromEnumerable(train.Select(w => new Step { Features = w.Features, Label = w.Label[h] }));
                    var model = create(ml).Fit(steps);
                    var scores = model.Transform(ml.Data.LoadFromEnumerable(test.Select(w => new Step { Features = w.Features }))).GetColumn<float>("Score").ToArray();
                    for (int i = 0; i < test.Length; i++)
                    {
                        forecasts[i][h] = scores[i];
                    }
                }
                results.Add(Score(name, false, seed, forecasts, test, watch.Elapsed.TotalSeconds, log));
            }
        }
        return results;
    }

    private static Result Score(string name, bool deepArch, int seed, float[][] forecasts, Window[] test, double seconds, TextWriter log)
    {
        var errors = forecasts.Zip(test, (f, w) => f.Zip(w.Label, (a, b) => (double)a - b)).SelectMany(e => e).ToList();
        var result = new Result(name, deepArch, seed, errors.Average(Math.Abs), Math.Sqrt(errors.Average(e => e * e)), seconds);
        log.WriteLine($"forecasting, seed {seed}: {name}: MAE {result.Mae:F4} ppm, RMSE {result.Rmse:F4} ({seconds:F1} s)");
        return result;
    }

    public static string Write(string command, string commit, string machine, string load, TimeSpan elapsed, IReadOnlyList<int> seeds,
        Window[] train, Window[] test, List<Result> results)
    {
        var md = new StringBuilder();
        RunInfo.AppendHeader(md, "Forecasting with default options: DeepArch's forecasters against ML.NET's regressors", command, commit, machine, load, elapsed,
            seeds, "each seeds the MLContext; the split is fixed by time");
        md.AppendLine($"The weekly CO2 series (data/co2_weekly.csv), {History} weeks of history and the {Horizon} weeks after them, both relative to the window's " +
                      $"last week (ppm); {train.Length} training windows (the first 70 % of the weeks), {test.Length} test windows (every second one of the rest). " +
                      "Error over every test window and week ahead. DeepArch: the simple catalog overloads (column names only). ML.NET: its forecaster " +
                      "`ForecastBySsa` (Microsoft.ML.TimeSeries) is not served by this project's package registry, so each of its regression trainers with " +
                      $"default options, {Horizon} models (one per week ahead) over the same {History} values. Lower is better; ± is the standard deviation over the seeds.");
        md.AppendLine();
        md.AppendLine("| model | MAE (ppm) | RMSE (ppm) | Fit (s) |").AppendLine("| --- | ---: | ---: | ---: |");
        var rows = results.GroupBy(r => r.Model).Select(g => (Model: g.Key, g.First().DeepArch, Mae: g.Select(r => r.Mae).ToList(), Rmse: g.Select(r => r.Rmse).ToList(),
            Fit: g.Average(r => r.FitSeconds))).OrderBy(r => r.Mae.Average()).ToList();
        foreach (var row in rows)
        {
            string name = row.DeepArch ? $"**DeepArch {row.Model}**" : row.Model;
            md.AppendLine(string.Create(Inv, $"| {name} | {row.Mae.Average():F4} ± {Sd(row.Mae):F4} | {row.Rmse.Average():F4} ± {Sd(row.Rmse):F4} | {row.Fit:F1} |"));
        }
        md.AppendLine();
        var bestMlNet = rows.Where(r => !r.DeepArch && !r.Model.StartsWith("naive", StringComparison.Ordinal)).MinBy(r => r.Mae.Average());
        foreach (var row in rows.Where(r => r.DeepArch && !r.Model.Contains("divided", StringComparison.Ordinal)))
        {
            double ratio = row.Mae.Average() / bestMlNet.Mae.Average();
            md.AppendLine(string.Create(Inv, $"- {row.Model}: MAE {row.Mae.Average():F4} against the best ML.NET regressor's {bestMlNet.Mae.Average():F4} ({bestMlNet.Model}): " +
                $"{ratio:F2}x ({(ratio <= 1 ? "at least as good" : "worse")})."));
        }
        foreach (var row in rows.Where(r => r.DeepArch && r.Model.Contains("divided", StringComparison.Ordinal)))
        {
            md.AppendLine(string.Create(Inv, $"- {row.Model} (an option, not the default): MAE {row.Mae.Average():F4}, {row.Mae.Average() / bestMlNet.Mae.Average():F2}x the best ML.NET regressor."));
        }
        md.AppendLine();
        return md.ToString();
    }

    private static double Sd(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        return values.Count < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }
}
