using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using DeepArch.Trainers;
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
/// network in raw TorchSharp (<see cref="TorchLoops"/>) and trained by DeepArch.Trainers' <see cref="TrainingLoop"/>
/// on a <see cref="TrainingSet"/> built from preloaded arrays (no ML.NET at all), then PyTorch in a separate process.
/// Same architecture, seed, batch size 128, Adam 1e-3, epochs. The anomaly detector's <c>Fit</c> also runs with each
/// threshold option that changes its cost: an explicit threshold (no pass over the training rows) and
/// <c>StandardizeError</c>.
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

        // The anomaly detector as users call it: the default Contamination threshold (Fit scores the training rows once
        // to take the quantile), an explicit threshold (no such pass), or the default with StandardizeError.
        double FitAe(AnomalyThresholdSource source, bool standardizeError)
        {
            var o = new AutoencoderAnomalyDetectionTrainer.Options
            {
                LayerSizes = [256, 32], EnsembleSize = 1, OutputActivation = ActivationKind.Sigmoid, // one network, as PyTorch's
                Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, TrainingThreads = threads,
                ThresholdSource = source, Threshold = source == AnomalyThresholdSource.Explicit ? 1 : null,
                StandardizeError = standardizeError,
            };
            using var model = ml.AnomalyDetection.Trainers.Autoencoder(o).Fit(aeView);
            return 1;
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
        // over the flat [steps * features] row, last hidden state, Dense 4) by TrainingLoop on preloaded arrays.
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

        var contenders = new List<Contender>
        {
            new("fit-ae", (long)aeN * epochs, "ae-fit", () => FitAe(AnomalyThresholdSource.Contamination, false)),
            new("torch-ae", (long)aeN * epochs, "ae-torch", TorchAe),
            new("fit-ae-explicit-threshold", (long)aeN * epochs, "ae-fit-explicit", () => FitAe(AnomalyThresholdSource.Explicit, false)),
            new("fit-ae-standardize-error", (long)aeN * epochs, "ae-fit-standardized", () => FitAe(AnomalyThresholdSource.Contamination, true)),
            new("raw-ae", (long)aeN * epochs, "ae-raw", RawAe),
            new("fit-lenet5", (long)lnN * epochs, "lenet-fit", FitLeNet),
            new("torch-lenet5", (long)lnN * epochs, "lenet-torch", TorchLeNet),
            new("raw-lenet5", (long)lnN * epochs, "lenet-raw", RawLeNet),
            new("fit-lstm", (long)lsN * epochs, "lstm-fit", FitLstm),
            new("torch-lstm", (long)lsN * epochs, "lstm-torch", TorchLstm),
            new("raw-lstm", (long)lsN * epochs, "lstm-raw", RawLstm),
        };
        log.WriteLine($"training: AE {aeN} rows, LeNet-5 {lnN} rows, LSTM {lsN} rows, {epochs} epoch(s), batch {Batch}, {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);

        // PyTorch, right after, in the same window: the same rows, epochs (plus one untimed warm-up epoch), batch and optimizer.
        var torchRef = new TorchReference(options.TorchReference, log);
        var pyAe = torchRef.Train("ae", aeN, epochs, threads);
        var pyLeNet = torchRef.Train("lenet", lnN, epochs, threads);
        var pyLstm = torchRef.Train("lstm", lsN, epochs, threads);
        // PyTorch's own default, one thread per core, when the contenders ran with fewer: what a PyTorch user gets here.
        bool pyDefaultToo = TorchReference.Threads(threads) != Environment.ProcessorCount;
        var pyDefault = pyDefaultToo
            ? (Ae: torchRef.Train("ae", aeN, epochs, 0), LeNet: torchRef.Train("lenet", lnN, epochs, 0), Lstm: torchRef.Train("lstm", lsN, epochs, 0))
            : (Ae: (double?)null, LeNet: (double?)null, Lstm: (double?)null);

        // Where the LSTM's gap to PyTorch comes from: its recurrent GEMM alone, libtorch's BLAS against PyTorch 1.13's, right after.
        double gemm = TorchLoops.LstmGemmCallsPerSecond(threads);
        double? pyGemm = torchRef.Run("lstm_gemm", ["--workload", "lstm_gemm", "--threads", TorchReference.Threads(threads).ToString(CultureInfo.InvariantCulture)])
            ?.GetProperty("samples_per_s").GetDouble();

        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# DeepArch training benchmark");
        sb.AppendLine();
        MachineInfo.AppendRunHeader(sb, wall.Elapsed, loadBefore);
        sb.AppendLine();
        sb.AppendLine(inv, $"Protocol: batch {Batch}, Adam lr {Rate}, seed {Seed}, {epochs} epoch(s) per pass, {options.Warmups} warm-up pass(es) of every contender, {reps} interleaved repetitions, {(threads > 0 ? $"{threads} libtorch/PyTorch thread(s)" : "one libtorch/PyTorch thread per core")} in every contender. Samples/s = rows x epochs / wall seconds of the whole pass.");
        sb.AppendLine();
        sb.AppendLine("Contenders: **Fit** = DeepArch's ML.NET trainer `Fit(IDataView)` (reading the IDataView, training, ONNX export, for the AE the Contamination threshold pass); " +
                      "**raw TorchSharp** = the same network built from plain TorchSharp modules and trained by a hand-written loop on one preloaded tensor (TorchLoops.cs: randperm, index_select, Adam; no DeepArch code); " +
                      "**TrainingLoop** = DeepArch.Trainers' loop on preloaded arrays (no ML.NET); **PyTorch** = torch_reference.py run right after, same rows, epochs and batch (its samples/s cover the timed epochs only, after one untimed warm-up epoch, so it leaves out set-up that the C# passes include).");
        sb.AppendLine();
        sb.AppendLine("| workload | rows x epochs | Fit samples/s | raw TorchSharp samples/s | TrainingLoop samples/s | PyTorch samples/s | Fit / raw TorchSharp (per-rep) | Fit / TrainingLoop | Fit / PyTorch | raw TorchSharp / PyTorch |" +
                      (pyDefaultToo ? $" PyTorch, {Environment.ProcessorCount} threads (its default) | Fit / that |" : ""));
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + (pyDefaultToo ? "---:|---:|" : ""));
        string R(string id) => t[id].MedianRowsPerSecond.ToString("F0", inv);
        string Ra(string a, string b)
            => $"{Stats.MedianRatio(t[a], t[b]).ToString("F3", inv)} ({string.Join(", ", t[a].RowsPerSecond.Zip(t[b].RowsPerSecond, (x, y) => (x / y).ToString("F2", inv)))})";
        string Rp(string a, double? py) => py is { } p ? (t[a].MedianRowsPerSecond / p).ToString("F3", inv) : "n/a";
        string P(double? py) => py is { } p ? p.ToString("F0", inv) : "not run";
        void Row(string name, string fit, string torchId, string raw, int n, double? py, double? pyDefault)
        {
            sb.AppendLine(string.Create(inv, $"| {name} | {n} x {epochs} | {R(fit)} | {R(torchId)} | {R(raw)} | {P(py)} | {Ra(fit, torchId)} | {Ra(fit, raw)} | {Rp(fit, py)} | {Rp(torchId, py)} |") +
                          (pyDefaultToo ? $" {P(pyDefault)} | {Rp(fit, pyDefault)} |" : ""));
            string label = name.Split(" (")[0];
            Summary.Add(new("Training", $"{label}, {n} x {epochs} epochs", R(fit) + " samples/s", "raw TorchSharp, preloaded tensor", R(torchId) + " samples/s",
                Stats.MedianRatio(t[fit], t[torchId]), 0.9, "0.9x"));
            Summary.Add(new("Training", $"{label}, {n} x {epochs} epochs", R(fit) + " samples/s", "PyTorch 1.13 (torch_reference.py)", P(py) + (py is null ? "" : " samples/s"),
                py is { } p ? t[fit].MedianRowsPerSecond / p : double.NaN, 0.8, "0.8x"));
            if (pyDefaultToo)
            {
                Summary.Add(new("Training", $"{label}, {n} x {epochs} epochs", R(fit) + " samples/s", $"PyTorch 1.13, one thread per core ({Environment.ProcessorCount}, its default)",
                    P(pyDefault) + (pyDefault is null ? "" : " samples/s"), pyDefault is { } d ? t[fit].MedianRowsPerSecond / d : double.NaN, null, "(speed ratio)"));
            }
        }
        Row("AE 784-256-32-256-784 (MSE, sigmoid out)", "fit-ae", "torch-ae", "raw-ae", aeN, pyAe, pyDefault.Ae);
        Row("LeNet-5 1x32x32, 10 classes (cross-entropy)", "fit-lenet5", "torch-lenet5", "raw-lenet5", lnN, pyLeNet, pyDefault.LeNet);
        Row("LSTM 16 features x 50 steps, hidden 128, 4 classes", "fit-lstm", "torch-lstm", "raw-lstm", lsN, pyLstm, pyDefault.Lstm);
        sb.AppendLine();
        string gflops(double calls) => (2.0 * 128 * 128 * 512 * calls / 1e9).ToString("F1", inv);
        string gemmLine = string.Create(inv, $"The LSTM's recurrent GEMM of one step alone (linear of [128, 128] by [512, 128] plus bias, no gradient; {TorchReference.Threads(threads)} thread(s)): ")
            + string.Create(inv, $"libtorch (TorchSharp, the BLAS of libtorch-cpu) {gemm:F0} calls/s ({gflops(gemm)} GFLOP/s), PyTorch 1.13 {P(pyGemm)} calls/s")
            + (pyGemm is { } pg ? string.Create(inv, $" ({gflops(pg)} GFLOP/s), ratio {gemm / pg:F2}x.") : ".");
        sb.AppendLine(gemmLine);
        Summary.Add(new("Training", "LSTM's recurrent GEMM of one step (128x128 by 128x512, bias), the BLAS behind the LSTM rows", $"{gemm:F0} calls/s",
            "PyTorch 1.13 (OpenBLAS)", P(pyGemm) + (pyGemm is null ? "" : " calls/s"), pyGemm is { } g ? gemm / g : double.NaN, null, "(speed ratio)"));
        sb.AppendLine();
        sb.AppendLine(inv, $"PyTorch runs: {torchRef.Describe()}");
        sb.AppendLine();
        // The anomaly detector's threshold options, each a whole Fit: what a user pays for the default threshold and for StandardizeError.
        double M(string id) => Stats.Median(t[id].Seconds);
        sb.AppendLine(inv, $"Anomaly detector options (AE, {aeN:N0} rows x {epochs} epoch(s), whole `Fit`; the Contamination threshold scores the training rows once to take its quantile, an explicit threshold skips that pass):");
        sb.AppendLine();
        sb.AppendLine("| `Fit` of the AE detector | median s | samples/s | vs the default (per-rep) |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var (label, id) in new[]
        {
            ("`ThresholdSource = Explicit`", "fit-ae-explicit-threshold"),
            ("default: `ThresholdSource = Contamination`", "fit-ae"),
            ("`Contamination` and `StandardizeError = true`", "fit-ae-standardize-error"),
        })
        {
            sb.AppendLine(inv, $"| {label} | {M(id):F3} | {R(id)} | {Ra(id, "fit-ae")} |");
        }
        sb.AppendLine();
        Summary.Add(new("Training", $"AE detector Fit, default Contamination threshold, {aeN} x {epochs} epochs", $"{M("fit-ae"):F2} s", "ThresholdSource = Explicit (no pass over the training rows)",
            $"{M("fit-ae-explicit-threshold"):F2} s", Stats.MedianRatio(t["fit-ae"], t["fit-ae-explicit-threshold"]), null, "(speed ratio)"));
        Summary.Add(new("Training", $"AE detector Fit with StandardizeError, {aeN} x {epochs} epochs", $"{M("fit-ae-standardize-error"):F2} s", "without (the default)",
            $"{M("fit-ae"):F2} s", Stats.MedianRatio(t["fit-ae-standardize-error"], t["fit-ae"]), null, "(speed ratio)"));
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
