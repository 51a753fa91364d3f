using DeepArch.Trainers.Layers;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

public class LayerSpecTests
{
    [Fact]
    public void Output_shapes_are_computed_without_running()
    {
        var spec = new Sequential(new Dense(16), new Activation(ActivationKind.ReLU), new BatchNorm1d(), new Dropout(0.1f), new Dense(3));

        Assert.Equal([3], spec.OutputShape([10]));
        Assert.Equal([[10], [16], [16], [16], [16], [3]], spec.ShapesThrough([10]));
    }

    [Fact]
    public void Dense_applies_to_the_last_dimension_and_rejects_a_scalar_input_naming_the_shape()
    {
        Assert.Equal([2, 4], new Dense(4).OutputShape([2, 3]));

        var error = Assert.Throws<ArgumentException>(() => new Dense(4).OutputShape([]));

        Assert.Contains("[]", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Dense_rejects_units_below_one(int units)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new Dense(units));

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(float.NaN)]
    public void Dropout_rejects_rates_outside_zero_to_one(float rate)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(rate));

    [Fact]
    public void Specs_round_trip_through_json()
    {
        var spec = new Sequential(new Dense(16, useBias: false), new Activation(ActivationKind.LeakyReLU, 0.3f), new BatchNorm1d(1e-3f, 0.2f), new Dropout(0.25f), new Dense(2));

        var back = (Sequential)LayerSpecJson.Deserialize(LayerSpecJson.Serialize(spec));

        Assert.Equal(spec.Layers, back.Layers);
        Assert.Contains("\"type\":\"dense\"", LayerSpecJson.Serialize(spec));
    }
}
