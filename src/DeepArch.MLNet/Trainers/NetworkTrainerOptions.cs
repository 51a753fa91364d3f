namespace DeepArch.MLNet.Trainers;

/// <summary>
/// The options every DeepArch trainer shares: the label and feature columns, plus the training, scoring
/// and device options of <see cref="NetworkOptions"/>. Each trainer's nested <c>Options</c> class adds its
/// architecture's settings.
/// </summary>
public abstract class NetworkTrainerOptions : NetworkOptions
{
    /// <summary>The label column; must exist in the training data.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The feature column: <c>Single</c> or a known-size vector of <c>Single</c>.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>Checks every option, naming the first one out of range ("Options.BatchSize must be positive; got 0.").</summary>
    internal override void Validate()
    {
        CheckColumnName(nameof(LabelColumnName), LabelColumnName);
        CheckColumnName(nameof(FeatureColumnName), FeatureColumnName);
        base.Validate();
    }
}
