using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;

namespace DeepArch.Bench;

/// <summary>
/// What DeepArch's process-wide oneDNN switch costs: the raw TorchSharp LeNet-5 loop (TorchLoops) in a fresh process,
/// first as plain TorchSharp leaves libtorch (oneDNN convolutions on), then after one small DeepArch training, which turns
/// oneDNN off for the whole process (for run-to-run determinism of small convolutions).
/// </summary>
internal sealed class OneDnnWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The headline ratio of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        int rows = options.Quick ? 3_000 : 10_000, epochs = 2, reps = options.RepetitionsGiven ? options.Repetitions : 3;
        var rng = new Random(42);
        var x = new float[rows * 1024];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = rng.NextSingle();
        }
        var y = Enumerable.Range(0, rows).Select(_ => (float)rng.Next(10)).ToArray();
        List<double> Time(string tag)
        {
            var result = new List<double>();
            for (int r = 0; r <= reps; r++)
            {
                var sw = Stopwatch.StartNew();
                TorchLoops.Train(TorchLoops.LeNet5, x, 1024, y, epochs, 128, 1e-3, 42, options.TrainingThreads);
                double sps = rows * epochs / sw.Elapsed.TotalSeconds;
                log.WriteLine($"onednn: {tag} {sps:F0} samples/s{(r == 0 ? " (warm-up)" : "")}");
                if (r > 0)
                {
                    result.Add(sps);
                }
            }
            return result;
        }
        var on = Time("oneDNN on");
        using (var net = new Network(LeNet5.Create([1, 32, 32], 10), [1, 32, 32], 42))
        {
            new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 128, Seed = 42 })
                .Fit(new SupervisedObjective(net, LossFunction.CrossEntropy), new TrainingSet(x.AsSpan(0, 256 * 1024).ToArray(), [1, 32, 32], y.AsSpan(0, 256).ToArray(), 1));
        }
        var off = Time("oneDNN off");
        double mOn = Stats.Median(on), mOff = Stats.Median(off);
        var sb = new StringBuilder();
        sb.AppendLine("# oneDNN and LeNet-5 training").AppendLine();
        sb.AppendLine($"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine($"- The raw TorchSharp LeNet-5 loop (TorchLoops.cs), {rows:N0} rows x {epochs} epochs, batch 128, in one fresh process: {reps} passes with libtorch's defaults " +
                      "(oneDNN convolutions on), then one small DeepArch training, which turns oneDNN off process-wide, then the same passes again. Medians.");
        sb.AppendLine();
        sb.AppendLine("| convolutions | samples/s (median) | passes |");
        sb.AppendLine("| --- | ---: | --- |");
        sb.AppendLine($"| oneDNN on (plain TorchSharp) | {mOn.ToString("F0", Inv)} | {string.Join(", ", on.Select(v => v.ToString("F0", Inv)))} |");
        sb.AppendLine($"| oneDNN off (after a DeepArch training) | {mOff.ToString("F0", Inv)} | {string.Join(", ", off.Select(v => v.ToString("F0", Inv)))} |");
        sb.AppendLine();
        Summary.Add(new("Training", "LeNet-5 raw TorchSharp loop, oneDNN off (DeepArch) vs on", $"{mOff:F0} samples/s", "oneDNN on (libtorch default)", $"{mOn:F0} samples/s",
            mOff / mOn, null, "(speed ratio)"));
        return (sb.ToString(), true);
    }
}
