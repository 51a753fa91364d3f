// AutoencoderFeatures: an autoencoder as a feature-extraction stage inside an ML.NET pipeline.
//   1. A variational autoencoder with a 2-value code: the test digits' codes as a scatter coloured by class,
//      and a grid of digits decoded from a lattice of latent points (seed 000's "generate new digits from (x, y)").
//   2. FeaturizeByAutoencoder -> SdcaMaximumEntropy compared with the same linear trainer on the raw pixels.
//
// Data: data/digits.csv, the 1,797 8x8 digits of the UCI Optical Recognition of Handwritten Digits
// data set (Alpaydin & Kaynak, 1998; test part as distributed with scikit-learn; CC BY 4.0).
//
// Run from the repository root:  dotnet run --project examples/AutoencoderFeatures
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "AutoencoderFeatures"));
Directory.CreateDirectory(outputDirectory);
var mlContext = new MLContext(seed: 1);

// Load the digits (64 pixels and a label), split 70/30, and scale the pixels to [0, 1].
var loader = mlContext.Data.CreateTextLoader(
    [new TextLoader.Column("Pixels", DataKind.Single, 0, 63), new TextLoader.Column("Digit", DataKind.Single, 64)],
    separatorChar: ',', hasHeader: true);
var data = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv"));
var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);
var prepare = mlContext.Transforms.Conversion.MapValueToKey("Label", "Digit")
    .Append(mlContext.Transforms.NormalizeMinMax("Features", "Pixels"));

// 1. A 2-D code: a variational autoencoder 64 -> 64 -> 2 (the mean of the Gaussian code is the feature).
Console.WriteLine("Training a variational autoencoder with a 2-value code on the digits...");
var vae = mlContext.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
{
    OutputColumnName = "Code",
    InputColumnName = "Features",
    Kind = AutoencoderKind.Variational,
    LayerSizes = [64, 2],
    OutputActivation = DeepArch.Trainers.ActivationKind.Sigmoid,
    Beta = 0.5f,
    Epochs = 150,
    BatchSize = 64,
    LearningRate = 3e-3,
});
var codeModel = prepare.Append(vae).Fit(split.TrainSet);
var featurizer = codeModel.LastTransformer;
Console.WriteLine(featurizer.NetworkSummary);
var codes = mlContext.Data.CreateEnumerable<CodeRow>(codeModel.Transform(split.TestSet), reuseRowObject: false).ToArray();

string scatterPath = Path.Combine(outputDirectory, "codes.png");
var scatter = new ScottPlot.Plot();
var palette = new ScottPlot.Palettes.Category10();
for (int digit = 0; digit < 10; digit++)
{
    var members = codes.Where(c => (int)c.Digit == digit).ToArray();
    var points = scatter.Add.ScatterPoints(members.Select(c => (double)c.Code[0]).ToArray(), members.Select(c => (double)c.Code[1]).ToArray());
    points.Color = palette.GetColor(digit);
    points.MarkerSize = 5;
    points.LegendText = digit.ToString();
}
scatter.Title("Test digits in the VAE's 2-D code (encoder mean), coloured by class");
scatter.XLabel("code 1");
scatter.YLabel("code 2");
scatter.ShowLegend(ScottPlot.Alignment.UpperRight);
scatter.SavePng(scatterPath, 800, 700);
Console.WriteLine($"Wrote {scatterPath}");

// Decode a 12 x 12 lattice of latent points, from -2 to 2 on each axis (the prior's bulk), into digits.
const int steps = 12;
var lattice = Enumerable.Range(0, steps * steps).Select(i => new LatentPoint
{
    Z = [-2f + 4f * (i % steps) / (steps - 1), 2f - 4f * (i / steps) / (steps - 1)],
}).ToArray();
var latentData = mlContext.Data.LoadFromEnumerable(lattice);
using var decoder = mlContext.Transforms.DecodeByAutoencoder(featurizer, "Decoded", "Z").Fit(latentData);
var decoded = mlContext.Data.CreateEnumerable<DecodedRow>(decoder.Transform(latentData), reuseRowObject: false).ToArray();
string gridPath = Path.Combine(outputDirectory, "decoded-grid.png");
var grid = new double[steps * 9 - 1, steps * 9 - 1];
for (int i = 0; i < decoded.Length; i++)
{
    int top = i / steps * 9, left = i % steps * 9;
    for (int p = 0; p < 64; p++)
    {
        grid[top + p / 8, left + p % 8] = decoded[i].Decoded[p];
    }
}
var gridPlot = new ScottPlot.Plot();
var heatmap = gridPlot.Add.Heatmap(grid);
heatmap.Colormap = new ScottPlot.Colormaps.Grayscale();
gridPlot.Title("Decoded from latent points: z1 -2 to 2 (left to right), z2 2 to -2 (top to bottom)");
gridPlot.Axes.Bottom.IsVisible = false;
gridPlot.Axes.Left.IsVisible = false;
gridPlot.HideGrid();
gridPlot.SavePng(gridPath, 760, 800);
Console.WriteLine($"Wrote {gridPath}");

// 2. FeaturizeByAutoencoder -> a linear multiclass trainer, against the same trainer on the raw pixels.
SdcaMaximumEntropyMulticlassTrainer Sdca(string features) => mlContext.MulticlassClassification.Trainers.SdcaMaximumEntropy(
    new SdcaMaximumEntropyMulticlassTrainer.Options { LabelColumnName = "Label", FeatureColumnName = features, NumberOfThreads = 1 });
Console.WriteLine("Training FeaturizeByAutoencoder (64 -> 32 -> 16) -> SdcaMaximumEntropy, and SdcaMaximumEntropy on the raw pixels...");
var onCode = prepare
    .Append(mlContext.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
    {
        OutputColumnName = "Code",
        InputColumnName = "Features",
        LayerSizes = [32, 16],
        Epochs = 60,
        LearningRate = 3e-3,
    }))
    .Append(Sdca("Code"))
    .Fit(split.TrainSet);
var onVaeCode = prepare.Append(vae).Append(Sdca("Code")).Fit(split.TrainSet);
var onRaw = prepare.Append(Sdca("Features")).Fit(split.TrainSet);
double Accuracy(ITransformer model) => mlContext.MulticlassClassification.Evaluate(model.Transform(split.TestSet)).MicroAccuracy;
Console.WriteLine($"  SdcaMaximumEntropy on the 16-value autoencoder code: test accuracy {Accuracy(onCode):F4}");
Console.WriteLine($"  SdcaMaximumEntropy on the 2-value VAE code:          test accuracy {Accuracy(onVaeCode):F4}");
Console.WriteLine($"  SdcaMaximumEntropy on the 64 raw pixels:             test accuracy {Accuracy(onRaw):F4}");

internal sealed class CodeRow
{
    public float Digit { get; set; }

    public float[] Code { get; set; } = [];
}

internal sealed class LatentPoint
{
    [VectorType(2)]
    public float[] Z { get; set; } = [];
}

internal sealed class DecodedRow
{
    public float[] Decoded { get; set; } = [];
}
