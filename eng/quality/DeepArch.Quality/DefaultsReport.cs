using System.Globalization;
using System.Text;
using static DeepArch.Quality.DefaultsBenchmark;

namespace DeepArch.Quality;

/// <summary>docs/quality.md: a summary of DeepArch's defaults against the best ML.NET trainer per task, a table per task, and a chart.</summary>
internal static class DefaultsReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>One DeepArch model's standing on a task: its mean of the ranking metric against the best ML.NET trainer's.</summary>
    public sealed record Standing(DataTask DataTask, string Model, double Mean, double Spread, string Best, double BestMean, double? ScikitLearn)
    {
        private bool HigherIsBetter => Metrics(DataTask.Kind)[0].HigherIsBetter;

        public double Ratio => Mean / BestMean;

        public bool AtLeastAsGood => HigherIsBetter ? Mean >= BestMean : Mean <= BestMean;
    }

    public static List<Standing> Standings(IReadOnlyList<DataTask> tasks, IReadOnlyList<Result> results)
    {
        var standings = new List<Standing>();
        foreach (var task in tasks)
        {
            string metric = Metrics(task.Kind)[0].Name;
            var means = results.Where(r => r.TaskId == task.Id).GroupBy(r => (r.Model, r.Family))
                .ToDictionary(g => g.Key, g => (Mean: g.Average(r => r.Metrics[metric]), Spread: StandardDeviation(g.Select(r => r.Metrics[metric]))));
            var best = means.Where(m => m.Key.Family == Family.MLNet).MaxBy(m => m.Value.Mean);
            double? sklearn = means.Where(m => m.Key.Family == Family.ScikitLearn).Select(m => (double?)m.Value.Mean).FirstOrDefault();
            foreach (var (key, value) in means.Where(m => m.Key.Family == Family.DeepArch))
            {
                standings.Add(new Standing(task, key.Model, value.Mean, value.Spread, best.Key.Model, best.Value.Mean, sklearn));
            }
        }
        return standings;
    }

    public static string Write(string command, string commit, string machine, string load, TimeSpan elapsed, DefaultsBenchmark benchmark,
        IReadOnlyList<DataTask> tasks, IReadOnlyList<Result> results, string? chartPath)
    {
        var md = new StringBuilder();
        RunInfo.AppendHeader(md, "DeepArch's defaults against ML.NET's trainers", command, commit, machine, load, elapsed, benchmark.Seeds,
            "seed s splits the data and seeds a fresh MLContext for each model (every model of a seed trains from the same draw); every figure is the mean over the seeds, ± their standard deviation");
        md.AppendLine("Every DeepArch estimator is called as a new user calls it, through its simple catalog overload with column names only;");
        md.AppendLine("ML.NET's trainers likewise, with `NormalizeMeanVariance` before the linear ones (SDCA, L-BFGS), as their docs ask;");
        md.AppendLine("scikit-learn's `MLPClassifier`/`MLPRegressor` after `StandardScaler` and `IsolationForest` as they are, with their defaults");
        md.AppendLine("(eng/quality/reference/sklearn_quality.py). Classes are split 70/30 per class, the diabetes rows 70/30 at random, the CO2");
        md.AppendLine("windows by time. Fit times are wall time on a shared machine, for scale only. eng/quality/README.md says how to run it.");
        md.AppendLine();
        if (benchmark.ScikitLearnMissing is { } missing)
        {
            md.AppendLine($"scikit-learn did not run: {missing}.").AppendLine();
        }

        var standings = Standings(tasks, results);
        md.AppendLine("## Summary: each DeepArch default against the best ML.NET trainer on the task").AppendLine();
        md.AppendLine("| task | DeepArch estimator | metric | DeepArch | best ML.NET trainer | ML.NET | ratio | scikit-learn | |");
        md.AppendLine("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |");
        foreach (var s in standings)
        {
            string metric = Metrics(s.DataTask.Kind)[0].Name;
            md.AppendLine(Invariant, $"| {s.DataTask.Id} | {s.Model} | {metric} | {s.Mean:F4} ± {s.Spread:F4} | {s.Best} | {s.BestMean:F4} | {s.Ratio:F3} | " +
                $"{(s.ScikitLearn is { } k ? k.ToString("F4", Invariant) : "")} | {(s.AtLeastAsGood ? "at least as good" : "loses")} |");
        }
        md.AppendLine();
        int losing = standings.Count(s => !s.AtLeastAsGood);
        md.AppendLine(Invariant, $"{standings.Count - losing} of {standings.Count} DeepArch defaults are at least as good as the best ML.NET trainer on their task (mean over the seeds); {losing} lose.");
        if (losing > 0)
        {
            // Why each default still loses, and which option wins instead, comes from the presets studies (eng/quality presets), which the README sums up.
            md.AppendLine("Why each of them loses, and which option wins instead: the README's section \"Quality of the defaults\" (\"Where a default still loses\"), " +
                "from the presets studies of the same splits and seeds (docs/quality-presets-*.md, `eng/quality` `presets`).");
        }
        md.AppendLine();
        if (chartPath is not null)
        {
            md.AppendLine($"![DeepArch's defaults: the ranking metric over the best ML.NET trainer's, per task]({chartPath})").AppendLine();
        }

        foreach (var task in tasks)
        {
            var metrics = Metrics(task.Kind);
            md.AppendLine($"## {task.Id}: {task.Title}").AppendLine();
            md.AppendLine("| model | by | " + string.Join(" | ", metrics.Select(m => $"{m.Name} ({(m.HigherIsBetter ? "higher" : "lower")} is better)")) + " | Fit (s) |");
            md.AppendLine("| --- | --- | " + string.Join(" | ", metrics.Select(_ => "---:")) + " | ---: |");
            foreach (var group in results.Where(r => r.TaskId == task.Id).GroupBy(r => (r.Model, r.Family)))
            {
                string by = group.Key.Family switch { Family.DeepArch => "DeepArch", Family.MLNet => "ML.NET", _ => "scikit-learn" };
                string cells = MeanCells(group, metrics);
                string seconds = group.Key.Family == Family.ScikitLearn ? "" : group.Average(r => r.FitSeconds).ToString("F1", Invariant);
                md.AppendLine($"| {group.Key.Model} | {by} | {cells} | {seconds} |");
            }
            md.AppendLine();
        }
        return md.ToString();
    }

    /// <summary>One table cell per metric: the mean over the results ± their standard deviation.</summary>
    internal static string MeanCells(IEnumerable<Result> results, IEnumerable<(string Name, bool HigherIsBetter)> metrics)
        => string.Join(" | ", metrics.Select(m =>
        {
            var values = results.Select(r => r.Metrics[m.Name]).ToArray();
            return string.Create(Invariant, $"{values.Average():F4} ± {StandardDeviation(values):F4}");
        }));

    /// <summary>A horizontal bar per DeepArch default: its ranking metric over the best ML.NET trainer's, with a line at 1.</summary>
    public static string Chart(IReadOnlyList<Standing> standings)
    {
        const int Left = 330, Width = 420, Bar = 18, Gap = 8, Top = 30;
        double max = Math.Max(1.1, standings.Max(s => s.Ratio) + 0.05);
        double X(double ratio) => Left + Width * Math.Max(0, ratio) / max;
        int height = Top + standings.Count * (Bar + Gap) + 30;
        var svg = new StringBuilder();
        svg.AppendLine(Invariant, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Left + Width + 60}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(Invariant, $"<text x=\"{Left}\" y=\"18\">ranking metric, DeepArch default / best ML.NET trainer (mean over seeds)</text>");
        for (int i = 0; i < standings.Count; i++)
        {
            var s = standings[i];
            int y = Top + i * (Bar + Gap);
            string colour = s.AtLeastAsGood ? "#2b8a3e" : "#c92a2a";
            svg.AppendLine(Invariant, $"<text x=\"{Left - 8}\" y=\"{y + 13}\" text-anchor=\"end\">{Escape($"{s.DataTask.Id}: {s.Model}")}</text>");
            svg.AppendLine(Invariant, $"<rect x=\"{Left}\" y=\"{y}\" width=\"{X(s.Ratio) - Left:F1}\" height=\"{Bar}\" fill=\"{colour}\"/>");
            svg.AppendLine(Invariant, $"<text x=\"{X(s.Ratio) + 4:F1}\" y=\"{y + 13}\">{s.Ratio:F3}</text>");
        }
        int bottom = Top + standings.Count * (Bar + Gap);
        svg.AppendLine(Invariant, $"<line x1=\"{X(1):F1}\" y1=\"{Top - 4}\" x2=\"{X(1):F1}\" y2=\"{bottom}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>");
        foreach (double tick in new[] { 0, 0.25, 0.5, 0.75, 1.0 })
        {
            svg.AppendLine(Invariant, $"<text x=\"{X(tick):F1}\" y=\"{bottom + 16}\" text-anchor=\"middle\">{tick:0.##}</text>");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>The sample standard deviation (0 for fewer than two values).</summary>
    internal static double StandardDeviation(IEnumerable<double> values)
    {
        var array = values.ToArray();
        if (array.Length < 2)
        {
            return 0;
        }
        double mean = array.Average();
        return Math.Sqrt(array.Sum(v => (v - mean) * (v - mean)) / (array.Length - 1));
    }
}
