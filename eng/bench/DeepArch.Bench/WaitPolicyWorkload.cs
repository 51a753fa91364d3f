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
/// libtorch's OpenMP wait policy, which libgomp reads once when it loads, so every measurement is a fresh child process
/// of this program (<c>wait-child</c>) started with <c>OMP_WAIT_POLICY</c> in its environment. DeepArch sets PASSIVE
/// unless the variable is set (when DeepArch.Trainers loads); <c>GOMP_SPINCOUNT=300000</c> is what libgomp
/// does when no policy is set, DeepArch's behaviour before. The children get only the setting under test: both variables
/// are removed from what they would inherit. Each child trains one network (the MLP classifier 784-256-128-10, the LeNet-5
/// preset, the anomaly detector's AE with an explicit threshold, or the LSTM classifier) with <c>TrainingThreads</c> 0 (one per core) or 1, on a quiet machine and with as many busy-looping
/// processes as cores (<c>spin-child</c>) standing for the other work of a shared machine.
/// </summary>
internal sealed class WaitPolicyWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>What a child runs: its OpenMP environment, the thread count and the network.</summary>
    private sealed record Config(string Name, string Variable, string Value, int Threads, string Network)
    {
        public string Id => $"{Network}-{Name}-t{Threads}";
    }

    /// <summary>The OpenMP settings compared: (name, variable, value), each set in the child's environment at start.</summary>
    private static readonly (string Name, string Variable, string Value)[] Settings =
    [
        ("spin-300k", "GOMP_SPINCOUNT", "300000"), // libgomp's default when OMP_WAIT_POLICY is not set
        ("passive", "OMP_WAIT_POLICY", "PASSIVE"),
        ("spin-3k", "GOMP_SPINCOUNT", "3000"), // a short spin, then sleep: the quiet machine's gain without the busy one's loss?
    ];

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        int reps = options.RepetitionsGiven ? options.Repetitions : options.Quick ? 2 : 3;
        string[] networks = ["mlp", "lenet", "ae", "lstm"];
        var configs = networks.SelectMany(n => Settings.Select(x => new Config(x.Name, x.Variable, x.Value, 0, n))
            .Append(new Config("deeparch", "", "", 1, n))).ToList();
        var seconds = new Dictionary<(string Load, string Id), List<double>>();
        string loadBefore = MachineInfo.LoadAverage();
        foreach (string load in new[] { "quiet", "busy" })
        {
            var spinners = new List<Process>();
            try
            {
                if (load == "busy")
                {
                    for (int i = 0; i < Environment.ProcessorCount; i++)
                    {
                        spinners.Add(ChildProcess.Start(["spin-child"], redirectOutput: false));
                    }
                }
                for (int rep = 0; rep < reps; rep++)
                {
                    foreach (var config in configs)
                    {
                        double s = Child(config, options.Quick);
                        log.WriteLine($"wait-policy: {load} {config.Id} rep {rep + 1}: {s:F2} s");
                        (seconds.TryGetValue((load, config.Id), out var list) ? list : seconds[(load, config.Id)] = []).Add(s);
                    }
                }
            }
            finally
            {
                foreach (var spinner in spinners)
                {
                    spinner.Kill();
                    spinner.WaitForExit();
                    spinner.Dispose();
                }
            }
        }
        return (BuildReport(seconds, configs, networks, reps, loadBefore, wall.Elapsed), true);
    }

    /// <summary>Runs one child and returns the seconds of its timed Fit.</summary>
    private static double Child(Config config, bool quick) => TimeFit(config.Network, config.Threads, quick, ChildEnvironment(config));

    /// <summary>
    /// Starts a <c>wait-child</c> (the <see cref="RunChild"/> below) for <paramref name="network"/> with <paramref name="threads"/>
    /// training threads and <paramref name="environment"/>, and returns the seconds of its timed <c>Fit</c>. The <c>onednn</c> step uses it too.
    /// </summary>
    internal static double TimeFit(string network, int threads, bool quick, IReadOnlyDictionary<string, string?> environment)
        => ChildProcess.Run<ChildResult>(["wait-child", network, threads.ToString(Inv), quick ? "quick" : "full"], environment).Seconds;

    private static Dictionary<string, string?> ChildEnvironment(Config config)
    {
        var environment = new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = null, ["GOMP_SPINCOUNT"] = null };
        if (config.Variable.Length > 0)
        {
            environment[config.Variable] = config.Value;
        }
        return environment;
    }

    private sealed record ChildResult(double Seconds, double Loss);

    /// <summary>A busy loop standing for another process's work, until the parent kills it.</summary>
    public static int Spin()
    {
        double x = 1;
        while (true)
        {
            x = Math.Sqrt(x + 1);
            if (x < 0)
            {
                return 1; // never: keeps the loop from being optimized away
            }
        }
    }

    /// <summary>The child: one warm-up Fit, one timed Fit, then one JSON line. Arguments: network (mlp|lenet|ae|lstm), threads, quick|full.</summary>
    public static int RunChild(string[] args)
    {
        string network = args[1];
        int threads = int.Parse(args[2], Inv);
        bool quick = args[3] == "quick";
        var ml = new MLContext(seed: 1);
        var rng = new Random(5);
        Func<double> fit;
        if (network == "mlp")
        {
            // The scoring step's MLP, 784-256-128-10, trained as a classifier.
            int rows = quick ? 4_000 : 10_000;
            var raw = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(_ => new TrainRow
            {
                Features = Enumerable.Range(0, 784).Select(_ => rng.NextSingle()).ToArray(),
                Label = (uint)rng.Next(10),
            }).ToList());
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            fit = () =>
            {
                using var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
                {
                    HiddenLayers = [256, 128], Epochs = 2, BatchSize = 128, Seed = 1, TrainingThreads = threads,
                }).Fit(data);
                return model.History.Epochs[^1].TrainLoss;
            };
        }
        else if (network == "lenet")
        {
            // The training step's LeNet-5 on 1x32x32 images, 10 classes.
            int rows = quick ? 1_500 : 4_000;
            var raw = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(_ => new ImageRow
            {
                Features = Enumerable.Range(0, 1024).Select(_ => rng.NextSingle()).ToArray(),
                Label = (uint)rng.Next(10),
            }).ToList());
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            fit = () =>
            {
                using var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
                {
                    Preset = ConvolutionalPreset.LeNet5, InputShape = [1, 32, 32], Epochs = 2, BatchSize = 128, Seed = 1, TrainingThreads = threads,
                }).Fit(data);
                return model.History.Epochs[^1].TrainLoss;
            };
        }
        else if (network == "ae")
        {
            // The training workload's autoencoder and batch.
            int rows = quick ? 4_000 : 10_000;
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows)
                .Select(_ => new AeRow { Features = Enumerable.Range(0, 784).Select(_ => rng.NextSingle()).ToArray() }).ToList());
            fit = () =>
            {
                using var model = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
                {
                    LayerSizes = [256, 32], EnsembleSize = 1, OutputActivation = ActivationKind.Sigmoid, Epochs = 2, BatchSize = 128, Seed = 1,
                    ThresholdSource = AnomalyThresholdSource.Explicit, Threshold = 1, TrainingThreads = threads,
                }).Fit(data);
                return model.History.Epochs[^1].TrainLoss;
            };
        }
        else
        {
            // The training workload's LSTM classifier: 50 steps of 16 features, hidden 128, 4 classes.
            int rows = quick ? 800 : 2_000;
            var raw = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(_ => new SequenceRow
            {
                Features = Enumerable.Range(0, 800).Select(_ => rng.NextSingle() * 2 - 1).ToArray(),
                Label = (uint)rng.Next(4),
            }).ToList());
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            fit = () =>
            {
                using var model = ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
                {
                    FeaturesPerStep = 16, Cell = RecurrentCell.Lstm, HiddenSize = 128, GradientClipNorm = 0, Epochs = 2, BatchSize = 128, Seed = 1,
                    TrainingThreads = threads,
                }).Fit(data);
                return model.History.Epochs[^1].TrainLoss;
            };
        }
        fit(); // warm-up: JIT, libtorch's first allocations
        var sw = Stopwatch.StartNew();
        double loss = fit();
        Console.WriteLine(JsonSerializer.Serialize(new ChildResult(sw.Elapsed.TotalSeconds, loss)));
        return 0;
    }

    private string BuildReport(Dictionary<(string Load, string Id), List<double>> seconds, List<Config> configs, string[] networks, int reps,
        string loadBefore, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# DeepArch OpenMP wait policy").AppendLine();
        sb.AppendLine(Inv, $"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine(Inv, $"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; wall time {elapsed.TotalSeconds:F0} s; nproc {Environment.ProcessorCount}; " +
                           $"load average before {loadBefore}, after {MachineInfo.LoadAverage()}; {reps} interleaved repetitions, medians.");
        sb.AppendLine("- Each figure is one fresh process (`wait-child`) started with one OpenMP setting in its environment, timing its second `Fit` " +
                      "(the first warms up), with `TrainingThreads = 0` (one per core) in the OpenMP settings' columns and 1 (DeepArch's default) in the last. " +
                      $"MLP: `MulticlassClassification.Trainers.MultilayerPerceptron` 784-256-128-10, {(options.Quick ? "4,000" : "10,000")} rows x 2 epochs, batch 128; " +
                      $"LeNet-5: `ConvolutionalNetwork` with `Preset = LeNet5` on 1x32x32, 10 classes, {(options.Quick ? "1,500" : "4,000")} rows x 2 epochs, batch 128; " +
                      $"AE: the anomaly detector 784-256-32-256-784, explicit threshold, {(options.Quick ? "4,000" : "10,000")} rows x 2 epochs, batch 128; " +
                      $"LSTM: `MulticlassClassification.Trainers.RecurrentNetwork`, 50 steps x 16 features, hidden 128, 4 classes, {(options.Quick ? "800" : "2,000")} rows x 2 epochs, batch 128 " +
                      "(the training step's networks). **busy**: as many busy-looping processes (`spin-child`) as cores run meanwhile, " +
                      "standing for the other work of a shared machine. `GOMP_SPINCOUNT=300000` is what libgomp does when `OMP_WAIT_POLICY` is not set " +
                      "(an idle worker spins about 3 ms before it sleeps); `OMP_WAIT_POLICY=PASSIVE` sleeps at once.");
        sb.AppendLine();
        var names = Settings.Select(x => (x.Name, $"{x.Variable}={x.Value}" + x.Name switch
            {
                "passive" => " (DeepArch's below 8 cores)",
                "spin-300k" => " (libgomp's default)",
                _ => "",
            }, 0))
            .Append(("deeparch", "TrainingThreads = 1 (the default)", 1)).ToList();
        sb.AppendLine("| network | machine | " + string.Join(" | ", names.Select(n => n.Item2)) + " | fastest |");
        sb.AppendLine("| --- | --- |" + string.Concat(names.Select(_ => " ---: |")) + " --- |");
        foreach (string network in networks)
        {
            foreach (string load in new[] { "quiet", "busy" })
            {
                List<double> S((string Name, string Label, int Threads) n) => seconds[(load, new Config(n.Name, "", "", n.Threads, network).Id)];
                var medians = names.Select(n => Stats.Median(S(n))).ToList();
                int best = medians.IndexOf(medians.Min());
                string cells = string.Join(" | ", names.Select((n, i) =>
                    string.Create(Inv, $"{medians[i]:F2} s ({string.Join(", ", S(n).Select(x => x.ToString("F2", Inv)))})")));
                sb.AppendLine(Inv, $"| {network.ToUpperInvariant()} | {load} | {cells} | {names[best].Item2} |");
                double spin = medians[0];
                for (int i = 1; i < names.Count; i++)
                {
                    Summary.Add(new("Threads", $"{network.ToUpperInvariant()} Fit, {load} machine: {names[i].Item2}", $"{medians[i]:F2} s",
                        "GOMP_SPINCOUNT=300000 (libgomp's default)", $"{spin:F2} s", spin / medians[i], null, "(speed ratio)"));
                }
            }
        }
        sb.AppendLine();
        return sb.ToString();
    }
}
