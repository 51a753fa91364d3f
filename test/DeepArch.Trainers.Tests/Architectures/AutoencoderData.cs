using DeepArch.Trainers.Training;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>Seeded synthetic signals for the autoencoder tests: smooth, low-dimensional, so an autoencoder can learn them in a few epochs.</summary>
public static class AutoencoderData
{
    /// <summary>
    /// <paramref name="rows"/> signals of <paramref name="size"/> samples, each a random mix of three smooth
    /// shapes (a sine, a cosine and a ramp over the signal), so the clean data lie on a 3-D subspace.
    /// </summary>
    public static float[] Signals(int rows, int size, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * size];
        for (int r = 0; r < rows; r++)
        {
            double a = random.NextDouble() * 2 - 1, b = random.NextDouble() * 2 - 1, c = random.NextDouble() * 2 - 1;
            for (int i = 0; i < size; i++)
            {
                double t = (double)i / (size - 1);
                x[r * size + i] = (float)(a * Math.Sin(2 * Math.PI * t) + b * Math.Cos(2 * Math.PI * t) + c * (2 * t - 1));
            }
        }
        return x;
    }

    /// <summary><paramref name="clean"/> plus Gaussian noise of standard deviation <paramref name="sigma"/>.</summary>
    public static float[] AddNoise(float[] clean, double sigma, int seed)
    {
        var random = new Random(seed);
        return clean.Select(v => (float)(v + sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
    }

    /// <summary>The mean squared difference of two equally long arrays.</summary>
    public static double MeanSquaredError(float[] a, float[] b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Average();

    /// <summary>The signals as a reconstruction set (targets = inputs).</summary>
    public static TrainingSet Set(int rows, int size, int seed) => ReconstructionSet.Create(Signals(rows, size, seed), size);
}
