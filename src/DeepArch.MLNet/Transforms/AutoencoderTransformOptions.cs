

namespace DeepArch.MLNet;

/// <summary>
/// The options of the autoencoder transforms (<see cref="AutoencoderFeaturizingEstimator"/>, <see cref="AutoencoderReconstructingEstimator"/>):
/// the columns, and the autoencoder's options (<see cref="AutoencoderOptions"/>, shared with the anomaly detector).
/// </summary>
public abstract class AutoencoderTransformOptions : AutoencoderOptions
{
    /// <summary>The column the transform adds (a known-size vector of <c>Single</c>); required.</summary>
    public string OutputColumnName { get; set; } = "";

    /// <summary>The column the autoencoder reads: <c>Single</c> or a known-size vector of <c>Single</c>; null (default) means <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>The input column's name, <see cref="InputColumnName"/> or else <see cref="OutputColumnName"/>.</summary>
    internal string InputColumn => InputColumnName ?? OutputColumnName;

    internal override void Validate()
    {
        CheckColumnName(nameof(OutputColumnName), OutputColumnName);
        Check(InputColumnName is null || !string.IsNullOrWhiteSpace(InputColumnName), nameof(InputColumnName), $"'{InputColumnName}'", "must name a column, or be null for the output column");
        base.Validate();
    }
}
