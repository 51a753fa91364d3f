// SequenceAnomalies: faults injected into a real series (spikes, level shifts, a changed seasonal shape) and found by
// anomaly detection by prediction: a recurrent forecaster learns the normal series, and a week whose value it cannot
// forecast (PredictionError) or whose recent past makes it unsure (PredictiveVariance, Monte-Carlo dropout) is anomalous.
//
// Data: data/co2_weekly.csv, the weekly Mauna Loa CO2 series (Keeling & Whorf, 2004; 2,284 weeks from March 1958,
// ppm, gaps linearly interpolated; as distributed with statsmodels, public domain). The first 60% of the weeks train
// the detector as they are; faults are injected into the last 40% only, with a fixed seed.
//
// Run from the repository root:  dotnet run --project examples/SequenceAnomalies
using System.Globalization;
using DeepArch.MLNet;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using Microsoft.ML;
using Microsoft.ML.Data;
using ScottPlot;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "SequenceAnomalies"));
Directory.CreateDirectory(outputDirectory);
const float scale = 2f;

// 1. The series, and its seasonal profile (the mean of each week of the year after removing a 52-week moving average),
//    estimated on the training part: the seasonal faults invert or double it.
var rows = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "co2_weekly.csv")).Skip(1).Select(line => line.Split(',')).ToArray();
var dates = rows.Select(r => DateTime.Parse(r[0], CultureInfo.InvariantCulture)).ToArray();
float[] series = rows.Select(r => float.Parse(r[1], CultureInfo.InvariantCulture)).ToArray();
double[] years = dates.Select(d => d.Year + (d.DayOfYear - 1) / (DateTime.IsLeapYear(d.Year) ? 366.0 : 365.0)).ToArray();
int n = series.Length, split = (int)(n * 0.6);
double[] trend = Enumerable.Range(0, n).Select(t => Enumerable.Range(Math.Max(0, t - 26), Math.Min(n, t + 26) - Math.Max(0, t - 26)).Average(i => (double)series[i])).ToArray();
int WeekOfYear(int t) => Math.Min(51, (dates[t].DayOfYear - 1) / 7);
double[] seasonal = Enumerable.Range(0, 52).Select(w => Enumerable.Range(26, split - 52).Where(t => WeekOfYear(t) == w).Average(t => series[t] - trend[t])).ToArray();
Console.WriteLine($"{n} weeks, {years[0]:F1}-{years[^1]:F1}; training part: the first {split} weeks (to {years[split - 1]:F1}); " +
    $"seasonal swing {seasonal.Max() - seasonal.Min():F2} ppm peak to trough.");

// 2. Faults in the last 40%, placed in random order with random gaps (seed 7): 12 one-week spikes of 1.5-3 ppm, 4 level
//    shifts of 1.5-2.5 ppm for 8 weeks, and 4 stretches of 13 weeks whose seasonal swing is inverted (2) or doubled (2).
var random = new Random(7);
var faults = Enumerable.Repeat((Kind: "spike", Length: 1), 12).Concat(Enumerable.Repeat((Kind: "level shift", Length: 8), 4))
    .Concat(Enumerable.Repeat((Kind: "seasonal shape", Length: 13), 4)).ToArray();
random.Shuffle(faults);
double[] gapWeights = Enumerable.Range(0, faults.Length + 1).Select(_ => random.NextDouble()).ToArray();
int spare = n - split - faults.Sum(f => f.Length) - 10 * (faults.Length + 1);
float[] faulted = (float[])series.Clone();
string[] kindOf = Enumerable.Repeat("normal", n).ToArray();
var events = new List<(string Kind, int Start, int Length)>();
int start = split, seasonalCount = 0;
foreach (var (kind, length) in faults)
{
    start += 10 + (int)(spare * gapWeights[events.Count] / gapWeights.Sum());
    float size = (float)((random.Next(2) * 2 - 1) * (kind == "spike" ? 1.5 + 1.5 * random.NextDouble() : 1.5 + random.NextDouble()));
    // Seasonal faults: x - 2 s(t) turns the seasonal swing s upside down, x + s(t) doubles it.
    double seasonalFactor = kind != "seasonal shape" ? 0 : seasonalCount++ % 2 == 0 ? -2 : 1;
    for (int t = start; t < start + length; t++)
    {
        faulted[t] += kind == "seasonal shape" ? (float)(seasonalFactor * seasonal[WeekOfYear(t)]) : size;
        kindOf[t] = kind;
    }
    events.Add((kind, start, length));
    start += length;
}
Console.WriteLine($"Test part: {n - split} weeks, {kindOf.Count(k => k != "normal")} of them faulty: " +
    string.Join(", ", new[] { "spike", "level shift", "seasonal shape" }.Select(k => $"{kindOf.Count(x => x == k)} weeks of {k}s")));

// 3. Windows: 26 weeks of context and the week to judge, minus the context's mean (so the trend does not leave the training
//    range) and divided by 2 ppm. Training: every window of the first 60%; test: one window per week of the last 40%.
var trainWindows = Enumerable.Range(WindowRow.Size, split - WindowRow.Size).Select(end => Window(series, end, "normal")).ToArray();
var testWindows = Enumerable.Range(split, n - split).Select(t => Window(faulted, t + 1, kindOf[t])).ToArray();
var mlContext = new MLContext(seed: 1);
var trainData = mlContext.Data.LoadFromEnumerable(trainWindows);
Console.WriteLine($"{trainWindows.Length} training windows, {testWindows.Length} test windows ({testWindows.Count(w => w.Label == 1)} faulty).");

// 4. Two detectors, trained on the same normal windows: scored by the forecast's error, and by the Monte-Carlo variance of the
//    forecast (20 dropout masks on the LSTM's summary). Each flags a window whose standardized score is above the 99% quantile
//    of its training windows' scores.
var detectors = new[] { ForecastScore.PredictionError, ForecastScore.PredictiveVariance }.Select(scoreBy =>
{
    var trainer = mlContext.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options
    {
        FeatureColumnName = nameof(WindowRow.Features),
        HiddenSize = 16,
        Epochs = 20,
        LearningRate = 3e-3,
        ScoreBy = scoreBy,
        Contamination = 0.01,
        ScoringThreads = 1,
    });
    var model = trainer.Fit(trainData);
    var scored = mlContext.Data.CreateEnumerable<ScoredRow>(model.Transform(mlContext.Data.LoadFromEnumerable(testWindows)), reuseRowObject: false).ToArray();
    return (ScoreBy: scoreBy, Model: model, Threshold: trainer.Threshold!.Value, Scored: scored);
}).ToArray();

// 5. Precision and recall of PredictedLabel, and ROC AUC of Score (AnomalyDetection.Evaluate), per fault type (that type's
//    weeks against every normal week) and overall; and how many fault events (one spike, one shifted or reshaped stretch) have
//    at least one flagged week.
Console.WriteLine();
Console.WriteLine("score               fault type      faulty weeks  events found  flagged  precision  recall  ROC AUC");
foreach (var detector in detectors)
{
    foreach (string kind in new[] { "spike", "level shift", "seasonal shape", "all" })
    {
        int[] subset = Enumerable.Range(0, testWindows.Length).Where(i => testWindows[i].Label == 0 || kind == "all" || testWindows[i].FaultType == kind).ToArray();
        var scored = subset.Select(i => detector.Scored[i]).ToArray();
        int truePositives = scored.Count(r => r.Label == 1 && r.PredictedLabel), flagged = scored.Count(r => r.PredictedLabel);
        double precision = truePositives / (double)Math.Max(1, flagged), recall = truePositives / (double)scored.Count(r => r.Label == 1);
        var kindEvents = events.Where(e => kind == "all" || e.Kind == kind).ToArray();
        int found = kindEvents.Count(e => Enumerable.Range(e.Start - split, e.Length).Any(i => detector.Scored[i].PredictedLabel));
        var metrics = mlContext.AnomalyDetection.Evaluate(detector.Model.Transform(mlContext.Data.LoadFromEnumerable(subset.Select(i => testWindows[i]))));
        Console.WriteLine($"{detector.ScoreBy,-18}  {kind,-14}  {scored.Count(r => r.Label == 1),12}  {$"{found} of {kindEvents.Length}",12}  {flagged,7}  {precision,9:F3}  {recall,6:F3}  {metrics.AreaUnderRocCurve,7:F4}");
    }
    int falseAlarms = Enumerable.Range(0, testWindows.Length).Count(i => testWindows[i].Label == 0 && detector.Scored[i].PredictedLabel);
    int echoes = Enumerable.Range(0, testWindows.Length).Count(i => testWindows[i].Label == 0 && detector.Scored[i].PredictedLabel
        && Enumerable.Range(split + i - 3, 3).Any(t => kindOf[t] != "normal"));
    Console.WriteLine($"{detector.ScoreBy,-18}  threshold {detector.Threshold:F3} (standardized score); {falseAlarms} of {testWindows.Count(w => w.Label == 0)} normal weeks flagged, " +
        $"{echoes} of them within 3 weeks after a fault");
}

// 6. Plot the test part with its trend removed (for display only: the faults are a few ppm on a 40-ppm climb), the true
//    faults shaded, and each detector's detections marked; below, both scores against their thresholds.
string plotPath = Path.Combine(outputDirectory, "detections.png");
double[] testYears = years[split..];
IMultiplot multiplot = new Multiplot();
multiplot.AddPlots(2);
var seriesPlot = multiplot.GetPlot(0);
var kindColors = new Dictionary<string, Color> { ["spike"] = Colors.Red, ["level shift"] = Colors.Orange, ["seasonal shape"] = Colors.MediumPurple };
var shaded = new HashSet<string>();
for (int t = split; t < n; t++)
{
    if (kindOf[t] != "normal" && (t == split || kindOf[t - 1] != kindOf[t]))
    {
        int end = t;
        while (end + 1 < n && kindOf[end + 1] == kindOf[t])
        {
            end++;
        }
        var span = seriesPlot.Add.HorizontalSpan(years[t] - 0.02, years[end] + 0.02);
        span.FillColor = kindColors[kindOf[t]].WithAlpha(0.3);
        span.LineColor = Colors.Transparent;
        if (shaded.Add(kindOf[t]))
        {
            span.LegendText = $"true fault: {kindOf[t]}";
        }
    }
}
var original = seriesPlot.Add.Scatter(testYears, Enumerable.Range(split, n - split).Select(t => series[t] - trend[t]).ToArray());
original.Color = Colors.Gray.WithAlpha(0.6);
original.MarkerSize = 0;
original.LineStyle.AntiAlias = false;
original.LegendText = "original series";
double[] faultedDetrended = Enumerable.Range(split, n - split).Select(t => faulted[t] - trend[t]).ToArray();
var faultedLine = seriesPlot.Add.Scatter(testYears, faultedDetrended);
faultedLine.Color = Colors.Black;
faultedLine.MarkerSize = 0;
faultedLine.LegendText = "series with faults";
foreach (var (detector, shape, color) in new[] { (detectors[0], MarkerShape.FilledCircle, Colors.Crimson), (detectors[1], MarkerShape.OpenTriangleUp, Colors.Teal) })
{
    int[] flagged = Enumerable.Range(0, testWindows.Length).Where(i => detector.Scored[i].PredictedLabel).ToArray();
    var markers = seriesPlot.Add.ScatterPoints(flagged.Select(i => testYears[i]).ToArray(), flagged.Select(i => faultedDetrended[i]).ToArray());
    markers.MarkerShape = shape;
    markers.MarkerSize = 8;
    markers.Color = color;
    markers.LegendText = $"flagged by {detector.ScoreBy}";
}
double lowest = faultedDetrended.Min(), highest = faultedDetrended.Max();
seriesPlot.Axes.SetLimitsY(lowest - 0.5, highest + 0.45 * (highest - lowest));
seriesPlot.Title("Weekly CO2, last 40% (52-week moving average removed for display): injected faults and detections");
seriesPlot.YLabel("CO2 minus trend (ppm)");
seriesPlot.ShowLegend(Alignment.UpperLeft);

var scorePlot = multiplot.GetPlot(1);
foreach (var (detector, color) in new[] { (detectors[0], Colors.Crimson), (detectors[1], Colors.Teal) })
{
    var line = scorePlot.Add.Scatter(testYears, detector.Scored.Select(r => (double)Math.Max(r.Score, -2f)).ToArray());
    line.Color = color;
    line.MarkerSize = 0;
    line.LineStyle.AntiAlias = false; // jagged lines of 914 points: without anti-aliasing the PNG is a third smaller
    line.LegendText = $"{detector.ScoreBy} score";
    var threshold = scorePlot.Add.HorizontalLine(detector.Threshold);
    threshold.Color = color;
    threshold.LinePattern = LinePattern.Dashed;
    threshold.LegendText = $"{detector.ScoreBy} threshold";
}
scorePlot.Axes.SetLimitsY(-2, Math.Min(60, detectors.Max(d => d.Scored.Max(r => r.Score)) * 1.05));
scorePlot.Title("Standardized scores (training windows: mean 0, standard deviation 1), clipped at -2 and 60");
scorePlot.XLabel("year");
scorePlot.YLabel("score");
scorePlot.ShowLegend(Alignment.UpperLeft);
foreach (var plot in new[] { seriesPlot, scorePlot })
{
    plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = year => year.ToString("0.##", CultureInfo.InvariantCulture) };
}
multiplot.SharedAxes.ShareX([seriesPlot, scorePlot]);
multiplot.SavePng(plotPath, 960, 740);
Console.WriteLine($"Wrote {plotPath}");

static WindowRow Window(float[] values, int end, string kind)
{
    // The window's last value (index end - 1) is the week judged. Relative to the context's mean rather than to its last week:
    // a faulty week then moves the reference by 1/26 of its size, where relative to the last week every week after a spike
    // looked like a jump (overall ROC AUC 0.709 instead of 0.768 with the error score).
    float reference = values[(end - WindowRow.Size)..(end - 1)].Average();
    return new WindowRow
    {
        Features = values[(end - WindowRow.Size)..end].Select(v => (v - reference) / scale).ToArray(),
        Label = kind == "normal" ? 0 : 1,
        FaultType = kind,
    };
}

internal sealed class WindowRow
{
    public const int Context = 26, Size = Context + 1;

    /// <summary>26 weeks of context, then the week judged.</summary>
    [VectorType(Size)]
    public float[] Features { get; set; } = [];

    /// <summary>1 when the judged week is faulty (Single, as AnomalyDetection.Evaluate wants it).</summary>
    public float Label { get; set; }

    public string FaultType { get; set; } = "normal";
}

internal sealed class ScoredRow
{
    public float Label { get; set; }

    public float Score { get; set; }

    public bool PredictedLabel { get; set; }
}
