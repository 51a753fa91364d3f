// SequenceClassification: the handwritten digits read row by row, as sequences of 8 time steps of 8 pixels, classified by
// recurrent networks side by side (Elman RNN, LSTM, GRU, bidirectional LSTM); then variable-length sequences (each digit
// cut to its last 4 to 8 rows) through one LSTM, saved and loaded back with DeepArchModel.Load.
//
// Data: data/digits.csv, the 1,797 8x8 digits of the UCI Optical Recognition of Handwritten Digits
// data set (Alpaydin & Kaynak, 1998; test part as distributed with scikit-learn; CC BY 4.0).
// The split is the stratified 70/30 split (seed 1) of test/DeepArch.MLNet.Tests/Trainers/RecurrentNetworkTests.cs.
//
// Run from the repository root:  dotnet run --project examples/SequenceClassification
using System.Diagnostics;
using System.Globalization;
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "SequenceClassification"));
Directory.CreateDirectory(outputDirectory);
const int steps = 8, featuresPerStep = 8;

// 1. Read the digits (pixels scaled to [0, 1]; row r of the image is time step r) and split each digit 70/30 (seed 1).
var digits = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv")).Skip(1)
    .Select(line => line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())
    .Select(v => new DigitSequence { Features = v[..64].Select(p => p / 16f).ToArray(), Digit = v[64] }).ToArray();
var random = new Random(1);
var trainRows = new List<DigitSequence>();
var testRows = new List<DigitSequence>();
foreach (var group in digits.GroupBy(d => d.Digit).OrderBy(g => g.Key))
{
    var members = group.ToArray();
    random.Shuffle(members);
    int testCount = (int)Math.Round(members.Length * 0.3);
    testRows.AddRange(members.Take(testCount));
    trainRows.AddRange(members.Skip(testCount));
}
var mlContext = new MLContext(seed: 1);
var train = mlContext.Data.LoadFromEnumerable(trainRows);
var test = mlContext.Data.LoadFromEnumerable(testRows);
Console.WriteLine($"{trainRows.Count} training and {testRows.Count} test digits, each read as {steps} steps (image rows) of {featuresPerStep} pixels.");

// 2. Four recurrent networks, the same hidden size, epochs and learning rate; the many-to-one head reads the last step's state
//    (for the bidirectional LSTM: the forward state at the last row and the backward state at the first).
(string Name, RecurrentCell Cell, bool Bidirectional)[] models =
[
    ("Elman RNN", RecurrentCell.Rnn, false),
    ("LSTM", RecurrentCell.Lstm, false),
    ("GRU", RecurrentCell.Gru, false),
    ("bidirectional LSTM", RecurrentCell.Lstm, true),
];
Console.WriteLine();
Console.WriteLine("model                 hidden  parameters  test accuracy  macro accuracy  log-loss  training time");
foreach (var (name, cell, bidirectional) in models)
{
    var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", "Digit")
        .Append(mlContext.MulticlassClassification.Trainers.RecurrentNetwork(Options(cell, bidirectional)));
    var stopwatch = Stopwatch.StartNew();
    var model = pipeline.Fit(train);
    stopwatch.Stop();
    var metrics = mlContext.MulticlassClassification.Evaluate(model.Transform(test));
    var network = model.OfType<NetworkTransformer>().Single();
    Console.WriteLine($"{name,-20}  {64,6}  {Parameters(network),10}  {metrics.MicroAccuracy,13:F4}  {metrics.MacroAccuracy,14:F4}  {metrics.LogLoss,8:F4}  {stopwatch.Elapsed.TotalSeconds,12:F1} s");
}

// 3. Variable-length sequences: each digit keeps only its last 4 to 8 rows (a variable-size vector column, 32 to 64 values).
//    Batches are padded to their longest sequence and the true lengths go to the recurrent operators, so padding changes nothing.
var truncation = new Random(2);
var shortTrain = trainRows.Select(r => Truncate(r, truncation.Next(4, 9))).ToArray();
var shortTest = testRows.Select(r => Truncate(r, truncation.Next(4, 9))).ToArray();
var shortTrainData = mlContext.Data.LoadFromEnumerable(shortTrain);
var shortTestData = mlContext.Data.LoadFromEnumerable(shortTest);
Console.WriteLine();
Console.WriteLine($"Variable-length input: {shortTrainData.Schema["Features"].Type} column, each digit cut to its last 4 to 8 rows.");
var variablePipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", "Digit")
    .Append(mlContext.MulticlassClassification.Trainers.RecurrentNetwork(Options(RecurrentCell.Lstm, bidirectional: false)));
var variableWatch = Stopwatch.StartNew();
var variableModel = variablePipeline.Fit(shortTrainData);
variableWatch.Stop();
var variableScored = variableModel.Transform(shortTestData);
var variableMetrics = mlContext.MulticlassClassification.Evaluate(variableScored);
Console.WriteLine($"LSTM on 4-8 rows: test accuracy {variableMetrics.MicroAccuracy:F4}, log-loss {variableMetrics.LogLoss:F4}, trained in {variableWatch.Elapsed.TotalSeconds:F1} s");
var predicted = mlContext.Data.CreateEnumerable<Prediction>(variableScored, reuseRowObject: false).ToArray();
var byLength = Enumerable.Range(4, 5).Select(rows =>
{
    var indices = Enumerable.Range(0, shortTest.Length).Where(i => shortTest[i].Features.Length == rows * featuresPerStep).ToArray();
    return (Rows: rows, Count: indices.Length, Accuracy: indices.Average(i => predicted[i].PredictedLabel == predicted[i].Label ? 1.0 : 0));
}).ToArray();
Console.WriteLine("  accuracy by rows kept: " + string.Join(", ", byLength.Select(b => $"{b.Rows} rows {b.Accuracy:F3} ({b.Count} digits)")));

// 4. Save with ML.NET, load back with DeepArchModel.Load (a variable-size feature column needs it: ML.NET's OnnxTransformer
//    reads only known-size vectors) and check the scores are the same.
string modelPath = Path.Combine(outputDirectory, "digits-lstm-variable-length.zip");
mlContext.Model.Save(variableModel, shortTrainData.Schema, modelPath);
var reloaded = DeepArchModel.Load(new MLContext(), modelPath, out _);
float[] before = Scores(variableModel.Transform(shortTestData)), after = Scores(reloaded.Transform(shortTestData));
double maxDifference = before.Zip(after, (a, b) => Math.Abs(a - b)).Max();
var reloadedMetrics = mlContext.MulticlassClassification.Evaluate(reloaded.Transform(shortTestData));
Console.WriteLine($"Saved {modelPath}; loaded back with DeepArchModel.Load: scores differ by at most {maxDifference:G3}, test accuracy {reloadedMetrics.MicroAccuracy:F4}.");

// 5. Plot the variable-length model's accuracy by the number of rows it saw.
string plotPath = Path.Combine(outputDirectory, "accuracy-by-rows.png");
var plot = new ScottPlot.Plot();
plot.Add.Bars(byLength.Select(b => (double)b.Rows).ToArray(), byLength.Select(b => b.Accuracy).ToArray());
plot.Axes.SetLimitsY(0, 1.05);
plot.Title("LSTM on digits cut to their last rows: test accuracy by rows kept");
plot.XLabel("image rows kept (time steps)");
plot.YLabel("test accuracy");
plot.SavePng(plotPath, 700, 450);
Console.WriteLine($"Wrote {plotPath}");

static RecurrentNetworkTrainer.Options Options(RecurrentCell cell, bool bidirectional) => new()
{
    LabelColumnName = "Label",
    FeatureColumnName = "Features",
    FeaturesPerStep = featuresPerStep,
    Cell = cell,
    Bidirectional = bidirectional,
    HiddenSize = 64,
    Epochs = 25,
    BatchSize = 32,
    LearningRate = 3e-3,
    ScoringThreads = 1,
};

static ShortDigitSequence Truncate(DigitSequence digit, int rows)
    => new() { Features = digit.Features[((steps - rows) * featuresPerStep)..], Digit = digit.Digit };

static string Parameters(NetworkTransformer network)
{
    const string marker = "Total parameters: ";
    string summary = network.NetworkSummary;
    int at = summary.IndexOf(marker, StringComparison.Ordinal);
    return at < 0 ? "?" : summary[(at + marker.Length)..].Split('\n')[0].Trim();
}

float[] Scores(IDataView scored)
    => mlContext.Data.CreateEnumerable<ScoreRow>(scored, reuseRowObject: false).SelectMany(r => r.Score).ToArray();

internal sealed class DigitSequence
{
    /// <summary>8 steps of 8 pixels, row by row.</summary>
    [VectorType(64)]
    public float[] Features { get; set; } = [];

    public float Digit { get; set; }
}

internal sealed class ShortDigitSequence
{
    /// <summary>The last 4 to 8 rows of a digit, 8 pixels each: no VectorType, so the column is a variable-size vector.</summary>
    public float[] Features { get; set; } = [];

    public float Digit { get; set; }
}

internal sealed class Prediction
{
    public uint Label { get; set; }

    public uint PredictedLabel { get; set; }
}

internal sealed class ScoreRow
{
    public float[] Score { get; set; } = [];
}
