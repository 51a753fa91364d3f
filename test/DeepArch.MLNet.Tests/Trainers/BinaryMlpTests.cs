using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>Binary MLP on a real two-class task: handwritten 3s against 8s from the bundled digits.</summary>
public class BinaryMlpTests(ITestOutputHelper output)
{
    private sealed class Row
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    private static (MLContext Ml, IDataView Test, ITransformer Model) Fit()
    {
        var ml = new MLContext(seed: 2);
        var rows = Datasets.DigitRows.Where(r => r.Label is 3 or 8).Select(r => new Row { Features = r.Features, Label = r.Label == 8 }).ToArray();
        var (train, test) = Datasets.StratifiedSplit(rows, r => r.Label ? 1 : 0);
        var pipeline = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.BinaryClassification.Trainers.MultilayerPerceptron(hiddenLayers: [32], epochs: 20));
        return (ml, ml.Data.LoadFromEnumerable(test), pipeline.Fit(ml.Data.LoadFromEnumerable(train)));
    }

    [Fact]
    public void Evaluate_accepts_the_output_and_reports_a_high_auc()
    {
        var (ml, test, model) = Fit();

        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));

        output.WriteLine($"3 vs 8: AUC {metrics.AreaUnderRocCurve:F4}, accuracy {metrics.Accuracy:F4}, log-loss {metrics.LogLoss:F4}");
        Assert.True(metrics.AreaUnderRocCurve >= 0.98, $"AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.Accuracy >= 0.95, $"accuracy {metrics.Accuracy:F4}");
    }

    [Fact]
    public void Probability_is_the_sigmoid_of_the_score_and_predicted_label_follows_it()
    {
        var (ml, test, model) = Fit();

        foreach (var row in ml.Data.CreateEnumerable<Scored>(model.Transform(test), reuseRowObject: false))
        {
            Assert.Equal(1 / (1 + MathF.Exp(-row.Score)), row.Probability, 1e-5f);
            Assert.Equal(row.Probability > 0.5f, row.PredictedLabel);
        }
    }

    [Fact]
    public void Save_load_round_trip_gives_identical_scores()
    {
        var (ml, test, model) = Fit();
        var (fresh, reloadedModels) = Fixtures.ReloadBothWays(ml, model, test.Schema);

        var before = ml.Data.CreateEnumerable<Scored>(model.Transform(test), reuseRowObject: false).ToArray();
        foreach (var reloaded in reloadedModels)
        {
            var after = fresh.Data.CreateEnumerable<Scored>(reloaded.Transform(test), reuseRowObject: false).ToArray();
            Assert.Equal(before.Length, after.Length);
            for (int i = 0; i < before.Length; i++)
            {
                Assert.Equal(before[i].Score, after[i].Score, 1e-5f);
                Assert.Equal(before[i].Probability, after[i].Probability, 1e-5f);
                Assert.Equal(before[i].PredictedLabel, after[i].PredictedLabel);
            }
            Assert.True(fresh.BinaryClassification.Evaluate(reloaded.Transform(test)).AreaUnderRocCurve >= 0.98);
        }
    }

    private sealed class Scored
    {
        public float Score { get; set; }

        public float Probability { get; set; }

        public bool PredictedLabel { get; set; }
    }
}
