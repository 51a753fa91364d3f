
namespace DeepArch.MLNet;

/// <summary>What an anomaly detector does at scoring with a row whose features hold NaN (a missing value) or infinity.</summary>
/// <remarks>
/// Such a row has no reconstruction or forecast error to speak of: its <c>Score</c> comes out NaN (or infinite). Before
/// this policy existed the row was silently called normal (NaN is above no threshold).
/// </remarks>
public enum MissingValuePolicy
{
    /// <summary>The row is flagged as an anomaly (<c>PredictedLabel</c> true) with its <c>Score</c> NaN or infinite (default). The comparison is a node of the exported graph, so every load path and any ONNX runtime agree.</summary>
    FlagAsAnomaly,

    /// <summary>Scoring throws an <see cref="InvalidOperationException"/> that names the column, the row and the slot.</summary>
    Throw,
}
