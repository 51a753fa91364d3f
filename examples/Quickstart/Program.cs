// Quickstart: a multilayer perceptron on the handwritten digits, inside an ordinary ML.NET pipeline.
//
// Data: data/digits.csv, the 1,797 8x8 digits of the UCI Optical Recognition of Handwritten Digits
// data set (Alpaydin & Kaynak, 1998; test part as distributed with scikit-learn; CC BY 4.0).
//
// Run from the repository root:  dotnet run --project examples/Quickstart
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "Quickstart"));
Directory.CreateDirectory(outputDirectory);

var mlContext = new MLContext(seed: 1);

// 1. Load the digits: 64 pixel columns and a label, then split 70/30.
var loader = mlContext.Data.CreateTextLoader(
    [new TextLoader.Column("Pixels", DataKind.Single, 0, 63), new TextLoader.Column("Digit", DataKind.Single, 64)],
    separatorChar: ',', hasHeader: true);
var data = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv"));
var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);

// 2. An ordinary pipeline: key-map the label, scale the pixels, train the MLP, map the prediction back.
var trainer = mlContext.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
{
    LabelColumnName = "Label",
    FeatureColumnName = "Features",
    HiddenLayers = [128, 64],
    Dropout = 0.1f,
    Epochs = 40,
    BatchSize = 32,
    LearningRate = 2e-3,
    ValidationFraction = 0.15,
    EarlyStoppingPatience = 8,
    Schedule = new ReduceOnPlateau(Factor: 0.5, Patience: 3),
    Progress = new Progress<EpochReport>(r =>
    {
        if (r.Epoch % 5 == 0)
        {
            Console.WriteLine($"  epoch {r.Epoch,3}  train loss {r.TrainLoss:F4}  validation loss {r.ValidationLoss:F4}  lr {r.LearningRate:G3}");
        }
    }),
});
var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", "Digit")
    .Append(mlContext.Transforms.NormalizeMinMax("Features", "Pixels"))
    .Append(trainer)
    .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedDigit", "PredictedLabel"));

Console.WriteLine("Training a multilayer perceptron on the digits (TorchSharp)...");
var model = pipeline.Fit(split.TrainSet);
var network = model.OfType<NetworkTransformer>().Single();
Console.WriteLine(network.NetworkSummary);
Console.WriteLine($"Stopped: {network.History.StopReason} after {network.History.Epochs.Count} epochs; kept epoch {network.History.BestEpoch}.");

// 3. Evaluate on the held-out 30% (scored by ONNX Runtime, a batch per call).
var metrics = mlContext.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
Console.WriteLine($"Test accuracy {metrics.MicroAccuracy:F4}, macro accuracy {metrics.MacroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

// 4. Save with ML.NET, load back in a fresh context, and check the scores are the same.
string modelPath = Path.Combine(outputDirectory, "digits-mlp.zip");
mlContext.Model.Save(model, data.Schema, modelPath);
network.SaveOnnx(Path.Combine(outputDirectory, "digits-mlp.onnx"));
var reloaded = DeepArchModel.Load(new MLContext(), modelPath, out _);
float[] before = Scores(model), after = Scores(reloaded);
double maxDifference = before.Zip(after, (a, b) => Math.Abs(a - b)).Max();
Console.WriteLine($"Saved {modelPath}; reloaded model's scores differ by at most {maxDifference:G3}.");

// 5. Plot the training and validation loss per epoch.
string plotPath = Path.Combine(outputDirectory, "loss.png");
var plot = new ScottPlot.Plot();
double[] epochs = network.History.Epochs.Select(e => (double)e.Epoch).ToArray();
plot.Add.Scatter(epochs, network.History.Epochs.Select(e => e.TrainLoss).ToArray()).LegendText = "training loss";
plot.Add.Scatter(epochs, network.History.Epochs.Select(e => e.ValidationLoss ?? double.NaN).ToArray()).LegendText = "validation loss";
plot.Add.VerticalLine(network.History.BestEpoch).LegendText = "kept weights";
plot.Title("Digits MLP: cross-entropy per epoch");
plot.XLabel("epoch");
plot.YLabel("loss");
plot.ShowLegend();
plot.SavePng(plotPath, 800, 450);
Console.WriteLine($"Wrote {plotPath}");

float[] Scores(ITransformer m)
    => mlContext.Data.CreateEnumerable<ScoreRow>(m.Transform(split.TestSet), reuseRowObject: false).SelectMany(r => r.Score).ToArray();

internal sealed class ScoreRow
{
    public float[] Score { get; set; } = [];
}
