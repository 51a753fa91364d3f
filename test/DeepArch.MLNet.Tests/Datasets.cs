using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Tests;

/// <summary>The bundled real data sets (data/, see data/README.md), split the same way every time.</summary>
public static class Datasets
{
    /// <summary>A row with a 64-value feature vector (the 8x8 digits) and a numeric label.</summary>
    public sealed class DigitRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>A row of the diabetes regression set: 10 features, one target.</summary>
    public sealed class DiabetesRow
    {
        [VectorType(10)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>The 1,797 digits, as rows.</summary>
    public static IReadOnlyList<DigitRow> DigitRows { get; } = ReadCsv("digits.csv", 64)
        .Select(r => new DigitRow { Features = r.Features, Label = r.Target }).ToArray();

    /// <summary>The digits with every grey level (0 to 16) mapped by <paramref name="map"/>, as data in other units come.</summary>
    public static DigitRow[] DigitRowsIn(Func<float, float> map)
        => DigitRows.Select(r => new DigitRow { Features = r.Features.Select(map).ToArray(), Label = r.Label }).ToArray();

    /// <summary>The 442 diabetes patients, as rows.</summary>
    public static IReadOnlyList<DiabetesRow> DiabetesRows { get; } = ReadCsv("diabetes.csv", 10)
        .Select(r => new DiabetesRow { Features = r.Features, Label = r.Target }).ToArray();

    /// <summary>A wine of the UCI wine set: 13 chemical measurements in their own units (magnesium near 100, proline near 1,000) and its cultivar 0 to 2.</summary>
    public sealed class WineRow
    {
        [VectorType(13)]
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    /// <summary>The 178 wines, as rows.</summary>
    public static IReadOnlyList<WineRow> WineRows { get; } = ReadCsv("wine.csv", 13)
        .Select(r => new WineRow { Features = r.Features, Label = r.Target }).ToArray();

    /// <summary>The weekly Mauna Loa CO2 series (2,284 weeks from March 1958, ppm).</summary>
    public static IReadOnlyList<float> Co2Weekly { get; } = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "co2_weekly.csv")).Skip(1)
        .Select(line => float.Parse(line.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();

    /// <summary>A stratified split: <paramref name="testFraction"/> of each label's rows go to the test part, chosen by <paramref name="seed"/>.</summary>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Test) StratifiedSplit<T>(IReadOnlyList<T> rows, Func<T, float> label, double testFraction = 0.3, int seed = 1)
    {
        var random = new Random(seed);
        var train = new List<T>();
        var test = new List<T>();
        foreach (var group in rows.GroupBy(label).OrderBy(g => g.Key))
        {
            var members = group.ToArray();
            random.Shuffle(members);
            int testCount = (int)Math.Round(members.Length * testFraction);
            test.AddRange(members.Take(testCount));
            train.AddRange(members.Skip(testCount));
        }
        return (train, test);
    }

    /// <summary>A random split for regression.</summary>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Test) RandomSplit<T>(IReadOnlyList<T> rows, double testFraction = 0.3, int seed = 1)
    {
        var shuffled = rows.ToArray();
        new Random(seed).Shuffle(shuffled);
        int testCount = (int)Math.Round(shuffled.Length * testFraction);
        return (shuffled.Skip(testCount).ToArray(), shuffled.Take(testCount).ToArray());
    }

    private static IEnumerable<(float[] Features, float Target)> ReadCsv(string file, int features)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", file);
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            float[] values = line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            yield return (values[..features], values[features]);
        }
    }
}
