using DeepArch.Trainers.Networks;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>Seeded sequence batches in the flat layout <see cref="Trainers.Layers.Recurrent"/> reads, and ONNX Runtime scoring.</summary>
internal static class RecurrentTestData
{
    /// <summary>
    /// <paramref name="rows"/> fixed-length samples of <paramref name="steps"/> x <paramref name="features"/> values in [-2, 2].
    /// </summary>
    public static float[] Fixed(int rows, int steps, int features, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * steps * features];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() * 4 - 2);
        }
        return x;
    }

    /// <summary>
    /// Variable-length samples: per row, the length, then <paramref name="lengths"/>[row] steps of values in [-2, 2],
    /// then <paramref name="maxSteps"/> - length padded steps filled with <paramref name="padding"/>, or with large random
    /// garbage when it is null.
    /// </summary>
    public static float[] Variable(int[] lengths, int maxSteps, int features, int seed, float? padding = 0f)
    {
        // Two generators, so that the valid steps are the same whatever the padding.
        var random = new Random(seed);
        var garbage = new Random(seed + 1);
        int size = 1 + maxSteps * features;
        var x = new float[lengths.Length * size];
        for (int row = 0; row < lengths.Length; row++)
        {
            x[row * size] = lengths[row];
            for (int i = 0; i < maxSteps * features; i++)
            {
                bool valid = i < lengths[row] * features;
                x[row * size + 1 + i] = valid ? (float)(random.NextDouble() * 4 - 2) : padding ?? (float)(garbage.NextDouble() * 200 - 100);
            }
        }
        return x;
    }

    /// <summary>One row of a variable-length batch, re-padded to <paramref name="maxSteps"/> steps with zeros.</summary>
    public static float[] Row(float[] batch, int row, int maxSteps, int features)
    {
        int size = 1 + maxSteps * features;
        var single = batch.AsSpan(row * size, size).ToArray();
        int length = (int)single[0];
        Array.Clear(single, 1 + length * features, (maxSteps - length) * features);
        return single;
    }

    /// <summary>Scores <paramref name="input"/> (rows x the network's input size) with ONNX Runtime.</summary>
    public static float[] RunOnnx(byte[] model, Network network, float[] input, int rows)
    {
        using var session = new InferenceSession(model);
        int[] dims = [rows, .. network.InputShape];
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, dims))]);
        return results.First().AsTensor<float>().ToArray();
    }

    /// <summary>
    /// Exports <paramref name="network"/>, runs onnx.checker on it, and returns the max abs difference between its
    /// TorchSharp eval output and ONNX Runtime's on <paramref name="input"/>.
    /// </summary>
    public static double Parity(Network network, float[] input, int rows)
    {
        float[] expected = network.Predict(input, rows);
        byte[] model = network.ExportOnnx("input", "output");
        OnnxAssert.CheckModel(model);
        float[] actual = RunOnnx(model, network, input, rows);
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected, v => Assert.True(float.IsFinite(v)));
        return MaxError(expected, actual);
    }

    /// <summary>The largest absolute difference between two equally long arrays.</summary>
    public static double MaxError(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        return expected.Zip(actual, (e, a) => Math.Abs(e - (double)a)).Max();
    }
}
