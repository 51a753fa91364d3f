using Microsoft.ML;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>Regression MLP on the bundled diabetes data, features and target standardized in the pipeline.</summary>
public class RegressionMlpTests(ITestOutputHelper output)
{
    private static (MLContext Ml, IDataView Test, ITransformer Model) Fit()
    {
        var ml = new MLContext(seed: 3);
        var (train, test) = Datasets.RandomSplit(Datasets.DiabetesRows);
        var pipeline = ml.Transforms.NormalizeMeanVariance("Features", fixZero: false)
            .Append(ml.Transforms.NormalizeMeanVariance("Label", fixZero: false))
            .Append(ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [16],
                Epochs = 60,
                BatchSize = 32,
                LearningRate = 1e-3,
                WeightDecay = 1e-3,
                Dropout = 0.1f,
                ValidationFraction = 0.15,
                EarlyStoppingPatience = 10,
            }));
        return (ml, ml.Data.LoadFromEnumerable(test), pipeline.Fit(ml.Data.LoadFromEnumerable(train)));
    }

    [Fact]
    public void Diabetes_test_r_squared_is_at_least_0_40()
    {
        var (ml, test, model) = Fit();

        var metrics = ml.Regression.Evaluate(model.Transform(test));

        output.WriteLine($"diabetes: R² {metrics.RSquared:F4}, RMSE {metrics.RootMeanSquaredError:F4} (standardized target)");
        Assert.True(metrics.RSquared >= 0.40, $"R² {metrics.RSquared:F4}");
    }

    [Fact]
    public void Save_load_round_trip_gives_identical_scores()
    {
        var (ml, test, model) = Fit();
        var (fresh, reloadedModels) = Fixtures.ReloadBothWays(ml, model, test.Schema);

        float[] before = ml.Data.CreateEnumerable<Scored>(model.Transform(test), false).Select(s => s.Score).ToArray();
        foreach (var reloaded in reloadedModels)
        {
            float[] after = fresh.Data.CreateEnumerable<Scored>(reloaded.Transform(test), false).Select(s => s.Score).ToArray();
            Assert.Equal(before.Length, after.Length);
            Assert.All(before.Zip(after), p => Assert.Equal(p.First, p.Second, 1e-5f));
            Assert.Equal(ml.Regression.Evaluate(model.Transform(test)).RSquared, fresh.Regression.Evaluate(reloaded.Transform(test)).RSquared, 1e-5);
        }
    }

    private sealed class Scored
    {
        public float Score { get; set; }
    }
}
