using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepArch.MLNet;
using DeepArch.MLNet.Trainers;
using DeepArch.Trainers.Layers;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Bench;

/// <summary>
/// libtorch's OpenMP wait policy, which libgomp reads once when it loads, so every measurement is a fresh child process
/// of this program (<c>wait-child</c>) started with <c>OMP_WAIT_POLICY</c> in its environment. DeepArch sets PASSIVE
/// unless the variable is set (<c>TorchRuntime.PrepareNativeEnvironment</c>); ACTIVE is libgomp's spinning behaviour,
/// DeepArch's default before. Each child trains the anomaly detector's AE (explicit threshold) and a small LSTM
/// regressor with <c>TrainingThreads</c> 0 (one per core) or 1, on a quiet machine and with as many busy-looping
/// processes as cores (<c>spin-child</c>) standing for the other work of a shared machine.
/// </summary>
internal sealed class WaitPolicyWorkload(BenchOptions options, TextWriter log)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>What a child runs: the wait policy, the thread count and the network.</summary>
    private sealed record Config(string Policy, int Threads, string Network)
    {
        public string Id => $"{Network}-{Policy.ToLowerInvariant()}-t{Threads}";
    }

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        int reps = options.RepetitionsGiven ? options.Repetitions : options.Quick ? 2 : 3;
        string[] networks = ["ae", "lstm"];
        var configs = networks.SelectMany(n => new[] { new Config("PASSIVE", 0, n), new Config("ACTIVE", 0, n), new Config("PASSIVE", 1, n) }).ToList();
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
                        spinners.Add(Start(["spin-child"], null, redirect: false));
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

    private Process Start(IEnumerable<string> arguments, string? policy, bool redirect)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = redirect, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(WaitPolicyWorkload).Assembly.Location);
        }
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }
        if (policy is not null)
        {
            psi.Environment["OMP_WAIT_POLICY"] = policy;
        }
        return Process.Start(psi)!;
    }

    /// <summary>Runs one child and returns the seconds of its timed Fit.</summary>
    private double Child(Config config, bool quick)
    {
        using var p = Start(["wait-child", config.Network, config.Threads.ToString(Inv), quick ? "quick" : "full"], config.Policy, redirect: true);
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string? line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (p.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"wait-child {config.Id} failed with exit code {p.ExitCode}.");
        }
        return JsonSerializer.Deserialize<ChildResult>(line)!.Seconds;
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

    /// <summary>The child: one warm-up Fit, one timed Fit, then one JSON line. Arguments: network (ae|lstm), threads, quick|full.</summary>
    public static int RunChild(string[] args)
    {
        string network = args[1];
        int threads = int.Parse(args[2], Inv);
        bool quick = args[3] == "quick";
        var ml = new MLContext(seed: 1);
        var rng = new Random(5);
        Func<double> fit;
        if (network == "ae")
        {
            int rows = quick ? 2_000 : 5_000;
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows)
                .Select(_ => new AeRow { Features = Enumerable.Range(0, 784).Select(_ => rng.NextSingle()).ToArray() }).ToList());
            fit = () =>
            {
                using var model = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
                {
                    LayerSizes = [256, 32], OutputActivation = ActivationKind.Sigmoid, Epochs = 2, BatchSize = 64, Seed = 1,
                    ThresholdSource = AnomalyThresholdSource.Explicit, Threshold = 1, TrainingThreads = threads,
                }).Fit(data);
                return model.History.Epochs[^1].TrainLoss;
            };
        }
        else
        {
            int rows = quick ? 800 : 2_000;
            var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(_ => new WindowRow
            {
                Features = Enumerable.Range(0, 26).Select(_ => rng.NextSingle()).ToArray(),
                Label = rng.NextSingle(),
            }).ToList());
            fit = () =>
            {
                using var model = ml.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
                {
                    FeaturesPerStep = 1, Cell = RecurrentCell.Lstm, HiddenSize = 32, Epochs = 2, BatchSize = 64, Seed = 1, TrainingThreads = threads,
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
        sb.AppendLine("- Each figure is one fresh process (`wait-child`) started with `OMP_WAIT_POLICY` set, timing its second `Fit` (the first warms up). " +
                      "AE: the anomaly detector 784-256-32-256-784, explicit threshold, 2 epochs, batch 64; LSTM: `Regression.Trainers.RecurrentNetwork`, " +
                      "26 steps x 1 feature, hidden 32, 2 epochs, batch 64. **busy**: as many busy-looping processes (`spin-child`) as cores run meanwhile. " +
                      "PASSIVE with `TrainingThreads = 0` is DeepArch's default; ACTIVE (libgomp spins before it sleeps) was the default before.");
        sb.AppendLine();
        sb.AppendLine("| network | machine | PASSIVE, 0 threads (default) | ACTIVE, 0 threads | PASSIVE, 1 thread | ACTIVE / default (time) | 1 thread / default (time) |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (string network in networks)
        {
            foreach (string load in new[] { "quiet", "busy" })
            {
                double M(string policy, int threads) => Stats.Median(seconds[(load, new Config(policy, threads, network).Id)]);
                double passive = M("PASSIVE", 0), active = M("ACTIVE", 0), one = M("PASSIVE", 1);
                string Range(string policy, int threads) => string.Join(", ", seconds[(load, new Config(policy, threads, network).Id)].Select(s => s.ToString("F2", Inv)));
                sb.AppendLine(Inv, $"| {network.ToUpperInvariant()} | {load} | {passive:F2} s ({Range("PASSIVE", 0)}) | {active:F2} s ({Range("ACTIVE", 0)}) | " +
                                   $"{one:F2} s ({Range("PASSIVE", 1)}) | {active / passive:F2}x | {one / passive:F2}x |");
                Summary.Add(new("Threads", $"OpenMP wait policy, {network.ToUpperInvariant()} Fit, {load} machine: PASSIVE (default) vs ACTIVE",
                    $"{passive:F2} s", "OMP_WAIT_POLICY=ACTIVE", $"{active:F2} s", active / passive, null, "(speed ratio)"));
            }
        }
        sb.AppendLine();
        return sb.ToString();
    }
}

/// <summary>LSTM regressor rows of the wait-policy workload: a window of 26 values and the next one.</summary>
public sealed class WindowRow
{
    [VectorType(26)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}
