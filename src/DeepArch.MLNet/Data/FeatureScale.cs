using System.Globalization;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// The warning a network that reads its features as they come (every DeepArch network but the MLP, which standardizes them,
/// the GAN, which scales them, and sequence-to-sequence, which reads tokens) gives when the training features are far from a
/// common scale. Outside probes found such features quietly ruin those networks: the autoencoder detector below chance on
/// raw wine (proline near 1,000 beside values near 1; ROC AUC 0.478, 0.984 after NormalizeMinMax), a constant feature of
/// 10,000 turning it upside down, a CNN or LSTM on values times 1e-4 predicting one class; none of it said anything.
/// </summary>
internal static class FeatureScale
{
    /// <summary>How many times the median value's spread one value's size may be before it is a warning.</summary>
    public const double MaxDisparity = 100;

    /// <summary>Below this, the largest value's root mean square is tiny: the network's initial weights dwarf the differences between rows.</summary>
    public const double TinyScale = 1e-2;

    /// <summary>
    /// The warning for the in-memory training features of <paramref name="set"/> (the rows at <paramref name="rows"/>, all when
    /// null), or null when they are on a workable scale, streamed (not in memory), or variable-length sequences (padded).
    /// </summary>
    public static string? Warning(TrainingSet set, IReadOnlyList<int>? rows, string column, SequenceLayout? layout)
    {
        if (set.Rows is not null || layout is { VariableLength: true } || set.Count == 0 || set.Features.Length == 0)
        {
            return null;
        }
        int width = set.Features.Length / set.Count;
        var sums = new double[width];
        var squares = new double[width];
        int count = rows?.Count ?? set.Count;
        var features = set.Features;
        for (int i = 0; i < count; i++)
        {
            int offset = (rows?[i] ?? i) * width;
            for (int j = 0; j < width; j++)
            {
                double x = features[offset + j];
                sums[j] += x;
                squares[j] += x * x;
            }
        }
        if (count == 0)
        {
            return null;
        }
        var rms = squares.Select(s => Math.Sqrt(s / count)).ToArray();
        var spreads = Enumerable.Range(0, width).Select(j => Math.Sqrt(Math.Max(0, squares[j] / count - (sums[j] / count) * (sums[j] / count))))
            .Where(s => s > 0).Order().ToArray();
        int largest = Array.IndexOf(rms, rms.Max());
        const string Fix = "The network reads its features as they come: put ml.Transforms.NormalizeMeanVariance (or NormalizeMinMax) before it in the pipeline.";
        if (rms[largest] < TinyScale && rms[largest] > 0)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"every value of feature column '{column}' is tiny (the largest root mean square of a slot is {rms[largest]:G3}): the rows differ by less " +
                $"than the network's initial weights can tell apart, and it may learn nothing. {Fix}");
        }
        if (spreads.Length == 0)
        {
            return null;
        }
        double median = spreads[spreads.Length / 2];
        double disparity = rms[largest] / median;
        return disparity > MaxDisparity
            ? string.Create(CultureInfo.InvariantCulture,
                $"slot {largest} of feature column '{column}' has a root mean square of {rms[largest]:G3}, {disparity:N0} times the spread of its median slot " +
                $"({median:G3}): a large offset, a large constant, or a feature in other units dominates what the network learns (and, in a detector, its " +
                $"score), and the other features barely count. {Fix}")
            : null;
    }
}
