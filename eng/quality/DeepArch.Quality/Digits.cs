using System.Globalization;
using Microsoft.ML.Data;

namespace DeepArch.Quality;

/// <summary>A digit: 64 pixels (divided by 16 into [0, 1], or grey levels 0 to 16; see <see cref="Digits.Load"/>), and a label (the digit, or 1 = anomaly for the anomaly splits).</summary>
internal sealed class DigitRow
{
    [VectorType(Digits.PixelCount)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

/// <summary>
/// One anomaly-detection split of the digits: the detector trains on the train part of <paramref name="Normal"/>, and is
/// scored on the test part of <paramref name="Normal"/> (label 0) and of <paramref name="Anomaly"/> (label 1).
/// </summary>
internal sealed record AnomalySplit(string Name, int[] Normal, int Anomaly)
{
    public (DigitRow[] Train, DigitRow[] Test) Rows(IReadOnlyList<DigitRow> train, IReadOnlyList<DigitRow> test)
    {
        bool IsNormal(DigitRow r) => Normal.Contains((int)r.Label);
        DigitRow Relabel(DigitRow r) => new() { Features = r.Features, Label = (int)r.Label == Anomaly ? 1 : 0 };
        return (train.Where(IsNormal).Select(Relabel).ToArray(),
            test.Where(r => IsNormal(r) || (int)r.Label == Anomaly).Select(Relabel).ToArray());
    }
}

/// <summary>The bundled digits (data/digits.csv: UCI optical digits, 1,797 rows of 8x8 grey levels 0..16; see data/README.md).</summary>
internal static class Digits
{
    public const int PixelCount = 64;

    /// <summary>
    /// Reads data/digits.csv from next to the program (the project copies it there), pixels divided by <paramref name="divisor"/>:
    /// 16 (default) for [0, 1]; 1 for the grey levels 0 to 16 as the file and the tests' <c>Datasets.DigitRows</c> hold them.
    /// </summary>
    public static DigitRow[] Load(float divisor = 16f)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "data", "digits.csv");
        return File.ReadLines(path).Skip(1).Select(line =>
        {
            float[] values = line.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            return new DigitRow { Features = values[..PixelCount].Select(v => v / divisor).ToArray(), Label = values[PixelCount] };
        }).ToArray();
    }

    /// <summary>
    /// <paramref name="testFraction"/> of each digit's rows to the test part, chosen by <paramref name="seed"/>: the split of the
    /// tests' <c>Datasets.StratifiedSplit</c> (70/30, seed 1), so that the 0-4 vs 7 split holds the README's rows.
    /// </summary>
    public static (DigitRow[] Train, DigitRow[] Test) StratifiedSplit(IReadOnlyList<DigitRow> rows, double testFraction = 0.3, int seed = 1)
    {
        var random = new Random(seed);
        var train = new List<DigitRow>();
        var test = new List<DigitRow>();
        foreach (var digit in rows.GroupBy(r => r.Label).OrderBy(g => g.Key))
        {
            var members = digit.ToArray();
            random.Shuffle(members);
            int testCount = (int)Math.Round(members.Length * testFraction);
            test.AddRange(members.Take(testCount));
            train.AddRange(members.Skip(testCount));
        }
        return (train.ToArray(), test.ToArray());
    }
}
