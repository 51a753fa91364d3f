using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// Variable-length batches: a row's output depends on its own valid steps only, never on the batch it is scored in,
/// the batch's longest sequence, or the values after its length, in TorchSharp and in ONNX Runtime alike.
/// </summary>
public class RecurrentPaddingTests(ITestOutputHelper output)
{
    private const int Features = 3, MaxSteps = 6;
    private static readonly int[] Lengths = [5, 2, 1, 4];

    public static TheoryData<RecurrentCell, RecurrentOutput> Cases()
    {
        var data = new TheoryData<RecurrentCell, RecurrentOutput>();
        foreach (var cell in Enum.GetValues<RecurrentCell>())
        {
            foreach (var pooling in Enum.GetValues<RecurrentOutput>())
            {
                data.Add(cell, pooling);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_row_scores_as_if_alone_and_padding_values_change_nothing(RecurrentCell cell, RecurrentOutput pooling)
    {
        var layer = new Recurrent(cell, 4, Features, layers: 2, bidirectional: true, dropout: 0.1f, output: pooling, variableLength: true);
        using var network = new Network(layer, [1 + MaxSteps * Features], seed: 7);
        float[] zeros = RecurrentTestData.Variable(Lengths, MaxSteps, Features, seed: 3);
        float[] garbage = RecurrentTestData.Variable(Lengths, MaxSteps, Features, seed: 3, padding: null);
        Assert.NotEqual(zeros, garbage);
        byte[] model = network.ExportOnnx("input", "output");
        int width = network.OutputShape.Aggregate(1, (a, d) => a * d);

        float[] torchBatch = network.Predict(garbage, Lengths.Length);
        float[] onnxBatch = RecurrentTestData.RunOnnx(model, network, garbage, Lengths.Length);
        double worst = Math.Max(RecurrentTestData.MaxError(network.Predict(zeros, Lengths.Length), torchBatch),
            RecurrentTestData.MaxError(RecurrentTestData.RunOnnx(model, network, zeros, Lengths.Length), onnxBatch));
        for (int row = 0; row < Lengths.Length; row++)
        {
            float[] single = RecurrentTestData.Row(zeros, row, MaxSteps, Features);
            float[] torchAlone = network.Predict(single, 1);
            float[] onnxAlone = RecurrentTestData.RunOnnx(model, network, single, 1);
            worst = Math.Max(worst, RecurrentTestData.MaxError(torchAlone, torchBatch.AsSpan(row * width, width).ToArray()));
            worst = Math.Max(worst, RecurrentTestData.MaxError(onnxAlone, onnxBatch.AsSpan(row * width, width).ToArray()));
            worst = Math.Max(worst, RecurrentTestData.MaxError(torchAlone, onnxAlone) / 10);
        }

        output.WriteLine($"{layer.Describe()}: max difference {worst:G3}");
        Assert.True(worst <= 1e-6, $"{layer.Describe()}: a row's output depends on its batch or its padding (max difference {worst:G3}).");
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm)]
    [InlineData(RecurrentCell.Gru)]
    public void Sequence_output_is_zero_at_padded_steps_and_last_is_the_state_at_the_length(RecurrentCell cell)
    {
        var sequence = new Recurrent(cell, 4, Features, output: RecurrentOutput.Sequence, variableLength: true);
        using var network = new Network(sequence, [1 + MaxSteps * Features], seed: 7);
        float[] garbage = RecurrentTestData.Variable(Lengths, MaxSteps, Features, seed: 3, padding: null);
        byte[] model = network.ExportOnnx("input", "output");

        foreach (float[] scores in new[] { network.Predict(garbage, Lengths.Length), RecurrentTestData.RunOnnx(model, network, garbage, Lengths.Length) })
        {
            for (int row = 0; row < Lengths.Length; row++)
            {
                for (int t = 0; t < MaxSteps; t++)
                {
                    var step = scores.AsSpan((row * MaxSteps + t) * 4, 4).ToArray();
                    Assert.True(t < Lengths[row] ? step.Any(v => v != 0) : step.All(v => v == 0), $"row {row}, step {t}");
                }
            }
        }

        // The unidirectional Last output is the sequence output at step L - 1 (same weights: same seed, same cell).
        using var last = new Network(new Recurrent(cell, 4, Features, variableLength: true), [1 + MaxSteps * Features], seed: 7);
        float[] lastScores = last.Predict(garbage, Lengths.Length);
        float[] sequenceScores = network.Predict(garbage, Lengths.Length);
        for (int row = 0; row < Lengths.Length; row++)
        {
            var expected = sequenceScores.AsSpan((row * MaxSteps + Lengths[row] - 1) * 4, 4).ToArray();
            Assert.True(RecurrentTestData.MaxError(expected, lastScores.AsSpan(row * 4, 4).ToArray()) <= 1e-6, $"row {row}");
        }
    }
}
