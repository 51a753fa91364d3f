using System.Globalization;
using System.Text.Json;
using DeepArch.GpuCheck;

// The GPU machine's measurements as JSON lines on stdout (progress on stderr). Verbs:
//   info                                   the process: cores, the devices DeepArch sees, ONNX Runtime's providers
//   scoring [--rows N] [--batches 256,4096] [--scoring-threads 0,-1] [--devices cpu,cuda] [--networks mlp,lenet5,lstm] [--reps N]
//   training [--threads 1,2,4,8,16] [--devices cpu,cuda] [--networks mlp,lenet5,lstm] [--rows N] [--epochs N]
//   train-child NETWORK DEVICE THREADS ROWS EPOCHS   one training measurement in a fresh process (training starts these)
try
{
    return args.FirstOrDefault() switch
    {
        "info" => Checks.Info(),
        "scoring" => Checks.Scoring(Arguments.Parse(args[1..])),
        "training" => Checks.Training(Arguments.Parse(args[1..])),
        "train-child" => Checks.TrainChild(args[1..]),
        _ => Usage(),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: DeepArch.GpuCheck info
               DeepArch.GpuCheck scoring [--rows N] [--batches 256,4096] [--scoring-threads 0,-1] [--devices cpu,cuda] [--networks mlp,lenet5,lstm] [--reps N]
               DeepArch.GpuCheck training [--threads 1,2,4,8,16] [--devices cpu,cuda] [--networks mlp,lenet5,lstm] [--rows N] [--epochs N]
        Prints one JSON object per line; eng/gpu/README.md says what each field means.
        """);
    return 2;
}

namespace DeepArch.GpuCheck
{
    /// <summary>The command line of the scoring and training verbs.</summary>
    internal sealed record Arguments(int Rows, int[] Batches, string[] Devices, string[] Networks, int[] Threads, int Epochs, int Reps, int TrainRows, int[] ScoringThreads)
    {
        public static Arguments Parse(string[] args)
        {
            // Scoring threads: 0 is DeepArch's default (every core in ONNX Runtime's session); -1 is one core fewer, which lets the
            // cursor read the next batch on the free core while the session runs (issue 22's overlap, measured side by side).
            var a = new Arguments(100_000, [256, 4096], ["cpu", "cuda"], ["mlp", "lenet5", "lstm"], [1, 2, 4, 8, 16], 2, 3, 0, [0, -1]);
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                int[] Ints() => Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                a = args[i] switch
                {
                    "--rows" => a with { Rows = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--train-rows" => a with { TrainRows = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--batches" => a with { Batches = Ints() },
                    "--threads" => a with { Threads = Ints() },
                    "--scoring-threads" => a with { ScoringThreads = Ints() },
                    "--devices" => a with { Devices = Next().Split(',') },
                    "--networks" => a with { Networks = Next().Split(',') },
                    "--epochs" => a with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--reps" => a with { Reps = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    _ => throw new ArgumentException($"Unknown option {args[i]}."),
                };
            }
            foreach (string network in a.Networks)
            {
                _ = BenchNetwork.Get(network);
            }
            foreach (string device in a.Devices)
            {
                _ = BenchNetwork.Device(device);
            }
            return a;
        }
    }

    /// <summary>One JSON line per measurement.</summary>
    internal static class Json
    {
        public static void Line(object value) => Console.WriteLine(JsonSerializer.Serialize(value));

        public static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        }

        public static double Round(double value, int digits = 1) => Math.Round(value, digits);
    }
}
