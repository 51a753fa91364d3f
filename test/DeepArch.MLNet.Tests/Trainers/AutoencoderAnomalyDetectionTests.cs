using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// The autoencoder anomaly detector on the bundled digits: some classes are normal (the training data), another
/// is the anomaly; compared with ML.NET's own RandomizedPca on the same split and features.
/// </summary>
public class AutoencoderAnomalyDetectionTests(ITestOutputHelper output)
{
    /// <summary>The digits the detectors learn as normal.</summary>
    internal static readonly int[] NormalDigits = [0, 1, 2, 3, 4];

    /// <summary>The digit scored as the anomaly.</summary>
    internal const int AnomalousDigit = 7;

    /// <summary>A digit row with the anomaly label Evaluate wants (Single, 1 = anomaly).</summary>
    public sealed class Row
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>
    /// Train: 70% of the normal digits (stratified, seed 1). Test: the other 30% (label 0) plus the test part of the anomalous
    /// digit (label 1). Pixels divided by 16 into [0, 1].
    /// </summary>
    internal static (Row[] Train, Row[] Test) Split()
    {
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        static Row ToRow(Datasets.DigitRow r) => new() { Features = r.Features.Select(v => v / 16f).ToArray(), Label = r.Label == AnomalousDigit ? 1 : 0 };
        return (train.Where(r => NormalDigits.Contains((int)r.Label)).Select(ToRow).ToArray(),
            test.Where(r => NormalDigits.Contains((int)r.Label) || (int)r.Label == AnomalousDigit).Select(ToRow).ToArray());
    }

    private static AutoencoderAnomalyDetectionTrainer.Options SmallOptions() => new()
    {
        LayerSizes = [32, 12],
        Epochs = 60,
        BatchSize = 32,
        LearningRate = 3e-3,
        OutputActivation = DeepArch.Trainers.ActivationKind.Sigmoid,
        TrainingThreads = 1,
        ScoringThreads = 1,
    };

    private static (MLContext Ml, IDataView Train, IDataView Test) Data()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Split();
        return (ml, ml.Data.LoadFromEnumerable(train), ml.Data.LoadFromEnumerable(test));
    }

    [Fact]
    public void Trains_and_its_output_schema_equals_the_estimators_and_Evaluate_accepts_it()
    {
        var (ml, train, test) = Data();
        var estimator = ml.AnomalyDetection.Trainers.Autoencoder(SmallOptions());

        var model = estimator.Fit(train);
        var scored = model.Transform(test);

        var expected = estimator.GetOutputSchema(SchemaShapes.Create(test.Schema));
        var actual = SchemaShapes.Create(scored.Schema);
        foreach (string name in new[] { ColumnNames.Score, ColumnNames.PredictedLabel })
        {
            var e = expected.Single(c => c.Name == name);
            var a = actual.Single(c => c.Name == name);
            Assert.Equal(e.ItemType, a.ItemType);
            Assert.Equal(e.Kind, a.Kind);
        }
        Assert.Equal(NumberDataViewType.Single, scored.Schema[ColumnNames.Score].Type);
        Assert.Equal(BooleanDataViewType.Instance, scored.Schema[ColumnNames.PredictedLabel].Type);
        var metrics = ml.AnomalyDetection.Evaluate(scored);
        Assert.InRange(metrics.AreaUnderRocCurve, 0.5, 1);
        Assert.NotNull(estimator.Threshold);
        // The contamination quantile: about 5% of the training rows are above the threshold.
        float threshold = estimator.Threshold!.Value;
        double aboveInTraining = ml.Data.CreateEnumerable<Scored>(model.Transform(train), false).Average(s => s.Score > threshold ? 1.0 : 0);
        Assert.InRange(aboveInTraining, 0.03, 0.05);
        Assert.All(ml.Data.CreateEnumerable<Scored>(scored, false), s => Assert.Equal(s.Score > threshold, s.PredictedLabel));
    }

    [Fact]
    public void Save_and_both_load_paths_give_identical_scores_labels_and_contributions()
    {
        var (ml, train, test) = Data();
        var options = SmallOptions();
        options.Epochs = 10;
        options.StandardizeError = true;
        options.FeatureContributionsColumnName = "Contributions";
        var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
        var (fresh, reloadedModels) = Fixtures.ReloadBothWays(ml, model, test.Schema);

        var before = ml.Data.CreateEnumerable<ScoredWithContributions>(model.Transform(test), false).ToArray();
        Assert.All(before, s => Assert.Equal(1, s.Contributions.Sum(), 1e-4));
        Assert.Equal(64, ((VectorDataViewType)model.Transform(test).Schema["Contributions"].Type).Size);
        foreach (var reloaded in reloadedModels)
        {
            var scored = reloaded.Transform(test);
            Assert.Equal(NumberDataViewType.Single, scored.Schema[ColumnNames.Score].Type);
            Assert.Equal(BooleanDataViewType.Instance, scored.Schema[ColumnNames.PredictedLabel].Type);
            Assert.Equal(64, ((VectorDataViewType)scored.Schema["Contributions"].Type).Size);
            var after = fresh.Data.CreateEnumerable<ScoredWithContributions>(scored, false).ToArray();
            Assert.Equal(before.Length, after.Length);
            for (int i = 0; i < before.Length; i++)
            {
                Assert.Equal(before[i].Score, after[i].Score, 1e-5f);
                Assert.Equal(before[i].PredictedLabel, after[i].PredictedLabel);
                Assert.All(before[i].Contributions.Zip(after[i].Contributions), p => Assert.Equal(p.First, p.Second, 1e-5f));
            }
            Assert.Equal(ml.AnomalyDetection.Evaluate(model.Transform(test)).AreaUnderRocCurve, fresh.AnomalyDetection.Evaluate(scored).AreaUnderRocCurve, 1e-6);
        }
    }

    [Fact]
    public void Digits_roc_auc_is_at_least_randomized_pcas_on_the_same_split()
    {
        var (ml, train, test) = Data();

        var autoencoder = ml.AnomalyDetection.Trainers.Autoencoder(SmallOptions()).Fit(train);
        var pca = ml.AnomalyDetection.Trainers.RandomizedPca("Features", rank: 12, seed: 1).Fit(train);
        var autoencoderMetrics = ml.AnomalyDetection.Evaluate(autoencoder.Transform(test));
        var pcaMetrics = ml.AnomalyDetection.Evaluate(pca.Transform(test));

        output.WriteLine($"digits {string.Join("", NormalDigits)} normal, {AnomalousDigit} anomalous: " +
            $"autoencoder ROC AUC {autoencoderMetrics.AreaUnderRocCurve:F4} (detection rate at FP count {autoencoderMetrics.DetectionRateAtFalsePositiveCount:F4}); " +
            $"RandomizedPca (rank 12) ROC AUC {pcaMetrics.AreaUnderRocCurve:F4} (detection rate {pcaMetrics.DetectionRateAtFalsePositiveCount:F4})");
        Assert.True(autoencoderMetrics.AreaUnderRocCurve >= pcaMetrics.AreaUnderRocCurve,
            $"autoencoder {autoencoderMetrics.AreaUnderRocCurve:F4} < RandomizedPca {pcaMetrics.AreaUnderRocCurve:F4}");
    }

    [Fact]
    public void Explicit_and_validation_false_positive_thresholds_are_used()
    {
        var (ml, train, test) = Data();
        var options = SmallOptions();
        options.Epochs = 5;
        options.ThresholdSource = AnomalyThresholdSource.Explicit;
        options.Threshold = 0.02f;
        var explicitTrainer = ml.AnomalyDetection.Trainers.Autoencoder(options);
        var model = explicitTrainer.Fit(train);
        Assert.Equal(0.02f, explicitTrainer.Threshold);
        Assert.All(ml.Data.CreateEnumerable<Scored>(model.Transform(test), false), s => Assert.Equal(s.Score > 0.02f, s.PredictedLabel));

        var normalTest = ml.Data.FilterRowsByColumn(test, "Label", upperBound: 0.5);
        options.ThresholdSource = AnomalyThresholdSource.ValidationFalsePositiveRate;
        options.FalsePositiveRate = 0.1;
        var validated = ml.AnomalyDetection.Trainers.Autoencoder(options);
        var validatedModel = validated.Fit(train, normalTest);
        double falsePositives = ml.Data.CreateEnumerable<Scored>(validatedModel.Transform(normalTest), false).Average(s => s.PredictedLabel ? 1.0 : 0);
        Assert.InRange(falsePositives, 0.05, 0.1);

        var error = Assert.Throws<InvalidOperationException>(() => validated.Fit(train));
        Assert.Contains("Options.ThresholdSource", error.Message);
    }

    [Fact]
    public void The_variational_kind_scores_by_negative_elbo_and_round_trips()
    {
        var (ml, train, test) = Data();
        var options = SmallOptions();
        options.Epochs = 5;
        options.Kind = AutoencoderKind.Variational;
        options.VariationalScore = AutoencoderScore.NegativeElbo;
        var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
        var metrics = ml.AnomalyDetection.Evaluate(model.Transform(test));
        output.WriteLine($"variational (negative ELBO, 5 epochs): ROC AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.InRange(metrics.AreaUnderRocCurve, 0.5, 1);
    }

    [Theory]
    [InlineData(AutoencoderKind.Deep, 0f)]
    [InlineData(AutoencoderKind.Tied, 0f)]
    [InlineData(AutoencoderKind.Sparse, 0f)]
    [InlineData(AutoencoderKind.Sparse, 0.1f)]
    [InlineData(AutoencoderKind.Denoising, 0f)]
    [InlineData(AutoencoderKind.Variational, 0f)]
    public void Every_kind_trains_separates_the_anomalies_and_scores_the_same_through_a_prediction_engine(AutoencoderKind kind, float sparsityWeight)
    {
        var (ml, train, test) = Data();
        var options = SmallOptions();
        options.Epochs = 15;
        options.Kind = kind;
        options.SparsityWeight = sparsityWeight;
        options.MaskingProbability = kind == AutoencoderKind.Denoising ? 0.1f : 0;

        var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
        var scored = model.Transform(test);
        var metrics = ml.AnomalyDetection.Evaluate(scored);
        var rows = ml.Data.CreateEnumerable<Scored>(scored, false).ToArray();
        using var engine = ml.Model.CreatePredictionEngine<Row, Scored>(model, new PredictionEngineOptions { OwnsTransformer = false });
        var testRows = Split().Test;

        output.WriteLine($"{kind} (KL sparsity weight {sparsityWeight}), 15 epochs: ROC AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.AreaUnderRocCurve > 0.75, $"{kind}: ROC AUC {metrics.AreaUnderRocCurve:F4}");
        for (int i = 0; i < testRows.Length; i += 37)
        {
            var one = engine.Predict(testRows[i]);
            Assert.Equal(rows[i].Score, one.Score, 1e-6f);
            Assert.Equal(rows[i].PredictedLabel, one.PredictedLabel);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_scores()
    {
        var (ml, train, test) = Data();
        var options = SmallOptions();
        options.Epochs = 5;
        options.Seed = 7;

        float[] first = ml.Data.CreateEnumerable<Scored>(ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train).Transform(test), false).Select(s => s.Score).ToArray();
        float[] second = ml.Data.CreateEnumerable<Scored>(ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train).Transform(test), false).Select(s => s.Score).ToArray();

        Assert.Equal(first, second);
    }

    [Fact]
    public void Feature_contributions_point_at_the_pixel_that_made_a_normal_digit_anomalous()
    {
        var (ml, train, _) = Data();
        var options = SmallOptions();
        options.Epochs = 30;
        options.FeatureContributionsColumnName = "Contributions";
        var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
        // A normal test digit with a blank corner pixel (row 0, column 0 is 0 in every digit) switched fully on.
        var normal = Split().Test.First(r => r.Label == 0);
        var damaged = new Row { Features = normal.Features.ToArray(), Label = 1 };
        damaged.Features[0] = 1;

        var rows = ml.Data.CreateEnumerable<ScoredWithContributions>(model.Transform(ml.Data.LoadFromEnumerable(new[] { normal, damaged })), false).ToArray();

        output.WriteLine($"normal score {rows[0].Score:G4}, with pixel 0 on {rows[1].Score:G4}; pixel 0's share of the error {rows[1].Contributions[0]:P1}");
        Assert.True(rows[1].Score > 2 * rows[0].Score);
        Assert.Equal(0, Array.IndexOf(rows[1].Contributions, rows[1].Contributions.Max()));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(0.51)]
    [InlineData(double.NaN)]
    public void A_contamination_outside_0_to_half_is_rejected_naming_the_option(double contamination)
    {
        var ml = new MLContext(seed: 1);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(contamination: contamination));

        Assert.Equal("Options.Contamination", error.ParamName);
        Assert.StartsWith("Options.Contamination must be in (0, 0.5]; got ", error.Message);
    }

    [Fact]
    public void A_code_not_smaller_than_the_input_is_rejected_naming_the_option_and_both_sizes()
    {
        var (ml, train, _) = Data();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(layerSizes: [80, 64]).Fit(train));

        Assert.Equal("Options.LayerSizes", error.ParamName);
        Assert.Contains("the code size is 64 but feature column 'Features' has 64 values", error.Message);
    }

    /// <summary>The convolutional kind's code follows from its filters and image shape; LayerSizes plays no part, so the error must not name it.</summary>
    [Fact]
    public void A_convolutional_code_not_smaller_than_the_input_is_rejected_naming_the_filters()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 8).Select(i => new Row { Features = Enumerable.Range(0, 64).Select(j => (i + j) % 5 / 4f).ToArray() }).ToArray();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
        {
            Kind = AutoencoderKind.Convolutional, ImageShape = [1, 8, 8], ConvolutionalFilters = [4], LayerSizes = [3, 1], EnsembleSize = 1, Epochs = 1,
        }).Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.Equal("Options.ConvolutionalFilters", error.ParamName);
        Assert.Contains("give a code of [4, 4, 4] = 64 values, not fewer than the 64 values of feature column 'Features'", error.Message);
        Assert.DoesNotContain("LayerSizes", error.Message);
    }

    /// <summary>
    /// <c>StandardizeError</c> on training rows that are all the same: every feature's error spread is ~0 while the errors are
    /// not, and the scale's floor (1% of the spreads) once scored those very rows at about 6e10. The floor follows the errors'
    /// size now: the training row scores about 2e4 (errors of about 100 floors each, squared), and a changed row still scores
    /// above the threshold.
    /// </summary>
    [Fact]
    public void Standardized_errors_on_identical_training_rows_stay_finite_and_moderate()
    {
        var ml = new MLContext(seed: 1);
        var same = Enumerable.Range(0, 40).Select(_ => new Row { Features = Enumerable.Repeat(0.5f, 64).ToArray() }).ToArray();
        var changed = new Row { Features = Enumerable.Repeat(0.5f, 64).ToArray() };
        changed.Features[5] = 0.9f;
        var options = SmallOptions();
        options.LayerSizes = [8, 2];
        options.Epochs = 15;
        options.StandardizeError = true;
        options.EnsembleSize = 1;
        using var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(ml.Data.LoadFromEnumerable(same));

        var scored = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(new[] { same[0], changed })), reuseRowObject: false).ToArray();

        output.WriteLine($"identical row {scored[0].Score:G6} ({scored[0].PredictedLabel}), changed row {scored[1].Score:G6} ({scored[1].PredictedLabel})");
        // Not PredictedLabel of the identical row: its score ties the threshold (one value for all training rows), so rounding decides it.
        Assert.True(float.IsFinite(scored[0].Score) && scored[0].Score <= 1e5f, $"The identical row scored {scored[0].Score:G6}.");
        Assert.True(scored[1].Score > 2 * scored[0].Score, $"The changed row scored {scored[1].Score:G6} against {scored[0].Score:G6}.");
        Assert.True(scored[1].PredictedLabel);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Non_finite_training_data_is_rejected_naming_the_column_row_and_slot(float bad)
    {
        var ml = new MLContext(seed: 1);
        var rows = Split().Train.Take(20).Select(r => new Row { Features = r.Features.ToArray(), Label = r.Label }).ToArray();
        rows[7].Features[5] = bad;

        var error = Assert.Throws<InvalidOperationException>(() => ml.AnomalyDetection.Trainers.Autoencoder(epochs: 1).Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.StartsWith($"Feature column 'Features' holds {bad} at row 7, slot 5", error.Message);
    }

    [Fact]
    public void The_label_column_is_not_needed()
    {
        var ml = new MLContext(seed: 1);
        var rows = Split().Train.Take(40).Select(r => new Unlabelled { Features = r.Features }).ToArray();

        var model = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { Epochs = 1, TrainingThreads = 1 })
            .Fit(ml.Data.LoadFromEnumerable(rows));

        Assert.Equal(40, ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(rows)), false).Count());
    }

    private sealed class Unlabelled
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Scored
    {
        public float Score { get; set; }

        public bool PredictedLabel { get; set; }
    }

    private sealed class ScoredWithContributions
    {
        public float Score { get; set; }

        public bool PredictedLabel { get; set; }

        [VectorType(64)]
        public float[] Contributions { get; set; } = [];
    }

    /// <summary>A digit row with an example weight.</summary>
    public sealed class WeightedRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public float Weight { get; set; }
    }

    /// <summary>
    /// <c>ExampleWeightColumnName</c>: training rows known to be anomalies (the training part of the anomalous digit, mixed into
    /// the normal rows) given weight 0 leave training as if they were not there, and the detector scores as well as one trained
    /// on the clean rows; unweighted, it learns to reconstruct them and misses them. Same seed, options and test rows each time.
    /// </summary>
    [Fact]
    public void Rows_of_weight_zero_are_left_out_of_training()
    {
        var (normal, test) = Split();
        var (trainDigits, _) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        var sevens = trainDigits.Where(r => (int)r.Label == AnomalousDigit).Select(r => r.Features.Select(v => v / 16f).ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var testData = ml.Data.LoadFromEnumerable(test);
        double Auc(IEnumerable<WeightedRow> rows, string? weight)
        {
            var options = SmallOptions();
            options.Seed = 1;
            options.ExampleWeightColumnName = weight;
            using var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(ml.Data.LoadFromEnumerable(rows.ToArray()));
            return ml.AnomalyDetection.Evaluate(model.Transform(testData)).AreaUnderRocCurve;
        }
        var clean = normal.Select(r => new WeightedRow { Features = r.Features, Weight = 1 }).ToArray();
        var mixed = clean.Concat(sevens.Select(f => new WeightedRow { Features = f, Weight = 0 })).ToArray();

        double cleanAuc = Auc(clean, null), mixedAuc = Auc(mixed, null), weightedAuc = Auc(mixed, "Weight");
        output.WriteLine($"ROC AUC, digit {AnomalousDigit} as the anomaly: trained on the normal rows {cleanAuc:F4}; with the {sevens.Length} training " +
            $"{AnomalousDigit}s mixed in, unweighted {mixedAuc:F4}, weight 0 on them {weightedAuc:F4}");
        Assert.True(weightedAuc > mixedAuc + 0.05, $"weighted {weightedAuc:F4}, unweighted {mixedAuc:F4}");
        Assert.True(Math.Abs(weightedAuc - cleanAuc) < 0.02, $"weighted {weightedAuc:F4}, clean {cleanAuc:F4}");

        // A weight column of another type, or a variational autoencoder with weights, is refused naming the option.
        var options = SmallOptions();
        options.ExampleWeightColumnName = "Features";
        Assert.Contains("example weight column 'Features'", Assert.ThrowsAny<Exception>(() => ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(testData)).Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Options.ExampleWeightColumnName", Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(
            new AutoencoderAnomalyDetectionTrainer.Options { Kind = AutoencoderKind.Variational, ExampleWeightColumnName = "Weight" })).Message);
    }
}
