// GenerativeDigits: generative adversarial networks as ML.NET stages, on the bundled digits.
//   1. A conditional GAN of dense layers and a conditional DCGAN, each drawing a 10 x 10 grid of digits (one row per digit),
//      with the dense GAN's losses and its discriminator's mean D(x) and D(G(z)) per epoch.
//   2. mlContext.Data.EvaluateGenerated: label accuracy, Frechet distance, precision, recall and nearest-row distances of the
//      drawn digits, beside the same figures for a per-digit Gaussian (the trivial generator a useful one must beat).
//   3. An augmentation study: a classifier trained on 20 real digits per class, with and without 100 drawn digits per class
//      from a GAN trained on the same 200 digits, tested on the real test digits.
//
// Data: data/digits.csv, the 1,797 8x8 digits of the UCI Optical Recognition of Handwritten Digits
// data set (Alpaydin & Kaynak, 1998; test part as distributed with scikit-learn; CC BY 4.0).
//
// Run from the repository root:  dotnet run -c Release --project examples/GenerativeDigits
using System.Diagnostics;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "GenerativeDigits"));
Directory.CreateDirectory(outputDirectory);
var mlContext = new MLContext(seed: 1);

// The digits: 64 pixels (0 to 16) and the digit, keyed for the conditional GANs; a random 70/30 split (not by a sampling key
// column: ML.NET's samplingKeyColumnName keeps the rows of one value on the same side, so the digit as that column would put
// whole digits in the test part).
var loader = mlContext.Data.CreateTextLoader(
    [new TextLoader.Column("Features", DataKind.Single, 0, 63), new TextLoader.Column("Digit", DataKind.Single, 64)],
    separatorChar: ',', hasHeader: true);
var data = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv"));
var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);
var keys = mlContext.Transforms.Conversion.MapValueToKey("Label", "Digit").Fit(split.TrainSet);
var select = mlContext.Transforms.SelectColumns("Features", "Label");
var train = select.Fit(keys.Transform(split.TrainSet)).Transform(keys.Transform(split.TrainSet));
var test = select.Fit(keys.Transform(split.TestSet)).Transform(keys.Transform(split.TestSet));
long trainRows = train.GetRowCount() ?? train.GetColumn<uint>("Label").LongCount();

// 1. Two conditional GANs with their default options (the DCGAN with fewer epochs: each of its epochs takes about four times as long).
var watch = Stopwatch.StartNew();
Console.WriteLine($"Training a conditional GAN (dense layers, default options) on {trainRows} digits...");
var progress = FitProgress.Show(mlContext, "GAN"); // a progress bar from the epochs DeepArch writes to mlContext.Log
using var gan = mlContext.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label").Fit(train);
progress.Dispose();
Console.WriteLine($"  {watch.Elapsed.TotalSeconds:F0} s. Generator:");
Console.WriteLine(gan.NetworkSummary);
watch.Restart();
Console.WriteLine("Training a conditional DCGAN (100 epochs)...");
progress = FitProgress.Show(mlContext, "DCGAN");
using var dcgan = mlContext.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label", imageShape: [1, 8, 8], epochs: 100).Fit(train);
progress.Dispose();
Console.WriteLine($"  {watch.Elapsed.TotalSeconds:F0} s.");

foreach (var (name, generator) in new[] { ("gan", gan), ("dcgan", dcgan) })
{
    string path = Path.Combine(outputDirectory, $"digits-{name}.png");
    SaveGrid(Enumerable.Range(0, 10).Select(d => Pixels(mlContext.Data.Generate(generator, 10, label: d.ToString(), seed: 7))).ToArray(),
        path, $"Drawn by the conditional {(name == "gan" ? "GAN" : "DCGAN")}: one row per digit, 0 to 9");
    Console.WriteLine($"Wrote {path}");
}
var history = gan.History.Epochs;
double[] epochs = history.Select(e => (double)e.Epoch).ToArray();
foreach (var (file, title, names) in new[]
{
    ("losses.png", "Losses per epoch (dense GAN)", new[] { "discriminator", "generator" }),
    ("discriminator-scores.png", "The discriminator's mean probability of real digits, D(x), and of drawn ones, D(G(z))", new[] { "D(x)", "D(G(z))" }),
})
{
    var plot = new ScottPlot.Plot();
    foreach (string name in names)
    {
        plot.Add.ScatterLine(epochs, history.Select(e => e.Losses![name]).ToArray()).LegendText = name;
    }
    plot.Title(title);
    plot.XLabel("epoch");
    plot.ShowLegend();
    string path = Path.Combine(outputDirectory, file);
    plot.SavePng(path, 900, 450);
    Console.WriteLine($"Wrote {path}");
}

// 2. How close the drawn digits are, beside a per-digit Gaussian.
Console.WriteLine();
Console.WriteLine("Drawn digits (as many as the training digits, labels in the training frequencies) against the real ones,");
Console.WriteLine("in the feature space of a small convolutional classifier trained on the real training digits:");
Console.WriteLine($"| generator | label accuracy | Frechet distance (floor) | precision | recall | median distance to the nearest training digit |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
// Each call trains its own classifier, so figures compare within a call: each GAN is printed beside the Gaussian of its call.
double heldOut = 0;
foreach (var (name, generator) in new[] { ("conditional GAN", gan), ("conditional DCGAN", dcgan) })
{
    var metrics = mlContext.Data.EvaluateGenerated(train, mlContext.Data.Generate(generator, (int)trainRows, seed: 3), test,
        labelColumnName: "Label", imageShape: [1, 8, 8]);
    Console.WriteLine(Row(name, metrics));
    Console.WriteLine(Row("per-digit Gaussian, same classifier", metrics.GaussianBaseline!));
    heldOut = metrics.HeldOutNearestTrainingDistance ?? double.NaN;
}
Console.WriteLine($"(held-out real digits: median distance {heldOut:F2} to the nearest training digit)");

// 3. Augmentation: 20 real digits per class, with and without 100 drawn digits per class from a GAN trained on those 200.
Console.WriteLine();
var fewRows = mlContext.Data.CreateEnumerable<DigitRow>(split.TrainSet, reuseRowObject: false).GroupBy(r => r.Digit).SelectMany(g => g.Take(20)).ToArray();
var fewRaw = mlContext.Data.LoadFromEnumerable(fewRows);
var few = select.Fit(keys.Transform(fewRaw)).Transform(keys.Transform(fewRaw)); // the training keys: label "3" is the digit 3
Console.WriteLine("Training a conditional GAN on 20 digits per class (batches of 32)...");
using var fewGan = mlContext.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label", batchSize: 32).Fit(few);
var drawn = Enumerable.Range(0, 10).Select(d => mlContext.Data.Generate(fewGan, 100, label: d.ToString(), seed: 11 + d)).ToArray();
var augmented = mlContext.Data.AppendRows([few, .. drawn]);
foreach (var (name, rows) in new[] { ("200 real digits", few), ("200 real + 1,000 drawn digits", augmented) })
{
    var classifier = mlContext.Transforms.NormalizeMinMax("Features")
        .Append(mlContext.MulticlassClassification.Trainers.SdcaMaximumEntropy(new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 }))
        .Fit(rows);
    double accuracy = mlContext.MulticlassClassification.Evaluate(classifier.Transform(test)).MicroAccuracy;
    Console.WriteLine($"  SdcaMaximumEntropy trained on {name}: test accuracy {accuracy:F4}");
}

static string Row(string name, GeneratedDataMetrics m)
    => $"| {name} | {m.LabelAccuracy:F3} | {m.FrechetDistance:F2} ({m.FrechetDistanceFloor:F2}) | {m.Precision:F3} | {m.Recall:F3} | {m.NearestTrainingDistance:F2} |";

static float[][] Pixels(IDataView rows) => rows.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();

static void SaveGrid(float[][][] rows, string path, string title)
{
    var grid = new double[rows.Length * 9 - 1, rows[0].Length * 9 - 1];
    for (int r = 0; r < rows.Length; r++)
    {
        for (int c = 0; c < rows[r].Length; c++)
        {
            for (int p = 0; p < 64; p++)
            {
                grid[r * 9 + p / 8, c * 9 + p % 8] = rows[r][c][p];
            }
        }
    }
    var plot = new ScottPlot.Plot();
    plot.Add.Heatmap(grid).Colormap = new ScottPlot.Colormaps.Grayscale();
    plot.Title(title);
    plot.Axes.Bottom.IsVisible = false;
    plot.Axes.Left.IsVisible = false;
    plot.HideGrid();
    plot.SavePng(path, 700, 740);
}

internal sealed class DigitRow
{
    [VectorType(64)]
    public float[] Features { get; set; } = [];

    public float Digit { get; set; }
}
