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

/// <summary>
/// Training throughput, side by side in one process: DeepArch's ML.NET <c>Fit</c> from an in-memory
/// <c>IDataView</c> (reading the IDataView, training, ONNX export, and whatever else Fit does) against the same
/// network trained by DeepArch.Trainers' <see cref="NetworkTrainer"/> on a <see cref="TrainingSet"/> built from
/// preloaded arrays (no ML.NET at all). Same architecture, seed, batch size 128, Adam 1e-3, epochs.
/// </summary>
internal sealed class TrainingWorkload(BenchOptions options, TextWriter log)
{
    private const int Batch = 128;
    private const double Rate = 1e-3;
    private const int Seed = 42;

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

        double FitAe(bool explicitThreshold)
        {
            var o = new AutoencoderAnomalyDetectionTrainer.Options
            {
                LayerSizes = [256, 32], OutputActivation = ActivationKind.Sigmoid,
                Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed,
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

        // What reading the IDataView costs on its own: one cursor over the columns Fit reads, copied into a flat array.
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
            var h = new NetworkTrainer(new TrainingOptions { Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed }, LossFunction.MeanSquaredError)
                .Fit(net, set);
            return h.Epochs[^1].TrainLoss;
        }

        double FitLeNet()
        {
            var trainer = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
            {
                Preset = ConvolutionalPreset.LeNet5, InputShape = [1, 32, 32],
                Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed,
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
            var h = new NetworkTrainer(new TrainingOptions { Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed }, LossFunction.CrossEntropy)
                .Fit(net, set);
            return h.Epochs[^1].TrainLoss;
        }

        var contenders = new List<Contender>
        {
            new("fit-ae", (long)aeN * epochs, "ae-fit", () => FitAe(false)),
            new("fit-ae-explicit-threshold", (long)aeN * epochs, "ae-fit-explicit", () => FitAe(true)),
            new("raw-ae", (long)aeN * epochs, "ae-raw", RawAe),
            new("fit-lenet5", (long)lnN * epochs, "lenet-fit", FitLeNet),
            new("raw-lenet5", (long)lnN * epochs, "lenet-raw", RawLeNet),
            new("read-ae", (long)aeN * epochs, "ae-read", () => ReadView(aeView, 784, false)),
            new("read-lenet5", (long)lnN * epochs, "lenet-read", () => ReadView(lnView, 1024, true)),
        };
        log.WriteLine($"training: AE {aeN} rows, LeNet-5 {lnN} rows, {epochs} epoch(s), batch {Batch}, {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);

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
        sb.AppendLine("| workload | rows x epochs | DeepArch Fit (IDataView) samples/s | raw TorchSharp (NetworkTrainer on TrainingSet) samples/s | Fit / raw (median of per-rep ratios) | per-rep ratios | >= 0.9x |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|---|");
        void Row(string name, string a, string b, int n)
        {
            var ta = t[a];
            var tb = t[b];
            double ratio = Stats.MedianRatio(ta, tb);
            var per = ta.RowsPerSecond.Zip(tb.RowsPerSecond, (x, y) => (x / y).ToString("F3", inv));
            sb.AppendLine(inv, $"| {name} | {n} x {epochs} | {ta.MedianRowsPerSecond:F0} | {tb.MedianRowsPerSecond:F0} | {ratio:F3} | {string.Join(", ", per)} | {(ratio >= 0.9 ? "yes" : "no")} |");
        }
        Row("AE 784-256-32-256-784 (MSE, sigmoid out)", "fit-ae", "raw-ae", aeN);
        Row("LeNet-5 1x32x32, 10 classes (cross-entropy)", "fit-lenet5", "raw-lenet5", lnN);
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
        bool torch = PythonTorchAvailable();
        sb.AppendLine(torch
            ? "PyTorch is importable by /usr/bin/python3, but this workload does not run the reference yet; run /work/shared/reference/torch_reference.py separately."
            : "PyTorch reference: not run; `/usr/bin/python3 -c \"import torch\"` fails on this machine (no packages were installed).");
        return (sb.ToString(), true);
    }

    private static bool PythonTorchAvailable()
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", "-c \"import torch\"")
            { RedirectStandardError = true, RedirectStandardOutput = true });
            if (p is null)
            {
                return false;
            }
            p.WaitForExit(60_000);
            return p.HasExited && p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
