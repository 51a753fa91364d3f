// AnomalyDetection: an autoencoder trained on some digits flags another digit as anomalous, beside ML.NET's
// own RandomizedPca on the same split and features.
//
// Data: data/digits.csv, the 1,797 8x8 digits of the UCI Optical Recognition of Handwritten Digits
// data set (Alpaydin & Kaynak, 1998; test part as distributed with scikit-learn; CC BY 4.0).
// Normal: the digits 0-4. Anomalous: the digit 7. The split is the one of
// test/DeepArch.MLNet.Tests/Trainers/AutoencoderAnomalyDetectionTests.cs (stratified 70/30, seed 1), so the
// figures printed here are the ones that test checks.
//
// Run from the repository root:  dotnet run --project examples/AnomalyDetection
using System.Globalization;
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "AnomalyDetection"));
Directory.CreateDirectory(outputDirectory);
int[] normalDigits = [0, 1, 2, 3, 4];
const int anomalousDigit = 7;

// 1. Read the digits, split each digit 70/30 (seed 1); train on the normal digits only. Pixels scaled to [0, 1].
var digits = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv")).Skip(1)
    .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
    .Select(v => (Pixels: v[..64].Select(p => p / 16f).ToArray(), Digit: (int)v[64])).ToArray();
var random = new Random(1);
var trainRows = new List<DigitRow>();
var testRows = new List<DigitRow>();
foreach (var group in digits.GroupBy(d => d.Digit).OrderBy(g => g.Key))
{
    var members = group.ToArray();
    random.Shuffle(members);
    int testCount = (int)Math.Round(members.Length * 0.3);
    var rows = members.Select(m => new DigitRow { Features = m.Pixels, Label = m.Digit == anomalousDigit ? 1 : 0, Digit = m.Digit }).ToArray();
    if (normalDigits.Contains(group.Key))
    {
        trainRows.AddRange(rows.Skip(testCount));
    }
    if (normalDigits.Contains(group.Key) || group.Key == anomalousDigit)
    {
        testRows.AddRange(rows.Take(testCount));
    }
}
var mlContext = new MLContext(seed: 1);
var train = mlContext.Data.LoadFromEnumerable(trainRows);
var test = mlContext.Data.LoadFromEnumerable(testRows);
Console.WriteLine($"Training on {trainRows.Count} digits {string.Join(", ", normalDigits)}; testing on {testRows.Count(r => r.Label == 0)} normal and {testRows.Count(r => r.Label == 1)} anomalous ({anomalousDigit}) digits.");

// 2. The autoencoder detector: 64 -> 32 -> 12 -> 32 -> 64, threshold at the 95% quantile of the training scores.
var autoencoderTrainer = mlContext.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
{
    LayerSizes = [32, 12],
    OutputActivation = ActivationKind.Sigmoid,
    Epochs = 60,
    BatchSize = 32,
    LearningRate = 3e-3,
    Contamination = 0.05,
    FeatureContributionsColumnName = "Contributions",
    ScoringThreads = 1,
});
var autoencoder = autoencoderTrainer.Fit(train);
Console.WriteLine(autoencoder.NetworkSummary);

// 3. ML.NET's RandomizedPca with as many components as the autoencoder's code.
var pca = mlContext.AnomalyDetection.Trainers.RandomizedPca("Features", rank: 12, seed: 1).Fit(train);

// 4. Evaluate both on the same test rows (Label: Single, 1 = anomaly).
var autoencoderScored = autoencoder.Transform(test);
var pcaScored = pca.Transform(test);
var autoencoderMetrics = mlContext.AnomalyDetection.Evaluate(autoencoderScored);
var pcaMetrics = mlContext.AnomalyDetection.Evaluate(pcaScored);
var autoencoderRows = mlContext.Data.CreateEnumerable<ScoredRow>(autoencoderScored, reuseRowObject: false).ToArray();
var pcaRows = mlContext.Data.CreateEnumerable<ScoredRow>(pcaScored, reuseRowObject: false).ToArray();
Console.WriteLine();
Console.WriteLine("detector            ROC AUC   detection rate (10 false positives)   detected at its threshold   false-positive rate at its threshold");
Report("autoencoder", autoencoderMetrics, autoencoderRows);
Report("RandomizedPca", pcaMetrics, pcaRows);
Console.WriteLine($"Autoencoder threshold (95% quantile of the training scores): {autoencoderTrainer.Threshold:G4}");
Console.WriteLine("RandomizedPca at other ranks, same rows: " + string.Join(", ", new[] { 4, 8, 16, 24, 32 }.Select(rank =>
    $"rank {rank} AUC {mlContext.AnomalyDetection.Evaluate(mlContext.AnomalyDetection.Trainers.RandomizedPca("Features", rank: rank, seed: 1).Fit(train).Transform(test)).AreaUnderRocCurve:F4}")));

// 5. Which pixels made the most anomalous test digit anomalous.
var worst = mlContext.Data.CreateEnumerable<ExplainedRow>(autoencoderScored, reuseRowObject: false).OrderByDescending(r => r.Score).First();
var topPixels = worst.Contributions.Select((share, pixel) => (share, pixel)).OrderByDescending(p => p.share).Take(5);
Console.WriteLine($"Most anomalous test row: a {worst.Digit}, score {worst.Score:G4}; largest error shares: " +
    string.Join(", ", topPixels.Select(p => $"pixel ({p.pixel / 8}, {p.pixel % 8}) {p.share:P0}")));

// 6. Plots: ROC curves of both detectors; histograms of the autoencoder's scores, normal vs anomalous.
string rocPath = Path.Combine(outputDirectory, "roc.png");
var roc = new ScottPlot.Plot();
AddRoc(roc, autoencoderRows, $"autoencoder (AUC {autoencoderMetrics.AreaUnderRocCurve:F3})");
AddRoc(roc, pcaRows, $"RandomizedPca (AUC {pcaMetrics.AreaUnderRocCurve:F3})");
var chance = roc.Add.Line(0, 0, 1, 1);
chance.LinePattern = ScottPlot.LinePattern.Dashed;
chance.LegendText = "chance";
roc.Title($"Digits {string.Join("", normalDigits)} normal, {anomalousDigit} anomalous: ROC on the test rows");
roc.XLabel("false-positive rate");
roc.YLabel("true-positive rate");
roc.ShowLegend(ScottPlot.Alignment.LowerRight);
roc.SavePng(rocPath, 700, 600);
Console.WriteLine($"Wrote {rocPath}");

string histogramPath = Path.Combine(outputDirectory, "score-histograms.png");
var histograms = new ScottPlot.Plot();
double[] logScores = autoencoderRows.Select(r => Math.Log10(r.Score)).ToArray();
double low = logScores.Min(), high = logScores.Max();
AddHistogram(histograms, autoencoderRows.Where(r => r.Label == 0).Select(r => Math.Log10(r.Score)), low, high, "normal test digits (0-4)");
AddHistogram(histograms, autoencoderRows.Where(r => r.Label == 1).Select(r => Math.Log10(r.Score)), low, high, $"anomalous test digits ({anomalousDigit})");
histograms.Add.VerticalLine(Math.Log10(autoencoderTrainer.Threshold!.Value)).LegendText = "threshold";
histograms.Title("Autoencoder scores (mean squared reconstruction error)");
histograms.XLabel("log10(score)");
histograms.YLabel("rows");
histograms.ShowLegend(ScottPlot.Alignment.UpperLeft);
histograms.SavePng(histogramPath, 800, 450);
Console.WriteLine($"Wrote {histogramPath}");

void Report(string name, AnomalyDetectionMetrics metrics, ScoredRow[] rows)
{
    double detected = rows.Where(r => r.Label == 1).Average(r => r.PredictedLabel ? 1.0 : 0);
    double falsePositives = rows.Where(r => r.Label == 0).Average(r => r.PredictedLabel ? 1.0 : 0);
    Console.WriteLine($"{name,-18}  {metrics.AreaUnderRocCurve,7:F4}   {metrics.DetectionRateAtFalsePositiveCount,36:F4}   {detected,25:P1}   {falsePositives,36:P1}");
}

static void AddRoc(ScottPlot.Plot plot, ScoredRow[] rows, string label)
{
    var sorted = rows.OrderByDescending(r => r.Score).ToArray();
    double positives = rows.Count(r => r.Label == 1), negatives = rows.Length - positives;
    var xs = new List<double> { 0 };
    var ys = new List<double> { 0 };
    double truePositives = 0, falsePositives = 0;
    foreach (var row in sorted)
    {
        if (row.Label == 1)
        {
            truePositives++;
        }
        else
        {
            falsePositives++;
        }
        xs.Add(falsePositives / negatives);
        ys.Add(truePositives / positives);
    }
    var curve = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
    curve.MarkerSize = 0;
    curve.LineWidth = 2;
    curve.LegendText = label;
}

static void AddHistogram(ScottPlot.Plot plot, IEnumerable<double> values, double low, double high, string label)
{
    const int bins = 40;
    double width = (high - low) / bins;
    var counts = new double[bins + 2];
    foreach (double value in values)
    {
        counts[1 + Math.Clamp((int)((value - low) / width), 0, bins - 1)]++;
    }
    double[] edges = Enumerable.Range(0, bins + 2).Select(i => low + (i - 1) * width).ToArray();
    var steps = plot.Add.Scatter(edges, counts);
    steps.ConnectStyle = ScottPlot.ConnectStyle.StepHorizontal;
    steps.MarkerSize = 0;
    steps.LineWidth = 2;
    steps.FillY = true;
    steps.FillYColor = steps.Color.WithAlpha(0.25);
    steps.LegendText = label;
}

internal sealed class DigitRow
{
    [VectorType(64)]
    public float[] Features { get; set; } = [];

    /// <summary>1 = anomaly, as AnomalyDetection.Evaluate wants it (Single).</summary>
    public float Label { get; set; }

    public int Digit { get; set; }
}

internal sealed class ScoredRow
{
    public float Label { get; set; }

    public int Digit { get; set; }

    public float Score { get; set; }

    public bool PredictedLabel { get; set; }
}

internal sealed class ExplainedRow
{
    public int Digit { get; set; }

    public float Score { get; set; }

    [VectorType]
    public float[] Contributions { get; set; } = [];
}
