using DeepArch.Trainers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Evaluation;

/// <summary>
/// Measures of how close generated rows are to real ones, over rows of equal width (row-major, one row per
/// <c>width</c> values), computed in double precision: the Fréchet distance of two sets of rows ("GANs Trained by a Two
/// Time-Scale Update Rule Converge to a Local Nash Equilibrium", Heusel et al., 2017, in a classifier's feature space),
/// precision and recall of the generated distribution by k-nearest-neighbour balls ("Improved Precision and Recall Metric
/// for Assessing Generative Models", Kynkäänniemi et al., 2019), nearest-row distances (memorization), and a Gaussian
/// with full covariance to compare with.
/// </summary>
public static class SampleQuality
{
    /// <summary>
    /// The Fréchet distance between Gaussians fitted to <paramref name="a"/> and <paramref name="b"/>:
    /// <c>|m_a - m_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))</c>, the trace of the square root taken as
    /// <c>tr((S_a^(1/2) S_b S_a^(1/2))^(1/2))</c>, which symmetric eigendecompositions give stably even for singular covariances.
    /// </summary>
    public static double FrechetDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int width)
    {
        using var scope = NewDisposeScope();
        var (meanA, covarianceA) = Moments(Rows(a, width));
        var (meanB, covarianceB) = Moments(Rows(b, width));
        var rootA = SquareRoot(covarianceA);
        var product = rootA.matmul(covarianceB).matmul(rootA);
        // Numbers reach TorchSharp as held Scalars, a + b as a.add(b, Scalars.One) (what the operator calls): see Scalars in ScalarSafeOptimizers.cs.
        using Scalar two = 2.ToScalar();
        var eigenvalues = linalg.eigvalsh(product.add(product.T, Scalars.One) / two).clamp_min(Scalars.Zero);
        double traceRoot = eigenvalues.sqrt().sum().item<double>();
        return (meanA - meanB).square().sum().item<double>() + covarianceA.trace().item<double>() + covarianceB.trace().item<double>() - 2 * traceRoot;
    }

    /// <summary>
    /// Precision (the share of <paramref name="generated"/> rows inside the k-nearest-neighbour ball of some <paramref name="real"/> row)
    /// and recall (the share of real rows inside the ball of some generated row).
    /// </summary>
    /// <param name="real">The real rows.</param>
    /// <param name="generated">The generated rows.</param>
    /// <param name="width">Values per row.</param>
    /// <param name="k">The neighbour whose distance is a ball's radius; at least 1 and fewer than each set's rows.</param>
    public static (double Precision, double Recall) PrecisionRecall(ReadOnlySpan<float> real, ReadOnlySpan<float> generated, int width, int k = 3)
    {
        using var scope = NewDisposeScope();
        var r = Rows(real, width);
        var g = Rows(generated, width);
        if (k < 1 || k >= r.shape[0] || k >= g.shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be at least 1 and below both row counts ({r.shape[0]} real, {g.shape[0]} generated).");
        }
        var realRadii = Radii(r, k);
        var generatedRadii = Radii(g, k);
        double precision = (double)CountWithin(g, r, realRadii) / g.shape[0];
        double recall = (double)CountWithin(r, g, generatedRadii) / r.shape[0];
        return (precision, recall);
    }

    /// <summary>
    /// How many rows of <paramref name="rows"/> lie within the radius of at least one row of <paramref name="reference"/>; the
    /// distances are computed 1,024 rows at a time, so that memory stays at 1,024 x the reference's rows.
    /// </summary>
    private static long CountWithin(Tensor rows, Tensor reference, Tensor radii)
    {
        long count = 0;
        for (long start = 0; start < rows.shape[0]; start += 1024)
        {
            using var scope = NewDisposeScope();
            long size = Math.Min(1024, rows.shape[0] - start);
            count += cdist(rows.narrow(0, start, size), reference).le(radii.unsqueeze(0)).any(1).sum().item<long>();
        }
        return count;
    }

    /// <summary>Each row of <paramref name="rows"/>'s Euclidean distance to its nearest row of <paramref name="reference"/>.</summary>
    public static double[] NearestDistances(ReadOnlySpan<float> rows, ReadOnlySpan<float> reference, int width)
    {
        using var scope = NewDisposeScope();
        var reference64 = Rows(reference, width);
        var all = Rows(rows, width);
        var nearest = new double[all.shape[0]];
        for (long start = 0; start < all.shape[0]; start += 1024)
        {
            long size = Math.Min(1024, all.shape[0] - start);
            cdist(all.narrow(0, start, size), reference64).min(1).values.data<double>().ToArray().CopyTo(nearest, start);
        }
        return nearest;
    }

    /// <summary>
    /// Draws <paramref name="count"/> rows from a Gaussian with the mean and full covariance of <paramref name="rows"/>
    /// (plus <paramref name="ridge"/> times each feature's variance on the diagonal, so that a singular covariance still has a
    /// Cholesky factor), each value clipped to its feature's range in <paramref name="rows"/>, from <paramref name="random"/> only.
    /// </summary>
    public static float[] DrawGaussian(ReadOnlySpan<float> rows, int width, int count, Random random, double ridge = 1e-6)
    {
        ArgumentNullException.ThrowIfNull(random);
        using var scope = NewDisposeScope();
        var data = Rows(rows, width);
        var (mean, covariance) = Moments(data);
        // The factor of the correlation matrix (plus the ridge) scaled back by each feature's deviation: the ridge is relative to
        // each feature's own variance, so that features of very different units keep their spread, and the matrix factored is
        // well conditioned whatever the units. A constant feature counts as of deviation 1; the clipping below keeps it constant.
        var deviation = covariance.diagonal().sqrt();
        var unit = where(deviation > Scalars.Zero, deviation, ones_like(deviation));
        var correlation = covariance / outer(unit, unit);
        using Scalar ridgeScale = ridge.ToScalar();
        var factor = linalg.cholesky(correlation.add(eye(width, dtype: ScalarType.Float64) * ridgeScale, Scalars.One)) * unit.unsqueeze(1);
        var low = data.min(0).values;
        var high = data.max(0).values;
        var noise = new double[count * width];
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        }
        var draws = tensor(noise, [count, width]).matmul(factor.T).add(mean, Scalars.One).clamp(low, high);
        return draws.to_type(ScalarType.Float32).data<float>().ToArray();
    }

    private static Tensor Rows(ReadOnlySpan<float> values, int width)
    {
        TorchRuntime.EnsureInitialized();
        if (width < 1 || values.Length == 0 || values.Length % width != 0)
        {
            throw new ArgumentException($"Expected whole rows of {width} values, got {values.Length} values.");
        }
        return tensor(values.ToArray(), [values.Length / width, width]).to_type(ScalarType.Float64);
    }

    private static (Tensor Mean, Tensor Covariance) Moments(Tensor rows)
    {
        if (rows.shape[0] < 2)
        {
            throw new ArgumentException("A covariance needs at least 2 rows.");
        }
        var mean = rows.mean([0]);
        var centred = rows - mean;
        using Scalar degreesOfFreedom = (rows.shape[0] - 1).ToScalar();
        return (mean, centred.T.matmul(centred) / degreesOfFreedom);
    }

    private static Tensor SquareRoot(Tensor symmetric)
    {
        var (values, vectors) = linalg.eigh(symmetric);
        return (vectors * values.clamp_min(Scalars.Zero).sqrt().unsqueeze(0)).matmul(vectors.T);
    }

    /// <summary>Each row's distance to its k-th nearest other row.</summary>
    private static Tensor Radii(Tensor rows, int k)
    {
        var radii = empty(rows.shape[0], dtype: ScalarType.Float64);
        for (long start = 0; start < rows.shape[0]; start += 1024)
        {
            long size = Math.Min(1024, rows.shape[0] - start);
            // The smallest distance of a row is to itself (0); its k-th nearest other row is at sorted index k.
            radii.narrow(0, start, size).copy_(cdist(rows.narrow(0, start, size), rows).sort(1).Values.select(1, k));
        }
        return radii;
    }
}
