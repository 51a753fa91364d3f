using System.Text;
using static DeepArch.Quality.GanDefaults;

namespace DeepArch.Quality;

/// <summary>The Markdown report of the <c>gan-defaults</c> verb.</summary>
internal static class GanDefaultsReport
{
    public static string Write(string command, string commit, string machine, string load, TimeSpan elapsed, GanDefaults experiment,
        IReadOnlyList<(GanSetting Setting, List<GanSeedResult> Results)> results)
    {
        var md = new StringBuilder();
        var seeds = experiment.Seeds;
        RunInfo.AppendHeader(md, "GAN defaults on the digits", command, commit, machine, load, elapsed, seeds, "the MLContext seed and the split's seed; `Data.Generate` seed + 2");

        md.AppendLine("## Setup").AppendLine();
        md.AppendLine($"data/digits.csv (grey levels 0 to 16, as the tests read it), split 70/30 stratified by digit with the seed ({experiment.TrainCount} train, " +
            $"{experiment.TestCount} test rows), the label keyed by `MapValueToKey` fitted on the train rows. Per setting and seed, as the tests do it:");
        md.AppendLine("`Transforms.GenerateByAdversarialNetwork(options)` with `LabelColumnName = \"Label\"` fitted on the train rows; `Data.Generate` as many");
        md.AppendLine("rows as train rows; `Data.EvaluateGenerated(train, generated, test, labelColumnName: \"Label\", imageShape: [1, 8, 8])`. Seed 1 is the");
        md.AppendLine("tests' run (`DigitsGan`: MLContext seed 1, split seed 1, `Generate` seed 3).").AppendLine();
        md.AppendLine("Defaults (`new GenerativeAdversarialNetworkEstimator.Options()`): " +
            string.Join(", ", DefaultValues().Select(d => $"{d.Option} {d.Value}")) + ". Each setting changes what its name says and nothing else.").AppendLine();
        md.AppendLine(Invariant($"The bar (issue 14): label accuracy ≥ {GanSeedResult.AccuracyBar}, Fréchet distance ≤ {GanSeedResult.FrechetRatioBar} × the per-label Gaussian's, recall ≥ {GanSeedResult.RecallBar}."));
        md.AppendLine("\"FD / Gaussian\" is that ratio, per seed (each seed's evaluator has its own classifier, hence its own Gaussian FD). \"memorization\" counts the seeds");
        md.AppendLine("where the generated rows' median distance to their nearest train row exceeds half the test rows' (the tests' check). Cells: mean [min, max] over the seeds.");
        md.AppendLine("D(x) and D(G(z)): the discriminator's mean output on real and generated rows, averaged over the last 10 epochs.").AppendLine();

        md.AppendLine("## Per setting").AppendLine();
        md.AppendLine("| setting | passes bar | accuracy | FD | FD / Gaussian | precision | recall | nearest train dist. | memorization | fit s |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (setting, r) in results)
        {
            md.AppendLine($"| {setting.Change} | **{r.Count(x => x.PassesBar)}/{r.Count}** | {Range(r, x => x.LabelAccuracy, "F3")} | {Range(r, x => x.FrechetDistance, "F2")} | " +
                $"{Range(r, x => x.FrechetRatio, "F3")} | {Range(r, x => x.Precision, "F3")} | {Range(r, x => x.Recall, "F3")} | {Range(r, x => x.NearestTrainingDistance, "F2")} | " +
                $"{r.Count(x => x.PassesMemorizationCheck)}/{r.Count} ok | {Range(r, x => x.FitSeconds, "F0")} |");
        }
        var first = results[0].Results;
        md.AppendLine().AppendLine("Per seed, the test rows' median distance to their nearest train row, and the per-label Gaussian's figures: " +
            string.Join("; ", first.Select(x => Invariant($"seed {x.Seed}: held-out nearest {x.HeldOutNearestTrainingDistance:F2}, Gaussian FD {x.GaussianFrechetDistance:F2}, Gaussian recall {x.GaussianRecall:F3}, FD floor {x.FrechetDistanceFloor:F2}"))) + ".");
        md.AppendLine();

        if (results.Count > 1 && results[0].Setting.Id == "defaults")
        {
            md.AppendLine("## Paired by seed against the defaults").AppendLine();
            md.AppendLine("Mean difference over the seeds, and the seeds where it is above 0 (a seed gives every setting the same split and evaluator).").AppendLine();
            md.AppendLine("| setting | Δ recall | Δ FD / Gaussian | Δ precision | Δ accuracy |").AppendLine("| --- | --- | --- | --- | --- |");
            foreach (var (setting, r) in results.Skip(1))
            {
                md.AppendLine($"| {setting.Change} | {Paired(r, first, x => x.Recall)} | {Paired(r, first, x => x.FrechetRatio)} | {Paired(r, first, x => x.Precision)} | " +
                    $"{Paired(r, first, x => x.LabelAccuracy)} |");
            }
            md.AppendLine();
        }

        md.AppendLine("## Every fit").AppendLine();
        md.AppendLine("| setting | seed | epochs | accuracy | FD | Gaussian FD | FD / Gaussian | precision | recall | nearest | held-out nearest | D(x) | D(G(z)) | fit s | evaluate s | bar |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (setting, r) in results)
        {
            foreach (var x in r)
            {
                md.AppendLine(Invariant($"| {setting.Id} | {x.Seed} | {x.Epochs} | {x.LabelAccuracy:F3} | {x.FrechetDistance:F2} | {x.GaussianFrechetDistance:F2} | {x.FrechetRatio:F3} | ") +
                    Invariant($"{x.Precision:F3} | {x.Recall:F3} | {x.NearestTrainingDistance:F2} | {x.HeldOutNearestTrainingDistance:F2} | {x.RealScore:F3} | {x.FakeScore:F3} | ") +
                    Invariant($"{x.FitSeconds:F0} | {x.EvaluateSeconds:F0} | {(x.PassesBar ? "pass" : FailedBars(x))} |"));
            }
        }
        md.AppendLine();
        return md.ToString();
    }

    private static string FailedBars(GanSeedResult x)
    {
        var failed = new List<string>();
        if (x.LabelAccuracy < GanSeedResult.AccuracyBar)
        {
            failed.Add("accuracy");
        }
        if (x.FrechetRatio > GanSeedResult.FrechetRatioBar)
        {
            failed.Add("FD");
        }
        if (x.Recall < GanSeedResult.RecallBar)
        {
            failed.Add("recall");
        }
        return "fails " + string.Join(", ", failed);
    }

    private static string Range(IReadOnlyList<GanSeedResult> results, Func<GanSeedResult, double> value, string format)
    {
        var v = results.Select(value).ToList();
        string F(double d) => d.ToString(format, System.Globalization.CultureInfo.InvariantCulture);
        return v.Count == 1 ? F(v[0]) : $"{F(v.Average())} [{F(v.Min())}, {F(v.Max())}]";
    }

    private static string Paired(IReadOnlyList<GanSeedResult> results, IReadOnlyList<GanSeedResult> reference, Func<GanSeedResult, double> value)
    {
        var d = results.Zip(reference, (r, b) => value(r) - value(b)).ToList();
        return Invariant($"{d.Average():+0.000;-0.000;0.000} ({d.Count(x => x > 0)}/{d.Count})");
    }
}
