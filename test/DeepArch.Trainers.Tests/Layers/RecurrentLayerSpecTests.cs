using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>The recurrent layer's specification: shapes, validation, descriptions, JSON, parameter counts and input checks.</summary>
public class RecurrentLayerSpecTests
{
    [Theory]
    [InlineData(RecurrentOutput.Last, false, new[] { 8 })]
    [InlineData(RecurrentOutput.Mean, true, new[] { 16 })]
    [InlineData(RecurrentOutput.Max, false, new[] { 8 })]
    [InlineData(RecurrentOutput.Sequence, true, new[] { 5, 16 })]
    public void Output_shape_follows_the_output_mode_and_directions(RecurrentOutput output, bool bidirectional, int[] expected)
    {
        var layer = new Recurrent(RecurrentCell.Lstm, 8, features: 3, bidirectional: bidirectional, output: output);

        Assert.Equal(5, layer.Steps([15]));
        Assert.Equal(expected, layer.OutputShape([15]));
        Assert.Equal(bidirectional ? 2 : 1, layer.Directions);
    }

    [Fact]
    public void Variable_length_input_is_the_length_then_tmax_steps()
    {
        var layer = new Recurrent(RecurrentCell.Gru, 4, features: 3, output: RecurrentOutput.Sequence, variableLength: true);

        Assert.Equal(6, layer.Steps([1 + 6 * 3]));
        Assert.Equal([6, 4], layer.OutputShape([19]));
    }

    [Fact]
    public void A_size_that_is_not_a_multiple_of_the_features_is_rejected_naming_both()
    {
        var layer = new Recurrent(RecurrentCell.Rnn, 4, features: 3);

        var error = Assert.Throws<ArgumentException>(() => layer.OutputShape([14]));

        Assert.Contains("14", error.Message);
        Assert.Contains("multiple of 3", error.Message);
    }

    [Fact]
    public void A_variable_length_size_without_its_length_value_is_rejected()
    {
        var layer = new Recurrent(RecurrentCell.Rnn, 4, features: 3, variableLength: true);

        var error = Assert.Throws<ArgumentException>(() => layer.OutputShape([15]));

        Assert.Contains("1 + Tmax * 3", error.Message);
        Assert.Contains("15", error.Message);
    }

    [Fact]
    public void A_non_vector_input_is_rejected()
        => Assert.Contains("[5, 3]", Assert.Throws<ArgumentException>(() => new Recurrent(RecurrentCell.Lstm, 4, 3).OutputShape([5, 3])).Message);

    [Theory]
    [InlineData(0, 3, 1, 0f, "hiddenSize")]
    [InlineData(4, 0, 1, 0f, "features")]
    [InlineData(4, 3, 0, 0f, "layers")]
    [InlineData(4, 3, 2, 1f, "dropout")]
    [InlineData(4, 3, 2, -0.1f, "dropout")]
    [InlineData(4, 3, 2, float.NaN, "dropout")]
    public void Sizes_and_rates_out_of_range_are_rejected_naming_the_parameter(int hidden, int features, int layers, float dropout, string parameter)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Recurrent(RecurrentCell.Lstm, hidden, features, layers, dropout: dropout));

        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public void Undefined_enum_values_are_rejected()
    {
        Assert.Equal("cell", Assert.Throws<ArgumentOutOfRangeException>(() => new Recurrent((RecurrentCell)7, 4, 3)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentOutOfRangeException>(() => new Recurrent(RecurrentCell.Gru, 4, 3, output: (RecurrentOutput)9)).ParamName);
        Assert.Equal("nonlinearity", Assert.Throws<ArgumentOutOfRangeException>(
            () => new Recurrent(RecurrentCell.Rnn, 4, 3, nonlinearity: (RecurrentNonlinearity)5)).ParamName);
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm)]
    [InlineData(RecurrentCell.Gru)]
    public void Only_the_elman_cell_takes_a_relu(RecurrentCell cell)
    {
        var error = Assert.Throws<ArgumentException>(() => new Recurrent(cell, 4, 3, nonlinearity: RecurrentNonlinearity.Relu));

        Assert.Contains("Only the Elman cell", error.Message);
    }

    [Fact]
    public void Truncation_needs_a_unidirectional_fixed_length_layer()
    {
        Assert.Contains("unidirectional", Assert.Throws<ArgumentException>(
            () => new Recurrent(RecurrentCell.Lstm, 4, 3, bidirectional: true, truncatedSteps: 2)).Message);
        Assert.Contains("fixed-length", Assert.Throws<ArgumentException>(
            () => new Recurrent(RecurrentCell.Lstm, 4, 3, variableLength: true, truncatedSteps: 2)).Message);
        Assert.Equal("truncatedSteps", Assert.Throws<ArgumentOutOfRangeException>(() => new Recurrent(RecurrentCell.Lstm, 4, 3, truncatedSteps: -1)).ParamName);
    }

    [Fact]
    public void Describe_names_the_cell_and_its_options()
    {
        Assert.Equal("LSTM(64, 2 layers, bidirectional, last)", new Recurrent(RecurrentCell.Lstm, 64, 3, layers: 2, bidirectional: true).Describe());
        Assert.Equal("RNN(8, 1 layer, relu, variable length, max)",
            new Recurrent(RecurrentCell.Rnn, 8, 3, output: RecurrentOutput.Max, variableLength: true, nonlinearity: RecurrentNonlinearity.Relu).Describe());
        Assert.Equal("GRU(4, 3 layers, dropout 0.25, truncated to 10 steps, sequence)",
            new Recurrent(RecurrentCell.Gru, 4, 3, layers: 3, dropout: 0.25f, output: RecurrentOutput.Sequence, truncatedSteps: 10).Describe());
    }

    [Fact]
    public void Spec_round_trips_through_json()
    {
        var spec = new Sequential(
            new Recurrent(RecurrentCell.Rnn, 6, 2, layers: 2, dropout: 0.2f, output: RecurrentOutput.Mean, nonlinearity: RecurrentNonlinearity.Relu, truncatedSteps: 3),
            new Recurrent(RecurrentCell.Gru, 5, 4, bidirectional: true, output: RecurrentOutput.Sequence, variableLength: true),
            new Dense(2));

        string json = LayerSpecJson.Serialize(spec);
        var back = (Sequential)LayerSpecJson.Deserialize(json);

        Assert.Equal(spec.Layers, back.Layers);
        Assert.Contains("\"type\":\"recurrent\"", json);
        Assert.Contains("\"cell\":\"Gru\"", json);
        Assert.Equal(json, LayerSpecJson.Serialize(back));
    }

    [Theory]
    [InlineData(RecurrentCell.Rnn, 1)]
    [InlineData(RecurrentCell.Lstm, 4)]
    [InlineData(RecurrentCell.Gru, 3)]
    public void Parameter_count_is_pytorchs(RecurrentCell cell, int gates)
    {
        const int features = 3, hidden = 5;
        using var network = new Network(new Recurrent(cell, hidden, features, layers: 2, bidirectional: true), [4 * features], seed: 1);

        // PyTorch: per layer and direction, W_ih [G*H, in], W_hh [G*H, H], b_ih and b_hh [G*H]; layer 2 reads 2H.
        long layer1 = 2L * (gates * hidden * features + gates * hidden * hidden + 2 * gates * hidden);
        long layer2 = 2L * (gates * hidden * 2 * hidden + gates * hidden * hidden + 2 * gates * hidden);
        Assert.Equal(layer1 + layer2, network.ParameterCount);
        Assert.Equal(layer1 + layer2, network.Summarize().TotalParameters);
    }

    [Fact]
    public void Summary_lists_the_recurrent_layer_and_its_head()
    {
        var architecture = new Sequential(new Recurrent(RecurrentCell.Lstm, 4, 3, output: RecurrentOutput.Sequence), new Dense(2), new Flatten());
        using var network = new Network(architecture, [15], seed: 1);

        var summary = network.Summarize();

        Assert.Equal(["LSTM(4, 1 layer, sequence)", "Dense(2)", "Flatten"], summary.Rows.Select(r => r.Layer));
        Assert.Equal([[5, 4], [5, 2], [10]], summary.Rows.Select(r => r.OutputShape));
        Assert.Equal([4 * (4 * 3 + 4 * 4 + 2 * 4), 4 * 2 + 2, 0], summary.Rows.Select(r => r.Parameters));
        Assert.Contains("LSTM(4, 1 layer, sequence)", summary.ToString());
    }

    [Fact]
    public void Dense_applies_to_the_last_dimension()
    {
        Assert.Equal([5, 7], new Dense(7).OutputShape([5, 3]));
        Assert.Equal([2, 5, 7], new Dense(7).OutputShape([2, 5, 3]));
        Assert.Equal([7], new Dense(7).OutputShape([3]));
        Assert.Throws<ArgumentException>(() => new Dense(7).OutputShape([]));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(7f)]
    [InlineData(-1f)]
    [InlineData(2.5f)]
    [InlineData(float.NaN)]
    public void Predict_rejects_a_length_out_of_range_naming_the_row(float length)
    {
        using var network = new Network(new Recurrent(RecurrentCell.Lstm, 4, 3, variableLength: true), [1 + 6 * 3], seed: 1);
        float[] input = RecurrentTestData.Variable([2, 6, 3], 6, 3, seed: 1);
        input[2 * 19] = length;

        var error = Assert.Throws<ArgumentException>(() => network.Predict(input, 3));

        Assert.Contains("Row 2", error.Message);
        Assert.Contains("[1, 6]", error.Message);
    }
}
