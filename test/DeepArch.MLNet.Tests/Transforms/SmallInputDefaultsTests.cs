using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Transforms;

/// <summary>
/// The autoencoder estimators' simple overloads on inputs of 8 values or fewer: their default LayerSizes, [32, 8], ends with a code
/// no smaller than such an input, so the undercomplete kinds refused every call on 2-D data or on iris (an outside probe). Left at
/// its default, LayerSizes scales down to [2n, n / 2] there; set, it is used as given.
/// </summary>
public class SmallInputDefaultsTests(ITestOutputHelper output)
{
    private sealed class Point
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    private sealed class Scored
    {
        public float Score { get; set; }
    }

    /// <summary>The anomaly detector's simple overload on 2-D points: normal points around the origin, anomalies on a circle of radius 5.</summary>
    [Fact]
    public void The_detectors_simple_overload_trains_on_two_dimensional_points_and_finds_the_far_ones()
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(2);
        float Gauss() => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        Point Normal() => new() { Features = [Gauss(), Gauss()], Label = 0 };
        Point Far()
        {
            double angle = 2 * Math.PI * random.NextDouble();
            return new() { Features = [(float)(5 * Math.Cos(angle)), (float)(5 * Math.Sin(angle))], Label = 1 };
        }
        var train = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 400).Select(_ => Normal()).ToArray());
        var test = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 200).Select(_ => Normal()).Concat(Enumerable.Range(0, 20).Select(_ => Far())).ToArray());

        using var detector = ml.AnomalyDetection.Trainers.Autoencoder().Fit(train);
        var metrics = ml.AnomalyDetection.Evaluate(detector.Transform(test));

        output.WriteLine($"2-D points, the simple overload: {detector.NetworkSummary}; ROC AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.Contains(" 35", Shapes(detector)); // [2] -> 4 -> 1 -> 4 -> [2]: 12 + 5 + 8 + 10 parameters
        Assert.True(metrics.AreaUnderRocCurve > 0.95, $"ROC AUC {metrics.AreaUnderRocCurve:F4}");
    }

    /// <summary>FeaturizeByAutoencoder's simple overload on iris' four measurements: a code of 2, which a linear classifier separates.</summary>
    [Fact]
    public void The_featurizers_simple_overload_gives_iris_a_code_of_two()
    {
        var ml = new MLContext(seed: 4);
        var loader = ml.Data.CreateTextLoader(
            [new TextLoader.Column("Features", DataKind.Single, 0, 3), new TextLoader.Column("Label", DataKind.String, 4)],
            separatorChar: ',', hasHeader: true);
        var split = ml.Data.TrainTestSplit(loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "iris.csv")), testFraction: 0.3, seed: 1);
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features")
            .Append(ml.Transforms.FeaturizeByAutoencoder("Code", "Features"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: "Code"));

        var model = pipeline.Fit(split.TrainSet);
        var scored = model.Transform(split.TestSet);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var pca = ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Transforms.ProjectToPrincipalComponents("Code", "Features", rank: 2))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label")).Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: "Code"));
        var pcaMetrics = ml.MulticlassClassification.Evaluate(pca.Fit(split.TrainSet).Transform(split.TestSet));

        // A measurement of what the default gives, not a tuned one: 105 training rows make few steps at the transforms' 1e-3.
        output.WriteLine($"iris, FeaturizeByAutoencoder's simple overload: code of {scored.Schema["Code"].Type}; LbfgsMaximumEntropy on it: accuracy {metrics.MicroAccuracy:F4} " +
            $"(on ProjectToPrincipalComponents rank 2: {pcaMetrics.MicroAccuracy:F4})");
        Assert.Equal(2, ((VectorDataViewType)scored.Schema["Code"].Type).Size);
        Assert.True(metrics.MicroAccuracy > 0.6, $"accuracy {metrics.MicroAccuracy:F4} (chance: 0.33)");
    }

    [Fact]
    public void Layer_sizes_that_are_set_are_used_as_given_and_one_value_is_still_refused()
    {
        var ml = new MLContext(seed: 1);
        var points = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 40).Select(i => new Point { Features = [i % 7 / 7f, i % 5 / 5f] }).ToArray());

        var given = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(layerSizes: [32, 8], epochs: 1).Fit(points));
        Assert.Contains("the code size is 8 but feature column 'Features' has 2 values", given.Message);
        var options = new AutoencoderAnomalyDetectionTrainer.Options { Epochs = 1, EnsembleSize = 1 };
        options.LayerSizes = [32, 8];
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(points));
    }

    private static string Shapes(NetworkTransformer model) => model.NetworkSummary;
}
