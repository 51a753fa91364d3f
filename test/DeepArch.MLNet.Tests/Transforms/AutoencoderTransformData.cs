using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Transforms;

/// <summary>Seeded data and small options shared by the autoencoder transform tests.</summary>
internal static class AutoencoderTransformData
{
    /// <summary>The digits split 70/30 (stratified), pixels scaled to [0, 1] by a fitted MinMax normalizer.</summary>
    public static (MLContext Ml, IDataView Train, IDataView Test) Digits(int seed = 1)
    {
        var ml = new MLContext(seed: seed);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        var normalizer = ml.Transforms.NormalizeMinMax("Features").Fit(ml.Data.LoadFromEnumerable(train));
        return (ml, normalizer.Transform(ml.Data.LoadFromEnumerable(train)), normalizer.Transform(ml.Data.LoadFromEnumerable(test)));
    }

    /// <summary>Small, fast options: 64 -> 32 -> 8, one training thread, a fixed seed.</summary>
    public static T Small<T>(T options, string output, string? input, AutoencoderKind kind = AutoencoderKind.Deep, int epochs = 15)
        where T : AutoencoderTransformOptions
    {
        options.OutputColumnName = output;
        options.InputColumnName = input;
        options.LayerSizes = [32, 8];
        options.Kind = kind;
        options.Epochs = epochs;
        options.BatchSize = 32;
        options.LearningRate = 3e-3;
        options.TrainingThreads = 1;
        options.Seed = 7;
        return options;
    }

    /// <summary>A signal row: a clean signal and a noisy copy of it.</summary>
    public sealed class SignalRow
    {
        [VectorType(Length)]
        public float[] Clean { get; set; } = [];

        [VectorType(Length)]
        public float[] Noisy { get; set; } = [];
    }

    public const int Length = 32;

    /// <summary>
    /// Synthetic spectrogram-like frames: two Gaussian bumps (formants) at random positions and widths over a
    /// sloped floor, and a copy with Gaussian noise of standard deviation <paramref name="noise"/>.
    /// </summary>
    public static SignalRow[] Signals(int count, float noise, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            double c1 = 4 + random.NextDouble() * 10, c2 = 16 + random.NextDouble() * 12;
            double w1 = 1.5 + random.NextDouble() * 2, w2 = 1.5 + random.NextDouble() * 2;
            double a1 = 0.5 + random.NextDouble() * 0.5, a2 = 0.3 + random.NextDouble() * 0.5;
            float[] clean = Enumerable.Range(0, Length).Select(i =>
                (float)(a1 * Math.Exp(-Math.Pow((i - c1) / w1, 2) / 2) + a2 * Math.Exp(-Math.Pow((i - c2) / w2, 2) / 2) + 0.2 * (1 - i / (double)Length))).ToArray();
            float[] noisy = clean.Select(v => v + noise * (float)Gaussian(random)).ToArray();
            return new SignalRow { Clean = clean, Noisy = noisy };
        }).ToArray();
    }

    private static double Gaussian(Random random)
        => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>The values of vector column <paramref name="column"/>, row by row.</summary>
    public static float[][] Column(IDataView data, string column)
    {
        var rows = new List<float[]>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            rows.Add(value.DenseValues().ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>Mean squared difference over all values.</summary>
    public static double MeanSquaredError(float[][] a, float[][] b)
        => a.Zip(b).SelectMany(p => p.First.Zip(p.Second, (x, y) => (double)(x - y) * (x - y))).Average();

    /// <summary>Largest absolute difference over all values.</summary>
    public static double MaxAbsDifference(float[][] a, float[][] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b).SelectMany(p => p.First.Zip(p.Second, (x, y) => (double)Math.Abs(x - y))).DefaultIfEmpty(0).Max();
    }
}
