using DeepArch.Trainers.Architectures;

namespace DeepArch.Trainers;

/// <summary>What the <see cref="ForecasterScoringExport.ScoreOutput"/> of a forecaster's scoring graph measures.</summary>
public enum ForecastScore
{
    /// <summary>The mean squared error of the forecast of the window's last steps against their actual values.</summary>
    PredictionError,

    /// <summary>
    /// The predictive variance under Monte-Carlo dropout: the head runs several times, each with a different dropout mask
    /// on the recurrent summary, and the score is the variance of those forecasts, averaged over the forecast values.
    /// It grows where the network is unsure, with or without the true future values.
    /// </summary>
    PredictiveVariance,

    /// <summary>
    /// One-step-ahead errors over the whole window: a network that predicts every step from the steps before it (many-to-many,
    /// <see cref="ForecasterScoringExport.ExportStepwiseScoringOnnx"/>); the score is the largest squared error of a step, so
    /// that a fault at any step of the window raises it, not only at its end.
    /// </summary>
    StepwisePredictionError,
}
