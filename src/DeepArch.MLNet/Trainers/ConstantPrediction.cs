using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// The training loss of the best prediction that ignores the features, with the rows' weights: what a network's loss must end
/// below to have learned anything from them (<c>NetworkEstimator.LogProgress.ConstantPrediction</c>). The epoch losses it is
/// compared with are weighted means of the rows' losses, so these are too.
/// </summary>
internal static class ConstantPrediction
{
    /// <summary>
    /// Cross-entropy of predicting the training rows' class frequencies for every row: their entropy, in nats. The targets are
    /// one class per row (a class index, or 0 and 1).
    /// </summary>
    public static (double Loss, string What)? ClassFrequencies(TrainingSet set, IReadOnlyList<int>? rows)
    {
        if (set.TargetWidth != 1 || set.Targets.Length != set.Count)
        {
            return null;
        }
        double total = 0;
        var weights = new Dictionary<float, double>();
        foreach (int r in rows ?? Enumerable.Range(0, set.Count))
        {
            double w = set.Weights?[r] ?? 1;
            total += w;
            weights[set.Targets[r]] = weights.GetValueOrDefault(set.Targets[r]) + w;
        }
        return total > 0 ? (-weights.Values.Where(w => w > 0).Sum(w => w / total * Math.Log(w / total)), "predicting the training labels' class frequencies") : null;
    }

    /// <summary>
    /// Squared error of predicting each target value's training mean for every row: the mean over the row's target values of
    /// their variances, in the units the network learns in (a standardized label's, or a forecast's own).
    /// </summary>
    public static (double Loss, string What)? Mean(TrainingSet set, IReadOnlyList<int>? rows)
    {
        int width = set.TargetWidth;
        if (width < 1 || set.Targets.Length != (long)set.Count * width)
        {
            return null;
        }
        // Two passes, the mean then the squared deviations from it: a constant label has a variance of exactly 0.
        var used = (rows ?? Enumerable.Range(0, set.Count)).ToArray();
        double total = used.Sum(r => (double)(set.Weights?[r] ?? 1));
        if (total <= 0)
        {
            return null;
        }
        var means = new double[width];
        foreach (int r in used)
        {
            double w = set.Weights?[r] ?? 1;
            for (int k = 0; k < width; k++)
            {
                means[k] += w * set.Targets[(long)r * width + k] / total;
            }
        }
        double squares = 0;
        foreach (int r in used)
        {
            double w = set.Weights?[r] ?? 1;
            for (int k = 0; k < width; k++)
            {
                double d = set.Targets[(long)r * width + k] - means[k];
                squares += w * d * d;
            }
        }
        double variance = squares / total / width;
        return (variance, width == 1 ? "predicting the training labels' mean" : "predicting each forecast value's training mean");
    }
}
