using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary><see cref="NetworkTrainerOptions.ExampleWeightColumnName"/>: per-row weights that scale each row's loss.</summary>
public class ExampleWeightTests(ITestOutputHelper output)
{
    /// <summary>
    /// A rare class: 9s against the other digits, with only 15 of the training 9s kept (about 1.3% of the training rows). Weighing
    /// each 9 by the ratio of the classes raises its recall on the test digits, at a cost in precision; three splits, the default
    /// options with the split's seed.
    /// </summary>
    [Fact]
    public void Weights_that_balance_a_rare_class_raise_its_recall()
    {
        double[] recall = new double[2], precision = new double[2];
        const int Seeds = 3;
        for (int seed = 1; seed <= Seeds; seed++)
        {
            var ml = new MLContext(seed: seed);
            var (rare, test) = RareNines(seed);
            float ratio = rare.Count(r => r.Label != 9) / 15f;
            var trainView = ml.Data.LoadFromEnumerable(rare.Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = r.Label == 9 ? ratio : 1 }));
            var testView = ml.Data.LoadFromEnumerable(test.Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = 1 }));
            for (int weighted = 0; weighted < 2; weighted++)
            {
                using var model = ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
                {
                    LabelColumnName = "IsNine", Seed = seed, ExampleWeightColumnName = weighted == 1 ? "Weight" : null,
                }).Fit(trainView);
                var metrics = ml.BinaryClassification.Evaluate(model.Transform(testView), labelColumnName: "IsNine");
                recall[weighted] += metrics.PositiveRecall / Seeds;
                precision[weighted] += metrics.PositivePrecision / Seeds;
                output.WriteLine($"seed {seed}, {(weighted == 1 ? $"9s weighted {ratio:F1}" : "unweighted"),-18}: recall of 9s {metrics.PositiveRecall:F3}, precision {metrics.PositivePrecision:F3}, AUC {metrics.AreaUnderRocCurve:F4}");
            }
        }
        output.WriteLine($"mean: recall {recall[0]:F3} -> {recall[1]:F3}, precision {precision[0]:F3} -> {precision[1]:F3}");

        Assert.True(recall[1] >= recall[0] + 0.1, $"recall {recall[0]:F3} unweighted, {recall[1]:F3} weighted");
    }

    /// <summary>
    /// BalanceClasses computes the same weights up to a common factor (the loss is a weighted mean, so the factor cancels): the
    /// same scores as the weight column above, within rounding (1e-4).
    /// </summary>
    [Fact]
    public void Balanced_classes_train_the_model_that_class_ratio_weights_do()
    {
        var ml = new MLContext(seed: 1);
        var (rare, test) = RareNines(seed: 1);
        float ratio = rare.Count(r => r.Label != 9) / 15f;
        var trainView = ml.Data.LoadFromEnumerable(rare.Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = r.Label == 9 ? ratio : 1 }));
        var testView = ml.Data.LoadFromEnumerable(test.Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = 1 }));
        float[] Scores(Action<MultilayerPerceptronTrainer.Options> set) => FiveEpochScores(ml, trainView, testView, set);

        float[] balanced = Scores(o => o.BalanceClasses = true);
        float[] weighted = Scores(o => o.ExampleWeightColumnName = "Weight");
        float[] plain = Scores(_ => { });

        Assert.Equal(weighted.Length, balanced.Length);
        Assert.All(weighted.Zip(balanced), p => Assert.Equal(p.First, p.Second, 1e-4f));
        Assert.NotEqual(plain, balanced);
        Assert.Contains("Options.BalanceClasses is for classifiers", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { LabelColumnName = "Weight", BalanceClasses = true }).Fit(trainView)).Message);
    }

    /// <summary>
    /// Explicit class weights (Keras's class_weight) train the model that the same weights in a weight column do, for a binary
    /// label ("true"/"false") and for a multiclass label (its key values); bad ones are errors that name the option.
    /// </summary>
    [Fact]
    public void Class_weights_train_the_model_that_the_same_row_weights_do()
    {
        var ml = new MLContext(seed: 1);
        var (rare, test) = RareNines(seed: 1);
        var trainView = ml.Data.LoadFromEnumerable(rare.Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = r.Label == 9 ? 7 : 1 }));
        var testView = ml.Data.LoadFromEnumerable(test.Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = 1 }));
        float[] Scores(Action<MultilayerPerceptronTrainer.Options> set) => FiveEpochScores(ml, trainView, testView, set);
        float[] byClass = Scores(o => o.ClassWeights = new Dictionary<string, float> { ["true"] = 7 });
        float[] byColumn = Scores(o => o.ExampleWeightColumnName = "Weight");
        Assert.All(byClass.Zip(byColumn), p => Assert.Equal(p.First, p.Second, 1e-4f));

        // Multiclass: the label's key values name the classes.
        var digits = ml.Data.LoadFromEnumerable(rare.Select(r => new NineRow { Features = r.Features, Weight = r.Label == 9 ? 7 : 1, Digit = r.Label }));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", "Digit").Fit(digits);
        float[] Multiclass(Action<MultilayerPerceptronTrainer.Options> set)
        {
            var options = new MultilayerPerceptronTrainer.Options { Seed = 1, Epochs = 3 };
            set(options);
            using var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(keys.Transform(digits));
            return model.Transform(keys.Transform(digits)).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        }
        float[] multiByClass = Multiclass(o => o.ClassWeights = new Dictionary<string, float> { ["9"] = 7 });
        float[] multiByColumn = Multiclass(o => o.ExampleWeightColumnName = "Weight");
        Assert.All(multiByClass.Zip(multiByColumn), p => Assert.Equal(p.First, p.Second, 1e-4f));

        var unknown = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { ClassWeights = new Dictionary<string, float> { ["ten"] = 2 } }).Fit(keys.Transform(digits)));
        Assert.Contains("'ten' is not a label the model was trained on", unknown.Message);
        Assert.Equal("Options.ClassWeights", unknown.ParamName);
        Assert.Contains("Options.ClassWeights must be null when BalanceClasses is true", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                BalanceClasses = true, ClassWeights = new Dictionary<string, float> { ["true"] = 2 },
            })).Message);
        Assert.Contains("Options.ClassWeights must map class values to finite weights", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { ClassWeights = new Dictionary<string, float> { ["true"] = -1 } })).Message);
        Assert.Contains("a binary label's classes are 'true' and 'false'", Assert.Throws<ArgumentException>(() =>
            ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { LabelColumnName = "IsNine", ClassWeights = new Dictionary<string, float> { ["yes"] = 2 } })
                .Fit(trainView)).Message);
        // One class named twice ("True" and "true"), and every class at weight 0: both named by the option (a probe found one weight
        // winning silently, and the internal parameter 'weights' named).
        var twice = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = "IsNine", ClassWeights = new Dictionary<string, float> { ["True"] = 2, ["true"] = 5 },
        }).Fit(trainView));
        Assert.Equal("Options.ClassWeights", twice.ParamName);
        Assert.Contains("names one class twice, as 'True' and as 'true'", twice.Message);
        var none = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = "IsNine", ClassWeights = new Dictionary<string, float> { ["true"] = 0, ["false"] = 0 },
        }).Fit(trainView));
        Assert.Equal("Options.ClassWeights", none.ParamName);
        // The same with rows held out: they keep their own weight, but the rows that train weigh 0 (a review: the held-out rows
        // passed the check and the loop blamed ValidationFraction).
        var heldOut = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = "IsNine", ValidationFraction = 0.2, ClassWeights = new Dictionary<string, float> { ["true"] = 0, ["false"] = 0 },
        }).Fit(trainView));
        Assert.Equal("Options.ClassWeights", heldOut.ParamName);
    }

    [Fact]
    public void Bad_weight_columns_are_named_with_the_row_and_value()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(40).Select((r, i) => new NineRow { Features = r.Features, IsNine = r.Label == 9 || i < 3, Weight = 1 }).ToArray();
        NetworkTransformerOf Fit(Action<NineRow[]> change, string column = "Weight")
        {
            var copy = rows.Select(r => new NineRow { Features = r.Features, IsNine = r.IsNine, Weight = r.Weight }).ToArray();
            change(copy);
            var trainer = ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                LabelColumnName = "IsNine", ExampleWeightColumnName = column, Epochs = 1,
            });
            return new(trainer, ml.Data.LoadFromEnumerable(copy));
        }

        Assert.Contains("holds -2 at row 5", Assert.Throws<InvalidOperationException>(() => Fit(r => r[5].Weight = -2).Run()).Message);
        Assert.Contains("holds NaN at row 0", Assert.Throws<InvalidOperationException>(() => Fit(r => r[0].Weight = float.NaN).Run()).Message);
        Assert.Contains("is 0 in all 40 rows", Assert.Throws<InvalidOperationException>(() => Fit(r => Array.ForEach(r, x => x.Weight = 0)).Run()).Message);
        var missing = Fit(_ => { }, column: "Importance");
        Assert.Contains("example weight column 'Importance'", Assert.ThrowsAny<ArgumentException>(() => missing.Run()).Message);
        Assert.Contains("example weight column 'Importance'", Assert.ThrowsAny<ArgumentException>(() => missing.Schema()).Message);
        var wrongType = Fit(_ => { }, column: "IsNine");
        Assert.Contains("Schema mismatch for example weight column 'IsNine': expected Single, got Boolean", Assert.ThrowsAny<ArgumentException>(() => wrongType.Schema()).Message);
    }

    [Fact]
    public void Weights_near_floats_limit_train_the_model_their_ratios_do()
    {
        // Any finite weight is allowed; a batch's sum(w) of weights like 1e38 would overflow, so they are scaled down until the
        // largest is 1e30 (not to 1: the others must stay above the loss's 1e-12 floor on sum(w)).
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(80).Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = r.Label == 9 ? 3e38f : 1e38f }).ToArray();
        float factor = 3e38f / 1e30f;
        var ratios = rows.Select(r => new NineRow { Features = r.Features, IsNine = r.IsNine, Weight = r.Weight / factor }).ToArray();
        var test = ml.Data.LoadFromEnumerable(rows.Take(20).ToArray());

        float[] huge = FiveEpochScores(ml, ml.Data.LoadFromEnumerable(rows), test, o => o.ExampleWeightColumnName = "Weight");
        float[] scaled = FiveEpochScores(ml, ml.Data.LoadFromEnumerable(ratios), test, o => o.ExampleWeightColumnName = "Weight");

        Assert.All(huge, s => Assert.True(float.IsFinite(s)));
        Assert.Equal(scaled, huge);
    }

    /// <summary>
    /// Weights all below 1e-6 are scaled up until the largest is 1 (a probe's weights of 1e-14 and 1e-20 changed the model and its
    /// reported loss: a batch's weight sum fell under the loss's 1e-12 floor). Weights are scale-free, as in ML.NET.
    /// </summary>
    [Fact]
    public void Tiny_weights_train_the_model_their_ratios_do()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(80).Select(r => new NineRow { Features = r.Features, IsNine = r.Label == 9, Weight = r.Label == 9 ? 3e-20f : 1e-20f }).ToArray();
        var ratios = rows.Select(r => new NineRow { Features = r.Features, IsNine = r.IsNine, Weight = r.Weight / 3e-20f }).ToArray();
        var test = ml.Data.LoadFromEnumerable(rows.Take(20).ToArray());

        float[] tiny = FiveEpochScores(ml, ml.Data.LoadFromEnumerable(rows), test, o => o.ExampleWeightColumnName = "Weight");
        float[] scaled = FiveEpochScores(ml, ml.Data.LoadFromEnumerable(ratios), test, o => o.ExampleWeightColumnName = "Weight");

        Assert.Equal(scaled, tiny);
    }

    /// <summary>
    /// The stacked autoencoder weighs every stage (each level's reconstruction, then fine-tuning): on the rare-9s task,
    /// BalanceClasses raises the 9s' recall as it does for the MLP (pixels scaled to [0, 1], as its levels reconstruct them).
    /// </summary>
    [Fact]
    public void The_stacked_autoencoder_balances_a_rare_class_too()
    {
        var ml = new MLContext(seed: 1);
        var (rare, test) = RareNines(seed: 1);
        NineRow Row(Datasets.DigitRow r) => new() { Features = r.Features.Select(v => v / 16f).ToArray(), IsNine = r.Label == 9, Weight = 1 };
        IDataView trainView = ml.Data.LoadFromEnumerable(rare.Select(Row)), testView = ml.Data.LoadFromEnumerable(test.Select(Row));
        BinaryClassificationMetrics Metrics(bool balance)
        {
            using var model = ml.BinaryClassification.Trainers.StackedAutoencoder(new StackedAutoencoderTrainer.Options
            {
                LabelColumnName = "IsNine", Seed = 1, BalanceClasses = balance, TrainingThreads = 1,
            }).Fit(trainView);
            return ml.BinaryClassification.Evaluate(model.Transform(testView), labelColumnName: "IsNine");
        }
        var (plain, balanced) = (Metrics(false), Metrics(true));
        output.WriteLine($"stacked autoencoder, 15 training 9s: recall of 9s {plain.PositiveRecall:F3} -> {balanced.PositiveRecall:F3} with BalanceClasses, " +
            $"precision {plain.PositivePrecision:F3} -> {balanced.PositivePrecision:F3}");
        Assert.True(balanced.PositiveRecall > plain.PositiveRecall, $"recall {plain.PositiveRecall:F3} unweighted, {balanced.PositiveRecall:F3} balanced");
    }

    /// <summary>The rare-9s task: the split of <paramref name="seed"/>, its training rows keeping only 15 of their 9s; the test rows as they are.</summary>
    private static (Datasets.DigitRow[] Train, IReadOnlyList<Datasets.DigitRow> Test) RareNines(int seed)
    {
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label, seed: seed);
        return (train.Where(r => r.Label != 9).Concat(train.Where(r => r.Label == 9).Take(15)).ToArray(), test);
    }

    /// <summary>The test scores of a binary MLP (label IsNine, seed 1, 5 epochs) with <paramref name="set"/> applied to its options.</summary>
    private static float[] FiveEpochScores(MLContext ml, IDataView train, IDataView test, Action<MultilayerPerceptronTrainer.Options> set)
    {
        var options = new MultilayerPerceptronTrainer.Options { LabelColumnName = "IsNine", Seed = 1, Epochs = 5 };
        set(options);
        using var model = ml.BinaryClassification.Trainers.MultilayerPerceptron(options).Fit(train);
        return model.Transform(test).GetColumn<float>("Score").ToArray();
    }

    private sealed record NetworkTransformerOf(MultilayerPerceptronTrainer Trainer, IDataView Data)
    {
        public void Run() => Trainer.Fit(Data).Dispose();

        public void Schema() => Trainer.GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(Data.Schema));
    }

    /// <summary>
    /// A weighted loss over several batches is sum(w * loss) / sum(w) over the rows: rows of weight 0 add nothing and a weight of 2
    /// counts as the row twice. Each batch's weighted mean was averaged by row count, so a batch of zero weights counted as a
    /// loss of 0 over 32 rows (an outside probe: validation loss 1.4996 where the weighted rows alone give 2.2494).
    /// </summary>
    [Fact]
    public void A_weighted_validation_loss_over_several_batches_is_the_rows_weighted_mean()
    {
        var ml = new MLContext(seed: 1);
        var digits = Datasets.DigitRows.Take(200).ToArray();
        NineRow Row(Datasets.DigitRow d, float weight) => new() { Features = d.Features.Select(v => v / 16f).ToArray(), IsNine = d.Label == 9, Weight = weight };
        var train = ml.Data.LoadFromEnumerable(digits[..100].Select(d => Row(d, 1)));
        var rest = digits[100..];
        var zeroFirst = ml.Data.LoadFromEnumerable(rest[..32].Select(d => Row(d, 0)).Concat(rest[32..].Select(d => Row(d, 1))));
        var withoutThem = ml.Data.LoadFromEnumerable(rest[32..].Select(d => Row(d, 1)));
        var doubled = ml.Data.LoadFromEnumerable(rest[..32].Select(d => Row(d, 2)).Concat(rest[32..].Select(d => Row(d, 1))));
        var twice = ml.Data.LoadFromEnumerable(rest[..32].Concat(rest[..32]).Concat(rest[32..]).Select(d => Row(d, 1)));
        double ValidationLoss(IDataView validation)
        {
            using var model = ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                LabelColumnName = "IsNine", ExampleWeightColumnName = "Weight", HiddenLayers = [8], Epochs = 1, BatchSize = 32, Seed = 3,
            }).Fit(train, validation);
            return model.History.Epochs[0].ValidationLoss!.Value;
        }

        double zero = ValidationLoss(zeroFirst), without = ValidationLoss(withoutThem), two = ValidationLoss(doubled), repeated = ValidationLoss(twice);
        output.WriteLine($"validation loss: 32 rows at weight 0 {zero:G6}, those rows left out {without:G6}; 32 rows at weight 2 {two:G6}, given twice {repeated:G6}");

        Assert.Equal(without, zero, 1e-5);
        Assert.Equal(repeated, two, 1e-5);
    }

    /// <summary>
    /// Weight 0 on every row ValidationFraction holds out (the validation loss read 0 at every epoch, silently), or on every row
    /// that trains (nothing was learned, every epoch's loss 0): both refused, naming ValidationFraction.
    /// </summary>
    [Theory]
    [InlineData(true, "Every one of the 50 rows ValidationFraction held out has weight 0")]
    [InlineData(false, "Every training row left after ValidationFraction held out 50 rows has weight 0")]
    public void A_validation_split_that_leaves_one_side_all_of_weight_0_is_refused(bool heldOutWeighZero, string expected)
    {
        var ml = new MLContext(seed: 1);
        var digits = Datasets.DigitRows.Take(100).ToArray();
        var heldOut = DeepArch.Trainers.Training.TrainingLoop.ValidationRows(digits.Length, 0.5, 3).ToHashSet();
        var data = ml.Data.LoadFromEnumerable(digits.Select((d, i) => new NineRow { Features = d.Features, IsNine = d.Label == 9, Weight = heldOut.Contains(i) == heldOutWeighZero ? 0 : 1 }));

        var error = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = "IsNine", ExampleWeightColumnName = "Weight", ValidationFraction = 0.5, Seed = 3, Epochs = 1,
        }).Fit(data));

        Assert.Equal("ValidationFraction", error.ParamName);
        Assert.Contains(expected, error.Message);
    }

    private sealed class NineRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public bool IsNine { get; set; }

        public float Weight { get; set; }

        public float Digit { get; set; }
    }
}
