
namespace DeepArch.MLNet;

/// <summary>The standard output column names of ML.NET's trainers, which DeepArch's trainers add too.</summary>
internal static class ColumnNames
{
    public const string Score = "Score";
    public const string Probability = "Probability";
    public const string PredictedLabel = "PredictedLabel";
}
