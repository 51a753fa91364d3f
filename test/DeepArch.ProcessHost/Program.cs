// Usage: DeepArch.ProcessHost score <model.zip> <features.csv> <plain|deeparch>
// Loads the model in this fresh process (plain: mlContext.Model.Load after DeepArchModel.Register;
// deeparch: DeepArchModel.Load), scores the rows of features.csv (one row of floats per line, in a
// column named "Features") and prints each row's Score values, invariant culture, one row per line.
//
// Usage: DeepArch.ProcessHost fit <rows.csv> <mlContextSeed>
// Trains DeterminismPipeline's pipelines on the rows of rows.csv in this fresh process and prints the
// scores of those rows (one line per row and task), for the cross-process determinism test.
//
// Usage: DeepArch.ProcessHost train-cnn
// Trains a small CNN for two epochs, printing its ML.NET log messages ("log: Info: ...") and its last training loss, for the
// tests of what training writes to the console and to mlContext.Log.
//
// Usage: DeepArch.ProcessHost train-small
// Trains a small MLP for one epoch through ML.NET (the first TorchSharp use of the process is DeepArch's) and prints
// its training loss, for the tests of the native environment DeepArch sets up (OMP_WAIT_POLICY).
using System.Globalization;
using DeepArch.MLNet;
using DeepArch.ProcessHost;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length == 3 && args[0] == "fit")
{
    foreach (string line in DeterminismPipeline.FitAndScore(DeterminismPipeline.ReadCsv(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture)))
    {
        Console.WriteLine(line);
    }
    return 0;
}
if (args.Length == 1 && args[0] == "train-small")
{
    var context = new MLContext(seed: 1);
    var random = new Random(1);
    var rowsToFit = Enumerable.Range(0, 64).Select(i => new LabeledRow
    {
        Features = [random.NextSingle(), random.NextSingle(), random.NextSingle(), random.NextSingle()],
        Label = i % 2,
    }).ToArray();
    using var fitted = context.Regression.Trainers.MultilayerPerceptron(
        new DeepArch.MLNet.MultilayerPerceptronTrainer.Options { HiddenLayers = [8], Epochs = 1, TrainingThreads = 2 })
        .Fit(context.Data.LoadFromEnumerable(rowsToFit));
    Console.WriteLine(fitted.History.Epochs[^1].TrainLoss.ToString("R", CultureInfo.InvariantCulture));
    return 0;
}
if (args.Length == 1 && args[0] == "train-cnn")
{
    // A small CNN for two epochs through ML.NET, its progress in mlContext.Log printed, for the tests of what training writes
    // to the console (libtorch's NNPACK warnings) and to ML.NET's log.
    var context = new MLContext(seed: 1);
    context.Log += (_, e) => { if (e.Source.Contains("ConvolutionalNetwork", StringComparison.Ordinal)) Console.WriteLine($"log: {e.Kind}: {e.Message}"); };
    var random = new Random(1);
    var images = Enumerable.Range(0, 96).Select(i => new ImageRow
    {
        Features = Enumerable.Range(0, 64).Select(_ => random.NextSingle()).ToArray(),
        Label = i % 2,
    }).ToArray();
    var keyed = context.Transforms.Conversion.MapValueToKey("Label").Fit(context.Data.LoadFromEnumerable(images)).Transform(context.Data.LoadFromEnumerable(images));
    using var cnn = context.MulticlassClassification.Trainers.ConvolutionalNetwork(
        new DeepArch.MLNet.ConvolutionalNetworkTrainer.Options { InputShape = [1, 8, 8], Epochs = 2 }).Fit(keyed);
    Console.WriteLine(cnn.History.Epochs[^1].TrainLoss.ToString("R", CultureInfo.InvariantCulture));
    return 0;
}
if (args.Length != 4 || args[0] != "score")
{
    Console.Error.WriteLine("usage: DeepArch.ProcessHost score <model.zip> <features.csv> <plain|deeparch>");
    Console.Error.WriteLine("       DeepArch.ProcessHost fit <rows.csv> <mlContextSeed>");
    return 2;
}
var ml = new MLContext();
ITransformer model;
if (args[3] == "plain")
{
    DeepArchModel.Register(ml);
    model = ml.Model.Load(args[1], out _);
}
else
{
    model = DeepArchModel.Load(ml, args[1], out _);
}
float[][] rows = File.ReadAllLines(args[2]).Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
var schema = SchemaDefinition.Create(typeof(Row));
schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows[0].Length);
var scored = model.Transform(ml.Data.LoadFromEnumerable(rows.Select(r => new Row { Features = r }), schema));
var column = scored.Schema["Score"];
using var cursor = scored.GetRowCursor([column]);
if (column.Type is VectorDataViewType)
{
    var getter = cursor.GetGetter<VBuffer<float>>(column);
    VBuffer<float> value = default;
    while (cursor.MoveNext())
    {
        getter(ref value);
        Console.WriteLine(string.Join(",", value.DenseValues().Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
    }
}
else
{
    var getter = cursor.GetGetter<float>(column);
    float value = 0;
    while (cursor.MoveNext())
    {
        getter(ref value);
        Console.WriteLine(value.ToString("R", CultureInfo.InvariantCulture));
    }
}
return 0;

internal sealed class ImageRow
{
    [VectorType(64)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

internal sealed class LabeledRow
{
    [VectorType(4)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

internal sealed class Row
{
    public float[] Features { get; set; } = [];
}
