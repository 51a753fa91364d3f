namespace DeepArch.Trainers.Training;

/// <summary>
/// Hooks into a training run. Every method does nothing by default; override the ones you need.
/// Callbacks run on the training thread between batches, so keep them short.
/// </summary>
public abstract class TrainingCallback
{
    /// <summary>Called once before the first epoch.</summary>
    public virtual void OnTrainingBegin(TrainingOptions options)
    {
    }

    /// <summary>Called before each epoch (1-based).</summary>
    public virtual void OnEpochBegin(int epoch)
    {
    }

    /// <summary>Called after each batch with the batch's mean loss.</summary>
    public virtual void OnBatchEnd(int epoch, int batch, double loss)
    {
    }

    /// <summary>Called after each epoch, after validation.</summary>
    public virtual void OnEpochEnd(EpochReport report)
    {
    }

    /// <summary>Called once after training, with the full history.</summary>
    public virtual void OnTrainingEnd(TrainingHistory history)
    {
    }

    /// <summary>Called with a note on how the run trains, before the first epoch: for example, that each batch's two halves train at once on two threads.</summary>
    public virtual void OnInfo(string message)
    {
    }

    /// <summary>Called when the run does something the caller may not expect, such as resuming a checkpoint of more epochs than asked for.</summary>
    public virtual void OnWarning(string message)
    {
    }
}
