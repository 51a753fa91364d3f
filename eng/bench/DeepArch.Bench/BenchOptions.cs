using System.Globalization;

namespace DeepArch.Bench;

/// <summary>Command-line options of the benchmark program.</summary>
internal sealed class BenchOptions
{
    public const string Usage = """
        Usage: dotnet run -c Release --project eng/bench/DeepArch.Bench -- scoring|training [options]

        Workloads:
          scoring              DeepArch NetworkTransformer vs ML.NET ApplyOnnxModel vs raw ONNX Runtime
                               (MLP 784-256-128-10; AE 784-256-32-256-784 when its ONNX can be made)
          training             DeepArch ML.NET Fit from an IDataView vs the same network trained by NetworkTrainer
                               on preloaded arrays (AE 784-256-32-256-784; LeNet-5 on 1x32x32), samples/s

        Options:
          --out PATH           also write the Markdown report to PATH (default: print only)
          --reps N             timed repetitions (default 5; training 3); every contender runs once per repetition
          --epochs N           training: epochs per timed pass (default 2)
          --ae-rows N          training: autoencoder rows (default 10000)
          --lenet-rows N       training: LeNet-5 rows (default 5000)
          --warmup N           warm-up passes of every contender before timing (default 1)
          --rows N             rows scored per pass (default 100000)
          --pe-rows N          PredictionEngine predictions per pass (default 10000)
          --batches LIST       batch sizes of the sweep, comma-separated (default 1,16,64,256,1024)
          --threads N          ONNX Runtime intra-op threads of DeepArch and raw ORT (default 0 = ORT default)
          --train-rows N       rows of the 1-epoch training run that builds the network (default 2048)
          --ae-onnx PATH       the autoencoder's ae_batch.onnx (default: generate it with --ae-script)
          --ae-script PATH     make_ae_onnx.py (default /work/shared/reference/make_ae_onnx.py), run with /usr/bin/python3
          --no-ae              skip the autoencoder workload
          --max-foreign F      redo a timed pass when other processes used more than F of the CPU meanwhile (default 0.05)
          --retry-budget S     seconds the run may spend redoing disturbed passes, each at most twice (default 60); then they are kept and counted
        Exit status: 0, or 2 when contenders that compute the same values disagree (checksums), 1 on bad usage.
        """;

    public string Workload { get; private set; } = "";

    public string? OutPath { get; private set; }

    public int Repetitions { get; private set; } = 5;

    /// <summary>Whether --reps was given (training defaults to 3 repetitions, scoring to 5).</summary>
    public bool RepetitionsGiven { get; private set; }

    public int TrainEpochs { get; private set; } = 2;

    public int AeTrainRows { get; private set; } = 10_000;

    public int LeNetTrainRows { get; private set; } = 5_000;

    public int Warmups { get; private set; } = 1;

    public int Rows { get; private set; } = 100_000;

    public int PredictionEngineRows { get; private set; } = 10_000;

    public int[] Batches { get; private set; } = [1, 16, 64, 256, 1024];

    public int Threads { get; private set; }

    public int TrainRows { get; private set; } = 2048;

    public string? AeOnnx { get; private set; }

    public string AeScript { get; private set; } = "/work/shared/reference/make_ae_onnx.py";

    public bool SkipAe { get; private set; }

    public double MaxForeign { get; private set; } = 0.05;

    public int RetryBudgetSeconds { get; private set; } = 60;

    public bool Help { get; private set; }

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
                case "--ae-onnx": o.AeOnnx = Next(); break;
                case "--ae-script": o.AeScript = Next(); break;
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
                    break;
            }
        }
        if (o.PredictionEngineRows > o.Rows)
        {
            throw new ArgumentException($"--pe-rows ({o.PredictionEngineRows}) must not exceed --rows ({o.Rows}).");
        }
        return o;
    }
}
