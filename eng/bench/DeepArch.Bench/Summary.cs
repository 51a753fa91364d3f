using System.Text.Json;

namespace DeepArch.Bench;

/// <summary>One headline comparison of a run: DeepArch's figure, the comparison's figure and their ratio (measured side by side).</summary>
/// <param name="Section">Scoring, Training, Memory, Threads...</param>
/// <param name="Workload">What was measured.</param>
/// <param name="DeepArch">DeepArch's figure with its unit.</param>
/// <param name="Comparison">What DeepArch is compared with.</param>
/// <param name="ComparisonFigure">The comparison's figure with its unit.</param>
/// <param name="Ratio">DeepArch / comparison (speed), or the ratio the target is about.</param>
/// <param name="Target">The ratio the issue asks for, if any.</param>
/// <param name="TargetText">How the target reads ("0.85x", "&lt;= 1.2x").</param>
/// <param name="LowerIsBetter">True when the target is a ceiling (memory growth), not a floor.</param>
internal sealed record SummaryRow(string Section, string Workload, string DeepArch, string Comparison, string ComparisonFigure,
    double Ratio, double? Target, string TargetText, bool LowerIsBetter = false)
{
    /// <summary>"yes", "NO", or "" when there is no target.</summary>
    public string Met => Target is not { } t || double.IsNaN(Ratio) ? "" : (LowerIsBetter ? Ratio <= t : Ratio >= t) ? "yes" : "NO";
}

/// <summary>One benchmark workload: its Markdown report, whether its contenders agreed, and its headline ratios.</summary>
internal interface IWorkload
{
    /// <summary>Runs the workload; returns its report and false when contenders that compute the same values disagree.</summary>
    (string Report, bool Ok) Run();

    /// <summary>The headline ratios of the run, for docs/performance.md (filled by <see cref="Run"/>).</summary>
    List<SummaryRow> Summary { get; }
}

/// <summary>Reads and writes the summary rows a workload leaves for the report (--summary PATH).</summary>
internal static class SummaryFile
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Write(string path, IEnumerable<SummaryRow> rows)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        File.WriteAllText(path, JsonSerializer.Serialize(rows.ToList(), Options));
    }

    public static List<SummaryRow> Read(string path) => JsonSerializer.Deserialize<List<SummaryRow>>(File.ReadAllText(path), Options) ?? [];
}
