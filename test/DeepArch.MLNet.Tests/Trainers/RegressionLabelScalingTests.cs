using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// <see cref="NetworkTrainerOptions.StandardizeLabel"/>: a regression network learns the standardized label and its graph scales
/// predictions back, so that a label in natural units trains as well as a standardized one and <c>Score</c> is in the label's units.
/// </summary>
public class RegressionLabelScalingTests(ITestOutputHelper output)
{
    /// <summary>
    /// The diabetes data as it comes (ten features in their own units, the target 25 to 346), the simple overload's defaults,
    /// five random 70/30 splits, the MLP's seed the split's (so that the variants differ only by the option): the defaults against
    /// each standardization turned off, printed beside ML.NET's Sdca (after
    /// NormalizeMeanVariance) and FastForest on the same splits.
    /// </summary>
    [Fact]
    public void Default_options_learn_a_label_in_natural_units()
    {
        var r2 = new Dictionary<string, List<double>>();
        for (int seed = 1; seed <= 5; seed++)
        {
            var ml = new MLContext(seed: seed);
            var (trainRows, testRows) = Datasets.RandomSplit(Datasets.DiabetesRows, seed: seed);
            IDataView train = ml.Data.LoadFromEnumerable(trainRows), test = ml.Data.LoadFromEnumerable(testRows);
            foreach (var (name, trainer) in new (string, IEstimator<ITransformer>)[]
            {
                ("MLP, defaults", ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = seed })),
                ("MLP, StandardizeLabel = false", ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = seed, StandardizeLabel = false })),
                ("MLP, StandardizeFeatures = false", ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = seed, StandardizeFeatures = false })),
                ("MLP, both false", ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Seed = seed, StandardizeLabel = false, StandardizeFeatures = false })),
                ("Sdca, NormalizeMeanVariance", ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Sdca())),
                ("FastForest", ml.Regression.Trainers.FastForest()),
            })
            {
                var model = trainer.Fit(train);
                (r2.TryGetValue(name, out var list) ? list : r2[name] = []).Add(ml.Regression.Evaluate(model.Transform(test)).RSquared);
                (model as IDisposable)?.Dispose();
            }
        }
        foreach (var (name, values) in r2)
        {
            output.WriteLine($"{name,-34} R² mean {values.Average():F4} [{string.Join(", ", values.Select(v => v.ToString("F3")))}]");
        }

        double defaults = r2["MLP, defaults"].Average();
        Assert.True(defaults >= r2["MLP, StandardizeLabel = false"].Average(), $"R² {defaults:F4} with the defaults");
        Assert.True(defaults >= r2["MLP, both false"].Average() + 0.05, $"R² {defaults:F4} with the defaults");
        Assert.True(defaults >= 0.40, $"R² {defaults:F4} with the defaults");
    }

    /// <summary>A label near 5,000 with a spread of hundreds: the network's scores come back in those units through both load paths.</summary>
    [Fact]
    public void Scores_are_in_the_label_units_through_both_load_paths()
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(1);
        var rows = Enumerable.Range(0, 400).Select(_ =>
        {
            float a = random.NextSingle() * 2 - 1, b = random.NextSingle() * 2 - 1;
            return new Row { Features = [a, b], Label = 5000 + 300 * a - 200 * b * b };
        }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        using var model = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 60, LearningRate = 3e-3 }).Fit(data);

        var task = Assert.IsType<RegressionTask>(model.Info.Task);
        double mean = rows.Average(r => (double)r.Label), deviation = Math.Sqrt(rows.Average(r => Math.Pow(r.Label - mean, 2)));
        Assert.Equal(mean, task.LabelMean, 1e-3);
        Assert.Equal(deviation, task.LabelScale, 1e-3);
        float[] scores = model.Transform(data).GetColumn<float>("Score").ToArray();
        double rmse = Math.Sqrt(scores.Zip(rows, (s, r) => Math.Pow(s - r.Label, 2)).Average());
        output.WriteLine($"label mean {mean:F1}, standard deviation {deviation:F1}; training RMSE {rmse:F2}");
        Assert.True(rmse < 0.1 * deviation, $"RMSE {rmse:F2} for a label of standard deviation {deviation:F1}");

        var (fresh, reloadedModels) = Fixtures.ReloadBothWays(ml, model, data.Schema);
        foreach (var reloaded in reloadedModels)
        {
            Assert.Equal(scores, reloaded.Transform(data).GetColumn<float>("Score").ToArray());
        }
    }

    [Fact]
    public void StandardizeLabel_false_trains_on_the_label_as_it_is()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 64).Select(i => new Row { Features = [i / 64f, 1], Label = 100 + i }));
        using var model = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 1, StandardizeLabel = false }).Fit(data);

        var task = Assert.IsType<RegressionTask>(model.Info.Task);
        Assert.False(task.IsStandardized);
        Assert.Equal((0.0, 1.0), (task.LabelMean, task.LabelScale));
    }

    [Fact]
    public void A_constant_label_keeps_a_scale_of_one()
    {
        var task = RegressionTask.FromLabels([7f, 7f, 7f]);

        Assert.Equal((7.0, 1.0), (task.LabelMean, task.LabelScale));
    }

    [Theory]
    [InlineData(1e-16f)]
    [InlineData(1e-30f)]
    public void A_label_in_small_units_is_standardized_too(float unit)
    {
        float[] labels = Enumerable.Range(0, 50).Select(i => (100 + i) * unit).ToArray();

        var task = RegressionTask.FromLabels(labels);

        Assert.True(task.IsStandardized);
        Assert.Equal(14.43 * unit, task.LabelScale, 0.01 * unit);
        Assert.Equal(1.0, RegressionTask.FromLabels([7 * unit, 7 * unit, 7 * unit]).LabelScale);
    }

    [Fact]
    public void A_regression_on_a_label_in_small_units_predicts_in_them()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DiabetesRows.Take(200).Select(r => new DiabetesLike { Features = r.Features, Label = r.Label * 1e-16f }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);

        using var model = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = 20, Seed = 1 }).Fit(data);

        Assert.True(ml.Regression.Evaluate(model.Transform(data)).RSquared > 0.3);
    }

    private sealed class DiabetesLike
    {
        [VectorType(10)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    private sealed class Row
    {
        [VectorType(2)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}
