using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Independent measurements of a network (through <see cref="Network.Predict"/>), used as oracles for the trainer's own figures.</summary>
internal static class Measure
{
    /// <summary>Mean squared error over every output value, computed in double from <see cref="Network.Predict"/>.</summary>
    public static double MeanSquaredError(Network network, TrainingSet set)
    {
        float[] output = network.Predict(set.Features, set.Count);
        double sum = 0;
        for (int i = 0; i < output.Length; i++)
        {
            double error = output[i] - (double)set.Targets[i];
            sum += error * error;
        }
        return sum / output.Length;
    }

    /// <summary>The population variance of <paramref name="values"/>.</summary>
    public static double Variance(float[] values)
    {
        double mean = values.Average(v => (double)v);
        return values.Average(v => (v - mean) * (v - mean));
    }

    /// <summary>
    /// The fraction of rows classified right: argmax of the outputs for several outputs (class-index
    /// targets), the sign of the logit for one output (0/1 targets).
    /// </summary>
    public static double Accuracy(Network network, TrainingSet set)
    {
        float[] output = network.Predict(set.Features, set.Count);
        int width = output.Length / set.Count;
        int right = 0;
        for (int r = 0; r < set.Count; r++)
        {
            var row = output.AsSpan(r * width, width);
            int predicted = width == 1 ? (row[0] > 0 ? 1 : 0) : row.IndexOf(MaxOf(row));
            right += predicted == (int)set.Targets[r] ? 1 : 0;
        }
        return (double)right / set.Count;
    }

    /// <summary>The L2 norm of all trainable parameters.</summary>
    public static double ParameterNorm(Network network)
    {
        using var scope = NewDisposeScope();
        return Math.Sqrt(network.Module.parameters().Sum(p => p.detach().to_type(ScalarType.Float64).square().sum().item<double>()));
    }

    /// <summary>The raw bits of every trainable parameter, in module order.</summary>
    public static int[] ParameterBits(Network network) => Bits(Parameters(network));

    /// <summary>Every parameter's values, in module order.</summary>
    public static float[] Parameters(Network network)
    {
        using var scope = NewDisposeScope();
        return network.Module.parameters().SelectMany(p => p.detach().cpu().contiguous().data<float>().ToArray()).ToArray();
    }

    /// <summary>The raw bits of every value, for bit-for-bit comparisons (NaN-safe, -0 != +0).</summary>
    public static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static float MaxOf(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (float v in row)
        {
            max = Math.Max(max, v);
        }
        return max;
    }
}
