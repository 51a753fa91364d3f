using DeepArch.Trainers.Training;

namespace DeepArch.Trainers;

/// <summary>What one epoch achieved.</summary>
/// <param name="Epoch">The 1-based epoch number.</param>
/// <param name="TrainLoss">The mean training loss over the epoch's batches (weighted by batch size).</param>
/// <param name="ValidationLoss">The loss on the validation data after the epoch, when there is validation data.</param>
/// <param name="LearningRate">The learning rate used in the epoch.</param>
/// <param name="Elapsed">Wall-clock time since training started.</param>
/// <param name="Losses">Every named loss of the objective, each the mean over the epoch's batches (<see cref="TrainLoss"/> is the first); null in histories saved before they were recorded.</param>
/// <param name="ValidationLosses">Every named loss on the validation data after the epoch, when there is validation data.</param>
public sealed record EpochReport(int Epoch, double TrainLoss, double? ValidationLoss, double LearningRate, TimeSpan Elapsed,
    IReadOnlyDictionary<string, double>? Losses = null, IReadOnlyDictionary<string, double>? ValidationLosses = null)
{
    /// <summary>Equal when every figure is, the named losses compared by content (a report read back from a saved model equals the original).</summary>
    public bool Equals(EpochReport? other)
        => other is not null && Epoch == other.Epoch && TrainLoss.Equals(other.TrainLoss) && Nullable.Equals(ValidationLoss, other.ValidationLoss)
            && LearningRate.Equals(other.LearningRate) && Elapsed == other.Elapsed && SameLosses(Losses, other.Losses) && SameLosses(ValidationLosses, other.ValidationLosses);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Epoch, TrainLoss, ValidationLoss, LearningRate, Elapsed);

    private static bool SameLosses(IReadOnlyDictionary<string, double>? a, IReadOnlyDictionary<string, double>? b)
        => a is null || b is null ? a is null && b is null : a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out double v) && v.Equals(p.Value));
}

/// <summary>Why training ended.</summary>
public enum StopReason
{
    /// <summary>All epochs ran.</summary>
    Completed,
    /// <summary>Early stopping: the validation loss stopped improving; the best weights were restored.</summary>
    EarlyStopped,
}

/// <summary>The per-epoch record of a training run, kept on the fitted model (and saved with it).</summary>
/// <param name="Epochs">One report per epoch that ran.</param>
/// <param name="BestEpoch">The 1-based epoch whose weights the model holds: the best validation loss with early stopping, otherwise the last epoch.</param>
/// <param name="StopReason">Why training ended.</param>
public sealed record TrainingHistory(IReadOnlyList<EpochReport> Epochs, int BestEpoch, StopReason StopReason)
{
    /// <summary>The report of the epoch whose weights the model holds.</summary>
    public EpochReport Best => Epochs[BestEpoch - 1];
}
