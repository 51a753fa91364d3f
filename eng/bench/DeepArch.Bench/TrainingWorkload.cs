using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using DeepArch.MLNet.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Bench;

/// <summary>Autoencoder training rows: 784 values in [0, 1).</summary>
public sealed class AeRow
{
    [VectorType(784)]
    public float[] Features { get; set; } = [];
}

/// <summary>LeNet-5 training rows: a 1x32x32 image, flattened, and a class 0..9 (made a key with MapValueToKey).</summary>
public sealed class ImageRow
{
    [VectorType(1024)]
    public float[] Features { get; set; } = [];

    public uint Label { get; set; }
}

/// <summary>LSTM training rows: 50 steps of 16 features, flat, and a class 0..3 (made a key with MapValueToKey).</summary>
public sealed class SequenceRow
{
    [VectorType(800)]
    public float[] Features { get; set; } = [];

    public uint Label { get; set; }
}

/// <summary>
/// Training throughput, side by side in one process: DeepArch's ML.NET <c>Fit</c> from an in-memory
/// <c>IDataView</c> (reading the IDataView, training, ONNX export, and whatever else Fit does) against the same
/// network trained by DeepArch.Trainers' <see cref="TrainingLoop"/> on a <see cref="TrainingSet"/> built from
/// preloaded arrays (no ML.NET at all). Same architecture, seed, batch size 128, Adam 1e-3, epochs.
/// </summary>
internal sealed class TrainingWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private const int Batch = 128;
    private const double Rate = 1e-3;
    private const int Seed = 42;
    private const int LstmSteps = 50;
    private const int LstmFeatures = 16;
    private const int LstmHidden = 128;
    private const int LstmClasses = 4;

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        int epochs = options.TrainEpochs;
        var ml = new MLContext(seed: Seed);
        var wall = System.Diagnostics.Stopwatch.StartNew();
        string loadBefore = MachineInfo.LoadAverage();

        // Data, built before anything is timed.
        var rng = new Random(Seed);
        int aeN = options.AeTrainRows, lnN = options.LeNetTrainRows;
        var aeFlat = new float[aeN * 784];
        for (int i = 0; i < aeFlat.Length; i++)
        {
            aeFlat[i] = rng.NextSingle();
        }
        var aeRows = Enumerable.Range(0, aeN).Select(r => new AeRow { Features = aeFlat.AsSpan(r * 784, 784).ToArray() }).ToList();
        var aeView = ml.Data.LoadFromEnumerable(aeRows);

        var lnFlat = new float[lnN * 1024];
        for (int i = 0; i < lnFlat.Length; i++)
        {
            lnFlat[i] = rng.NextSingle();
        }
        var lnClass = new float[lnN];
        for (int r = 0; r < lnN; r++)
        {
            lnClass[r] = rng.Next(10);
        }
        var lnRows = Enumerable.Range(0, lnN)
            .Select(r => new ImageRow { Features = lnFlat.AsSpan(r * 1024, 1024).ToArray(), Label = (uint)lnClass[r] }).ToList();
        // The key mapping is fitted here, outside timing; its transform is lazy, so Fit reads through it (as a user's pipeline would).
        var lnRaw = ml.Data.LoadFromEnumerable(lnRows);
        var lnView = ml.Transforms.Conversion.MapValueToKey("Label").Fit(lnRaw).Transform(lnRaw);

        // LSTM classifier: 16 features x 50 steps per row, flat, 4 classes.
        int lsN = options.LstmTrainRows;
        var lsFlat = new float[lsN * LstmSteps * LstmFeatures];
        for (int i = 0; i < lsFlat.Length; i++)
        {
            lsFlat[i] = rng.NextSingle() * 2 - 1;
        }
        var lsClass = new float[lsN];
        for (int r = 0; r < lsN; r++)
        {
            lsClass[r] = rng.Next(LstmClasses);
        }
        int threads = options.TrainingThreads;

        double FitAe(bool explicitThreshold)
        {
            var o = new AutoencoderAnomalyDetectionTrainer.Options
            {
                LayerSizes = [256, 32], OutputActivation = ActivationKind.Sigmoid,
                Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, TrainingThreads = threads,
            };
            if (explicitThreshold)
            {
                // No threshold from the training scores: Fit skips its scoring pass over the training rows.
                o.ThresholdSource = AnomalyThresholdSource.Explicit;
                o.Threshold = 1;
            }
            var model = ml.AnomalyDetection.Trainers.Autoencoder(o).Fit(aeView);
            (model as IDisposable)?.Dispose();
            return 1;
        }

        // What reading the IDataView costs on its own: DeepArch's training reader (TrainingDataReader, as Fit calls it) over
        // the feature column, and the way it read before (rows copied into a List<float>, then ToArray) for comparison.
        static double ReadFeatures(IDataView view, int width)
            => DeepArch.MLNet.Data.TrainingDataReader.ReadFeatures(view, view.Schema["Features"], width, CancellationToken.None).Length;

        static double ReadView(IDataView view, int width, bool label)
        {
            var rows = new List<float>(1 << 20);
            var cols = view.Schema.Where(c => c.Name == "Features" || (label && c.Name == "Label")).ToArray();
            using var cursor = view.GetRowCursor(cols);
            var features = cursor.GetGetter<VBuffer<float>>(view.Schema["Features"]);
            ValueGetter<uint>? labels = label ? cursor.GetGetter<uint>(view.Schema["Label"]) : null;
            var buffer = default(VBuffer<float>);
            uint key = 0;
            double sum = 0;
            var flat = new float[width];
            while (cursor.MoveNext())
            {
                features(ref buffer);
                buffer.CopyTo(flat);
                rows.AddRange(flat);
                if (labels is not null)
                {
                    labels(ref key);
                    sum += key;
                }
            }
            return sum + rows.Count;
        }

        double RawAe()
        {
            var spec = Autoencoder.Create([784, 256, 32], ActivationKind.ReLU, ActivationKind.Sigmoid);
            using var net = new Network(spec, [784], Seed);
            var set = new TrainingSet(aeFlat, [784], aeFlat, 784);
            var h = new TrainingLoop(new TrainingOptions { Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, Threads = threads })
                .Fit(new SupervisedObjective(net, LossFunction.MeanSquaredError), set);
            return h.Epochs[^1].TrainLoss;
        }

        double FitLeNet()
        {
            var trainer = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
            {
                Preset = ConvolutionalPreset.LeNet5, InputShape = [1, 32, 32],
                Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, TrainingThreads = threads,
            });
            var model = trainer.Fit(lnView);
            (model as IDisposable)?.Dispose();
            return 1;
        }

        double RawLeNet()
        {
            var spec = LeNet5.Create([1, 32, 32], 10);
            using var net = new Network(spec, [1, 32, 32], Seed);
            var set = new TrainingSet(lnFlat, [1, 32, 32], lnClass, 1);
            var h = new TrainingLoop(new TrainingOptions { Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, Threads = threads })
                .Fit(new SupervisedObjective(net, LossFunction.CrossEntropy), set);
            return h.Epochs[^1].TrainLoss;
        }

        // The LSTM classifier through DeepArch: RecurrentNetwork from an IDataView (Fit), and the same network (Recurrent LSTM
        // over the flat [steps * features] row, last hidden state, Dense 4) by NetworkTrainer on preloaded arrays.
        // Gradient clipping off on both, as in the raw loop and PyTorch (RecurrentNetwork's default clips at norm 5).
        var lsRows = Enumerable.Range(0, lsN).Select(r => new SequenceRow
        {
            Features = lsFlat.AsSpan(r * LstmSteps * LstmFeatures, LstmSteps * LstmFeatures).ToArray(),
            Label = (uint)lsClass[r],
        }).ToList();
        var lsRaw = ml.Data.LoadFromEnumerable(lsRows);
        var lsView = ml.Transforms.Conversion.MapValueToKey("Label").Fit(lsRaw).Transform(lsRaw);
        double FitLstm()
        {
            var model = ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
            {
                FeaturesPerStep = LstmFeatures, Cell = RecurrentCell.Lstm, HiddenSize = LstmHidden, GradientClipNorm = 0,
                Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, TrainingThreads = threads,
            }).Fit(lsView);
            model.Dispose();
            return 1;
        }
        double RawLstm()
        {
            var spec = new Sequential(new Recurrent(RecurrentCell.Lstm, hiddenSize: LstmHidden, features: LstmFeatures), new Dense(LstmClasses));
            using var net = new Network(spec, [LstmSteps * LstmFeatures], Seed);
            var set = new TrainingSet(lsFlat, [LstmSteps * LstmFeatures], lsClass, 1);
            var h = new TrainingLoop(new TrainingOptions { Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, Threads = threads })
                .Fit(new SupervisedObjective(net, LossFunction.CrossEntropy), set);
            return h.Epochs[^1].TrainLoss;
        }

        double TorchAe() => TorchLoops.Train(TorchLoops.Autoencoder, aeFlat, 784, null, epochs, Batch, Rate, Seed, threads);
        double TorchLeNet() => TorchLoops.Train(TorchLoops.LeNet5, lnFlat, 1024, lnClass, epochs, Batch, Rate, Seed, threads);
        double TorchLstm() => TorchLoops.Train(() => TorchLoops.Lstm(LstmSteps, LstmFeatures, LstmHidden, LstmClasses),
            lsFlat, LstmSteps * LstmFeatures, lsClass, epochs, Batch, Rate, Seed, threads);

        // The anomaly detector's threshold pass with StandardizeError, before and after this change, on one trained network.
        using var thresholdPass = new ThresholdPass(aeFlat, 784, epochs: 1, Seed);

        var contenders = new List<Contender>
        {
            new("fit-ae", (long)aeN * epochs, "ae-fit", () => FitAe(false)),
            new("torch-ae", (long)aeN * epochs, "ae-torch", TorchAe),
            new("fit-ae-explicit-threshold", (long)aeN * epochs, "ae-fit-explicit", () => FitAe(true)),
            new("raw-ae", (long)aeN * epochs, "ae-raw", RawAe),
            new("fit-lenet5", (long)lnN * epochs, "lenet-fit", FitLeNet),
            new("torch-lenet5", (long)lnN * epochs, "lenet-torch", TorchLeNet),
            new("raw-lenet5", (long)lnN * epochs, "lenet-raw", RawLeNet),
            new("fit-lstm", (long)lsN * epochs, "lstm-fit", FitLstm),
            new("torch-lstm", (long)lsN * epochs, "lstm-torch", TorchLstm),
            new("raw-lstm", (long)lsN * epochs, "lstm-raw", RawLstm),
            new("read-ae", (long)aeN * epochs, "ae-read", () => ReadFeatures(aeView, 784)),
            new("read-ae-list-before", (long)aeN * epochs, "ae-read", () => ReadView(aeView, 784, false)),
            new("read-lenet5", (long)lnN * epochs, "lenet-read", () => ReadFeatures(lnView, 1024)),
            new("threshold-pass-plain-before", aeN, "thr-plain", thresholdPass.Plain),
            new("threshold-pass-plain-after", aeN, "thr-plain", thresholdPass.PlainAfter),
            new("threshold-pass-standardized-before", aeN, "thr-std", thresholdPass.StandardizedBefore),
            new("threshold-pass-standardized-after", aeN, "thr-std", thresholdPass.StandardizedAfter),
        };
        log.WriteLine($"training: AE {aeN} rows, LeNet-5 {lnN} rows, LSTM {lsN} rows, {epochs} epoch(s), batch {Batch}, {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);

        // PyTorch, right after, in the same window: the same rows, epochs (plus one untimed warm-up epoch), batch and optimizer.
        var torchRef = new TorchReference(options.TorchReference, log);
        var pyAe = torchRef.Train("ae", aeN, epochs, threads);
        var pyLeNet = torchRef.Train("lenet", lnN, epochs, threads);
        var pyLstm = torchRef.Train("lstm", lsN, epochs, threads);

        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# DeepArch training benchmark");
        sb.AppendLine();
        sb.AppendLine(inv, $"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine(inv, $"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", inv)} UTC; wall time {wall.Elapsed.TotalSeconds:F0} s; load average before {loadBefore}, after {MachineInfo.LoadAverage()}");
        sb.AppendLine(inv, $"- Machine: nproc {Environment.ProcessorCount}; CPU {MachineInfo.CpuModel()}; RAM {MachineInfo.MemoryGb()}; {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        sb.AppendLine(inv, $"- .NET: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}; Microsoft.ML {MachineInfo.VersionOf(typeof(MLContext).Assembly)}; TorchSharp {MachineInfo.VersionOf("TorchSharp")}; DeepArch git {MachineInfo.GitState(AppContext.BaseDirectory)}");
        sb.AppendLine(inv, $"- Threading environment: {MachineInfo.ThreadingEnvironment()}");
        sb.AppendLine();
        sb.AppendLine(inv, $"Protocol: batch {Batch}, Adam lr {Rate}, seed {Seed}, {epochs} epoch(s) per pass, {options.Warmups} warm-up pass(es) of every contender, {reps} interleaved repetitions. Samples/s = rows x epochs / wall seconds of the whole pass.");
        sb.AppendLine();
        sb.AppendLine("Contenders: **Fit** = DeepArch's ML.NET trainer `Fit(IDataView)` (reading the IDataView, training, ONNX export, for the AE the Contamination threshold pass); " +
                      "**raw TorchSharp** = the same network built from plain TorchSharp modules and trained by a hand-written loop on one preloaded tensor (TorchLoops.cs: randperm, index_select, Adam; no DeepArch code); " +
                      "**NetworkTrainer** = DeepArch.Trainers' loop on preloaded arrays (no ML.NET); **PyTorch** = torch_reference.py run right after, same rows, epochs and batch (its samples/s cover the timed epochs only, after one untimed warm-up epoch, so it leaves out set-up that the C# passes include).");
        sb.AppendLine();
        sb.AppendLine("| workload | rows x epochs | Fit samples/s | raw TorchSharp samples/s | NetworkTrainer samples/s | PyTorch samples/s | Fit / raw TorchSharp (per-rep) | Fit / NetworkTrainer | Fit / PyTorch | raw TorchSharp / PyTorch |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        string R(string id) => t.TryGetValue(id, out var x) ? x.MedianRowsPerSecond.ToString("F0", inv) : "n/a";
        string Ra(string a, string b) => t.ContainsKey(a) && t.ContainsKey(b)
            ? $"{Stats.MedianRatio(t[a], t[b]).ToString("F3", inv)} ({string.Join(", ", t[a].RowsPerSecond.Zip(t[b].RowsPerSecond, (x, y) => (x / y).ToString("F2", inv)))})" : "n/a";
        string Rp(string a, double? py) => t.ContainsKey(a) && py is { } p ? (t[a].MedianRowsPerSecond / p).ToString("F3", inv) : "n/a";
        string P(double? py) => py is { } p ? p.ToString("F0", inv) : "not run";
        void Row(string name, string fit, string torchId, string raw, int n, double? py)
        {
            sb.AppendLine(inv, $"| {name} | {n} x {epochs} | {R(fit)} | {R(torchId)} | {R(raw)} | {P(py)} | {Ra(fit, torchId)} | {Ra(fit, raw)} | {Rp(fit, py)} | {Rp(torchId, py)} |");
            string label = name.Split(" (")[0];
            if (t.ContainsKey(fit))
            {
                Summary.Add(new("Training", $"{label}, {n} x {epochs} epochs", R(fit) + " samples/s", "raw TorchSharp, preloaded tensor", R(torchId) + " samples/s",
                    Stats.MedianRatio(t[fit], t[torchId]), 0.9, "0.9x"));
                Summary.Add(new("Training", $"{label}, {n} x {epochs} epochs", R(fit) + " samples/s", "PyTorch 1.13 (torch_reference.py)", P(py) + (py is null ? "" : " samples/s"),
                    py is { } p ? t[fit].MedianRowsPerSecond / p : double.NaN, 0.8, "0.8x"));
            }
            else
            {
                Summary.Add(new("Training", $"{label}, {n} x {epochs} epochs", "pending (no DeepArch trainer on main yet)", "raw TorchSharp vs PyTorch 1.13",
                    $"{R(torchId)} vs {P(py)} samples/s", py is { } p ? t[torchId].MedianRowsPerSecond / p : double.NaN, null, "(raw TorchSharp / PyTorch)"));
            }
        }
        Row("AE 784-256-32-256-784 (MSE, sigmoid out)", "fit-ae", "torch-ae", "raw-ae", aeN, pyAe);
        Row("LeNet-5 1x32x32, 10 classes (cross-entropy)", "fit-lenet5", "torch-lenet5", "raw-lenet5", lnN, pyLeNet);
        Row("LSTM 16 features x 50 steps, hidden 128, 4 classes", "fit-lstm", "torch-lstm", "raw-lstm", lsN, pyLstm);
        sb.AppendLine();
        sb.AppendLine(inv, $"PyTorch runs: {torchRef.Describe()}");
        sb.AppendLine();
        {
            double before = Stats.Median(t["threshold-pass-standardized-before"].Seconds), after = Stats.Median(t["threshold-pass-standardized-after"].Seconds);
            double plain = Stats.Median(t["threshold-pass-plain-before"].Seconds), plainAfter = Stats.Median(t["threshold-pass-plain-after"].Seconds);
            sb.AppendLine(inv, $"Anomaly detector threshold pass over the {aeN:N0} training rows (one trained network; export + ONNX Runtime session + scoring + quantile): " +
                               $"plain {plain * 1e3:F0} ms before (ONNX Runtime's default threads), {plainAfter * 1e3:F0} ms after (one thread per core), " +
                               $"{Stats.MedianRatio(t["threshold-pass-plain-after"], t["threshold-pass-plain-before"]):F2}x as fast; with StandardizeError before this change (two exports, sessions and passes) {before * 1e3:F0} ms, after (one pass) {after * 1e3:F0} ms, " +
                               $"{Stats.MedianRatio(t["threshold-pass-standardized-after"], t["threshold-pass-standardized-before"]):F2}x as fast; thresholds before/after differ by {thresholdPass.ThresholdDifference:E1} (relative). " +
                               $"The plain pass is {plainAfter / Stats.Median(t["fit-ae"].Seconds):P0} of a Fit of {epochs} epoch(s).");
            sb.AppendLine();
            Summary.Add(new("Training", $"AE threshold pass (Contamination), {aeN} rows", $"{plainAfter * 1e3:F0} ms (after)", "the same pass before the change", $"{plain * 1e3:F0} ms",
                Stats.MedianRatio(t["threshold-pass-plain-after"], t["threshold-pass-plain-before"]), null, "(speed ratio)"));
            Summary.Add(new("Training", $"AE threshold pass, StandardizeError, {aeN} rows", $"{after * 1e3:F0} ms (after)", "the same pass before the change", $"{before * 1e3:F0} ms",
                Stats.MedianRatio(t["threshold-pass-standardized-after"], t["threshold-pass-standardized-before"]), null, "(speed ratio)"));
        }
        sb.AppendLine(inv, $"Reading the AE's {aeN:N0} training rows from the IDataView: DeepArch's TrainingDataReader (one array sized from the row count) {Stats.Median(t["read-ae"].Seconds) * 1e3:F0} ms, " +
                           $"the list-based read it replaced {Stats.Median(t["read-ae-list-before"].Seconds) * 1e3:F0} ms ({Stats.MedianRatio(t["read-ae"], t["read-ae-list-before"]):F2}x as fast).");
        sb.AppendLine();
        sb.AppendLine("Where Fit's extra time goes (median seconds per pass; parts measured as separate contenders in the same repetitions, so they add up only roughly):");
        sb.AppendLine();
        sb.AppendLine("| workload | Fit | raw training | Fit - raw | reading the IDataView | AE threshold scoring pass (Fit - Fit with an explicit threshold) | rest (network/optimizer set-up is in both; ONNX export, checks, ML.NET schema work) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        double M(string id) => Stats.Median(t[id].Seconds);
        {
            double fit = M("fit-ae"), raw = M("raw-ae"), read = M("read-ae"), thr = fit - M("fit-ae-explicit-threshold");
            sb.AppendLine(inv, $"| AE | {fit:F3} | {raw:F3} | {fit - raw:F3} | {read:F3} | {thr:F3} | {fit - raw - read - thr:F3} |");
            fit = M("fit-lenet5"); raw = M("raw-lenet5"); read = M("read-lenet5");
            sb.AppendLine(inv, $"| LeNet-5 | {fit:F3} | {raw:F3} | {fit - raw:F3} | {read:F3} | n/a | {fit - raw - read:F3} |");
        }
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
        return (sb.ToString(), true);
    }
}
