using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>Multiclass with text labels (iris species): PredictedLabel maps back to the species names, before and after a reload.</summary>
public class TextLabelTests
{
    private sealed class Prediction
    {
        public string Label { get; set; } = "";

        public string PredictedSpecies { get; set; } = "";
    }

    [Fact]
    public void Predicted_label_carries_the_text_key_values_through_save_and_load()
    {
        var ml = new MLContext(seed: 4);
        var loader = ml.Data.CreateTextLoader(
            [new TextLoader.Column("Features", DataKind.Single, 0, 3), new TextLoader.Column("Label", DataKind.String, 4)],
            separatorChar: ',', hasHeader: true);
        var data = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "iris.csv"));
        var model = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(labelColumnName: "LabelKey", hiddenLayers: [16], epochs: 60, batchSize: 16, learningRate: 1e-2))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedSpecies", "PredictedLabel"))
            .Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        var fresh = new MLContext();
        stream.Position = 0;
        var loaded = DeepArchModel.Load(fresh, stream, out _);
        stream.Position = 0;
        var plain = fresh.Model.Load(stream, out _);

        var before = ml.Data.CreateEnumerable<Prediction>(model.Transform(data), false).ToArray();
        double accuracy = before.Count(p => p.PredictedSpecies == p.Label) / (double)before.Length;
        Assert.True(accuracy >= 0.95, $"training accuracy {accuracy:F3}");
        Assert.Equal(["setosa", "versicolor", "virginica"], before.Select(p => p.PredictedSpecies).Distinct().Order());
        foreach (var reloaded in new[] { loaded, plain })
        {
            var after = fresh.Data.CreateEnumerable<Prediction>(reloaded.Transform(data), false).Select(p => p.PredictedSpecies);
            Assert.Equal(before.Select(p => p.PredictedSpecies), after);
        }

        // Score's slot names are the classes in key order, as ML.NET's own multiclass trainers give them (in memory and
        // after DeepArchModel.Load; a plain load's OnnxTransformer carries no annotations).
        var classes = default(VBuffer<ReadOnlyMemory<char>>);
        model.Transform(data).Schema["LabelKey"].GetKeyValues(ref classes);
        foreach (var scored in new[] { model.Transform(data), loaded.Transform(data) })
        {
            var names = default(VBuffer<ReadOnlyMemory<char>>);
            scored.Schema["Score"].GetSlotNames(ref names);
            Assert.Equal(classes.DenseValues().Select(c => c.ToString()), names.DenseValues().Select(n => n.ToString()));
        }
    }
}
