// Forecasting: one-step forecasts of two real series by recurrent networks (LSTM and GRU) over windows of past values,
// against the naive forecast (next value = last value), on the last 20% of each series.
//
// Data: data/co2_weekly.csv, the weekly Mauna Loa CO2 series (Keeling & Whorf, 2004; 2,284 weeks from March 1958,
// ppm, gaps linearly interpolated) and data/sunspots_yearly.csv, the yearly sunspot numbers 1700-2008 (NOAA NGDC);
// both as distributed with statsmodels, public domain.
//
// Run from the repository root:  dotnet run --project examples/Forecasting
using System.Diagnostics;
using System.Globalization;
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using ScottPlot;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "Forecasting"));
Directory.CreateDirectory(outputDirectory);
const double testFraction = 0.2;

// 1. Read both series: the time of each value (decimal year) and the value.
var co2 = ReadSeries("co2_weekly.csv", date => DecimalYear(DateTime.Parse(date, CultureInfo.InvariantCulture)));
var sunspots = ReadSeries("sunspots_yearly.csv", year => double.Parse(year, CultureInfo.InvariantCulture));
Console.WriteLine($"CO2: {co2.Values.Length} weeks, {co2.Times[0]:F1}-{co2.Times[^1]:F1}; sunspots: {sunspots.Values.Length} years, {sunspots.Times[0]}-{sunspots.Times[^1]}.");

// 2. How each series becomes windows. CO2 climbs from about 315 to 374 ppm and most of its test part lies above every
//    training value: its windows are taken relative to their last value and the network predicts the change (as
//    RecurrentNetworkTests does). Sunspots have no trend; both ways are tried: values divided by 100, and windows relative
//    to their last value.
Setup[] setups =
[
    new("CO2 (ppm), 26-week windows, relative", co2, Window: 26, Relative: true, Scale: 2f, HiddenSize: 32, Epochs: 30, BatchSize: 32),
    new("sunspots, 20-year windows, /100", sunspots, Window: 20, Relative: false, Scale: 100f, HiddenSize: 32, Epochs: 150, BatchSize: 16),
    new("sunspots, 20-year windows, relative", sunspots, Window: 20, Relative: true, Scale: 100f, HiddenSize: 32, Epochs: 150, BatchSize: 16),
];

// 3. Train an LSTM and a GRU per setup on the windows whose forecast value is in the first 80%; forecast the rest one step ahead.
var mlContext = new MLContext(seed: 1);
var results = new List<Result>();
foreach (var setup in setups)
{
    var (train, test) = Windows(setup);
    var lstm = Forecast(setup, train, test, RecurrentCell.Lstm);
    var gru = Forecast(setup, train, test, RecurrentCell.Gru);
    var naive = test.Select(w => (double)w.Last).ToArray();
    var actual = test.Select(w => (double)setup.Series.Values[w.Target]).ToArray();
    results.Add(new Result(setup, test.Select(w => setup.Series.Times[w.Target]).ToArray(), actual, lstm, gru, naive, train.Length));
}

Console.WriteLine();
Console.WriteLine($"One-step RMSE on the last {testFraction * 100:F0}% of each series (original units)");
Console.WriteLine("series                                 train  test     LSTM      GRU    naive  LSTM/naive  GRU/naive");
foreach (var r in results)
{
    double lstm = Rmse(r.Lstm, r.Actual), gru = Rmse(r.Gru, r.Actual), naive = Rmse(r.Naive, r.Actual);
    Console.WriteLine($"{r.Setup.Name,-37}  {r.TrainCount,5}  {r.Actual.Length,4}  {lstm,7:F3}  {gru,7:F3}  {naive,7:F3}  {lstm / naive,10:F3}  {gru / naive,9:F3}");
}
var co2Result = results[0];
var bestSunspots = results.Skip(1).MinBy(r => Rmse(r.Lstm, r.Actual) + Rmse(r.Gru, r.Actual))!;
Console.WriteLine($"Sunspots: the {(bestSunspots.Setup.Relative ? "relative" : "/100")} windows forecast better (sum of the LSTM's and GRU's RMSE); the plot shows them.");

// 4. Plot the test part of each series: actual values and both networks' one-step forecasts, one panel per series.
string plotPath = Path.Combine(outputDirectory, "forecasts.png");
var multiplot = new ScottPlot.Multiplot();
multiplot.AddPlots(2);
Panel(multiplot.GetPlot(0), co2Result, "Mauna Loa CO2, weekly: one-step forecasts on the last 20%", "CO2 (ppm)");
Panel(multiplot.GetPlot(1), bestSunspots, $"Yearly sunspot numbers: one-step forecasts on the last 20% ({(bestSunspots.Setup.Relative ? "relative" : "/100")} windows)", "sunspot number");
multiplot.SavePng(plotPath, 960, 760);
Console.WriteLine($"Wrote {plotPath}");

(Window[] Train, Window[] Test) Windows(Setup setup)
{
    float[] values = setup.Series.Values;
    int testStart = (int)(values.Length * (1 - testFraction));
    var windows = new List<Window>();
    for (int end = setup.Window; end < values.Length; end++)
    {
        float last = values[end - 1], origin = setup.Relative ? last : 0;
        windows.Add(new Window
        {
            Features = values[(end - setup.Window)..end].Select(v => (v - origin) / setup.Scale).ToArray(),
            Label = (values[end] - origin) / setup.Scale,
            Target = end,
            Last = last,
        });
    }
    return (windows.Where(w => w.Target < testStart).ToArray(), windows.Where(w => w.Target >= testStart).ToArray());
}

double[] Forecast(Setup setup, Window[] train, Window[] test, RecurrentCell cell)
{
    // The window length is known only here, so the column type is declared through a schema definition.
    var schema = SchemaDefinition.Create(typeof(Window));
    schema[nameof(Window.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, setup.Window);
    var trainer = mlContext.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
    {
        LabelColumnName = nameof(Window.Label),
        FeatureColumnName = nameof(Window.Features),
        FeaturesPerStep = 1,
        Cell = cell,
        HiddenSize = setup.HiddenSize,
        Epochs = setup.Epochs,
        BatchSize = setup.BatchSize,
        LearningRate = 3e-3,
        ScoringThreads = 1,
    });
    var stopwatch = Stopwatch.StartNew();
    var model = trainer.Fit(mlContext.Data.LoadFromEnumerable(train, schema));
    Console.WriteLine($"  {setup.Name}: {(cell == RecurrentCell.Lstm ? "LSTM" : "GRU")} trained in {stopwatch.Elapsed.TotalSeconds:F1} s ({setup.Epochs} epochs, {train.Length} windows)");
    var scores = mlContext.Data.CreateEnumerable<ScoreRow>(model.Transform(mlContext.Data.LoadFromEnumerable(test, schema)), reuseRowObject: false)
        .Select(r => r.Score).ToArray();
    // Back to the series' units: the network's output is the (scaled) value, or its change from the window's last value.
    return test.Select((w, i) => (double)((setup.Relative ? w.Last : 0) + scores[i] * setup.Scale)).ToArray();
}

static void Panel(ScottPlot.Plot plot, Result result, string title, string unit)
{
    var actual = plot.Add.Scatter(result.Times, result.Actual);
    actual.Color = ScottPlot.Colors.Black;
    actual.LineWidth = 2;
    actual.MarkerSize = 0;
    actual.LegendText = $"actual (naive last-value forecast: RMSE {Rmse(result.Naive, result.Actual):F2})";
    var lstm = plot.Add.Scatter(result.Times, result.Lstm);
    lstm.Color = ScottPlot.Colors.OrangeRed;
    lstm.MarkerSize = 0;
    lstm.LegendText = $"LSTM (RMSE {Rmse(result.Lstm, result.Actual):F2})";
    var gru = plot.Add.Scatter(result.Times, result.Gru);
    gru.Color = ScottPlot.Colors.DodgerBlue;
    gru.MarkerSize = 0;
    gru.LinePattern = ScottPlot.LinePattern.Dashed;
    gru.LegendText = $"GRU (RMSE {Rmse(result.Gru, result.Actual):F2})";
    // Room above the curves for the legend; years without thousands separators.
    double low = result.Actual.Concat(result.Lstm).Concat(result.Gru).Min(), high = result.Actual.Concat(result.Lstm).Concat(result.Gru).Max();
    plot.Axes.SetLimitsY(low - 0.05 * (high - low), high + 0.4 * (high - low));
    plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = year => year.ToString("0.##", CultureInfo.InvariantCulture) };
    plot.Title(title);
    plot.XLabel("year");
    plot.YLabel(unit);
    plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
}

static double Rmse(double[] forecast, double[] actual) => Math.Sqrt(forecast.Zip(actual, (f, a) => (f - a) * (f - a)).Average());

static double DecimalYear(DateTime date) => date.Year + (date.DayOfYear - 1) / (DateTime.IsLeapYear(date.Year) ? 366.0 : 365.0);

static Series ReadSeries(string file, Func<string, double> time)
{
    var rows = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", file)).Skip(1).Select(line => line.Split(',')).ToArray();
    return new Series(rows.Select(r => time(r[0])).ToArray(), rows.Select(r => float.Parse(r[1], CultureInfo.InvariantCulture)).ToArray());
}

internal sealed record Series(double[] Times, float[] Values);

/// <summary>How a series becomes windows, and the networks' size and training length.</summary>
internal sealed record Setup(string Name, Series Series, int Window, bool Relative, float Scale, int HiddenSize, int Epochs, int BatchSize);

internal sealed record Result(Setup Setup, double[] Times, double[] Actual, double[] Lstm, double[] Gru, double[] Naive, int TrainCount);

/// <summary>A window of past values and the value that follows it, both scaled (and relative to the window's last value when set).</summary>
internal sealed class Window
{
    /// <summary>The window; its length is declared at run time through a SchemaDefinition.</summary>
    public float[] Features { get; set; } = [];

    public float Label { get; set; }

    /// <summary>The index of the forecast value in the series.</summary>
    public int Target { get; set; }

    /// <summary>The window's last value in the series' units (the naive forecast).</summary>
    public float Last { get; set; }
}

internal sealed class ScoreRow
{
    public float Score { get; set; }
}
