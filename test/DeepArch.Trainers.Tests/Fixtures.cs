using DeepArch.Trainers.Training;

namespace DeepArch.Trainers.Tests;

/// <summary>Small seeded data sets shared by the tests.</summary>
public static class Fixtures
{
    /// <summary>
    /// A seeded regression set: <c>y = sin(x0) + 0.5 x1 - x2^2 + noise</c> over <paramref name="features"/>
    /// inputs (the rest are distractors), <paramref name="targets"/> copies of y.
    /// </summary>
    public static TrainingSet Regression(int rows, int features = 4, int seed = 0, int targets = 1)
    {
        var random = new Random(seed);
        var x = new float[rows * features];
        var y = new float[rows * targets];
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < features; f++)
            {
                x[r * features + f] = (float)(random.NextDouble() * 2 - 1);
            }
            float value = MathF.Sin(x[r * features]) + 0.5f * x[r * features + 1 % features] - x[r * features + 2 % features] * x[r * features + 2 % features]
                + (float)(random.NextDouble() - 0.5) * 0.05f;
            for (int t = 0; t < targets; t++)
            {
                y[r * targets + t] = value;
            }
        }
        return new TrainingSet(x, [features], y, targets);
    }

    /// <summary>A seeded three-class set: Gaussian blobs around three centres, class indices as targets.</summary>
    public static TrainingSet Blobs(int rows, int features = 5, int classes = 3, int seed = 0)
    {
        var random = new Random(seed);
        var x = new float[rows * features];
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            int c = r % classes;
            y[r] = c;
            for (int f = 0; f < features; f++)
            {
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                x[r * features + f] = (float)((f % classes == c ? 2.0 : 0.0) + 0.7 * gaussian);
            }
        }
        return new TrainingSet(x, [features], y, 1);
    }
}
