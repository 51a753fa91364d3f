using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// Every convolution-family layer: TorchSharp eval output vs ONNX Runtime (max abs error 1e-5) and
/// onnx.checker, after a little training. Shapes are non-square with odd sizes so that a height/width
/// mix-up or a misplaced pad shows.
/// </summary>
public class ConvolutionLayerParityTests(ITestOutputHelper output)
{
    private static readonly int[] Image = [2, 7, 6];
    private static readonly int[] Signal = [3, 11];

    public static TheoryData<string, LayerSpec, int[]> Layers => new()
    {
        { "Conv2d 3x3 valid", new Conv2d(4, 3), Image },
        { "Conv2d 3x3 same", new Conv2d(4, 3, padding: ConvPadding.Same), Image },
        { "Conv2d 4x4 same (even kernel: extra pad at bottom/right)", new Conv2d(3, 4, padding: ConvPadding.Same), Image },
        { "Conv2d 2x2 same, dilation 3 (odd total pad)", new Conv2d(3, 2, padding: ConvPadding.Same, dilation: 3), Image },
        { "Conv2d stride 2, padding 1", new Conv2d(5, 3, stride: 2, padding: 1), Image },
        { "Conv2d dilation 2, no bias", new Conv2d(3, 3, dilation: 2, useBias: false), Image },
        { "Conv1d 3 valid", new Conv1d(4, 3), Signal },
        { "Conv1d 4 same (even kernel)", new Conv1d(4, 4, padding: ConvPadding.Same), Signal },
        { "Conv1d stride 2, padding 2, dilation 2", new Conv1d(2, 3, stride: 2, padding: 2, dilation: 2), Signal },
        { "ConvTranspose2d 2x2 stride 2", new ConvTranspose2d(3, 2, stride: 2), Image },
        { "ConvTranspose2d 3x3 stride 2, padding 1, output padding 1", new ConvTranspose2d(2, 3, stride: 2, padding: 1, outputPadding: 1), Image },
        { "ConvTranspose2d dilation 2, no bias", new ConvTranspose2d(2, 3, dilation: 2, useBias: false), Image },
        { "MaxPool2d 2", new MaxPool2d(2), Image },
        { "MaxPool2d 3, stride 2, padding 1", new MaxPool2d(3, stride: 2, padding: 1), Image },
        { "MaxPool1d 2", new MaxPool1d(2), Signal },
        { "MaxPool1d 3, stride 1, padding 1", new MaxPool1d(3, stride: 1, padding: 1), Signal },
        { "AvgPool2d 2", new AvgPool2d(2), Image },
        { "AvgPool2d 3, stride 2, padding 1, pads not counted", new AvgPool2d(3, stride: 2, padding: 1), Image },
        { "AvgPool2d 3, stride 2, padding 1, pads counted", new AvgPool2d(3, stride: 2, padding: 1, countIncludePad: true), Image },
        { "AvgPool1d 3, stride 1, padding 1, pads not counted", new AvgPool1d(3, stride: 1, padding: 1), Signal },
        { "AvgPool1d 3, stride 1, padding 1, pads counted", new AvgPool1d(3, stride: 1, padding: 1, countIncludePad: true), Signal },
        { "GlobalAveragePool 2-D", new GlobalAveragePool(), Image },
        { "GlobalAveragePool 1-D", new GlobalAveragePool(), Signal },
        { "Flatten", new Flatten(), Image },
        { "BatchNorm2d after a convolution", new Sequential(new Conv2d(4, 3, padding: ConvPadding.Same), new BatchNorm2d()), Image },
        { "Dropout2d after a convolution", new Sequential(new Conv2d(4, 3, padding: ConvPadding.Same), new Dropout2d(0.3f)), Image },
        { "Reshape [2, 7, 6] -> [14, 6]", new Reshape(14, 6), Image },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void Layer_matches_onnx_runtime_after_training(string name, LayerSpec layer, int[] sampleShape)
    {
        // Flat input -> Reshape to the sample shape -> the layer -> Flatten -> Dense: the layer's parameters
        // and running statistics move away from their initial values during the few training epochs.
        var architecture = new Sequential(new Reshape(sampleShape), layer, new Flatten(), new Dense(3));
        int inputSize = sampleShape.Aggregate(1, (a, d) => a * d);
        using var network = new Network(architecture, [inputSize], seed: 3);
        new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 3 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(96, features: inputSize, targets: 3));

        double error = OnnxAssert.Parity(network, rows: 17, seed: 11);

        output.WriteLine($"{name}: max abs error {error:G3}");
        Assert.True(error <= 1e-5, name);
    }
}
