using System.Globalization;
using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Batch normalization in training mode normalizes each batch with its own statistics and updates its running
/// variance with the unbiased estimate (n - 1 in the denominator), which is NaN for a batch of one row: the
/// network it leaves behind scores NaN for every row. These checks find batch normalization anywhere in a
/// network (chains, autoencoder halves) and reject training that would hand it a batch of one row.
/// </summary>
public static class BatchNormalization
{
    /// <summary>The batch-normalization layer kinds in <paramref name="architecture"/>, e.g. <c>["BatchNorm1d"]</c>; empty when it has none.</summary>
    public static IReadOnlyList<string> LayerKinds(LayerSpec architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return Flatten(architecture).Where(l => l is BatchNorm).Select(l => l.Describe()).Distinct().ToArray();
    }

    /// <summary>Why training <paramref name="architecture"/> would give batch normalization a batch of one row, or null when it would not.</summary>
    /// <param name="architecture">The network's layers.</param>
    /// <param name="rows">The rows given for training, before any validation split.</param>
    /// <param name="heldOut">How many of <paramref name="rows"/> the validation split holds out (0 without a split).</param>
    /// <param name="validationFraction">The fraction that held them out.</param>
    /// <param name="batchSize">Rows per training batch.</param>
    /// <param name="subject">What the message calls the batch normalization, e.g. <c>Options.BatchNorm</c>.</param>
    /// <param name="optionPrefix">What precedes option names in the message: <c>Options.</c>, or empty for <see cref="TrainingOptions"/>.</param>
    /// <remarks>
    /// With at least two rows and batches of at least two, no batch has one row: the training loop merges a last
    /// batch of one row into the batch before it.
    /// </remarks>
    internal static string? OneRowBatches(LayerSpec architecture, int rows, int heldOut, double validationFraction, int batchSize,
        string subject, string optionPrefix)
    {
        if (LayerKinds(architecture).Count == 0)
        {
            return null;
        }
        if (batchSize < 2)
        {
            return $"{subject} needs at least 2 rows per batch, but {optionPrefix}BatchSize is {batchSize}: every batch would be one row and " +
                   $"its statistics NaN. Set {optionPrefix}BatchSize to 2 or more, or train without batch normalization.";
        }
        int training = rows - heldOut;
        if (training >= 2)
        {
            return null;
        }
        string split = heldOut > 0
            ? $" ({optionPrefix}ValidationFraction {TrainingOptions.Format(validationFraction)} held out {heldOut} of {rows})"
            : "";
        string lower = heldOut > 0 ? $", lower {optionPrefix}ValidationFraction" : "";
        return $"{subject} needs at least 2 training rows per batch; the training set has {training.ToString(CultureInfo.InvariantCulture)} " +
               $"row{(training == 1 ? "" : "s")}{split}. Train on more rows{lower}, or train without batch normalization.";
    }

    private static IEnumerable<LayerSpec> Flatten(LayerSpec spec) => spec.Sublayers().SelectMany(Flatten).Prepend(spec);
}
