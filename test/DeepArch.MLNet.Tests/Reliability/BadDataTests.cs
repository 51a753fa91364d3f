using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Bad data at Fit and at Transform either works or fails with an error that names the column and,
/// for values, the first bad row. The schema errors that Data/SchemaErrorTests.cs already covers (missing
/// column, variable-size vector, wrong size at scoring, non-key multiclass label, wrong label types,
/// empty data view, NaN feature) are not repeated here.
/// </summary>
public class BadDataTests
{
    private sealed class WrongSizeRow
    {
        [VectorType(5)]
        public float[] Features { get; set; } = [];

        public float Target { get; set; }
    }

    private sealed class DoubleRow
    {
        [VectorType(6)]
        public double[] Features { get; set; } = [];
    }

    private sealed class VariableRow
    {
        public float[] Features { get; set; } = [];
    }

    private sealed class OtherRow
    {
        [VectorType(6)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class ClassRow
    {
        public float Class { get; set; }
    }

    [Theory]
    [MemberData(nameof(Tasks), MemberType = typeof(ReliabilityData))]
    public void Fewer_rows_than_one_batch_train_fine(string task)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(5);

        using var network = Fit(ml, task, rows, o => { o.BatchSize = 32; o.Epochs = 4; });

        Assert.Equal(4, network.History.Epochs.Count);
        var scores = Scores(network.Transform(Prepare(ml, task, ml.Data.LoadFromEnumerable(rows))));
        Assert.Equal(5, scores.Length);
        Assert.All(scores.SelectMany(s => s), s => Assert.True(float.IsFinite(s)));
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void A_regression_label_that_is_not_finite_is_rejected_naming_the_column_and_first_bad_row(float bad, string shown)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(20);
        rows[7].Target = bad;
        rows[12].Target = float.NaN;

        var error = Assert.Throws<InvalidOperationException>(() => Fit(ml, "regression", rows));

        Assert.Contains($"Label column 'Target' holds {shown} at row 7; labels must be finite numbers.", error.Message);
    }

    [Theory]
    [InlineData(float.PositiveInfinity, "Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void An_infinite_feature_is_rejected_naming_the_column_row_and_slot(float bad, string shown)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(20);
        rows[11].Features[4] = bad;

        var error = Assert.Throws<InvalidOperationException>(() => Fit(ml, "binary", rows));

        Assert.Contains($"Feature column 'Features' holds {shown} at row 11, slot 4; training needs finite values.", error.Message);
    }

    [Fact]
    public void A_multiclass_label_with_missing_keys_is_rejected_naming_the_first_row_without_a_class()
    {
        // MapValueToKey with key data that lacks class 2: rows of class 2 (rows 2, 5, ...) get the missing key 0.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(12));
        var keyData = ml.Data.LoadFromEnumerable(new[] { new ClassRow { Class = 0 }, new ClassRow { Class = 1 } });
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class), keyData: keyData).Fit(data).Transform(data);

        var error = Assert.Throws<InvalidOperationException>(() => Trainer(ml, "multiclass", Options("multiclass")).Fit(keyed));

        Assert.Contains("Label column 'Label' has a missing key at row 2; every training row needs a class.", error.Message);
        // The fix the message suggests works.
        Assert.Contains("FilterRowsByMissingValues on the key column, after MapValueToKey", error.Message);
        using var model = Trainer(ml, "multiclass", Options("multiclass")).Fit(ml.Data.FilterRowsByMissingValues(keyed, "Label"));
    }

    [Fact]
    public void A_binary_label_with_a_single_class_is_rejected()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(12);
        foreach (var row in rows)
        {
            row.Flag = true;
        }

        var error = Assert.Throws<InvalidOperationException>(() => Fit(ml, "binary", rows));

        Assert.Contains("Label column 'Flag' holds only true values; binary classification needs both classes in the training data.", error.Message);
    }

    [Fact]
    public void A_multiclass_label_with_a_single_key_value_is_rejected()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(12);
        foreach (var row in rows)
        {
            row.Class = 4;
        }

        var error = Assert.ThrowsAny<ArgumentException>(() => Fit(ml, "multiclass", rows));

        Assert.Contains("Schema mismatch for label column 'Label': expected a key type with at least 2 values, got Key<UInt32, 0-0>", error.Message);
        Assert.Contains("held a single class, or no rows at all", error.Message);

        // No rows at all: the same key type, so the same message names both causes.
        var none = Assert.ThrowsAny<ArgumentException>(() => Fit(ml, "multiclass", []));
        Assert.Contains("held a single class, or no rows at all", none.Message);
    }

    [Fact]
    public void A_validation_set_with_other_feature_size_is_rejected_naming_it()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Rows(20));
        var validation = ml.Data.LoadFromEnumerable(Rows(5).Select(r => new WrongSizeRow { Features = r.Features[..5], Target = r.Target }));

        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, "regression", Options("regression")).Fit(train, validation));

        Assert.Contains("Schema mismatch for validation feature column 'Features': expected Vector<Single, 6>, got Vector<Single, 5>", error.Message);
    }

    [Fact]
    public void A_validation_set_without_the_label_or_with_another_label_type_is_rejected_naming_it()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Rows(20));
        var noLabel = ml.Data.LoadFromEnumerable(Rows(5).Select(r => new FeatureRow { Features = r.Features }));
        var keyedTrain = Prepare(ml, "multiclass", train);
        var twoClasses = Prepare(ml, "multiclass", ml.Data.LoadFromEnumerable(Rows(5).Where(r => r.Class < 2)));

        var missing = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, "regression", Options("regression")).Fit(train, noLabel));
        var mismatch = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, "multiclass", Options("multiclass")).Fit(keyedTrain, twoClasses));

        Assert.Contains("Could not find validation label column 'Target'", missing.Message);
        Assert.Contains("Schema mismatch for validation label column 'Label': expected Key<UInt32, 0-2>, got Key<UInt32, 0-1>", mismatch.Message);
    }

    [Fact]
    public void Early_stopping_without_validation_data_fails_before_any_row_is_read_and_works_with_a_validation_set()
    {
        var ml = new MLContext(seed: 1);
        var counting = new CountingRows<Row>(Rows(40));
        var trainer = Trainer(ml, "regression", Options("regression", o => o.EarlyStoppingPatience = 2));

        var error = Assert.Throws<InvalidOperationException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(counting.Rows)));
        using var network = trainer.Fit(ml.Data.LoadFromEnumerable(Rows(40)), ml.Data.LoadFromEnumerable(Rows(10, seed: 1)));

        Assert.Contains("Options.EarlyStoppingPatience is 2 but there is no validation data", error.Message);
        Assert.Contains("Fit(trainData, validationData)", error.Message);
        Assert.Equal(0, counting.Reads);
        Assert.All(network.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
    }

    [Fact]
    public void A_validation_fraction_that_leaves_no_validation_rows_is_rejected_naming_it()
    {
        var ml = new MLContext(seed: 1);

        var error = Assert.ThrowsAny<ArgumentException>(() => Fit(ml, "regression", Rows(5), o => o.ValidationFraction = 0.05));

        Assert.Contains("ValidationFraction 0.05 of 5 rows leaves no validation rows", error.Message);
    }

    public static TheoryData<string, string> WrongSchemas => new()
    {
        { "missing", "Could not find feature column 'Features'" },
        { "double", "Schema mismatch for feature column 'Features': expected Vector<Single, 6>, got Vector<Double, 6>" },
        { "variable", "Schema mismatch for feature column 'Features': expected Vector<Single, 6>, got Vector<Single>" },
        { "size", "Schema mismatch for feature column 'Features': expected Vector<Single, 6>, got Vector<Single, 5>" },
    };

    [Theory]
    [MemberData(nameof(WrongSchemas))]
    public void Transform_of_data_with_another_schema_fails_at_GetOutputSchema_before_any_row_is_read(string kind, string expected)
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "regression", Rows(30));
        using var saved = new MemoryStream();
        ml.Model.Save(network, ml.Data.LoadFromEnumerable(Rows(1).Select(r => new FeatureRow { Features = r.Features })).Schema, saved);
        saved.Position = 0;
        var loaded = DeepArchModel.Load(new MLContext(), saved, out _);

        foreach (var model in new ITransformer[] { network, loaded })
        {
            var (data, reads) = Wrong(ml, kind);

            var schema = Assert.ThrowsAny<ArgumentException>(() => model.GetOutputSchema(data.Schema));
            var transform = Assert.ThrowsAny<ArgumentException>(() => model.Transform(data));

            Assert.Contains(expected, schema.Message);
            Assert.Contains(expected, transform.Message);
            Assert.Equal(0, reads());
        }
        (loaded as IDisposable)?.Dispose();
    }

    private static (IDataView Data, Func<int> Reads) Wrong(MLContext ml, string kind)
    {
        switch (kind)
        {
            case "missing":
                var other = new CountingRows<OtherRow>([new OtherRow { Pixels = new float[6] }]);
                return (ml.Data.LoadFromEnumerable(other.Rows), () => other.Reads);
            case "double":
                var doubles = new CountingRows<DoubleRow>([new DoubleRow { Features = new double[6] }]);
                return (ml.Data.LoadFromEnumerable(doubles.Rows), () => doubles.Reads);
            case "variable":
                var variable = new CountingRows<VariableRow>([new VariableRow { Features = new float[6] }]);
                return (ml.Data.LoadFromEnumerable(variable.Rows), () => variable.Reads);
            default:
                var small = new CountingRows<WrongSizeRow>([new WrongSizeRow { Features = new float[5] }]);
                return (ml.Data.LoadFromEnumerable(small.Rows), () => small.Reads);
        }
    }

    [Theory]
    [MemberData(nameof(Tasks), MemberType = typeof(ReliabilityData))]
    public void A_NaN_feature_at_scoring_gives_NaN_scores_for_that_row_only(string task)
    {
        // Documented behaviour: scoring does not reject NaN (ML.NET's trainers do not either); it flows
        // through the network, so that row's Score (and Probability) come out NaN and no other row changes.
        var ml = new MLContext(seed: 1);
        var train = Rows(60);
        using var network = Fit(ml, task, train, o => o.ScoringBatchSize = 7);
        var clean = Rows(20, seed: 3).Select(r => new FeatureRow { Features = r.Features }).ToArray();
        var dirty = clean.Select(r => new FeatureRow { Features = (float[])r.Features.Clone() }).ToArray();
        dirty[9].Features[2] = float.NaN;

        var expected = Scores(network.Transform(ml.Data.LoadFromEnumerable(clean)));
        var batched = Scores(network.Transform(ml.Data.LoadFromEnumerable(dirty)));
        var single = PredictOneByOne(ml, network, dirty, task);

        foreach (var scores in new[] { batched, single })
        {
            for (int i = 0; i < scores.Length; i++)
            {
                if (i == 9)
                {
                    Assert.All(scores[i], s => Assert.True(float.IsNaN(s)));
                }
                else
                {
                    Assert.Equal(expected[i], scores[i]);
                }
            }
        }
        if (task == "binary")
        {
            var row = ml.Data.CreateEnumerable<BinaryOutput>(network.Transform(ml.Data.LoadFromEnumerable(dirty)), false).ElementAt(9);
            Assert.True(float.IsNaN(row.Probability));
            Assert.False(row.PredictedLabel);
        }
    }

    /// <summary>Every row's Score through a PredictionEngine (one row per call).</summary>
    internal static float[][] PredictOneByOne(MLContext ml, ITransformer model, IEnumerable<FeatureRow> rows, string task)
    {
        if (task == "multiclass")
        {
            // An engine owns (and disposes) its transformer unless told otherwise: this one must not.
            using var vector = ml.Model.CreatePredictionEngine<FeatureRow, VectorScore>(model, new PredictionEngineOptions { OwnsTransformer = false });
            return rows.Select(r => vector.Predict(r).Score).ToArray();
        }
        using var scalar = ml.Model.CreatePredictionEngine<FeatureRow, ScalarScore>(model, new PredictionEngineOptions { OwnsTransformer = false });
        return rows.Select(r => new[] { scalar.Predict(r).Score }).ToArray();
    }

    internal sealed class VectorScore
    {
        public float[] Score { get; set; } = [];
    }

    internal sealed class ScalarScore
    {
        public float Score { get; set; }
    }

    private sealed class BinaryOutput
    {
        public float Probability { get; set; }

        public bool PredictedLabel { get; set; }
    }
}
