using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Bench;

/// <summary>A digit: 64 grey levels (0..16) and its class 0..9 (made a key with MapValueToKey).</summary>
public sealed class DigitRow
{
    [VectorType(64)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

/// <summary>A generator's input: noise of the default size and a digit class (made a key with the training rows' mapping).</summary>
public sealed class NoiseRow
{
    [VectorType(32)]
    public float[] Noise { get; set; } = [];

    public float Label { get; set; }
}

/// <summary>
/// The conditional GANs of <c>Transforms.GenerateByAdversarialNetwork</c> on the bundled digits (data/digits.csv, 1,797 rows),
/// side by side in one process: training (the whole <c>Fit</c>: reading the IDataView, both networks' steps, export) for the
/// dense GAN and the DCGAN at their default options but for the epochs, then the same networks and step in PyTorch
/// (gan_reference.py, right after); and sampling: <c>Data.Generate</c> (draws its noise and labels) and the generator
/// transformer over pre-drawn noise, against the PyTorch generator's forward pass in eval mode.
/// </summary>
internal sealed class GanWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private const int Seed = 42;
    private static readonly int[] ImageShape = [1, 8, 8];

    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        int denseEpochs = options.GanEpochs, dcganEpochs = Math.Max(1, options.GanEpochs / 4);
        int sampleRows = options.Rows;
        int threads = options.TrainingThreads;
        var ml = new MLContext(seed: Seed);
        var wall = System.Diagnostics.Stopwatch.StartNew();
        string loadBefore = MachineInfo.LoadAverage();

        var digits = ReadDigits(BenchOptions.FindInRepository("data/digits.csv"));
        var raw = ml.Data.LoadFromEnumerable(digits);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
        var train = keys.Transform(raw);
        int n = digits.Count;

        // The estimator's own thread default unless --training-threads is given; PyTorch runs with as many threads.
        int trainingThreads = threads > 0 ? threads : new GenerativeAdversarialNetworkEstimator.Options().TrainingThreads;
        GenerativeAdversarialNetworkEstimator.Options Options(bool dcgan) => new()
        {
            LabelColumnName = "Label", Epochs = dcgan ? dcganEpochs : denseEpochs, Seed = Seed, TrainingThreads = trainingThreads,
            Kind = dcgan ? GanKind.Convolutional : GanKind.Dense, ImageShape = dcgan ? ImageShape : null,
        };
        double Fit(bool dcgan)
        {
            using var generator = ml.Transforms.GenerateByAdversarialNetwork(Options(dcgan)).Fit(train);
            return generator.History.Epochs[^1].TrainLoss;
        }

        // The sampled generators: trained once, outside timing (their weights do not change the cost of a forward pass).
        log.WriteLine("gan: training the sampled generators (1 epoch each, untimed)");
        var sampled = new Dictionary<string, NetworkTransformer>();
        foreach (bool dcgan in new[] { false, true })
        {
            var o = Options(dcgan);
            o.Epochs = 1;
            sampled[dcgan ? "dcgan" : "dense"] = ml.Transforms.GenerateByAdversarialNetwork(o).Fit(train);
        }
        var random = new Random(Seed + 1);
        var noiseRows = Enumerable.Range(0, sampleRows).Select(_ => new NoiseRow
        {
            Noise = Enumerable.Range(0, 32).Select(_ => StandardNormal(random)).ToArray(),
            Label = random.Next(10),
        }).ToList();
        var noise = ml.Data.Cache(keys.Transform(ml.Data.LoadFromEnumerable(noiseRows)));
        double Draw(string kind) => ScoringWorkload.SumFirstSlot(ml.Data.Generate(sampled[kind], sampleRows, seed: Seed), "Features", sampleRows);
        double Transform(string kind) => ScoringWorkload.SumFirstSlot(sampled[kind].Transform(noise), "Features", sampleRows);

        var contenders = new List<Contender>
        {
            new("fit-gan-dense", (long)n * denseEpochs, "fit-dense", () => Fit(false)),
            new("fit-gan-dcgan", (long)n * dcganEpochs, "fit-dcgan", () => Fit(true)),
            new("generate-dense", sampleRows, "generate-dense", () => Draw("dense")),
            new("transform-dense", sampleRows, "transform-dense", () => Transform("dense")),
            new("generate-dcgan", sampleRows, "generate-dcgan", () => Draw("dcgan")),
            new("transform-dcgan", sampleRows, "transform-dcgan", () => Transform("dcgan")),
        };
        log.WriteLine($"gan: {n} digits, dense {denseEpochs} epoch(s), DCGAN {dcganEpochs}, sampling {sampleRows} rows, {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);
        foreach (var g in sampled.Values)
        {
            g.Dispose();
        }

        // PyTorch, right after: the same networks, step, batch and epochs (plus one untimed warm-up epoch); then sampling.
        var torchRef = new TorchReference(BenchOptions.FindInRepository("eng/bench/reference/gan_reference.py"), log);
        string torchThreads = TorchReference.Threads(trainingThreads).ToString(CultureInfo.InvariantCulture);
        JsonElement? Py(string kind, string mode, int epochs) => torchRef.Run($"{kind} {mode}",
        [
            "--kind", kind, "--mode", mode, "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--warmup-epochs", "1", "--threads", torchThreads,
            "--rows", sampleRows.ToString(CultureInfo.InvariantCulture), "--infer-passes", reps.ToString(CultureInfo.InvariantCulture),
        ]);
        var pyTrainDense = Py("dense", "train", denseEpochs);
        var pyTrainDcgan = Py("dcgan", "train", dcganEpochs);
        var pySampleDense = Py("dense", "sample", 1);
        var pySampleDcgan = Py("dcgan", "sample", 1);
        static double? Figure(JsonElement? run, string name) => run is { } r ? r.GetProperty(name).GetDouble() : null;

        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# DeepArch GAN benchmark");
        sb.AppendLine();
        MachineInfo.AppendRunHeader(sb, wall.Elapsed, loadBefore);
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Protocol: the conditional GANs of `Transforms.GenerateByAdversarialNetwork` with their default options (batch 64, Adam 1e-3 with beta1 0.5, one discriminator step per generator step, real label 0.9, the generator's weight average, {(trainingThreads == 0 ? "one thread per core" : $"{trainingThreads} training thread(s)")}) but for the epochs, seed {Seed}, on the {n:N0} digits; {options.Warmups} warm-up pass(es) of every contender, {reps} interleaved repetitions. " +
                      $"Training samples/s = real rows x epochs / wall seconds of the whole `Fit` (each row goes through one discriminator step and one generator step with as many generated rows). " +
                      $"Sampling: {sampleRows:N0} rows per pass, in DeepArch's scoring batches of 256; `Data.Generate` draws the noise and labels itself, the transformer reads pre-drawn noise from a cached IDataView."));
        sb.AppendLine();
        sb.AppendLine("PyTorch = gan_reference.py run right after with as many threads, the same networks, initialization, step and batch (its training samples/s cover the timed epochs only, after one untimed warm-up epoch, so they leave out the set-up that `Fit` includes; its sampling is the generator's forward pass in eval mode under `inference_mode`, batches of 256, scaled back to grey levels).");
        sb.AppendLine();
        sb.AppendLine("| workload | DeepArch samples/s | PyTorch samples/s | DeepArch / PyTorch |");
        sb.AppendLine("|---|---:|---:|---:|");
        string R(string id) => t[id].MedianRowsPerSecond.ToString("F0", inv);
        string P(double? py) => py is { } p ? p.ToString("F0", inv) : "not run";
        string Ratio(string id, double? py) => py is { } p ? (t[id].MedianRowsPerSecond / p).ToString("F3", inv) : "n/a";
        void Row(string section, string name, string id, double? py, double? target)
        {
            sb.AppendLine(inv, $"| {name} | {R(id)} | {P(py)} | {Ratio(id, py)} |");
            Summary.Add(new(section, name, R(id) + " samples/s", "PyTorch 1.13 (gan_reference.py)", P(py) + (py is null ? "" : " samples/s"),
                py is { } p ? t[id].MedianRowsPerSecond / p : double.NaN, target, target is { } x ? $"{x.ToString("0.0##", inv)}x" : "(speed ratio)"));
        }
        Row("Training", $"conditional dense GAN Fit, {n} x {denseEpochs} epochs", "fit-gan-dense", Figure(pyTrainDense, "samples_per_s"), 0.8);
        Row("Training", $"conditional DCGAN Fit, {n} x {dcganEpochs} epochs", "fit-gan-dcgan", Figure(pyTrainDcgan, "samples_per_s"), 0.8);
        Row("Scoring", "dense generator, Data.Generate (draws the noise)", "generate-dense", Figure(pySampleDense, "draw_samples_per_s"), null);
        Row("Scoring", "dense generator, Transform over pre-drawn noise", "transform-dense", Figure(pySampleDense, "samples_per_s"), null);
        Row("Scoring", "DCGAN generator, Data.Generate (draws the noise)", "generate-dcgan", Figure(pySampleDcgan, "draw_samples_per_s"), null);
        Row("Scoring", "DCGAN generator, Transform over pre-drawn noise", "transform-dcgan", Figure(pySampleDcgan, "samples_per_s"), null);
        sb.AppendLine();
        sb.AppendLine(inv, $"PyTorch runs: {torchRef.Describe()}");
        sb.AppendLine();
        sb.AppendLine("Per contender (seconds per pass; foreign = CPU other processes used during the pass, as a fraction of the machine):");
        sb.AppendLine();
        sb.AppendLine("| contender | median s | min s | max s | redone | worst foreign |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var c in contenders)
        {
            var x = t[c.Id];
            sb.AppendLine(inv, $"| `{c.Id}` | {Stats.Median(x.Seconds):F2} | {x.Seconds.Min():F2} | {x.Seconds.Max():F2} | {x.Redone} | {x.Foreign.DefaultIfEmpty(0).Max():P0} |");
        }
        sb.AppendLine();
        // Training is seeded and sampling reads fixed noise: every pass of a contender must compute the same values.
        bool ok = contenders.All(c => t[c.Id].ChecksumStable(1e-6));
        if (!ok)
        {
            sb.AppendLine("WARNING: a contender's passes computed different values (see the checksums).");
        }
        return (sb.ToString(), ok);
    }

    private static List<DigitRow> ReadDigits(string path)
        => File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            var v = l.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            return new DigitRow { Features = v[..64], Label = v[64] };
        }).ToList();

    private static float StandardNormal(Random random)
        => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
}
