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
        double total = 0;
        var sums = new double[width];
        var squares = new double[width];
        foreach (int r in rows ?? Enumerable.Range(0, set.Count))
        {
            double w = set.Weights?[r] ?? 1;
            total += w;
            for (int k = 0; k < width; k++)
            {
                double y = set.Targets[(long)r * width + k];
                sums[k] += w * y;
                squares[k] += w * y * y;
            }
        }
        if (total <= 0)
        {
            return null;
        }
        double variance = Enumerable.Range(0, width).Sum(k => Math.Max(0, squares[k] / total - (sums[k] / total) * (sums[k] / total))) / width;
        return (variance, width == 1 ? "predicting the training labels' mean" : "predicting each forecast value's training mean");
    }
}
