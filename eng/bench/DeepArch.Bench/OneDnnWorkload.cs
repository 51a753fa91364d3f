using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace DeepArch.Bench;

/// <summary>
/// What libtorch's oneDNN kernels give DeepArch: the <c>LeNet5</c> preset's and the LSTM classifier's <c>Fit</c> (the
/// <c>wait-policy</c> step's children, public API) in fresh processes, with oneDNN on (<c>DEEPARCH_ONEDNN=1</c>), with
/// <c>DEEPARCH_ONEDNN=0</c> (ATen's own kernels, DeepArch's default until 2026-12-05), and as DeepArch chooses (the variable unset:
/// on for a training exactly when oneDNN agrees with ATen on this CPU for each of its convolutions and LSTMs), at one thread (the
/// default) and at one per core, interleaved.
/// </summary>
internal sealed class OneDnnWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        string loadBefore = MachineInfo.LoadAverage();
        (string Name, string? Value)[] settings = [("on", "1"), ("off", "0"), ("chosen", null)];
        int[] threadCounts = [1, 0];
        string[] networks = ["lenet", "lstm"];
        var seconds = new Dictionary<(string, string, int), List<double>>();
        for (int rep = 0; rep < reps; rep++)
        {
            foreach (string network in networks)
            {
                foreach (int threads in threadCounts)
                {
                    foreach (var (name, value) in settings)
                    {
                        var environment = new Dictionary<string, string?> { ["DEEPARCH_ONEDNN"] = value };
                        double s = WaitPolicyWorkload.TimeFit(network, threads, options.Quick, environment);
                        log.WriteLine($"onednn: {network}, oneDNN {name}, TrainingThreads {threads}, rep {rep + 1}: {s:F2} s");
                        (seconds.TryGetValue((network, name, threads), out var list) ? list : seconds[(network, name, threads)] = []).Add(s);
                    }
                }
            }
        }
        var sb = new StringBuilder();
        sb.AppendLine("# oneDNN and training: LeNet-5 and the LSTM").AppendLine();
        sb.AppendLine($"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine(Inv, $"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; wall time {wall.Elapsed.TotalSeconds:F0} s; nproc {Environment.ProcessorCount}; " +
                           $"load average before {loadBefore}, after {MachineInfo.LoadAverage()}; {reps} interleaved repetitions, medians.");
        sb.AppendLine($"- Each figure is one fresh process timing its second `Fit` (the first warms up), oneDNN on (`DEEPARCH_ONEDNN=1`), off " +
                      $"(`DEEPARCH_ONEDNN=0`: ATen's own kernels), or as DeepArch chooses (`DEEPARCH_ONEDNN` unset: on where oneDNN agrees with ATen on this CPU " +
                      $"for each of the network's convolutions and LSTMs). LeNet-5: `ConvolutionalNetwork` with `Preset = LeNet5` on 1x32x32 images, 10 classes, " +
                      $"{(options.Quick ? "1,500" : "4,000")} rows x 2 epochs, batch 128; LSTM: `RecurrentNetwork`, 50 steps x 16 features, hidden 128, 4 classes, " +
                      $"{(options.Quick ? "800" : "2,000")} rows x 2 epochs, batch 128.");
        sb.AppendLine();
        sb.AppendLine("| network | `TrainingThreads` | oneDNN on | oneDNN off | on vs off | DeepArch's choice | choice vs off |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (string network in networks)
        {
            string title = network == "lenet" ? "LeNet-5" : "LSTM";
            foreach (int threads in threadCounts)
            {
                double on = Stats.Median(seconds[(network, "on", threads)]), off = Stats.Median(seconds[(network, "off", threads)]);
                double chosen = Stats.Median(seconds[(network, "chosen", threads)]);
                string label = threads == 1 ? "1 (default)" : $"0 (one per core, {Environment.ProcessorCount})";
                string Cell(string name) => string.Join(", ", seconds[(network, name, threads)].Select(v => v.ToString("F2", Inv)));
                sb.AppendLine(Inv, $"| {title} | {label} | {on:F2} s ({Cell("on")}) | {off:F2} s ({Cell("off")}) | {off / on:F2}x | " +
                    $"{chosen:F2} s ({Cell("chosen")}) | {off / chosen:F2}x |");
                Summary.Add(new("Training", $"{title} Fit, TrainingThreads {label}: oneDNN on vs off", $"{on:F2} s", "DEEPARCH_ONEDNN=0", $"{off:F2} s",
                    off / on, null, "(speed ratio)"));
            }
        }
        sb.AppendLine();
        return (sb.ToString(), true);
    }
}
