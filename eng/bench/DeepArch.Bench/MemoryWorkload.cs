using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepArch.MLNet;
using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using Microsoft.ML;

namespace DeepArch.Bench;

/// <summary>
/// Peak memory. The parent writes N rows of 784 random floats to a binary .idv file (<c>SaveAsBinary</c>, streamed from a
/// lazy enumerable, so the rows are never all in memory) and saves a trained MLP; then every measurement runs in a fresh
/// child process of this program (<c>memory-child</c>), so that peaks do not mix: scoring the first 100,000 and all
/// 1,000,000 rows streamed from the file (<c>LoadFromBinary</c>, <c>TakeRows</c>), and training the anomaly detector on
/// the first rows of it: in memory on a tenth and on the smaller count, streamed (<c>TrainingData = Streamed</c>) on both
/// counts, and the in-memory and streamed runs on the smaller count repeated in turn for their throughput. The child reports
/// the kernel's peak resident set (VmHWM from /proc/self/status) before and after the work.
/// </summary>
internal sealed class MemoryWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private const int FeatureSize = ScoringShapes.FeatureSize;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    /// <summary>One child's result.</summary>
    /// <param name="TrainSeconds">For training: the training loop's own time (the history's last epoch), without the reads and the threshold.</param>
    private sealed record ChildResult(string Kind, int Rows, double BaselineMb, double PeakMb, double Seconds, double Checksum, double TrainSeconds = 0);

    /// <summary>Epochs of every training child.</summary>
    private const int TrainEpochs = 2;

    /// <summary>In-memory and streamed training on the smaller row count, each this many times in turn, for the throughput ratio.</summary>
    private const int ThroughputRepetitions = 3;

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        string temp = Directory.CreateTempSubdirectory("deeparch-bench-memory-").FullName;
        try
        {
            var ml = new MLContext(seed: 1);
            int maxRows = options.MemoryRows.Max();
            string idv = Path.Combine(temp, "rows.idv");
            var sw = Stopwatch.StartNew();
            using (var stream = File.Create(idv))
            {
                ml.Data.SaveAsBinary(ml.Data.LoadFromEnumerable(LazyRows(maxRows, 12345)), stream);
            }
            log.WriteLine($"memory: wrote {maxRows:N0} rows x {FeatureSize} floats to {idv} ({new FileInfo(idv).Length / 1048576.0:F0} MiB) in {sw.Elapsed.TotalSeconds:F1} s");

            // The scored network: the MLP of the scoring workload, saved as an ML.NET model and loaded back in each child.
            var trainRng = new Random(777);
            var trainRows = Enumerable.Range(0, options.TrainRows).Select(_ => new TrainRow
            {
                Features = Enumerable.Range(0, FeatureSize).Select(_ => trainRng.NextSingle()).ToArray(),
                Label = (uint)trainRng.Next(0, ScoringShapes.Classes),
            }).ToList();
            var raw = ml.Data.LoadFromEnumerable(trainRows);
            var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            using var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [256, 128],
                Epochs = 1,
                Seed = 42,
            }).Fit(keyed);
            string zip = Path.Combine(temp, "mlp.zip");
            ml.Model.Save(model, keyed.Schema, zip);

            var results = new List<ChildResult>();
            foreach (int rows in options.MemoryRows.Order())
            {
                results.Add(Child("score", idv, zip, rows));
            }
            int small = options.MemoryRows.Min();
            results.Add(Child("train", idv, zip, small / 10));
            for (int repetition = 0; repetition < ThroughputRepetitions; repetition++)
            {
                results.Add(Child("train", idv, zip, small));
                results.Add(Child("train-streamed", idv, zip, small));
            }
            results.Add(Child("train-streamed", idv, zip, maxRows));
            return (BuildReport(results, new FileInfo(idv).Length, wall.Elapsed), true);
        }
        finally
        {
            try
            {
                Directory.Delete(temp, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean.
            }
        }
    }

    private static IEnumerable<FeatureRow> LazyRows(int count, int seed)
    {
        var rng = new Random(seed);
        var features = new float[FeatureSize];
        var row = new FeatureRow { Features = features };
        for (int r = 0; r < count; r++)
        {
            for (int j = 0; j < FeatureSize; j++)
            {
                features[j] = rng.NextSingle();
            }
            yield return row;
        }
    }

    /// <summary>Runs one measurement in a fresh process of this program and reads its one-line JSON result.</summary>
    private ChildResult Child(string kind, string idv, string zip, int rows)
    {
        log.WriteLine($"memory: child {kind} {rows:N0} rows ...");
        var r = ChildProcess.Run<ChildResult>(["memory-child", kind, idv, zip, rows.ToString(Inv)]);
        log.WriteLine($"memory: {kind} {rows:N0} rows: baseline {r.BaselineMb:F0} MiB, peak {r.PeakMb:F0} MiB, {r.Seconds:F1} s");
        return r;
    }

    /// <summary>The child: one measurement, then one JSON line on stdout. Arguments: kind, .idv path, model path, rows.</summary>
    public static int RunChild(string[] args)
    {
        string kind = args[1], idv = args[2], zip = args[3];
        int rows = int.Parse(args[4], Inv);
        var ml = new MLContext(seed: 1);
        var file = ml.Data.LoadFromBinary(idv);
        var data = ml.Data.TakeRows(file, rows);
        var sw = new Stopwatch();
        double checksum = 0, baseline, trainSeconds = 0;
        if (kind == "score")
        {
            var model = DeepArchModel.Load(ml, zip, out _);
            var scored = model.Transform(data);
            baseline = PeakMb();
            sw.Start();
            checksum = ScoringWorkload.SumFirstSlot(scored, "Score", rows);
            (model as IDisposable)?.Dispose();
        }
        else
        {
            baseline = PeakMb();
            sw.Start();
            using var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
            {
                LayerSizes = [256, 32],
                EnsembleSize = 1, // one network, as in every comparison of the bench
                OutputActivation = ActivationKind.Sigmoid,
                Epochs = TrainEpochs,
                BatchSize = 128,
                Seed = 42,
                TrainingData = kind == "train-streamed" ? TrainingDataMode.Streamed : TrainingDataMode.InMemory,
            }).Fit(data);
            checksum = rows;
            trainSeconds = detector.History.Epochs[^1].Elapsed.TotalSeconds;
        }
        double seconds = sw.Elapsed.TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new ChildResult(kind, rows, baseline, PeakMb(), seconds, checksum, trainSeconds)));
        return 0;
    }

    /// <summary>The process's peak resident set so far (VmHWM), in MiB.</summary>
    private static double PeakMb()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv) / 1024;
    }

    private string BuildReport(List<ChildResult> results, long fileBytes, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# DeepArch memory benchmark").AppendLine();
        sb.AppendLine($"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine($"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; wall time {elapsed.TotalSeconds:F0} s; RAM {MachineInfo.MemoryGb()}");
        sb.AppendLine($"- Data: {options.MemoryRows.Max():N0} rows of {FeatureSize} random floats in a binary .idv file written with `SaveAsBinary` ({fileBytes / 1048576.0:F0} MiB), " +
                      "read with `LoadFromBinary` and `TakeRows(n)`. Each row below is a fresh child process (`memory-child`); peak = VmHWM of /proc/self/status at the end, " +
                      "baseline = VmHWM after loading the model and opening the data, before the first row is read.");
        sb.AppendLine("- Scoring: the MLP 784-256-128-10 saved with `mlContext.Model.Save`, loaded with `DeepArchModel.Load` (batched, ScoringBatchSize 256), a cursor over `Score`. " +
                      $"Training: `mlContext.AnomalyDetection.Trainers.Autoencoder` (784-256-32-256-784, {TrainEpochs} epochs, batch 128, the Contamination threshold) on the first n rows of the same file, " +
                      "`TrainingData = InMemory` (\"train\") or `Streamed` (\"train-streamed\", the default 64 MiB shuffle buffer); " +
                      $"the in-memory and streamed runs on the smaller count alternate {ThroughputRepetitions} times. \"training loop s\" is the history's elapsed time after the last epoch " +
                      "(the epochs and their validation, without reading the rows first and choosing the threshold after).");
        sb.AppendLine();
        sb.AppendLine("| work | rows | baseline peak MiB | peak MiB | peak - baseline MiB | Fit s | rows/s | training loop s |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            sb.AppendLine($"| {r.Kind} | {r.Rows:N0} | {r.BaselineMb:F0} | {r.PeakMb:F0} | {r.PeakMb - r.BaselineMb:F0} | {r.Seconds:F1} | {r.Rows / r.Seconds:N0} | " +
                          (r.Kind == "score" ? "" : $"{r.TrainSeconds:F1}") + " |");
        }
        sb.AppendLine();
        var scores = results.Where(r => r.Kind == "score").OrderBy(r => r.Rows).ToList();
        if (scores.Count >= 2)
        {
            var (small, large) = (scores[0], scores[^1]);
            double ratio = large.PeakMb / small.PeakMb;
            sb.AppendLine($"Scoring {large.Rows:N0} rows peaks at {ratio.ToString("F3", Inv)}x the peak for {small.Rows:N0} rows (target <= 1.2x: {(ratio <= 1.2 ? "yes" : "NO")}); " +
                          $"the data read is {large.Rows * (double)FeatureSize * 4 / 1048576:F0} MiB.");
            sb.AppendLine();
            Summary.Add(new("Memory", $"peak working set scoring {large.Rows:N0} vs {small.Rows:N0} rows from a .idv file", $"{large.PeakMb:F0} MiB", $"{small.Rows:N0} rows",
                $"{small.PeakMb:F0} MiB", ratio, 1.2, "<= 1.2x", LowerIsBetter: true));
        }
        var inMemory = results.Where(r => r.Kind == "train").ToList();
        var streamed = results.Where(r => r.Kind == "train-streamed").ToList();
        int smallRows = options.MemoryRows.Min(), largeRows = options.MemoryRows.Max();
        var (tenth, memorySmall) = (inMemory.First(r => r.Rows < smallRows), inMemory.Where(r => r.Rows == smallRows).ToList());
        var (streamedSmall, streamedLarge) = (streamed.Where(r => r.Rows == smallRows).ToList(), streamed.First(r => r.Rows == largeRows));
        double featureMb(int rows) => rows * (double)FeatureSize * 4 / 1048576;
        double perByte = (memorySmall[0].PeakMb - tenth.PeakMb) / (featureMb(smallRows) - featureMb(tenth.Rows));
        sb.AppendLine($"In memory (`TrainingData = InMemory`), training holds the feature column: {smallRows:N0} rows peak at {memorySmall[0].PeakMb:F0} MiB, {tenth.Rows:N0} rows at {tenth.PeakMb:F0} MiB; " +
                      $"the difference, {memorySmall[0].PeakMb - tenth.PeakMb:F0} MiB for {featureMb(smallRows) - featureMb(tenth.Rows):F0} MiB of features, is {perByte.ToString("F1", Inv)} bytes held per byte of feature data.");
        sb.AppendLine();
        double memoryRatio = streamedLarge.PeakMb / streamedSmall[0].PeakMb;
        sb.AppendLine($"Streamed (`TrainingData = Streamed`), {largeRows:N0} rows ({featureMb(largeRows):F0} MiB of features) peak at {streamedLarge.PeakMb:F0} MiB, " +
                      $"{memoryRatio.ToString("F3", Inv)}x the {streamedSmall[0].PeakMb:F0} MiB of {smallRows:N0} rows (target <= 1.2x: {(memoryRatio <= 1.2 ? "yes" : "NO")}).");
        sb.AppendLine();
        // Throughput: each repetition's in-memory run against the streamed run right after it; medians of the ratios.
        double fitRatio = Stats.Median(memorySmall.Zip(streamedSmall, (m, st) => m.Seconds / st.Seconds));
        double loopRatio = Stats.Median(memorySmall.Zip(streamedSmall, (m, st) => m.TrainSeconds / st.TrainSeconds));
        sb.AppendLine($"Throughput on {smallRows:N0} rows that fit in memory, streamed / in memory (median over {memorySmall.Count} alternating pairs): `Fit` {fitRatio.ToString("F2", Inv)}x " +
                      $"(target >= 0.8x: {(fitRatio >= 0.8 ? "yes" : "NO")}), the training loop alone {loopRatio.ToString("F2", Inv)}x. Streaming reads the file once per epoch and once more for " +
                      "the threshold's two passes; in memory, `Fit` reads it once.");
        sb.AppendLine();
        Summary.Add(new("Memory", $"peak working set training the AE detector streamed, {largeRows:N0} vs {smallRows:N0} rows", $"{streamedLarge.PeakMb:F0} MiB", $"{smallRows:N0} rows",
            $"{streamedSmall[0].PeakMb:F0} MiB", memoryRatio, 1.2, "<= 1.2x", LowerIsBetter: true));
        Summary.Add(new("Memory", $"AE detector `Fit` samples/s, streamed vs in memory ({smallRows:N0} rows, {TrainEpochs} epochs)", $"{smallRows * TrainEpochs / Stats.Median(streamedSmall.Select(r => r.Seconds)):N0}/s",
            "in memory", $"{smallRows * TrainEpochs / Stats.Median(memorySmall.Select(r => r.Seconds)):N0}/s", fitRatio, 0.8, ">= 0.8x"));
        Summary.Add(new("Memory", $"peak working set training the AE detector in memory, {smallRows:N0} vs {tenth.Rows:N0} rows", $"{memorySmall[0].PeakMb:F0} MiB", $"{tenth.Rows:N0} rows",
            $"{tenth.PeakMb:F0} MiB", memorySmall[0].PeakMb / tenth.PeakMb, null, "(grows with the rows: in memory, training holds them)", LowerIsBetter: true));
        return sb.ToString();
    }
}
