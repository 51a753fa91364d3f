using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
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
}
