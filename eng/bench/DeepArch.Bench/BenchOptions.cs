using System.Globalization;

namespace DeepArch.Bench;

/// <summary>Command-line options of the benchmark program.</summary>
internal sealed class BenchOptions
{
    public const string Usage = """
        Usage: dotnet run -c Release --project eng/bench/DeepArch.Bench -- WORKLOAD [options]
        (eng/bench/run-all.sh runs every workload, each in its own process, and writes docs/performance.md)

        Workloads:
          scoring              DeepArch NetworkTransformer vs ML.NET ApplyOnnxModel vs raw ONNX Runtime, MLP 784-256-128-10 and
                               AE 784-256-32-256-784: batch sweep and PredictionEngine latency
          training             DeepArch Fit from an IDataView vs the same network in raw TorchSharp (hand-written loop) vs
                               DeepArch's TrainingLoop vs PyTorch (torch_reference.py): AE, LeNet-5 1x32x32, LSTM; samples/s;
                               and the anomaly detector's Fit with an explicit threshold and with StandardizeError
          memory               peak working set scoring 100,000 vs 1,000,000 rows streamed from a binary .idv file, and
                               training; every measurement in a fresh child process
          threads              ScoringThreads and TrainingThreads 1 vs 2 vs 0 (all cores), side by side
          wait-policy          libgomp spinning vs OMP_WAIT_POLICY=PASSIVE (one per core) vs 1 thread, MLP, LeNet-5, AE and LSTM Fit, on a quiet
                               machine and beside one busy-looping process per core; every measurement in a fresh child process
          gan                  the conditional dense GAN and DCGAN of GenerateByAdversarialNetwork on the digits: Fit samples/s and
                               sampling rows/s (Data.Generate, Transform) vs the same networks in PyTorch (gan_reference.py)
          seq2seq              the encoder-decoder of MapSequenceToSequence on grapheme-to-phoneme (data/cmudict_g2p_*.csv): Fit
                               samples/s and greedy decoding sequences/s beside PyTorch (reference/g2p_reference.py)
          onednn               the LeNet-5 preset's and the LSTM's Fit with DEEPARCH_ONEDNN=1 vs 0, 1 thread and one per core (fresh processes)
          training-threads     the MLP's, LeNet-5's and the LSTM's Fit with TrainingThreads 1 vs 2 (and 0 off 2 cores): issue 22's
                               two-thread bar, each batch's halves training at once on two threads
          report               reads the --summary files and reports in --results DIR and writes docs/performance.md and the chart

        Options:
          --out PATH           also write the workload's Markdown report to PATH (default: print only)
          --summary PATH       write the workload's headline ratios as JSON to PATH (read by 'report')
          --quick              a short run: fewer rows and repetitions (about 4.5 minutes for everything)
          --reps N             timed repetitions (default 5; training and threads 3); every contender runs once per repetition
          --epochs N           training: epochs per timed pass (default 3)
          --ae-rows N          training: autoencoder rows (default 20000)
          --lenet-rows N       training: LeNet-5 rows (default 10000)
          --lstm-rows N        training: LSTM rows (default 4000)
          --gan-epochs N       gan: the dense GAN's epochs per timed Fit (default 20); the DCGAN trains N/4
          --training-threads N training and gan: TorchSharp and PyTorch threads (default 1, DeepArch's default; 0 = one per core)
          --torch-reference P  training: torch_reference.py (default eng/bench/reference/torch_reference.py)
          --warmup N           warm-up passes of every contender before timing (default 1)
          --rows N             rows scored (gan: drawn) per pass (default 100000)
          --pe-rows N          PredictionEngine predictions per pass (default 10000)
          --batches LIST       batch sizes of the sweep, comma-separated (default 1,16,64,256,1024)
          --threads N          ONNX Runtime intra-op threads of DeepArch and raw ORT (default 0 = ORT default)
          --train-rows N       rows of the 1-epoch training run that builds the scored networks (default 2048)
          --no-ae              skip the autoencoder scoring workload
          --memory-rows LIST   memory: row counts scored from the file (default 100000,1000000)
          --results DIR        report: the directory holding the workloads' reports and summaries
          --chart PATH         report: where the PNG chart goes (default docs/images/performance.png)
          --max-foreign F      redo a timed pass when other processes used more than F of the CPU meanwhile (default 0.05)
          --retry-budget S     seconds the run may spend redoing disturbed passes, each at most twice (default 60); then they are kept and counted
        Exit status: 0, or 2 when contenders that compute the same values disagree (checksums), 1 on bad usage.
        """;

    public string Workload { get; private set; } = "";

    public string? OutPath { get; private set; }

    public int Repetitions { get; private set; } = 5;

    /// <summary>Whether --reps was given (training defaults to 3 repetitions, scoring to 5).</summary>
    public bool RepetitionsGiven { get; private set; }

    public int TrainEpochs { get; private set; } = 3;

    public int AeTrainRows { get; private set; } = 20_000;

    public int LeNetTrainRows { get; private set; } = 10_000;

    public int LstmTrainRows { get; private set; } = 4_000;

    /// <summary>gan: the dense GAN's epochs per timed Fit; the DCGAN trains a quarter of them (at least 1).</summary>
    public int GanEpochs { get; private set; } = 20;

    public int TrainingThreads { get; private set; } = 1;

    public string TorchReference { get; private set; } = FindInRepository("eng/bench/reference/torch_reference.py");

    public string? SummaryPath { get; private set; }

    public bool Quick { get; private set; }

    public int[] MemoryRows { get; private set; } = [100_000, 1_000_000];

    public string? ResultsDirectory { get; private set; }

    public string ChartPath { get; private set; } = FindInRepository("docs/images/performance.png");

    public int Warmups { get; private set; } = 1;

    public int Rows { get; private set; } = 100_000;

    public int PredictionEngineRows { get; private set; } = 10_000;

    public int[] Batches { get; private set; } = [1, 16, 64, 256, 1024];

    public int Threads { get; private set; }

    public int TrainRows { get; private set; } = 2048;

    public bool SkipAe { get; private set; }

    public double MaxForeign { get; private set; } = 0.05;

    public int RetryBudgetSeconds { get; private set; } = 60;

    public bool Help { get; private set; }

    /// <summary>--quick: smaller defaults for what the command line did not set.</summary>
    private void ApplyQuick(string[] args)
    {
        bool Given(string name) => args.Contains(name);
        if (!Given("--reps")) { Repetitions = 2; RepetitionsGiven = true; }
        if (!Given("--rows")) { Rows = 30_000; }
        if (!Given("--pe-rows")) { PredictionEngineRows = 3_000; }
        if (!Given("--epochs")) { TrainEpochs = 2; }
        if (!Given("--ae-rows")) { AeTrainRows = 6_000; }
        if (!Given("--lenet-rows")) { LeNetTrainRows = 3_000; }
        if (!Given("--lstm-rows")) { LstmTrainRows = 1_000; }
        if (!Given("--gan-epochs")) { GanEpochs = 8; }
        if (!Given("--memory-rows")) { MemoryRows = [30_000, 300_000]; }
        if (!Given("--retry-budget")) { RetryBudgetSeconds = 20; }
    }

    /// <summary>The path of <paramref name="relative"/> in the repository this program was built from (found upward from its directory), else as given.</summary>
    public static string FindInRepository(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DeepArch.slnx")))
            {
                return Path.Combine(dir.FullName, relative);
            }
        }
        return relative;
    }

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value.");
            int NextInt(int min)
            {
                string s = Next();
                return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min
                    ? v
                    : throw new ArgumentException($"{a} must be an integer >= {min}; got '{s}'.");
            }
            switch (a)
            {
                case "--out": o.OutPath = Next(); break;
                case "--reps": o.Repetitions = NextInt(1); o.RepetitionsGiven = true; break;
                case "--epochs": o.TrainEpochs = NextInt(1); break;
                case "--ae-rows": o.AeTrainRows = NextInt(128); break;
                case "--lenet-rows": o.LeNetTrainRows = NextInt(128); break;
                case "--warmup": o.Warmups = NextInt(0); break;
                case "--rows": o.Rows = NextInt(1); break;
                case "--pe-rows": o.PredictionEngineRows = NextInt(1); break;
                case "--threads": o.Threads = NextInt(0); break;
                case "--train-rows": o.TrainRows = NextInt(16); break;
                case "--lstm-rows": o.LstmTrainRows = NextInt(128); break;
                case "--gan-epochs": o.GanEpochs = NextInt(1); break;
                case "--training-threads": o.TrainingThreads = NextInt(0); break;
                case "--torch-reference": o.TorchReference = Next(); break;
                case "--summary": o.SummaryPath = Next(); break;
                case "--results": o.ResultsDirectory = Next(); break;
                case "--chart": o.ChartPath = Next(); break;
                case "--quick": o.Quick = true; break;
                case "--memory-rows":
                    o.MemoryRows = Next().Split(',').Select(x => int.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1
                        ? v : throw new ArgumentException($"--memory-rows holds row counts >= 1; got '{x}'.")).ToArray();
                    break;
                case "--no-ae": o.SkipAe = true; break;
                case "--retry-budget": o.RetryBudgetSeconds = NextInt(0); break;
                case "--max-foreign":
                    string f = Next();
                    o.MaxForeign = double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out double mf) && mf > 0 && mf <= 1
                        ? mf : throw new ArgumentException($"--max-foreign must be in (0, 1]; got '{f}'.");
                    break;
                case "--batches":
                    o.Batches = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 1
                            ? v : throw new ArgumentException($"--batches holds sizes >= 1; got '{s}'."))
                        .Distinct().Order().ToArray();
                    if (o.Batches.Length == 0)
                    {
                        throw new ArgumentException("--batches needs at least one size.");
                    }
                    break;
                case "-h" or "--help": o.Help = true; break;
                default:
                    if (a.StartsWith('-') || o.Workload.Length > 0)
                    {
                        throw new ArgumentException($"Unknown argument '{a}'.");
                    }
                    o.Workload = a;
                    continue;
            }
        }
        if (o.Quick)
        {
            o.ApplyQuick(args);
        }
        if (o.PredictionEngineRows > o.Rows)
        {
            throw new ArgumentException($"--pe-rows ({o.PredictionEngineRows}) must not exceed --rows ({o.Rows}).");
        }
        return o;
    }
}
