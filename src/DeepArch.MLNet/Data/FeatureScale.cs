using System.Globalization;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// The warning a network that reads its features as they come (every DeepArch network but the MLP with
/// <c>StandardizeFeatures</c>, its default, the GAN, which scales them, and sequence-to-sequence, which reads tokens) gives
/// when the training features are far from a common scale. Outside probes found such features quietly ruin those networks:
/// the autoencoder detector below chance on raw wine (proline near 1,000 beside values near 1; ROC AUC 0.478, 0.984 after
/// NormalizeMinMax), a constant feature of 10,000 turning it upside down, a CNN or LSTM on values times 1e-4 predicting one
/// class; none of it said anything. Normalized and one-hot features never warn (no slot above <see cref="LargeValue"/>), nor do
/// pixels of 0 to 255 (no slot far above the others' spread) or the word counts of documents of a few hundred words.
/// </summary>
internal static class FeatureScale
{
    /// <summary>How many times the median slot's spread the largest slot's size may be before it is a warning.</summary>
    public const double MaxDisparity = 100;

    /// <summary>
    /// A slot smaller than this (root mean square) never warns: normalized and one-hot features and the word counts of documents
    /// of a few hundred words stay below it (a probe's counts of 54 warned under a threshold of 10, and the network on them did well).
    /// </summary>
    public const double LargeValue = 100;

    /// <summary>Below this, the rows' size (the root of their mean squared norm) is tiny: the network's initial weights dwarf the differences between rows.</summary>
    public const double TinyScale = 1e-2;

    /// <summary>The rows the statistics read at most, evenly spaced: enough to judge a scale, and a pass that costs little beside training.</summary>
    public const int SampleRows = 4_096;

    /// <summary>
    /// The warning for the in-memory training features of <paramref name="set"/> (the rows at <paramref name="rows"/>, all when
    /// null; at most <see cref="SampleRows"/> of them, evenly spaced), or null when they are on a workable scale, streamed (not
    /// in memory), or variable-length sequences (padded).
    /// </summary>
    /// <param name="set">The training rows as the network reads them.</param>
    /// <param name="rows">The rows that train (those a validation split leaves), or null for all.</param>
    /// <param name="column">The feature column's name, for the message.</param>
    /// <param name="layout">The sequence layout of a recurrent network's column, if any.</param>
    /// <param name="skip">Values at the start of each row that are not the column's (an encoder–decoder's step count).</param>
    public static string? Warning(TrainingSet set, IReadOnlyList<int>? rows, string column, SequenceLayout? layout, int skip = 0)
    {
        if (set.Rows is not null || layout is { VariableLength: true } || set.Count == 0 || set.Features.Length <= (long)skip * set.Count || rows is { Count: 0 })
        {
            return null;
        }
        int width = set.Features.Length / set.Count;
        int count = rows?.Count ?? set.Count;
        var sample = count <= SampleRows ? rows : Enumerable.Range(0, SampleRows).Select(k => rows?[(int)((long)k * count / SampleRows)] ?? (int)((long)k * count / SampleRows)).ToArray();
        // Welford's moments in double precision: a constant slot far from 0 keeps a spread of exactly 0.
        var (mean, deviation) = DeepArch.Trainers.Layers.Normalization.Moments(set.Features, width, sample);
        (mean, deviation) = (mean[skip..], deviation[skip..]);
        width -= skip;
        var rms = Enumerable.Range(0, width).Select(j => Math.Sqrt(mean[j] * mean[j] + deviation[j] * deviation[j])).ToArray();
        const string Fix = "The network reads its features as they come: put ml.Transforms.NormalizeMeanVariance (or NormalizeMinMax) before it in the pipeline.";
        double size = Math.Sqrt(rms.Sum(r => r * r));
        if (size > 0 && size < TinyScale)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"every value of feature column '{column}' is tiny (the rows' root mean square norm is {size:G3}): the rows differ by less than the " +
                $"network's initial weights can tell apart, and it may learn nothing. {Fix}");
        }
        int largest = Array.IndexOf(rms, rms.Max());
        // The spread of the slots that vary (a constant one, to rounding, does not).
        var spreads = Enumerable.Range(0, width).Where(j => deviation[j] > 1e-6 * Math.Abs(mean[j])).Select(j => deviation[j]).Order().ToArray();
        if (rms[largest] <= LargeValue || spreads.Length == 0)
        {
            return null;
        }
        double median = spreads[spreads.Length / 2];
        double disparity = rms[largest] / median;
        return disparity > MaxDisparity
            ? string.Create(CultureInfo.InvariantCulture,
                $"slot {largest} of feature column '{column}' has a root mean square of {rms[largest]:G3}, {disparity:N0} times the median spread of the " +
                $"slots that vary ({median:G3}): a large offset, a large constant, or a feature in other units can dominate what the network learns (and, " +
                $"in a detector, its score) so that the other features barely count. If the model does worse than you expect, that is the first thing to fix. {Fix}")
            : null;
    }
}
