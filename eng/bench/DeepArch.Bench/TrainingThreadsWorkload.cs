using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using Microsoft.ML;

namespace DeepArch.Bench;

/// <summary>
/// Issue 22's bar on this machine: DeepArch's <c>Fit</c> (the ML.NET trainers, as users call them) of the MLP, LeNet-5 and the
/// LSTM with <c>TrainingThreads</c> 1 (the default), 2 and, where the machine has another core count than 2, 0 (one per core).
/// With two or more threads, <c>Fit</c> trains each batch's two halves at once on two threads (BatchSplit in DeepArch.Trainers).
/// Interleaved repetitions, medians; ratios per repetition against one thread.
/// </summary>
internal sealed class TrainingThreadsWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const int Batch = 128;
    private const double Rate = 1e-3;
    private const int Seed = 42;

    /// <summary>The headline ratios of the run, for docs/performance.md.</summary>
    public List<SummaryRow> Summary { get; } = [];

    public (string Report, bool Ok) Run()
    {
        var wall = Stopwatch.StartNew();
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        int epochs = options.TrainEpochs;
        string loadBefore = MachineInfo.LoadAverage();
        var ml = new MLContext(seed: Seed);
        var rng = new Random(Seed);
        float[] Values(int count, float scale, float offset) => Enumerable.Range(0, count).Select(_ => rng.NextSingle() * scale + offset).ToArray();
        IDataView Keyed<T>(IEnumerable<T> rows) where T : class
        {
            var raw = ml.Data.LoadFromEnumerable(rows);
            return ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        }

        int mlpRows = options.AeTrainRows, lenetRows = options.LeNetTrainRows, lstmRows = options.LstmTrainRows;
        var mlpData = Keyed(Enumerable.Range(0, mlpRows).Select(_ => new TrainRow { Features = Values(ScoringShapes.FeatureSize, 1, 0), Label = (uint)rng.Next(10) }).ToList());
        var lenetData = Keyed(Enumerable.Range(0, lenetRows).Select(_ => new ImageRow { Features = Values(1024, 1, 0), Label = (uint)rng.Next(10) }).ToList());
        var lstmData = Keyed(Enumerable.Range(0, lstmRows).Select(_ => new SequenceRow { Features = Values(800, 2, -1), Label = (uint)rng.Next(4) }).ToList());

        (string Name, string Key, int Rows, Func<int, IDisposable> Fit)[] networks =
        [
            ("MLP 784-256-128-10", "mlp", mlpRows, threads => ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [256, 128], Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, TrainingThreads = threads,
            }).Fit(mlpData)),
            ("LeNet-5 1x32x32", "lenet5", lenetRows, threads => (IDisposable)ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
            {
                Preset = ConvolutionalPreset.LeNet5, InputShape = [1, 32, 32], Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed, TrainingThreads = threads,
            }).Fit(lenetData)),
            ("LSTM 16 x 50 steps, hidden 128", "lstm", lstmRows, threads => ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
            {
                FeaturesPerStep = 16, Cell = Trainers.RecurrentCell.Lstm, HiddenSize = 128, Epochs = epochs, BatchSize = Batch, LearningRate = Rate, Seed = Seed,
                TrainingThreads = threads,
            }).Fit(lstmData)),
        ];
        int[] settings = Environment.ProcessorCount == 2 ? [1, 2] : [1, 2, 0];
        var contenders = new List<Contender>();
        foreach (var (_, key, rows, fit) in networks)
        {
            foreach (int threads in settings)
            {
                contenders.Add(new($"{key}-t{threads}", (long)rows * epochs, key, () =>
                {
                    fit(threads).Dispose();
                    return 1;
                }));
            }
        }
        log.WriteLine($"training-threads: MLP {mlpRows:N0}, LeNet-5 {lenetRows:N0}, LSTM {lstmRows:N0} rows x {epochs} epochs; {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);

        var sb = new StringBuilder();
        sb.AppendLine("# Training threads: DeepArch's Fit with TrainingThreads 1 and 2").AppendLine();
        sb.AppendLine($"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(MachineInfo.Quote))}`");
        sb.AppendLine(Inv, $"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv)} UTC; wall time {wall.Elapsed.TotalSeconds:F0} s; nproc {Environment.ProcessorCount}; " +
                           $"load average before {loadBefore}, after {MachineInfo.LoadAverage()}; {options.Warmups} warm-up pass(es), {reps} interleaved repetitions, medians; ratios per repetition against 1 thread.");
        sb.AppendLine($"- `Fit(IDataView)` of the ML.NET trainers (MultilayerPerceptron, ConvolutionalNetwork with the LeNet5 preset, RecurrentNetwork with an LSTM cell), " +
                      $"{epochs} epochs, batch {Batch}, Adam at {Rate.ToString(Inv)}, every other option at its default, on random rows; samples/s = rows x epochs / the whole Fit " +
                      "(reading the data, training, ONNX export). With 2 threads, Fit trains each batch's two halves at once on two threads of one libtorch thread each.");
        sb.AppendLine();
        string Header(int threads) => threads == 0 ? "0 (one per core)" : threads.ToString(Inv);
        sb.AppendLine($"| network | {string.Join(" | ", settings.Select(s => $"TrainingThreads {Header(s)} samples/s"))} | {string.Join(" | ", settings.Skip(1).Select(s => $"{Header(s)} / 1"))} |");
        sb.AppendLine($"| --- |{string.Concat(Enumerable.Repeat(" ---: |", settings.Length * 2 - 1))}");
        foreach (var (name, key, _, _) in networks)
        {
            var one = t[$"{key}-t1"];
            var ratios = settings.Skip(1).Select(s => Stats.MedianRatio(t[$"{key}-t{s}"], one)).ToArray();
            sb.AppendLine($"| {name} | {string.Join(" | ", settings.Select(s => t[$"{key}-t{s}"].MedianRowsPerSecond.ToString("N0", Inv)))} | " +
                          $"{string.Join(" | ", ratios.Select(r => r.ToString("F2", Inv) + "x"))} |");
            foreach (var (threads, ratio) in settings.Skip(1).Zip(ratios))
            {
                Summary.Add(new("Threads", $"{name}, Fit with TrainingThreads {Header(threads)} vs 1", $"{t[$"{key}-t{threads}"].MedianRowsPerSecond:N0} samples/s",
                    "TrainingThreads 1 (the default)", $"{one.MedianRowsPerSecond:N0} samples/s", ratio, null, "(speed ratio; issue 22 asks 1.3x of 2 threads on 2 cores)"));
            }
        }
        sb.AppendLine();
        return (sb.ToString(), true);
    }
}
