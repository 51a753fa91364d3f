// The consumer check's program (eng/consumer/run.sh builds it outside the repository against the packed DeepArch.MLNet):
// an autoencoder anomaly detector trained on normal rows, saved, loaded back and scored on normal and shifted rows.
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

var mlContext = new MLContext(seed: 1);
var random = new Random(1);
Row Draw(float shift) => new() { Features = Enumerable.Range(0, 32).Select(i => (float)(Math.Sin(i + random.NextDouble()) + shift * random.NextDouble())).ToArray(), Label = shift > 0 ? 1 : 0 };
var normal = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 400).Select(_ => Draw(0)).ToArray());
var test = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, 200).Select(i => Draw(i % 2 == 0 ? 0 : 3)).ToArray());

using var detector = mlContext.AnomalyDetection.Trainers.Autoencoder("Features", epochs: 20).Fit(normal);
string path = Path.Combine(Path.GetTempPath(), $"deeparch-consumer-{Guid.NewGuid():N}.zip");
DeepArchModel.Save(mlContext, detector, normal.Schema, path);
var loaded = DeepArchModel.Load(new MLContext(), path, out _);
File.Delete(path);

var metrics = mlContext.AnomalyDetection.Evaluate(loaded.Transform(test));
Console.WriteLine($"DeepArch package consumer: trained, saved, loaded and scored; ROC AUC {metrics.AreaUnderRocCurve:F3}");
return metrics.AreaUnderRocCurve > 0.9 ? 0 : 1;

internal sealed class Row
{
    [VectorType(32)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}
