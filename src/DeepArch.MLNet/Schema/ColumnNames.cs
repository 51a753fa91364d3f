namespace DeepArch.MLNet.Schema;

/// <summary>The standard column names of ML.NET's trainers, which DeepArch's trainers use too.</summary>
internal static class ColumnNames
{
    public const string Features = "Features";
    public const string Label = "Label";
    public const string Score = "Score";
    public const string Probability = "Probability";
    public const string PredictedLabel = "PredictedLabel";
}
