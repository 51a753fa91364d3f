using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Data;

/// <summary>Bad input gives an ML.NET-style error naming the column, the expected type and the actual one.</summary>
public class SchemaErrorTests
{
    private sealed class VariableRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    private sealed class WrongSizeRow
    {
        [VectorType(5)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    private sealed class TextLabelRow
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private static readonly MLContext Ml = new(seed: 1);

    [Fact]
    public void Missing_feature_column_names_it_at_fit_and_at_estimator_schema()
    {
        var data = Ml.Data.LoadFromEnumerable(Fixtures.Rows(10));
        var trainer = Ml.Regression.Trainers.MultilayerPerceptron(featureColumnName: "Pixels");

        var fit = Assert.ThrowsAny<ArgumentException>(() => trainer.Fit(data));
        var shape = Assert.ThrowsAny<ArgumentException>(() => trainer.GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(data.Schema)));

        Assert.Contains("Could not find feature column 'Pixels'", fit.Message);
        Assert.Contains("Could not find feature column 'Pixels'", shape.Message);
    }

    [Fact]
    public void Variable_size_vector_is_rejected_naming_the_expected_and_actual_types()
    {
        var data = Ml.Data.LoadFromEnumerable([new VariableRow { Features = [1, 2] }]);

        var error = Assert.ThrowsAny<ArgumentException>(() => Ml.Regression.Trainers.MultilayerPerceptron().Fit(data));

        Assert.Contains("Schema mismatch for feature column 'Features': expected Single or known-size vector of Single, got Vector<Single>", error.Message);
    }

    [Fact]
    public void Wrong_vector_size_at_scoring_is_rejected_before_any_row_is_read()
    {
        var (ml, model, network) = Fixtures.Multiclass();
        var wrong = ml.Data.LoadFromEnumerable([new WrongSizeRow { Features = new float[5] }]);

        var transform = Assert.ThrowsAny<ArgumentException>(() => network.Transform(wrong));
        var schema = Assert.ThrowsAny<ArgumentException>(() => network.GetOutputSchema(wrong.Schema));

        Assert.Contains("Schema mismatch for feature column 'Features': expected Vector<Single, 6>, got Vector<Single, 5>", transform.Message);
        Assert.Equal(transform.Message, schema.Message);
    }

    [Fact]
    public void Multiclass_label_that_is_not_a_key_is_rejected_with_a_hint()
    {
        var data = Ml.Data.LoadFromEnumerable(Fixtures.Rows(10));
        var trainer = Ml.MulticlassClassification.Trainers.MultilayerPerceptron();

        var fit = Assert.ThrowsAny<ArgumentException>(() => trainer.Fit(data));
        var shape = Assert.ThrowsAny<ArgumentException>(() => trainer.GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(data.Schema)));

        Assert.Contains("Schema mismatch for label column 'Label': expected Key<UInt32> (use MapValueToKey on the label), got Single", fit.Message);
        Assert.Contains("label column 'Label'", shape.Message);
    }

    [Fact]
    public void Binary_and_regression_labels_of_the_wrong_type_are_rejected()
    {
        var data = Ml.Data.LoadFromEnumerable([new TextLabelRow { Features = new float[6], Label = "a" }]);

        var binary = Assert.ThrowsAny<ArgumentException>(() => Ml.BinaryClassification.Trainers.MultilayerPerceptron().Fit(data));
        var regression = Assert.ThrowsAny<ArgumentException>(() => Ml.Regression.Trainers.MultilayerPerceptron().Fit(data));

        Assert.Contains("Schema mismatch for label column 'Label': expected Boolean, got String", binary.Message);
        Assert.Contains("Schema mismatch for label column 'Label': expected Single, got String", regression.Message);
    }

    [Fact]
    public void Empty_data_view_is_rejected_naming_the_column()
    {
        var data = Ml.Data.LoadFromEnumerable(Array.Empty<Fixtures.Row>());

        var error = Assert.Throws<InvalidOperationException>(() => Ml.Regression.Trainers.MultilayerPerceptron().Fit(data));

        Assert.Contains("Feature column 'Features' has no rows", error.Message);
    }

    [Fact]
    public void Nan_feature_is_rejected_naming_the_column_row_and_slot()
    {
        var rows = Fixtures.Rows(10);
        rows[4].Features[2] = float.NaN;

        var error = Assert.Throws<InvalidOperationException>(() => Ml.Regression.Trainers.MultilayerPerceptron().Fit(Ml.Data.LoadFromEnumerable(rows)));

        Assert.Contains("Feature column 'Features' holds NaN at row 4, slot 2", error.Message);
    }

    [Fact]
    public void Bad_validation_data_is_named_as_validation_data()
    {
        var train = Ml.Data.LoadFromEnumerable(Fixtures.Rows(10));
        var rows = Fixtures.Rows(10);
        rows[4].Features[1] = float.NaN;

        var nan = Assert.Throws<InvalidOperationException>(() => Ml.Regression.Trainers.MultilayerPerceptron().Fit(train, Ml.Data.LoadFromEnumerable(rows)));
        var empty = Assert.Throws<InvalidOperationException>(() =>
            Ml.Regression.Trainers.MultilayerPerceptron().Fit(train, Ml.Data.LoadFromEnumerable(Array.Empty<Fixtures.Row>())));

        Assert.StartsWith("Validation data: Feature column 'Features' holds NaN at row 4, slot 1", nan.Message);
        Assert.StartsWith("Validation data: Feature column 'Features' has no rows", empty.Message);
    }

    [Fact]
    public void Options_out_of_range_are_rejected_in_the_constructor_naming_option_and_value()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { BatchSize = 0 }));
        var hidden = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [4, 0] }));

        Assert.Contains("Options.BatchSize must be positive; got 0.", error.Message);
        Assert.Contains("Options.HiddenLayers must hold sizes of at least 1; got [4, 0].", hidden.Message);
    }

    [Fact]
    public void Estimator_output_schema_matches_the_transformer_output_schema()
    {
        var (ml, _, network) = Fixtures.Multiclass();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Fixtures.Rows(10))).Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(10)));
        var estimated = ml.MulticlassClassification.Trainers.MultilayerPerceptron().GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(data.Schema));
        var actual = DeepArch.MLNet.SchemaShapes.Create(network.GetOutputSchema(data.Schema));

        Assert.Equal(actual.Select(c => (c.Name, c.Kind, c.ItemType, c.IsKey)), estimated.Select(c => (c.Name, c.Kind, c.ItemType, c.IsKey)));
    }
}
