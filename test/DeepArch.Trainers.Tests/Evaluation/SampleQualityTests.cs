using DeepArch.Trainers.Evaluation;
using Xunit;

namespace DeepArch.Trainers.Tests.Evaluation;

/// <summary>The measures of generated rows, against values known in closed form or computed by SciPy.</summary>
public class SampleQualityTests
{
    private static float[] Gaussian(int rows, int width, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * width)
            .Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
    }

    [Fact]
    public void The_frechet_distance_matches_scipy_and_closed_forms()
    {
        float[] a = [1, 0, 2, 0, 1, 1, -1, 0, 0, 0, -1, 1, 1, 1, 3, 2, 0, -1];
        float[] b = [0, 1, 0, 1, 2, 1, 2, 0, 2, -1, 1, 1, 0, 0, 0, 1, -1, 2, 3, 1, 1];
        float[] x = Gaussian(500, 4, seed: 1);
        float[] shifted = x.Select((v, i) => v + (i % 4 == 0 ? 3f : i % 4 == 1 ? 4f : 0f)).ToArray();
        float[] doubled = x.Select(v => 2 * v).ToArray();
        double meanSquare = Enumerable.Range(0, 4).Sum(f => Math.Pow(Enumerable.Range(0, 500).Average(r => (double)x[r * 4 + f]), 2));
        double trace = Enumerable.Range(0, 4).Sum(f =>
        {
            double mean = Enumerable.Range(0, 500).Average(r => (double)x[r * 4 + f]);
            return Enumerable.Range(0, 500).Sum(r => Math.Pow(x[r * 4 + f] - mean, 2)) / 499;
        });

        // scipy: m1, m2 = a.mean(0), b.mean(0); s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False);
        // ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
        Assert.Equal(1.2436216043470667, SampleQuality.FrechetDistance(a, b, 3), 9);
        Assert.Equal(0, SampleQuality.FrechetDistance(x, x, 4), 9);
        Assert.Equal(25, SampleQuality.FrechetDistance(x, shifted, 4), 6); // same covariance: the squared shift
        Assert.Equal(meanSquare + trace, SampleQuality.FrechetDistance(x, doubled, 4), 6); // |m - 2m|^2 + tr(S + 4S - 2 * 2S)
    }

    [Fact]
    public void Precision_and_recall_see_coverage_and_realism()
    {
        float[] real = Gaussian(300, 2, seed: 2);
        float[] far = real.Select(v => v + 100).ToArray();
        float[] half = real.Take(300).Concat(far.Take(300)).ToArray(); // 150 real rows, then 150 far away

        Assert.Equal((1.0, 1.0), SampleQuality.PrecisionRecall(real, real, 2));
        Assert.Equal((0.0, 0.0), SampleQuality.PrecisionRecall(real, far, 2));
        var (precision, recall) = SampleQuality.PrecisionRecall(real, half, 2);
        Assert.Equal(0.5, precision, 9); // the far rows are inside no real row's ball
        Assert.InRange(recall, 0.5, 1.0); // the 150 near rows are sparser than the 300 real ones, so their balls cover most of them
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleQuality.PrecisionRecall(real, real.Take(6).ToArray(), 2, k: 3));
    }

    /// <summary>Over 1,024 rows, where the distances are computed in chunks: the same counts as every pair compared directly.</summary>
    [Fact]
    public void Precision_and_recall_over_many_rows_equal_a_direct_count()
    {
        float[] real = Gaussian(1100, 2, seed: 5);
        float[] generated = Gaussian(1300, 2, seed: 6).Select(v => v * 1.3f + 0.2f).ToArray();

        var (precision, recall) = SampleQuality.PrecisionRecall(real, generated, 2);

        double[] Radii(float[] rows) => Enumerable.Range(0, rows.Length / 2)
            .Select(i => Enumerable.Range(0, rows.Length / 2).Select(j => Distance(rows, i, rows, j)).Order().ElementAt(3)).ToArray();
        double Within(float[] rows, float[] reference, double[] radii) => Enumerable.Range(0, rows.Length / 2)
            .Count(i => Enumerable.Range(0, reference.Length / 2).Any(j => Distance(rows, i, reference, j) <= radii[j])) / (double)(rows.Length / 2);
        Assert.Equal(Within(generated, real, Radii(real)), precision, 9);
        Assert.Equal(Within(real, generated, Radii(generated)), recall, 9);
    }

    private static double Distance(float[] a, int i, float[] b, int j)
        => Math.Sqrt(Math.Pow((double)a[2 * i] - b[2 * j], 2) + Math.Pow((double)a[2 * i + 1] - b[2 * j + 1], 2));

    /// <summary>Features of very different units: each keeps its own spread (a ridge relative to the mean variance swamped the small one).</summary>
    [Fact]
    public void A_gaussian_draw_keeps_the_spread_of_features_in_different_units()
    {
        var random = new Random(7);
        float[] data = Enumerable.Range(0, 3000).SelectMany(_ => new[] { (float)(1e4 * Normal(random)), (float)(0.1 * Normal(random)) }).ToArray();

        float[] draws = SampleQuality.DrawGaussian(data, 2, 3000, new Random(8));

        double Deviation(float[] rows, int f) => Math.Sqrt(Enumerable.Range(0, rows.Length / 2).Average(r => Math.Pow(rows[r * 2 + f], 2)));
        Assert.InRange(Deviation(draws, 1) / Deviation(data, 1), 0.9, 1.1);
        Assert.InRange(Deviation(draws, 0) / Deviation(data, 0), 0.9, 1.1);
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    [Fact]
    public void Nearest_distances_are_euclidean_to_the_closest_reference_row()
    {
        float[] reference = [0, 0, 3, 4, 10, 10];

        double[] nearest = SampleQuality.NearestDistances([3, 8, 3, 4, 9, 9], reference, 2);

        Assert.Equal(4, nearest[0], 9); // (3, 8) is 4 from (3, 4) and sqrt(53) from (10, 10)
        Assert.Equal(0, nearest[1], 9);
        Assert.Equal(Math.Sqrt(2), nearest[2], 9);
    }

    [Fact]
    public void A_gaussian_draw_has_the_datas_moments_within_its_range()
    {
        var random = new Random(4);
        float[] data = Enumerable.Range(0, 2000).SelectMany(_ =>
        {
            double u = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            double v = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return new[] { (float)(1 + u), (float)(2 + 0.8 * u + 0.3 * v), 5f }; // correlated, and a constant feature
        }).ToArray();

        float[] draws = SampleQuality.DrawGaussian(data, 3, 4000, new Random(5));

        double Mean(float[] rows, int f) => Enumerable.Range(0, rows.Length / 3).Average(r => (double)rows[r * 3 + f]);
        double Covariance(float[] rows, int f, int g) => Enumerable.Range(0, rows.Length / 3).Average(r => (rows[r * 3 + f] - Mean(rows, f)) * (rows[r * 3 + g] - Mean(rows, g)));
        Assert.InRange(Mean(draws, 0), 0.93, 1.07);
        Assert.InRange(Mean(draws, 1), 1.93, 2.07);
        Assert.InRange(Covariance(draws, 0, 1), 0.72, 0.88);
        Assert.All(Enumerable.Range(0, 4000), r => Assert.Equal(5f, draws[r * 3 + 2]));
        for (int f = 0; f < 2; f++)
        {
            float low = Enumerable.Range(0, 2000).Min(r => data[r * 3 + f]), high = Enumerable.Range(0, 2000).Max(r => data[r * 3 + f]);
            Assert.All(Enumerable.Range(0, 4000), r => Assert.InRange(draws[r * 3 + f], low, high));
        }
        Assert.Equal(draws, SampleQuality.DrawGaussian(data, 3, 4000, new Random(5)));
    }
}
