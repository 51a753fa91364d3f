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

    private static (IDataView InMemory, IDataView Batched, IDataView Plain) ScoreThreeWays(MLContext ml, ITransformer model, IDataView data, string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-{name}-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, data.Schema, path);
        try
        {
            var fresh = new MLContext();
            var batched = DeepArchModel.Load(fresh, path, out _);
            DeepArchModel.Register(fresh);
            var plain = fresh.Model.Load(path, out _);
            return (model.Transform(data), batched.Transform(data), plain.Transform(data));
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

        var (inMemory, batched, plain) = ScoreThreeWays(ml, model, data, "stack-multiclass");

        var type = inMemory.Schema["Probabilities"].Type;
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 10), type);
        Assert.Equal(type, batched.Schema["Probabilities"].Type);
        Assert.Equal(type, plain.Schema["Probabilities"].Type);
        float[] expected = ml.Data.CreateEnumerable<Scored>(inMemory, false).Select(r => r.Stacked).ToArray();
        Assert.Equal(expected, ml.Data.CreateEnumerable<Scored>(batched, false).Select(r => r.Stacked).ToArray(), new Tolerance(1e-5f));
        Assert.Equal(expected, ml.Data.CreateEnumerable<Scored>(plain, false).Select(r => r.Stacked).ToArray(), new Tolerance(1e-5f));
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

        var (inMemory, batched, plain) = ScoreThreeWays(ml, model, data, "stack-anomaly");

        var type = inMemory.Schema["Contributions"].Type;
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 64), type);
        Assert.Equal(type, batched.Schema["Contributions"].Type);
        Assert.Equal(type, plain.Schema["Contributions"].Type);
        float[] expected = ml.Data.CreateEnumerable<Scored>(inMemory, false).Select(r => r.Stacked).ToArray();
        Assert.Equal(expected, ml.Data.CreateEnumerable<Scored>(plain, false).Select(r => r.Stacked).ToArray(), new Tolerance(1e-5f));
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
    }

    private sealed class Tolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
