using System.Globalization;
using System.Text;

namespace DeepArch.Quality;

/// <summary>The Markdown report of the <c>autoencoder-defaults</c> verb.</summary>
internal static class AutoencoderDefaultsReport
{
    public static string Write(string command, string commit, string machine, string load, TimeSpan elapsed, AutoencoderDefaults experiment,
        IReadOnlyList<SharedDefaults.Row> defaults, IReadOnlyList<(Study Study, IReadOnlyList<SettingResult> Results)> studies,
        (List<double> Macro, List<double> Micro) rawPixels)
    {
        var md = new StringBuilder();
        var seeds = experiment.Seeds;
        RunInfo.AppendHeader(md, "Autoencoder defaults on the digits", command, commit, machine, load, elapsed, seeds, "the MLContext seed and Options.Seed; TrainingThreads = 1");

        md.AppendLine("## Shared options whose defaults differ").AppendLine();
        md.AppendLine("| option | detector Options | detector simple overload | transforms Options | FeaturizeByAutoencoder simple overload |");
        md.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var row in defaults.Where(r => r.Differs))
        {
            md.AppendLine($"| {row.Option} | {row.Detector} | {row.DetectorSimple} | {row.Transform} | {row.TransformSimple} |");
        }
        md.AppendLine().AppendLine("Equal in all four: " + string.Join(", ", defaults.Where(r => !r.Differs).Select(r => $"{r.Option} ({r.Detector})")) + ".");
        md.AppendLine("Only the transforms have CodeActivation (null: Identity, or Sigmoid when SparsityWeight > 0); the detector builds the same code activation without the option.");
        md.AppendLine();

        md.AppendLine("## Setup").AppendLine();
        md.AppendLine($"data/digits.csv, pixels divided by 16, split 70/30 stratified by digit (seed 1): {experiment.TrainCount} train, {experiment.TestCount} test rows.");
        md.AppendLine("Every option not named is at its default.").AppendLine();
        md.AppendLine("- Anomaly detection: `AnomalyDetection.Trainers.Autoencoder(options)` trained on the train rows of the normal digits; ROC AUC of");
        md.AppendLine("  `AnomalyDetection.Evaluate` on the test rows of the normal digits (0) and of the anomalous one (1). Splits: " + string.Join("; ",
            AutoencoderDefaults.Splits.Select((s, i) => $"{s.Name} ({experiment.SplitRows[i].Train.Length} train, " +
            $"{experiment.SplitRows[i].Test.Count(r => r.Label == 0)} normal and {experiment.SplitRows[i].Test.Count(r => r.Label == 1)} anomalous test rows)")) + ".");
        md.AppendLine("- Feature extraction: `Transforms.FeaturizeByAutoencoder(options)` fitted on the train rows, then `LbfgsMaximumEntropy` (default options)");
        md.AppendLine("  on the code, trained on the train rows, macro and micro accuracy on the test rows; also on the code after `NormalizeMinMax`,");
        md.AppendLine("  which takes the code's scale out of the comparison; on the test codes, the mean absolute value and Hoyer's sparsity");
        md.AppendLine("  (√k - ‖h‖₁/‖h‖₂) / (√k - 1) per row, averaged: 0 when all k units are equally active, 1 when one is, whatever the scale.");
        md.AppendLine("- Each cell: mean ± standard deviation (n - 1) over the seeds. \"AUC, mean\" averages the splits per seed first.").AppendLine();

        foreach (var (study, results) in studies)
        {
            md.AppendLine($"## {study.Title}").AppendLine().AppendLine(study.Conditions + ".").AppendLine();
            md.Append($"| {study.Option} | default of | ").Append(string.Join(" | ", AutoencoderDefaults.Splits.Select(s => $"AUC {s.Name}")));
            md.AppendLine(" | AUC, mean | macro acc. (code) | micro acc. (code) | macro acc. (min-max code) | mean abs code | code sparsity |");
            md.AppendLine("| --- | --- |" + string.Concat(Enumerable.Repeat(" --- |", AutoencoderDefaults.Splits.Length + 6)));
            foreach (var result in results)
            {
                md.Append($"| {result.Setting.Value} | {DefaultOf(result.Setting, defaults)} | ").Append(string.Join(" | ", result.Auc.Select(a => MeanSd(a))));
                md.AppendLine($" | {MeanSd(MeanAuc(result))} | {MeanSd(result.MacroAccuracy)} | {MeanSd(result.MicroAccuracy)} | {MeanSd(result.ScaledMacroAccuracy)} | {MeanSd(result.MeanAbsCode, "F3")} | {MeanSd(result.CodeSparsity, "F3")} |");
            }
            var reference = results[0];
            md.AppendLine().AppendLine($"Paired by seed against {study.Option} = {reference.Setting.Value}: mean difference ± its standard error (sd / √n), and the seeds where it is above 0.").AppendLine();
            md.AppendLine($"| {study.Option} | Δ AUC, mean | Δ macro acc. (code) | Δ macro acc. (min-max code) |").AppendLine("| --- | --- | --- | --- |");
            foreach (var result in results.Skip(1))
            {
                md.AppendLine($"| {result.Setting.Value} | {Paired(MeanAuc(result), MeanAuc(reference))} | {Paired(result.MacroAccuracy, reference.MacroAccuracy)} | " +
                    $"{Paired(result.ScaledMacroAccuracy, reference.ScaledMacroAccuracy)} |");
            }
            md.AppendLine();
        }

        md.AppendLine("## The classifier on the raw pixels, for scale").AppendLine();
        md.AppendLine("| input | macro acc. | micro acc. |").AppendLine("| --- | --- | --- |");
        md.AppendLine($"| 64 pixels / 16 | {MeanSd(rawPixels.Macro)} | {MeanSd(rawPixels.Micro)} |");
        return md.ToString();
    }

    /// <summary>Which entry points have every option value of <paramref name="setting"/> as their default.</summary>
    private static string DefaultOf(Setting setting, IReadOnlyList<SharedDefaults.Row> defaults)
    {
        bool All(Func<SharedDefaults.Row, string> entry) => setting.Values.All(v => entry(defaults.Single(r => r.Option == v.Option)) == v.Value);
        return string.Join(", ", new[] { (All(r => r.Detector), "detector"), (All(r => r.Transform), "transforms") }.Where(d => d.Item1).Select(d => d.Item2));
    }

    /// <summary>Per seed, the AUC averaged over the splits.</summary>
    private static List<double> MeanAuc(SettingResult result) => Enumerable.Range(0, result.MacroAccuracy.Count).Select(i => result.Auc.Average(a => a[i])).ToList();

    private static string Paired(IReadOnlyList<double> values, IReadOnlyList<double> reference)
    {
        var d = values.Zip(reference, (v, r) => v - r).ToList();
        double sd = Sd(d);
        return Invariant($"{d.Average():+0.0000;-0.0000;0.0000} ± {sd / Math.Sqrt(d.Count):F4} ({d.Count(x => x > 0)}/{d.Count})");
    }

    private static double Sd(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        return values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
    }

    private static string MeanSd(IReadOnlyList<double> values, string format = "F4")
    {
        return values.Average().ToString(format, CultureInfo.InvariantCulture) + " ± " + Sd(values).ToString(format, CultureInfo.InvariantCulture);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
