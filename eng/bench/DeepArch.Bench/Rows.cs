using Microsoft.ML.Data;

namespace DeepArch.Bench;

/// <summary>Input rows: the feature vector.</summary>
public sealed class FeatureRow
{
    [VectorType(ScoringShapes.FeatureSize)]
    public float[] Features { get; set; } = [];
}

/// <summary>Training rows: features and a class 0..9 (made a key with MapValueToKey).</summary>
public sealed class TrainRow
{
    [VectorType(ScoringShapes.FeatureSize)]
    public float[] Features { get; set; } = [];

    public uint Label { get; set; }
}

/// <summary>PredictionEngine output: the class probabilities.</summary>
public sealed class ScoreRow
{
    public float[] Score { get; set; } = [];
}

internal static class ScoringShapes
{
    public const int FeatureSize = 784;
    public const int Classes = 10;
}
