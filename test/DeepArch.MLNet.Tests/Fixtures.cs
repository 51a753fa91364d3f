using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Tests;

/// <summary>Small, seeded models shared by the scoring and error tests.</summary>
public static class Fixtures
{
    /// <summary>The messages of <paramref name="ml"/>'s Warnings (<c>mlContext.Log</c>), collected as they come (from any thread).</summary>
    public static List<string> Warnings(MLContext ml)
    {
        var warnings = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning)
            {
                lock (warnings)
                {
                    warnings.Add(e.Message);
                }
            }
        };
        return warnings;
    }

    /// <summary>
    /// <paramref name="model"/> saved with <c>mlContext.Model.Save</c> and loaded back in a fresh <see cref="MLContext"/> both ways a
    /// user can: <c>DeepArchModel.Load</c>, and plain <c>mlContext.Model.Load</c> after <c>DeepArchModel.Register</c>; the fresh
    /// context comes along, for evaluating the reloaded models.
    /// </summary>
    public static (MLContext Fresh, ITransformer[] Reloaded) ReloadBothWays(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, schema, stream);
        var fresh = new MLContext();
        stream.Position = 0;
        var loaded = DeepArchModel.Load(fresh, stream, out _);
        DeepArchModel.Register(fresh);
        stream.Position = 0;
        return (fresh, [loaded, fresh.Model.Load(stream, out _)]);
    }

    /// <summary>A row with features, a key-able label and a passthrough text and vector column.</summary>
    public sealed class Row
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }

        public string Name { get; set; } = "";

        [VectorType(2)]
        public float[] Extra { get; set; } = [];
    }

    /// <summary><paramref name="count"/> seeded rows of three Gaussian blobs.</summary>
    public static Row[] Rows(int count, int seed = 0)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            int label = i % 3;
            return new Row
            {
                Features = Enumerable.Range(0, 6).Select(f => (float)((f % 3 == label ? 2 : 0) + random.NextDouble() - 0.5)).ToArray(),
                Label = label,
                Name = $"row{i}",
                Extra = [i, -i],
            };
        }).ToArray();
    }

    /// <summary>A small trained multiclass MLP (label mapped to a key first) with the given scoring batch size.</summary>
    public static (MLContext Ml, ITransformer Model, NetworkTransformer Network) Multiclass(int scoringBatchSize = 7, int rows = 120)
    {
        var ml = new MLContext(seed: 5);
        var data = ml.Data.LoadFromEnumerable(Rows(rows));
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [8],
                Epochs = 5,
                ScoringBatchSize = scoringBatchSize,
            }))
            .Fit(data);
        return (ml, model, model.LastTransformer);
    }
}
