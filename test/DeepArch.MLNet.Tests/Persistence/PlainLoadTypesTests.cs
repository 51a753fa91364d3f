using DeepArch.Trainers.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using static DeepArch.MLNet.Tests.Datasets;

namespace DeepArch.MLNet.Tests.Persistence;

/// <summary>
/// A saved model gives its vector columns the same types after ML.NET's own <c>mlContext.Model.Load</c>, after
/// <see cref="DeepArchModel.Load(MLContext, string, out DataViewSchema)"/> and in memory, so that ML.NET trainers fitted on
/// them (stacking) keep working after either load.
/// </summary>
public class PlainLoadTypesTests
{
    private sealed class StackRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }

        public float Target { get; set; }
    }

    private static IDataView Digits(MLContext ml, int count) => ml.Data.LoadFromEnumerable(DigitRows.Take(count)
        .Select(r => new StackRow { Features = r.Features.Select(v => v / 16f).ToArray(), Label = r.Label, Target = r.Label % 3 }));

    /// <summary>
    /// Saves <paramref name="model"/>, loads it both ways, and checks that <paramref name="column"/> is <c>Vector&lt;Single, size&gt;</c> in
    /// memory and after both loads, and that the stacked trainer's output (<c>Stacked</c>) is the same within 1e-5.
    /// </summary>
    private static void AssertStackedAfterBothLoads(MLContext ml, ITransformer model, IDataView data, string column, int size)
    {
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-stack-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, data.Schema, path);
        try
        {
            var fresh = new MLContext();
            var batched = DeepArchModel.Load(fresh, path, out _);
            DeepArchModel.Register(fresh);
            var plain = fresh.Model.Load(path, out _);
            var inMemory = model.Transform(data);
            float[] expected = ml.Data.CreateEnumerable<Scored>(inMemory, false).Select(r => r.Stacked).ToArray();
            Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, size), inMemory.Schema[column].Type);
            foreach (var loaded in new[] { batched, plain })
            {
                var scored = loaded.Transform(data);
                Assert.Equal(inMemory.Schema[column].Type, scored.Schema[column].Type);
                Assert.Equal(expected, ml.Data.CreateEnumerable<Scored>(scored, false).Select(r => r.Stacked).ToArray(), new Tolerance(1e-5f));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class Scored
    {
        public float Stacked { get; set; }
    }

    [Fact]
    public void A_trainer_fitted_on_the_multiclass_score_scores_after_either_load()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Digits(ml, 300)).Transform(Digits(ml, 300));
        var pipeline = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [16], Epochs = 3 })
            .Append(ml.Transforms.CopyColumns("Probabilities", "Score"))
            .Append(ml.Regression.Trainers.LbfgsPoissonRegression("Target", "Probabilities"))
            .Append(ml.Transforms.CopyColumns("Stacked", "Score"));
        var model = pipeline.Fit(data);

        AssertStackedAfterBothLoads(ml, model, data, "Probabilities", 10);
    }

    [Fact]
    public void A_trainer_fitted_on_the_feature_contributions_scores_after_either_load()
    {
        var ml = new MLContext(seed: 1);
        var data = Digits(ml, 300);
        var pipeline = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
            {
                LayerSizes = [16, 4], Epochs = 3, EnsembleSize = 1, FeatureContributionsColumnName = "Contributions",
            })
            .Append(ml.Regression.Trainers.LbfgsPoissonRegression("Target", "Contributions"))
            .Append(ml.Transforms.CopyColumns("Stacked", "Score"));
        var model = pipeline.Fit(data);

        AssertStackedAfterBothLoads(ml, model, data, "Contributions", 64);
    }

    [Fact]
    public void The_network_loaded_from_a_saved_chain_is_the_one_exported_byte_for_byte()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Digits(ml, 200)).Transform(Digits(ml, 200));
        var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [8], Epochs = 1 }).Fit(data);
        using var exported = new MemoryStream();
        model.SaveOnnx(exported);
        byte[] original = exported.ToArray();

        byte[] withFlat = OnnxFlatOutputs.Add(original, ["Score"]);
        Assert.NotEqual(original, withFlat);
        Assert.Same(withFlat, OnnxFlatOutputs.Add(withFlat, ["Score"]));
        Assert.Equal(original, OnnxFlatOutputs.Remove(withFlat));
        Assert.Same(original, OnnxFlatOutputs.Remove(original));

        string path = Path.Combine(Path.GetTempPath(), $"deeparch-flat-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, data.Schema, path);
        try
        {
            var loaded = (NetworkTransformer)DeepArchModel.Load(new MLContext(), path, out _);
            using var reexported = new MemoryStream();
            loaded.SaveOnnx(reexported);
            Assert.Equal(original, reexported.ToArray());
        }
        finally
        {
            File.Delete(path);
        }

        // A signed network keeps its signature through the saved chain: the same bytes come back, and still verify.
        byte[] key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        string signedPath = Path.Combine(Path.GetTempPath(), $"deeparch-signed-{Guid.NewGuid():N}.onnx");
        string zipPath = Path.ChangeExtension(signedPath, ".zip");
        try
        {
            model.SaveOnnx(signedPath, key);
            byte[] signedBytes = File.ReadAllBytes(signedPath);
            Assert.Equal(signedBytes, OnnxFlatOutputs.Remove(OnnxFlatOutputs.Add(signedBytes, ["Score"])));
            using var signed = DeepArchModel.LoadOnnx(signedPath, new ModelLoadOptions { SigningKey = key });
            ml.Model.Save(signed, data.Schema, zipPath);
            var reloaded = (NetworkTransformer)DeepArchModel.Load(new MLContext(), zipPath, out _);
            reloaded.SaveOnnx(signedPath);
            Assert.Equal(signedBytes, File.ReadAllBytes(signedPath));
            using var verified = DeepArchModel.LoadOnnx(signedPath, new ModelLoadOptions { SigningKey = key });

            // Signing a network loaded from a signed file signs it again (one signature, not two), with the new key.
            byte[] otherKey = Enumerable.Range(40, 32).Select(i => (byte)i).ToArray();
            verified.SaveOnnx(signedPath, otherKey);
            using var resigned = DeepArchModel.LoadOnnx(signedPath, new ModelLoadOptions { SigningKey = otherKey });
            Assert.ThrowsAny<InvalidDataException>(() => DeepArchModel.LoadOnnx(signedPath, new ModelLoadOptions { SigningKey = key }));
        }
        finally
        {
            File.Delete(signedPath);
            File.Delete(zipPath);
        }
    }

    private sealed class Tolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
