using System.Diagnostics;
using System.Globalization;
using DeepArch.MLNet;
using Microsoft.ML;

namespace DeepArch.Quality;

/// <summary>
/// One candidate for the GAN's options: <paramref name="Change"/> describes what differs from the defaults a user gets
/// (<c>new GenerativeAdversarialNetworkEstimator.Options()</c>), <paramref name="Apply"/> makes that change.
/// </summary>
internal sealed record GanSetting(string Id, string Change, Action<GenerativeAdversarialNetworkEstimator.Options> Apply);

/// <summary>What one fit of one setting gave for one seed.</summary>
internal sealed record GanSeedResult(
    int Seed,
    int Epochs,
    double LabelAccuracy,
    double FrechetDistance,
    double GaussianFrechetDistance,
    double FrechetDistanceFloor,
    double Precision,
    double Recall,
    double GaussianRecall,
    double NearestTrainingDistance,
    double HeldOutNearestTrainingDistance,
    double RealScore,
    double FakeScore,
    double FitSeconds,
    double EvaluateSeconds)
{
    public const double AccuracyBar = 0.95;
    public const double FrechetRatioBar = 0.5;
    public const double RecallBar = 0.5;

    /// <summary>The Fréchet distance over the per-label Gaussian's: the issue's bar is at most 0.5.</summary>
    public double FrechetRatio => FrechetDistance / GaussianFrechetDistance;

    /// <summary>The issue's three bars: label accuracy ≥ 0.95, Fréchet distance ≤ half the Gaussian's, recall ≥ 0.5.</summary>
    public bool PassesBar => LabelAccuracy >= AccuracyBar && FrechetRatio <= FrechetRatioBar && Recall >= RecallBar;

    /// <summary>The tests' memorization check: the generated rows' median nearest-training distance above half the held-out rows'.</summary>
    public bool PassesMemorizationCheck => NearestTrainingDistance > 0.5 * HeldOutNearestTrainingDistance;
}

/// <summary>
/// The <c>gan-defaults</c> verb: a conditional GAN (<c>Transforms.GenerateByAdversarialNetwork</c>) on the digits as the tests
/// train it, for each candidate setting and seed; the rows it draws measured by <c>Data.EvaluateGenerated</c> against the issue's
/// bar. Public API only.
/// </summary>
internal sealed class GanDefaults
{
    /// <summary>The digits as images, for the DCGAN and for the evaluator's convolutional classifier.</summary>
    public static readonly int[] ImageShape = [1, 8, 8];

    /// <summary>Epochs of the DCGAN candidate: fewer than the dense default, since a DCGAN epoch costs about 4 dense ones here.</summary>
    public const int ConvolutionalEpochs = 100;

    /// <summary>
    /// The defaults, then one change at a time from them: the options the brief named, and those likely to widen what the
    /// generator covers (recall) without losing the Fréchet bar; last the DCGAN at its defaults but for the epochs.
    /// </summary>
    public static IReadOnlyList<GanSetting> Settings { get; } =
    [
        new("defaults", "defaults", _ => { }),
        new("ema0", "GeneratorAverage = 0 (the last weights)", o => o.GeneratorAverage = 0),
        new("ema0.999", "GeneratorAverage = 0.999", o => o.GeneratorAverage = 0.999),
        new("ema0.995", "GeneratorAverage = 0.995", o => o.GeneratorAverage = 0.995),
        new("ema0.98", "GeneratorAverage = 0.98", o => o.GeneratorAverage = 0.98),
        new("ema0.99", "GeneratorAverage = 0.99", o => o.GeneratorAverage = 0.99),
        new("real1", "RealLabel = 1 (no label smoothing)", o => o.RealLabel = 1f),
        new("noise64", "NoiseSize = 64", o => o.NoiseSize = 64),
        new("epochs300", "Epochs = 300", o => o.Epochs = 300),
        new("epochs400", "Epochs = 400", o => o.Epochs = 400),
        new("lr5e-4", "LearningRate = 5e-4", o => o.LearningRate = 5e-4),
        new("d128", "DiscriminatorLayers = [128, 128]", o => o.DiscriminatorLayers = [128, 128]),
        new("batch32", "BatchSize = 32", o => o.BatchSize = 32),
        new("g512", "GeneratorLayers = [512, 512]", o => o.GeneratorLayers = [512, 512]),
        new("dsteps2", "DiscriminatorSteps = 2", o => o.DiscriminatorSteps = 2),
        new("lr2e-3", "LearningRate = 2e-3", o => o.LearningRate = 2e-3),
        new("dcgan", $"Kind = Convolutional, ImageShape = [1, 8, 8], Epochs = {ConvolutionalEpochs}",
            o => (o.Kind, o.ImageShape, o.Epochs) = (GanKind.Convolutional, ImageShape, ConvolutionalEpochs)),
    ];

    private readonly DigitRow[] _digits;
    private readonly TextWriter _progress;

    /// <summary>Will run <paramref name="settings"/> for seeds 1 to <paramref name="seedCount"/> on <paramref name="digits"/> (grey levels 0 to 16), reporting each fit to <paramref name="progress"/>.</summary>
    public GanDefaults(DigitRow[] digits, int seedCount, IReadOnlyList<GanSetting> settings, TextWriter progress)
    {
        _digits = digits;
        Seeds = Enumerable.Range(1, seedCount).ToArray();
        RunSettings = settings;
        _progress = progress;
        var (train, test) = Digits.StratifiedSplit(digits, seed: 1);
        (TrainCount, TestCount) = (train.Length, test.Length);
    }

    public IReadOnlyList<int> Seeds { get; }

    public IReadOnlyList<GanSetting> RunSettings { get; }

    public int TrainCount { get; }

    public int TestCount { get; }

    /// <summary>The option values a user gets, as the report lists them.</summary>
    public static IReadOnlyList<(string Option, string Value)> DefaultValues()
    {
        var o = new GenerativeAdversarialNetworkEstimator.Options();
        return
        [
            ("Kind", SharedDefaults.Format(o.Kind)),
            ("GeneratorLayers", SharedDefaults.Format(o.GeneratorLayers)),
            ("DiscriminatorLayers", SharedDefaults.Format(o.DiscriminatorLayers)),
            ("Filters", SharedDefaults.Format(o.Filters)),
            ("NoiseSize", SharedDefaults.Format(o.NoiseSize)),
            ("EmbeddingSize", SharedDefaults.Format(o.EmbeddingSize)),
            ("Epochs", SharedDefaults.Format(o.Epochs)),
            ("BatchSize", SharedDefaults.Format(o.BatchSize)),
            ("LearningRate", SharedDefaults.Format(o.LearningRate)),
            ("AdamBeta1", SharedDefaults.Format(o.AdamBeta1)),
            ("RealLabel", SharedDefaults.Format(o.RealLabel)),
            ("GeneratorAverage", SharedDefaults.Format(o.GeneratorAverage)),
            ("DiscriminatorSteps", SharedDefaults.Format(o.DiscriminatorSteps)),
            ("GeneratorLoss", SharedDefaults.Format(o.GeneratorLoss)),
            ("TrainingThreads", SharedDefaults.Format(o.TrainingThreads)),
        ];
    }

    /// <summary>
    /// Every setting for every seed, seed outermost, so that a run cut short still covers each setting; the results per setting,
    /// in the order of <see cref="RunSettings"/>.
    /// </summary>
    public IReadOnlyList<(GanSetting Setting, List<GanSeedResult> Results)> Run()
    {
        var results = RunSettings.Select(s => (s, new List<GanSeedResult>())).ToArray();
        foreach (int seed in Seeds)
        {
            foreach (var (setting, list) in results)
            {
                var r = Fit(setting, seed);
                list.Add(r);
                _progress.WriteLine(
                    Invariant($"{setting.Id}, seed {seed}: accuracy {r.LabelAccuracy:F3}, FD {r.FrechetDistance:F2} / Gaussian {r.GaussianFrechetDistance:F2} = {r.FrechetRatio:F3}, ") +
                    Invariant($"precision {r.Precision:F3}, recall {r.Recall:F3}, nearest {r.NearestTrainingDistance:F2} (held-out {r.HeldOutNearestTrainingDistance:F2}), ") +
                    Invariant($"D(x) {r.RealScore:F3}, D(G(z)) {r.FakeScore:F3}, {(r.PassesBar ? "passes" : "FAILS")} ({r.FitSeconds:F0} s fit, {r.EvaluateSeconds:F0} s evaluate)"));
            }
        }
        return results;
    }

    /// <summary>
    /// As the tests do it, with <paramref name="seed"/> for the MLContext and the split: MapValueToKey on the label, the GAN fitted
    /// on the train rows, as many rows drawn as there are train rows (seed + 2, so that seed 1 is the tests' run), evaluated with
    /// the image shape and the test rows as held-out rows.
    /// </summary>
    private GanSeedResult Fit(GanSetting setting, int seed)
    {
        var ml = new MLContext(seed);
        var (train, test) = Digits.StratifiedSplit(_digits, seed: seed);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(train));
        var trainView = keys.Transform(ml.Data.LoadFromEnumerable(train));
        var testView = keys.Transform(ml.Data.LoadFromEnumerable(test));
        var options = new GenerativeAdversarialNetworkEstimator.Options { LabelColumnName = "Label" };
        setting.Apply(options);

        var watch = Stopwatch.StartNew();
        using var generator = ml.Transforms.GenerateByAdversarialNetwork(options).Fit(trainView);
        double fitSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var drawn = ml.Data.Generate(generator, train.Length, seed: seed + 2);
        GeneratedDataMetrics m = ml.Data.EvaluateGenerated(trainView, drawn, testView, labelColumnName: "Label", imageShape: ImageShape);
        double evaluateSeconds = watch.Elapsed.TotalSeconds;

        var epochs = generator.History.Epochs;
        var last = epochs.Skip(Math.Max(0, epochs.Count - 10)).ToList();
        var b = m.GaussianBaseline!;
        return new GanSeedResult(seed, epochs.Count, m.LabelAccuracy!.Value, m.FrechetDistance, b.FrechetDistance, m.FrechetDistanceFloor, m.Precision, m.Recall,
            b.Recall, m.NearestTrainingDistance, m.HeldOutNearestTrainingDistance!.Value, last.Average(e => e.Losses!["D(x)"]), last.Average(e => e.Losses!["D(G(z))"]),
            fitSeconds, evaluateSeconds);
    }

    /// <summary>The settings whose ids are in <paramref name="ids"/> (comma-separated), or all of them for null.</summary>
    public static IReadOnlyList<GanSetting> Select(string? ids)
    {
        if (ids is null)
        {
            return Settings;
        }
        var wanted = ids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = wanted.Where(id => Settings.All(s => s.Id != id)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"Unknown setting(s) {string.Join(", ", unknown)}; known: {string.Join(", ", Settings.Select(s => s.Id))}.");
        }
        return Settings.Where(s => wanted.Contains(s.Id)).ToList();
    }

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
