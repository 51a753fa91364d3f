using DeepArch.Trainers.Training;

namespace DeepArch.Trainers;

/// <summary>
/// Thrown when the training loss, or the validation loss after an epoch, becomes NaN or infinite; no model is returned.
/// The message says which loss, where, and what to change.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for the batch where a training loss stopped being finite.</summary>
    /// <param name="epoch">The 1-based epoch.</param>
    /// <param name="batch">The 1-based batch within the epoch.</param>
    /// <param name="loss">The loss value.</param>
    /// <param name="learningRate">The epoch's learning rate.</param>
    /// <param name="lossName">Which of the objective's named losses it was (for example <c>discriminator</c>); null for the objective's main loss.</param>
    public TrainingDivergedException(int epoch, int batch, double loss, double learningRate, string? lossName = null)
        : base($"Training diverged: the {(lossName is null ? "" : lossName + " ")}loss became {Describe(loss)} at epoch {epoch}, batch {batch} " +
               $"(learning rate {TrainingOptions.Format(learningRate)}). {TrainingAdvice}")
    {
        Epoch = epoch;
        Batch = batch;
        Loss = loss;
        LossName = lossName;
    }

    /// <summary>Creates the exception for the epoch after which the validation loss was not finite.</summary>
    /// <param name="epoch">The 1-based epoch.</param>
    /// <param name="validationLoss">The validation loss.</param>
    /// <param name="trainLoss">The epoch's mean training loss, which was finite.</param>
    /// <param name="learningRate">The epoch's learning rate.</param>
    /// <param name="trainingDataScoresFinite">
    /// Whether the network, as the epoch left it, still scores the training data with a finite loss: then the validation data holds
    /// what the network cannot score; if not, the epoch's last steps diverged (after their losses were computed) and the
    /// training advice applies.
    /// </param>
    public TrainingDivergedException(int epoch, double validationLoss, double trainLoss, double learningRate, bool trainingDataScoresFinite)
        : base(trainingDataScoresFinite
            ? $"Training diverged: the validation loss became {Describe(validationLoss)} at epoch {epoch}, while the training loss " +
              $"stayed finite ({TrainingOptions.Format(trainLoss)}). The validation data holds values the trained network cannot score: " +
              "check it for extreme values (features far outside the training data's range, such as 1e30), and standardize it the same " +
              "way as the training data (for example with a NormalizeMeanVariance fitted on the training data)."
            : $"Training diverged: the network's weights diverged in the last steps of epoch {epoch} (learning rate " +
              $"{TrainingOptions.Format(learningRate)}): its loss after the epoch is {Describe(validationLoss)} on the validation data " +
              $"and not finite on the training data either. {TrainingAdvice}")
    {
        Epoch = epoch;
        Loss = validationLoss;
        IsValidationLoss = true;
    }

    /// <summary>The 1-based epoch.</summary>
    public int Epoch { get; }

    /// <summary>The 1-based batch within the epoch; 0 when it was the validation loss (<see cref="IsValidationLoss"/>).</summary>
    public int Batch { get; }

    /// <summary>The offending loss value.</summary>
    public double Loss { get; }

    /// <summary>Which named loss of the objective it was; null for its main loss.</summary>
    public string? LossName { get; }

    /// <summary>Whether it was the validation loss, computed after the epoch, that stopped being finite (rather than a training batch's loss).</summary>
    public bool IsValidationLoss { get; }

    private const string TrainingAdvice = "Lower the learning rate, standardize the features (for example with NormalizeMeanVariance), " +
                                          "check the data for extreme values, or add BatchNorm1d.";

    private static string Describe(double loss) => double.IsNaN(loss) ? "NaN" : "infinite";
}
