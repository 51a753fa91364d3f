using Microsoft.ML;
using Xunit;

namespace DeepArch.MLNet.Tests.Evaluation;

/// <summary>
/// ML.NET's permutation feature importance over a DeepArch network: the transformer is an ML.NET
/// <see cref="ISingleFeaturePredictionTransformer{TModel}"/>, so the generic overloads take it as they take ML.NET's own predictors.
/// </summary>
public class PermutationFeatureImportanceTests
{
    [Fact]
    public void Permuting_a_feature_the_regression_needs_costs_more_than_permuting_noise()
    {
        // The label is 3 x feature 0 - 2 x feature 1; features 2 and 3 are noise (4 and 5 constant).
        var ml = new MLContext(seed: 1);
        var random = new Random(2);
        var rows = Enumerable.Range(0, 300).Select(_ =>
        {
            float[] x = Enumerable.Range(0, 4).Select(_ => (float)random.NextDouble()).ToArray();
            return new Fixtures.Row { Features = [x[0], x[1], x[2], x[3], 0, 0], Label = 3 * x[0] - 2 * x[1] };
        }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        using var model = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 40, Seed = 1 }).Fit(data);

        var importance = ml.Regression.PermutationFeatureImportance(model, data, permutationCount: 2);

        Assert.Equal(6, importance.Length);
        double Drop(int feature) => -importance[feature].RSquared.Mean;
        Assert.True(Drop(0) > Drop(1) && Drop(1) > 0.3, $"R² drops: {string.Join(", ", importance.Select(i => (-i.RSquared.Mean).ToString("F3")))}");
        Assert.All(new[] { 2, 3 }, noise => Assert.True(Drop(noise) < 0.05, $"feature {noise}: {Drop(noise):F3}"));
    }

    [Fact]
    public void A_multiclass_network_in_a_pipeline_is_explained_by_its_last_transformer()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.WineRows);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = 1 }));
        var model = pipeline.Fit(data);

        var importance = ml.MulticlassClassification.PermutationFeatureImportance(model.LastTransformer, model.Transform(data), permutationCount: 1);

        Assert.Equal(13, importance.Length);
        Assert.Contains(importance, i => i.MicroAccuracy.Mean < -0.05);
    }
}
