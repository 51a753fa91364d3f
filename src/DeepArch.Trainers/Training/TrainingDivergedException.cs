namespace DeepArch.Trainers.Training;

/// <summary>Thrown when the training loss becomes NaN or infinite; no model is returned.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for the batch where the loss stopped being finite.</summary>
    public TrainingDivergedException(int epoch, int batch, double loss, double learningRate)
        : base($"Training diverged: the loss became {(double.IsNaN(loss) ? "NaN" : "infinite")} at epoch {epoch}, batch {batch} " +
               $"(learning rate {TrainingOptions.Format(learningRate)}). Lower the learning rate, standardize the features " +
               "(for example with NormalizeMeanVariance), check the data for extreme values, or add BatchNorm1d.")
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
    }

    /// <summary>The 1-based epoch.</summary>
    public int Epoch { get; }

    /// <summary>The 1-based batch within the epoch.</summary>
    public int Batch { get; }

    /// <summary>The offending loss value.</summary>
    public double Loss { get; }
}
