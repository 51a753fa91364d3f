using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// Every recurrent configuration: TorchSharp eval output vs ONNX Runtime (max abs error 1e-5) and onnx.checker.
/// Cells (RNN tanh, RNN relu, LSTM, GRU) x {uni-, bidirectional} x {1 layer, 2 layers with dropout} x every output,
/// fixed length and variable length (padding filled with garbage, which must never reach the output).
/// </summary>
public class RecurrentParityTests(ITestOutputHelper output)
{
    private const int Features = 3, Hidden = 4, Steps = 5, Rows = 4;

    public static TheoryData<RecurrentCell, RecurrentNonlinearity, bool, int, RecurrentOutput, bool> Cases()
    {
        var data = new TheoryData<RecurrentCell, RecurrentNonlinearity, bool, int, RecurrentOutput, bool>();
        (RecurrentCell, RecurrentNonlinearity)[] cells =
            [(RecurrentCell.Rnn, RecurrentNonlinearity.Tanh), (RecurrentCell.Rnn, RecurrentNonlinearity.Relu), (RecurrentCell.Lstm, RecurrentNonlinearity.Tanh), (RecurrentCell.Gru, RecurrentNonlinearity.Tanh)];
        foreach (var (cell, nonlinearity) in cells)
        {
            foreach (bool bidirectional in new[] { false, true })
            {
                foreach (int layers in new[] { 1, 2 })
                {
                    foreach (var pooling in Enum.GetValues<RecurrentOutput>())
                    {
                        foreach (bool variableLength in new[] { false, true })
                        {
                            data.Add(cell, nonlinearity, bidirectional, layers, pooling, variableLength);
                        }
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Recurrent_matches_onnx_runtime(RecurrentCell cell, RecurrentNonlinearity nonlinearity, bool bidirectional, int layers,
        RecurrentOutput pooling, bool variableLength)
    {
        var layer = new Recurrent(cell, Hidden, Features, layers, bidirectional, dropout: layers > 1 ? 0.3f : 0, pooling, variableLength, nonlinearity);
        int size = variableLength ? 1 + Steps * Features : Steps * Features;
        using var network = new Network(layer, [size], seed: 5);
        // Lengths below Tmax everywhere: the time axis is trimmed to 4 and, for Sequence, padded back to 5.
        float[] input = variableLength
            ? RecurrentTestData.Variable([3, 1, 4, 2], Steps, Features, seed: 9, padding: null)
            : RecurrentTestData.Fixed(Rows, Steps, Features, seed: 9);

        double error = RecurrentTestData.Parity(network, input, Rows);

        output.WriteLine($"{layer.Describe()}: max abs error {error:G3}");
        Assert.True(error <= 1e-5, $"{layer.Describe()}: max abs error {error:G3}");
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, false)]
    [InlineData(RecurrentCell.Gru, true)]
    [InlineData(RecurrentCell.Rnn, true)]
    public void Many_to_many_network_matches_onnx_runtime_after_training(RecurrentCell cell, bool variableLength)
    {
        // Recurrent (sequence) -> Dense per step (MatMul + Add in ONNX) -> Flatten: [T * 2] outputs per sample.
        var architecture = new Sequential(
            new Recurrent(cell, Hidden, Features, layers: 2, bidirectional: true, dropout: 0.2f, output: RecurrentOutput.Sequence, variableLength: variableLength),
            new Dense(2),
            new Flatten());
        int size = variableLength ? 1 + Steps * Features : Steps * Features;
        using var network = new Network(architecture, [size], seed: 2);
        Assert.Equal([Steps * 2], network.OutputShape);
        int[] lengths = Enumerable.Range(0, 64).Select(i => 1 + i % Steps).ToArray();
        float[] train = variableLength ? RecurrentTestData.Variable(lengths, Steps, Features, seed: 4) : RecurrentTestData.Fixed(64, Steps, Features, seed: 4);
        var targets = new float[64 * Steps * 2];
        for (int i = 0; i < targets.Length; i++)
        {
            targets[i] = MathF.Sin(i);
        }
        new TrainingLoop(new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 0.01, Seed = 3, Threads = 1 }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), new TrainingSet(train, [size], targets, Steps * 2));

        float[] input = variableLength
            ? RecurrentTestData.Variable([5, 1, 3, 2], Steps, Features, seed: 8, padding: null)
            : RecurrentTestData.Fixed(Rows, Steps, Features, seed: 8);
        double error = RecurrentTestData.Parity(network, input, Rows);

        output.WriteLine($"{architecture.Layers[0].Describe()} + Dense(2) per step + Flatten: max abs error {error:G3}");
        Assert.True(error <= 1e-5, $"max abs error {error:G3}");
    }
}
