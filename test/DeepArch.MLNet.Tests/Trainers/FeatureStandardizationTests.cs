using Microsoft.ML;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// <see cref="MultilayerPerceptronTrainer.Options.StandardizeFeatures"/>: the perceptron's first layer standardizes each feature by
/// the training rows' statistics, in TorchSharp and in the exported graph, so that features in their natural units need no
/// normalizing transform in the pipeline.
/// </summary>
public class FeatureStandardizationTests(ITestOutputHelper output)
{
    private const int Seeds = 5;

    /// <summary>
    /// Features as they come (no normalizing transform), the default options with the MLP's seed the split's (so that the two MLPs
    /// differ only by the option), five random 70/30 splits per data set:
    /// StandardizeFeatures (the default) against off, beside ML.NET's trainers on the same splits.
    /// </summary>
    [Fact]
    public void Default_options_learn_from_features_in_their_own_units()
    {
        var wine = Measure("wine (accuracy)", Datasets.WineRows, r => r.Label, seed => Classification(seed), (ml, m, test) => ml.MulticlassClassification.Evaluate(m.Transform(test)).MacroAccuracy);
        var diabetes = Measure("diabetes (R²)", Datasets.DiabetesRows, null, seed => Regression(seed), (ml, m, test) => ml.Regression.Evaluate(m.Transform(test)).RSquared);
        var digits = Measure("digits 0-16 (accuracy)", Datasets.DigitRows, r => r.Label, seed => Classification(seed), (ml, m, test) => ml.MulticlassClassification.Evaluate(m.Transform(test)).MacroAccuracy);

        Assert.True(wine.On >= wine.Off + 0.2, $"wine: {wine.On:F4} with standardized features, {wine.Off:F4} without");
        Assert.True(diabetes.On >= diabetes.Off + 0.05, $"diabetes: {diabetes.On:F4} with standardized features, {diabetes.Off:F4} without");
        Assert.True(digits.On >= digits.Off - 0.01, $"digits: {digits.On:F4} with standardized features, {digits.Off:F4} without");
    }

    /// <summary>Features in small units (the digits times 1e-7, as SI quantities come) are standardized like any other: no learning at chance.</summary>
    [Fact]
    public void Features_in_small_units_are_standardized_too()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows.Take(600).ToArray(), r => r.Label);
        IDataView Scaled(IEnumerable<Datasets.DigitRow> rows) => ml.Data.LoadFromEnumerable(rows.Select(r => new Datasets.DigitRow { Features = r.Features.Select(v => v * 1e-7f).ToArray(), Label = r.Label }));
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 10, Seed = 1 }))
            .Fit(Scaled(train));

        double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(Scaled(test))).MacroAccuracy;

        Assert.True(accuracy > 0.9, $"accuracy {accuracy:F4}");
    }

    /// <summary>The trainers of one task on one split: the MLP with and without standardized features, and ML.NET's own.</summary>
    private delegate IReadOnlyList<(string Name, IEstimator<ITransformer> Trainer)> Contenders(MLContext ml);

    private static Contenders Classification(int seed) => ml =>
    [
        ("MLP, defaults (StandardizeFeatures)", ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { Seed = seed }))),
        ("MLP, StandardizeFeatures = false", ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { Seed = seed, StandardizeFeatures = false }))),
        ("SdcaMaximumEntropy, normalized", ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy())),
    ];

    private static Contenders Regression(int seed) => ml =>
    [
        ("MLP, defaults (StandardizeFeatures)", ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = seed })),
        ("MLP, StandardizeFeatures = false", ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = seed, StandardizeFeatures = false })),
        ("Sdca, normalized", ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Sdca())),
    ];

    private (double On, double Off) Measure<T>(string name, IReadOnlyList<T> rows, Func<T, float>? stratum, Func<int, Contenders> contenders,
        Func<MLContext, ITransformer, IDataView, double> metric) where T : class
    {
        var results = new Dictionary<string, List<double>>();
        for (int seed = 1; seed <= Seeds; seed++)
        {
            var ml = new MLContext(seed: seed);
            var (train, test) = stratum is null ? Datasets.RandomSplit(rows, seed: seed) : Datasets.StratifiedSplit(rows, stratum, seed: seed);
            IDataView trainView = ml.Data.LoadFromEnumerable(train), testView = ml.Data.LoadFromEnumerable(test);
            foreach (var (contender, estimator) in contenders(seed)(ml))
            {
                var model = estimator.Fit(trainView);
                (results.TryGetValue(contender, out var list) ? list : results[contender] = []).Add(metric(ml, model, testView));
                (model as IDisposable)?.Dispose();
            }
        }
        foreach (var (contender, values) in results)
        {
            output.WriteLine($"{name,-24} {contender,-38} mean {values.Average():F4} [{string.Join(", ", values.Select(v => v.ToString("F3")))}]");
        }
        return (results["MLP, defaults (StandardizeFeatures)"].Average(), results["MLP, StandardizeFeatures = false"].Average());
    }

    /// <summary>The network's summary shows the layer, and scores are the same through both load paths (the graph standardizes too).</summary>
    [Fact]
    public void The_exported_graph_standardizes_as_training_did()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.WineRows.Take(120));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        using var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 5 }).Fit(keyed);

        Assert.Contains("Normalization(13)", model.NetworkSummary);
        float[][] scores = ScoreReader.Scores(model.Transform(keyed));
        var (fresh, reloadedModels) = Fixtures.ReloadBothWays(ml, model, keyed.Schema);
        foreach (var reloaded in reloadedModels)
        {
            Assert.Equal(scores, ScoreReader.Scores(reloaded.Transform(keyed)));
        }
    }
}
