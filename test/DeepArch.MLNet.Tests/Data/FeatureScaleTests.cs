using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;

namespace DeepArch.MLNet.Tests.Data;

/// <summary>
/// The feature-scale warning on the cases the probes found (raw wine, a large constant, an offset, values times 1e-4) and on
/// features that are fine as they are (normalized digits, one-hot columns of many rare categories beside a count, a constant
/// slot far from 0); then the learned-nothing baseline's arithmetic, weighted and not, on features that carry nothing.
/// </summary>
public class FeatureScaleTests
{
    private static TrainingSet Set(IEnumerable<float[]> rows)
    {
        var list = rows.ToList();
        return TrainingSet.WithoutTargets(list.SelectMany(r => r).ToArray(), [list[0].Length]);
    }

    private static IEnumerable<float[]> Digits(Func<float, float> map) => Datasets.DigitRows.Select(r => r.Features.Select(map).ToArray());

    [Fact]
    public void The_probes_cases_warn_and_name_the_slot()
    {
        Assert.Contains("slot 12 of feature column 'Features' has a root mean square of ",
            FeatureScale.Warning(Set(Datasets.WineRows.Select(r => r.Features)), null, "Features", null));
        string? constant = FeatureScale.Warning(Set(Digits(v => v / 16).Select(r => r.Skip(1).Prepend(10_000f).ToArray())), null, "F", null);
        Assert.True(constant?.Contains("slot 0 of feature column 'F' has a root mean square of 1E+04", StringComparison.Ordinal) == true, constant);
        Assert.Contains("has a root mean square of ", FeatureScale.Warning(Set(Digits(v => v / 16 + 1000)), null, "Features", null));
        Assert.Contains("every value of feature column 'Features' is tiny", FeatureScale.Warning(Set(Digits(v => v * 1e-4f)), null, "Features", null));
    }

    [Fact]
    public void Features_on_a_unit_scale_do_not_warn()
    {
        Assert.Null(FeatureScale.Warning(Set(Digits(v => v / 16)), null, "Features", null));
        Assert.Null(FeatureScale.Warning(Set(Digits(v => v)), null, "Features", null)); // grey levels 0 to 16
        Assert.Null(FeatureScale.Warning(Set(Digits(v => v * 16)), null, "Features", null)); // 0 to 255, as pixels come
        // A count (root mean square 5) beside 2,000 one-hot slots, each 1 in one row of 2,000: the median spread is 0.02, but no
        // slot is large; a review computed that such columns warned when the median spread alone was the yardstick.
        var random = new Random(1);
        var oneHot = Enumerable.Range(0, 4_000).Select(_ =>
        {
            var row = new float[2_001];
            row[0] = 3 + 4 * (float)(random.NextDouble() * 2 - 1);
            row[1 + random.Next(2_000)] = 1;
            return row;
        });
        Assert.Null(FeatureScale.Warning(Set(oneHot), null, "Features", null));
        // A constant slot far from 0 (2.2 in float) is constant, not a slot of tiny spread that drags the median down.
        Assert.Null(FeatureScale.Warning(Set(Digits(v => v / 16).Select(r => r.Append(2.2f).ToArray())), null, "Features", null));
    }

    /// <summary>
    /// Features that carry nothing (every row alike): the network can learn only the label's frequencies or mean, so its loss ends
    /// at the baseline and the warning quotes it. 1 of 4 rows positive: entropy -(ln(1/4)/4 + 3 ln(3/4)/4) = 0.562335; with weight 3
    /// on the positive rows the weighted frequencies are 1/2 each, ln 2 = 0.69315; a standardized regression label: variance 1.
    /// </summary>
    [Theory]
    [InlineData("binary", false, "not even 1 % below 0.56234, the loss of predicting the training labels' class frequencies")]
    [InlineData("binary", true, "not even 1 % below 0.69315, the loss of predicting the training labels' class frequencies")]
    [InlineData("regression", false, "not even 1 % below 1, the loss of predicting the training labels' mean")]
    public void A_network_given_features_that_carry_nothing_warns_with_the_baseline_it_could_not_beat(string task, bool weighted, string expected)
    {
        var ml = new MLContext(seed: 1);
        var warnings = Fixtures.Warnings(ml);
        var rows = Enumerable.Range(0, 200).Select(i => new Row { Features = [1, 2], Positive = i % 4 == 0, Value = i % 7, Weight = weighted && i % 4 == 0 ? 3 : 1 }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = task == "binary" ? "Positive" : "Value",
            ExampleWeightColumnName = weighted ? "Weight" : null,
            HiddenLayers = [4],
            Epochs = 30,
            LearningRate = 0.05,
        };
        using var model = task == "binary"
            ? ml.BinaryClassification.Trainers.MultilayerPerceptron(options).Fit(data)
            : ml.Regression.Trainers.MultilayerPerceptron(options).Fit(data);

        Assert.True(warnings.Any(m => m.Contains("the network learned nothing, or almost nothing, from its features", StringComparison.Ordinal) && m.Contains(expected, StringComparison.Ordinal)),
            string.Join(" | ", warnings));
    }

    /// <summary>
    /// A forecaster of CO2 in ppm (near 340, windows and label as they come): a probe's forecast was one constant (R² -10.86)
    /// with nothing said; the loss to beat is the mean over the forecast values of their variance, in ppm².
    /// </summary>
    [Fact]
    public void A_forecaster_that_forecasts_a_constant_warns()
    {
        var ml = new MLContext(seed: 1);
        var warnings = Fixtures.Warnings(ml);
        var series = Datasets.Co2Weekly;
        var windows = Enumerable.Range(16, 600).Select(end => new Window { Features = series.Skip(end - 16).Take(16).ToArray(), Label = [series[end]] }).ToArray();

        using var model = ml.Forecasting.ForecastByRecurrentNetwork(hiddenSize: 8, epochs: 3).Fit(ml.Data.LoadFromEnumerable(windows));

        // One forecast value: its mean is the label's, and the loss to beat is the label's variance in ppm², as the warning quotes it.
        double mean = windows.Average(w => (double)w.Label[0]);
        double variance = windows.Average(w => (w.Label[0] - mean) * (w.Label[0] - mean));
        Assert.True(warnings.Any(m => m.Contains($"not even 1 % below {variance.ToString("G5", System.Globalization.CultureInfo.InvariantCulture)}, the loss of predicting the training labels' mean for every row: the network learned nothing", StringComparison.Ordinal)),
            $"variance {variance:G5}: " + string.Join(" | ", warnings));

        // The same weeks as changes from each window's last week, halved (as the forecasting example has them): it learns, and says nothing.
        var relative = windows.Select(w => new Window { Features = w.Features.Select(v => (v - w.Features[^1]) / 2).ToArray(), Label = [(w.Label[0] - w.Features[^1]) / 2] }).ToArray();
        warnings.Clear();
        using var learned = ml.Forecasting.ForecastByRecurrentNetwork(hiddenSize: 8, epochs: 20).Fit(ml.Data.LoadFromEnumerable(relative));
        Assert.DoesNotContain(warnings, m => m.Contains("learned nothing", StringComparison.Ordinal));
    }

    /// <summary>More rows than the check reads (4,096, evenly spaced), with and without a subset: the same verdicts as on the rows once.</summary>
    [Fact]
    public void Large_sets_are_judged_on_a_sample_with_the_same_verdict()
    {
        var wine = Enumerable.Repeat(Datasets.WineRows.Select(r => r.Features), 30).SelectMany(r => r).ToList(); // 5,340 rows
        Assert.Contains("slot 12 of feature column 'Features'", FeatureScale.Warning(Set(wine), null, "Features", null));
        Assert.Contains("slot 12 of feature column 'Features'", FeatureScale.Warning(Set(wine), Enumerable.Range(0, wine.Count).Where(i => i % 5 != 0).ToArray(), "Features", null));
        var digits = Enumerable.Repeat(Digits(v => v / 16), 3).SelectMany(r => r).ToList(); // 5,391 rows
        Assert.Null(FeatureScale.Warning(Set(digits), null, "Features", null));
        Assert.Null(FeatureScale.Warning(Set(digits), Enumerable.Range(0, digits.Count).Where(i => i % 3 != 1).ToArray(), "Features", null));
        // An encoder–decoder's step count in front of normalized windows is not the user's feature: skipped.
        var withLength = Digits(v => v / 16).Select(r => r.Prepend(4_000f).ToArray()).ToList();
        Assert.Contains("slot 0 of", FeatureScale.Warning(Set(withLength), null, "Features", null));
        Assert.Null(FeatureScale.Warning(Set(withLength), null, "Features", null, skip: 1));
    }

    private sealed class Window
    {
        [Microsoft.ML.Data.VectorType(16)]
        public float[] Features { get; set; } = [];

        [Microsoft.ML.Data.VectorType(1)]
        public float[] Label { get; set; } = [];
    }

    private sealed class Row
    {
        [Microsoft.ML.Data.VectorType(2)]
        public float[] Features { get; set; } = [];

        public bool Positive { get; set; }

        public float Value { get; set; }

        public float Weight { get; set; }
    }
}
