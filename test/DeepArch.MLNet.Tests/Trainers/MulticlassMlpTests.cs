using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

public class MulticlassMlpTests(ITestOutputHelper output)
{
    private static (MLContext Ml, IDataView Train, IDataView Test, ITransformer Model) FitDigits()
    {
        var ml = new MLContext(seed: 1);
        var (trainRows, testRows) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        var train = ml.Data.LoadFromEnumerable(trainRows);
        var test = ml.Data.LoadFromEnumerable(testRows);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMinMax("Features"))
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(hiddenLayers: [64], epochs: 30, batchSize: 32, learningRate: 3e-3))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
        return (ml, train, test, pipeline.Fit(train));
    }

    [Fact]
    public void Digits_test_accuracy_is_at_least_0_96()
    {
        var (ml, _, test, model) = FitDigits();

        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));

        output.WriteLine($"digits MLP: test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
        Assert.True(metrics.MicroAccuracy >= 0.96, $"accuracy {metrics.MicroAccuracy:F4}");
        Assert.True(metrics.LogLoss < 0.2, $"log-loss {metrics.LogLoss:F4}");
    }

    [Fact]
    public void Save_load_round_trip_gives_identical_scores()
    {
        var (ml, _, test, model) = FitDigits();
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-mlp-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, test.Schema, path);
        try
        {
            var before = ml.Data.CreateEnumerable<Scored>(model.Transform(test), reuseRowObject: false).ToArray();

            var fresh = new MLContext();
            var batched = DeepArchModel.Load(fresh, path, out _);
            DeepArchModel.Register(fresh);
            var plain = fresh.Model.Load(path, out _);
            var afterBatched = fresh.Data.CreateEnumerable<Scored>(batched.Transform(test), reuseRowObject: false).ToArray();
            var afterPlain = fresh.Data.CreateEnumerable<Scored>(plain.Transform(test), reuseRowObject: false).ToArray();

            Assert.Contains(Flatten(batched), t => t is NetworkTransformer);
            for (int i = 0; i < before.Length; i++)
            {
                Assert.Equal(before[i].PredictedLabelValue, afterBatched[i].PredictedLabelValue);
                Assert.Equal(before[i].PredictedLabelValue, afterPlain[i].PredictedLabelValue);
                for (int c = 0; c < 10; c++)
                {
                    Assert.Equal(before[i].Score[c], afterBatched[i].Score[c], 1e-5f);
                    Assert.Equal(before[i].Score[c], afterPlain[i].Score[c], 1e-5f);
                }
            }
            var metrics = fresh.MulticlassClassification.Evaluate(plain.Transform(test));
            Assert.True(metrics.MicroAccuracy >= 0.96);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
        => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [t];

    private sealed class Scored
    {
        public float[] Score { get; set; } = [];

        public float PredictedLabelValue { get; set; }
    }
}
