using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Bench;

/// <summary>
/// A measurement for issue 22 (two training threads at least 1.3x one on a 2-core machine), in raw TorchSharp, not DeepArch's
/// <c>Fit</c>: the bench's MLP, LeNet-5 and LSTM take Adam steps on one batch of 128 rows, (a) on one libtorch thread, (b) on
/// two intra-op threads (how <c>TrainingThreads = 2</c> trains today), and (c) with the batch split in two halves whose forward
/// and backward passes run at once on two managed threads of one libtorch thread each, their gradients accumulating into the
/// shared parameters (each half's loss weighted by one half), then one optimizer step. Interleaved, medians.
/// </summary>
internal sealed class DataParallelWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const int Batch = 128;

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        string loadBefore = MachineInfo.LoadAverage();
        int scale = options.Quick ? 4 : 1;
        // ATen's kernels throughout, the ones DeepArch's LSTM trains on here: DEEPARCH_ONEDNN=0 is read when DeepArch first loads
        // libtorch, which this small Fit does (without it TorchSharp leaves oneDNN on, whose LSTM trains 2.7x slower here).
        Environment.SetEnvironmentVariable("DEEPARCH_ONEDNN", "0");
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 32).Select(i => new TrainRow { Features = Enumerable.Range(0, ScoringShapes.FeatureSize).Select(j => (float)((i * 7 + j) % 5)).ToArray(), Label = (uint)(i % 2) }).ToList();
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [4], Epochs = 1 }).Fit(keyed).Dispose();
        (string Name, Func<nn.Module<Tensor, Tensor>> Build, int Width, int Classes, int Steps)[] networks =
        [
            ("MLP 784-256-128-10", () => nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)), 784, 10, 300 / scale),
            ("LeNet-5 1x32x32", TorchLoops.LeNet5, 1024, 10, 80 / scale),
            ("LSTM 16 x 50 steps, hidden 128", () => TorchLoops.Lstm(50, 16, 128, 4), 800, 4, 24 / scale),
        ];
        var contenders = new List<Contender>();
        var disposables = new List<IDisposable>();
        foreach (var (name, build, width, classes, steps) in networks)
        {
            torch.random.manual_seed(1);
            var model = build();
            var optimizer = optim.Adam(model.parameters(), 1e-3);
            var generator = new Generator(2);
            var x = randn([Batch, width], generator: generator);
            var y = randint(0, classes, [Batch], generator: generator);
            var halves = new[] { (x[..(Batch / 2)], y[..(Batch / 2)]), (x[(Batch / 2)..], y[(Batch / 2)..]) };
            disposables.AddRange([model, optimizer, x, y]);
            void Whole(int threads)
            {
                torch.set_num_threads(threads);
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                nn.functional.cross_entropy(model.call(x), y).backward();
                optimizer.step();
            }
            void Half(int i)
            {
                torch.set_num_threads(1);
                using var scope = NewDisposeScope();
                var (hx, hy) = halves[i];
                (nn.functional.cross_entropy(model.call(hx), hy) * 0.5).backward();
            }
            void Split()
            {
                optimizer.zero_grad();
                var other = Task.Factory.StartNew(() => Half(1), TaskCreationOptions.LongRunning);
                Half(0);
                other.Wait();
                optimizer.step();
            }
            double Pass(Action step)
            {
                for (int i = 0; i < steps; i++)
                {
                    step();
                }
                return 0;
            }
            string key = name.Split(' ')[0];
            contenders.Add(new($"{key}-1", (long)steps * Batch, $"{key}-1", () => Pass(() => Whole(1))));
            contenders.Add(new($"{key}-2", (long)steps * Batch, $"{key}-2", () => Pass(() => Whole(2))));
            contenders.Add(new($"{key}-split", (long)steps * Batch, $"{key}-split", () => Pass(Split)));
        }
        log.WriteLine($"data-parallel: {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);
        foreach (var d in disposables)
        {
            d.Dispose();
        }

        var sb = new StringBuilder();
        sb.AppendLine("# Two training threads: intra-op against a batch split across threads (raw TorchSharp)").AppendLine();
        sb.AppendLine($"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine(Inv, $"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; wall time {wall.Elapsed.TotalSeconds:F0} s; nproc {Environment.ProcessorCount}; " +
                           $"load average before {loadBefore}, after {MachineInfo.LoadAverage()}; {options.Warmups} warm-up pass(es), {reps} interleaved repetitions, medians.");
        sb.AppendLine("- Adam steps on one batch of 128 random rows, cross-entropy; the networks of the `training` step in plain TorchSharp modules, on ATen's kernels (`DEEPARCH_ONEDNN=0`). " +
                      "\"split\": the batch's two halves run forward and backward at once on two managed threads of one libtorch thread each, " +
                      "each half's loss weighted by 1/2, gradients accumulated into the shared parameters, then one Adam step on the calling thread. " +
                      "Not DeepArch's `Fit`: what a split would give before building it (issue 22).");
        sb.AppendLine();
        sb.AppendLine("| network | 1 thread samples/s | 2 intra-op threads | split over 2 threads | 2 intra-op / 1 | split / 1 |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, _, _, _, _) in networks)
        {
            string key = name.Split(' ')[0];
            var one = t[$"{key}-1"];
            var two = t[$"{key}-2"];
            var split = t[$"{key}-split"];
            double intra = Stats.MedianRatio(two, one), halves = Stats.MedianRatio(split, one);
            sb.AppendLine(Inv, $"| {name} | {one.MedianRowsPerSecond:N0} | {two.MedianRowsPerSecond:N0} | {split.MedianRowsPerSecond:N0} | {intra:F2}x | {halves:F2}x |");
            Summary.Add(new("Threads", $"{name}, raw TorchSharp Adam steps at batch 128: batch split over 2 threads vs 1 thread", $"{split.MedianRowsPerSecond:N0} samples/s",
                "1 thread", $"{one.MedianRowsPerSecond:N0} samples/s", halves, null, "(speed ratio; issue 22 asks 1.3x of Fit)"));
            Summary.Add(new("Threads", $"{name}, raw TorchSharp Adam steps at batch 128: 2 intra-op threads vs 1 thread", $"{two.MedianRowsPerSecond:N0} samples/s",
                "1 thread", $"{one.MedianRowsPerSecond:N0} samples/s", intra, null, "(speed ratio)"));
        }
        sb.AppendLine();
        return (sb.ToString(), true);
    }
}
