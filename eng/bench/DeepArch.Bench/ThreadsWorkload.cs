using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using Microsoft.ML;

namespace DeepArch.Bench;

/// <summary>
/// The thread options side by side in one process: <c>ScoringThreads</c> (ONNX Runtime intra-op threads) 1, 2 and 0 (the
/// default: one per physical core) scoring the MLP at batch 256, and <c>TrainingThreads</c> (libtorch intra-op threads)
/// 1 (the default), 2 and 0 (one per core) in the anomaly detector's Fit (explicit threshold, so only training is timed),
/// and two such fits on two threads at once against one after the other.
/// </summary>
internal sealed class ThreadsWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly int[] Settings = [1, 2, 0];

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        var ml = new MLContext(seed: 1);
        int rows = options.Rows;
        var rng = new Random(12345);
        var featureRows = Enumerable.Range(0, rows).Select(_ => new FeatureRow
        {
            Features = Enumerable.Range(0, ScoringShapes.FeatureSize).Select(_ => rng.NextSingle()).ToArray(),
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(featureRows);
        var trainRng = new Random(777);
        var trainRows = Enumerable.Range(0, options.TrainRows).Select(_ => new TrainRow
        {
            Features = Enumerable.Range(0, ScoringShapes.FeatureSize).Select(_ => trainRng.NextSingle()).ToArray(),
            Label = (uint)trainRng.Next(0, ScoringShapes.Classes),
        }).ToList();
        var raw = ml.Data.LoadFromEnumerable(trainRows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        int aeRows = options.Quick ? 3_000 : 10_000;
        int epochs = 2;
        var aeData = ml.Data.LoadFromEnumerable(featureRows.Take(aeRows));

        var disposables = new List<IDisposable>();
        var contenders = new List<Contender>();
        foreach (int threads in Settings)
        {
            var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [256, 128],
                Epochs = 1,
                Seed = 42,
                ScoringBatchSize = 256,
                ScoringThreads = threads,
            }).Fit(keyed);
            disposables.Add(model);
            var view = model.Transform(data);
            contenders.Add(new($"score-t{threads}", rows, "mlp", () => ScoringWorkload.SumFirstSlot(view, "Score", rows)));
        }
        // The anomaly detector's Fit with an explicit threshold, so that only training is timed.
        NetworkTransformer FitDetector(int threads) => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
        {
            LayerSizes = [256, 32],
            EnsembleSize = 1, // one network, as in every comparison of the bench
            OutputActivation = ActivationKind.Sigmoid,
            Epochs = epochs,
            BatchSize = 128,
            Seed = 42,
            ThresholdSource = AnomalyThresholdSource.Explicit,
            Threshold = 1,
            TrainingThreads = threads,
        }).Fit(aeData);
        foreach (int threads in Settings)
        {
            contenders.Add(new($"train-t{threads}", (long)aeRows * epochs, $"train-t{threads}", () =>
            {
                FitDetector(threads).Dispose();
                return 1;
            }));
        }
        // Two independent fits (one training thread each), one after the other and then on two threads at once: how much a
        // process gains from fitting two pipelines concurrently.
        NetworkTransformer FitOne() => FitDetector(1);
        contenders.Add(new("fits-sequential", 2L * aeRows * epochs, "fits", () =>
        {
            FitOne().Dispose();
            FitOne().Dispose();
            return 1;
        }));
        contenders.Add(new("fits-concurrent", 2L * aeRows * epochs, "fits", () =>
        {
            var both = new[] { Task.Run(FitOne), Task.Run(FitOne) };
            Task.WaitAll(both);
            foreach (var fit in both)
            {
                fit.Result.Dispose();
            }
            return 1;
        }));
        try
        {
            log.WriteLine($"threads: scoring {rows:N0} rows, training {aeRows:N0} rows x {epochs} epochs; {reps} repetitions");
            var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);
            return (BuildReport(t, rows, aeRows, epochs, reps, wall.Elapsed), true);
        }
        finally
        {
            foreach (var d in disposables)
            {
                d.Dispose();
            }
        }
    }

    private string BuildReport(Dictionary<string, Timing> t, int rows, int aeRows, int epochs, int reps, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# DeepArch thread settings").AppendLine();
        sb.AppendLine($"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine($"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; wall time {elapsed.TotalSeconds:F0} s; nproc {Environment.ProcessorCount}; " +
                      $"{options.Warmups} warm-up pass(es), {reps} interleaved repetitions, medians; ratios per repetition against 0 (one per core; the default of `ScoringThreads`, while `TrainingThreads` defaults to 1).");
        sb.AppendLine($"- Scoring: MLP 784-256-128-10, {rows:N0} in-memory rows, ScoringBatchSize 256, `ScoringThreads` = ONNX Runtime intra-op threads (0 = ORT's default, one per physical core). " +
                      $"Training: anomaly detector AE 784-256-32-256-784, {aeRows:N0} rows x {epochs} epochs, batch 128, explicit threshold, `TrainingThreads` = libtorch intra-op threads (0 = one per core).");
        sb.AppendLine();
        sb.AppendLine("| option | 1 | 2 | 0 (one per core) | 1 / 0 | 2 / 0 |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, prefix, unit) in new[] { ("ScoringThreads", "score", "rows/s"), ("TrainingThreads", "train", "samples/s") })
        {
            string R(int th) => t[$"{prefix}-t{th}"].MedianRowsPerSecond.ToString("N0", Inv) + " " + unit;
            double V(int th) => Stats.MedianRatio(t[$"{prefix}-t{th}"], t[$"{prefix}-t0"]);
            sb.AppendLine($"| {name} | {R(1)} | {R(2)} | {R(0)} | {V(1).ToString("F2", Inv)}x | {V(2).ToString("F2", Inv)}x |");
            Summary.Add(new("Threads", $"{name} = 1 vs 0 (all cores)", R(1), $"{name} = 0", R(0), V(1), null, "(speed ratio)"));
            Summary.Add(new("Threads", $"{name} = 2 vs 0 (all cores)", R(2), $"{name} = 0", R(0), V(2), null, "(speed ratio)"));
        }
        sb.AppendLine();
        double concurrent = Stats.MedianRatio(t["fits-concurrent"], t["fits-sequential"]);
        sb.AppendLine($"Two independent anomaly-detector fits (`TrainingThreads = 1` each) on two threads at once: " +
                      $"{t["fits-concurrent"].MedianRowsPerSecond.ToString("N0", Inv)} samples/s against " +
                      $"{t["fits-sequential"].MedianRowsPerSecond.ToString("N0", Inv)} one after the other ({concurrent.ToString("F2", Inv)}x). " +
                      "Every Fit holds DeepArch's process-wide training lock (libtorch's random generator and thread count are process-wide), so the two run in turn.");
        Summary.Add(new("Threads", "two fits on two threads vs one after the other", t["fits-concurrent"].MedianRowsPerSecond.ToString("N0", Inv) + " samples/s",
            "one after the other", t["fits-sequential"].MedianRowsPerSecond.ToString("N0", Inv) + " samples/s", concurrent, null, "(speed ratio)"));
        sb.AppendLine();
        sb.AppendLine("| contender | median | min | max | redone | worst foreign CPU |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var x in t.Values)
        {
            var r = x.RowsPerSecond;
            sb.AppendLine($"| `{x.Contender.Id}` | {x.MedianRowsPerSecond:N0} | {r.Min():N0} | {r.Max():N0} | {x.Redone} | {x.Foreign.DefaultIfEmpty(0).Max():P0} |");
        }
        sb.AppendLine();
        return sb.ToString();
    }
}
