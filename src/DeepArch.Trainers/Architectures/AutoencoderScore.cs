using DeepArch.Trainers.Architectures;

namespace DeepArch.Trainers;

/// <summary>What the <see cref="AutoencoderScoringExport.ScoreOutput"/> output of a scoring graph measures.</summary>
public enum AutoencoderScore
{
    /// <summary>The mean over features of the (optionally standardized) squared reconstruction error.</summary>
    ReconstructionError,
    /// <summary>
    /// Variational autoencoders only: the sum over features of the (optionally standardized) squared
    /// reconstruction error of the mean code, plus the KL divergence of the encoder's Gaussian from N(0, I)
    /// (the loss <see cref="Training.VariationalObjective"/> minimizes with beta = 1).
    /// </summary>
    NegativeElbo,
}
