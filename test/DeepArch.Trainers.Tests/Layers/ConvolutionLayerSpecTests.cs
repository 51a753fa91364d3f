using DeepArch.Trainers.Layers;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>Convolution-family specs: output shapes without running, configuration checks, shape errors, JSON.</summary>
public class ConvolutionLayerSpecTests
{
    [Fact]
    public void Output_shapes_follow_pytorch_formulas()
    {
        Assert.Equal([4, 5, 4], new Conv2d(4, 3).OutputShape([2, 7, 6]));
        Assert.Equal([4, 7, 6], new Conv2d(4, 4, padding: ConvPadding.Same).OutputShape([2, 7, 6]));
        Assert.Equal([5, 4, 3], new Conv2d(5, 3, stride: 2, padding: 1).OutputShape([2, 7, 6]));
        Assert.Equal([3, 3, 2], new Conv2d(3, 3, dilation: 2).OutputShape([2, 7, 6]));
        Assert.Equal([2, 6], new Conv1d(2, 3, stride: 2, padding: 2, dilation: 2).OutputShape([3, 11]));
        Assert.Equal([3, 14, 12], new ConvTranspose2d(3, 2, stride: 2).OutputShape([2, 7, 6]));
        Assert.Equal([2, 14, 12], new ConvTranspose2d(2, 3, stride: 2, padding: 1, outputPadding: 1).OutputShape([2, 7, 6]));
        Assert.Equal([2, 3, 3], new MaxPool2d(2).OutputShape([2, 7, 6]));
        Assert.Equal([2, 4, 3], new AvgPool2d(3, stride: 2, padding: 1).OutputShape([2, 7, 6]));
        Assert.Equal([3, 11], new MaxPool1d(3, stride: 1, padding: 1).OutputShape([3, 11]));
        Assert.Equal([2], new GlobalAveragePool().OutputShape([2, 7, 6]));
        Assert.Equal([84], new Flatten().OutputShape([2, 7, 6]));
        Assert.Equal([1, 8, 8], new Reshape(1, 8, 8).OutputShape([64]));
    }

    [Fact]
    public void A_pooling_window_larger_than_the_map_left_by_earlier_pooling_names_the_layer_option_and_sizes()
    {
        var spec = new Sequential(new Reshape(1, 8, 8), new MaxPool2d(2), new MaxPool2d(2), new MaxPool2d(2), new MaxPool2d(2));

        var error = Assert.Throws<ArgumentException>(() => spec.OutputShape([64]));

        Assert.Equal("MaxPool2d(2): kernelSize 2 is larger than the padded input height 1 (input 1 + padding 0 + 0). " +
            "Use a smaller kernel, more padding, or fewer pooling layers before this one.", error.Message);
    }

    [Fact]
    public void A_convolution_kernel_larger_than_the_padded_input_names_the_layer_option_and_sizes()
    {
        var spec = new Sequential(new Reshape(1, 8, 8), new AvgPool2d(2), new Conv2d(16, 5, padding: 0));

        var error = Assert.Throws<ArgumentException>(() => spec.OutputShape([64]));

        Assert.StartsWith("Conv2d(16, 5x5): kernelSize 5 is larger than the padded input height 4 (input 4 + padding 0 + 0).", error.Message);
    }

    [Fact]
    public void A_dilated_kernel_reports_its_span()
    {
        var error = Assert.Throws<ArgumentException>(() => new Conv1d(2, 3, dilation: 3).OutputShape([1, 6]));

        Assert.Contains("kernelSize 3 with dilation 3 (span 7) is larger than the padded input length 6", error.Message);
    }

    [Fact]
    public void A_reshape_whose_size_differs_from_the_input_names_both_sizes()
    {
        var error = Assert.Throws<ArgumentException>(() => new Reshape(1, 28, 28).OutputShape([64]));

        Assert.StartsWith("Reshape([1, 28, 28]): shape [1, 28, 28] holds 784 values but the input [64] has 64.", error.Message);
    }

    [Fact]
    public void A_convolution_on_a_flat_vector_says_to_reshape_first()
    {
        var error = Assert.Throws<ArgumentException>(() => new Conv2d(4, 3).OutputShape([64]));

        Assert.Contains("expects a per-sample input shaped [channels, height, width], got [64]", error.Message);
        Assert.Contains("Reshape", error.Message);
    }

    [Fact]
    public void Configurations_out_of_range_throw_naming_the_parameter()
    {
        Assert.Equal("filters", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2d(0, 3)).ParamName);
        Assert.Equal("kernelSize", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv1d(2, 0)).ParamName);
        Assert.Equal("dilation", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2d(2, 3, dilation: 0)).ParamName);
        Assert.Equal("padding", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2d(2, 3, stride: 2, padding: ConvPadding.Same)).ParamName);
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2d(2, 3, padding: -1)).ParamName);
        Assert.Equal("padding", Assert.Throws<ArgumentOutOfRangeException>(() => new MaxPool2d(2, padding: 2)).ParamName);
        Assert.Equal("stride", Assert.Throws<ArgumentOutOfRangeException>(() => new AvgPool1d(2, stride: -1)).ParamName);
        Assert.Equal("outputPadding", Assert.Throws<ArgumentOutOfRangeException>(() => new ConvTranspose2d(2, 2, stride: 2, outputPadding: 2)).ParamName);
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout2d(1f)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm2d(momentum: 0)).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentOutOfRangeException>(() => new Reshape(1, 0, 8)).ParamName);
    }

    [Fact]
    public void Pooling_stride_defaults_to_the_kernel_size()
    {
        Assert.Equal(3, new MaxPool2d(3).Stride);
        Assert.Equal(2, new AvgPool1d(3, stride: 2).Stride);
    }

    [Fact]
    public void Specs_round_trip_through_json()
    {
        var spec = new Sequential(
            new Reshape(2, 7, 6), new Conv2d(4, 4, padding: ConvPadding.Same, dilation: 2, useBias: false), new BatchNorm2d(1e-3f, 0.2f),
            new Dropout2d(0.25f), new MaxPool2d(3, stride: 2, padding: 1), new AvgPool2d(2, padding: 1, countIncludePad: true),
            new ConvTranspose2d(3, 3, stride: 2, padding: 1, outputPadding: 1), new GlobalAveragePool(), new Reshape(3, 1),
            new Conv1d(2, 1, padding: 0), new MaxPool1d(1), new AvgPool1d(1), new Flatten(), new Dense(2));

        string json = LayerSpecJson.Serialize(spec);
        var back = (Sequential)LayerSpecJson.Deserialize(json);

        Assert.Equal(spec.Layers, back.Layers);
        Assert.Equal(json, LayerSpecJson.Serialize(back));
        Assert.Contains("\"padding\":\"same\"", json);
        Assert.Contains("\"type\":\"conv2d\"", json);
        Assert.Equal([2], spec.OutputShape([84]));
    }

    [Fact]
    public void Descriptions_show_the_configuration()
    {
        Assert.Equal("Conv2d(16, 3x3, same)", new Conv2d(16, 3, padding: ConvPadding.Same).Describe());
        Assert.Equal("Conv1d(8, 5, stride 2, padding 1, dilation 2, no bias)", new Conv1d(8, 5, stride: 2, padding: 1, dilation: 2, useBias: false).Describe());
        Assert.Equal("ConvTranspose2d(8, 2x2, stride 2)", new ConvTranspose2d(8, 2, stride: 2).Describe());
        Assert.Equal("MaxPool2d(3, stride 2, padding 1)", new MaxPool2d(3, stride: 2, padding: 1).Describe());
        Assert.Equal("AvgPool2d(2)", new AvgPool2d(2).Describe());
        Assert.Equal("Reshape([1, 8, 8])", new Reshape(1, 8, 8).Describe());
    }
}
