using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using DeepArch.Bench;
using Microsoft.ML.OnnxRuntime;

namespace DeepArch.GpuCheck;

/// <summary>The verbs: what the machine offers, scoring, training.</summary>
internal static class Checks
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One line: cores, ONNX Runtime's providers, and whether DeepArch can score on CUDA here.</summary>
    public static int Info()
    {
        string cuda;
        try
        {
            var ml = new MLContext(seed: 1);
            var network = BenchNetwork.Get("mlp");
            using var model = network.Trainer(ml, ComputeDevice.Cpu, 1, 1).Fit(network.Data(ml, 256, 1));
            using var onCuda = model.WithScoring(new ScoringOverrides { Device = ComputeDevice.Cuda, FallbackToCpu = false });
            cuda = "usable";
        }
        catch (Exception e)
        {
            cuda = $"{e.GetType().Name}: {FirstLine(e.Message)}";
        }
        Json.Line(new
        {
            check = "info",
            cores = Environment.ProcessorCount,
            omp_wait_policy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
            providers = OrtEnv.Instance().GetAvailableProviders(),
            deeparch_cuda_scoring = cuda,
            date_utc = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Inv),
        });
        return 0;
    }

    /// <summary>
    /// Per network, device and batch size: DeepArch's transformer (the CPU-trained model, moved with <c>WithScoring</c>) and a raw
    /// ONNX Runtime session on the same file and batches, inputs and outputs bound to host memory in both, rows/s as the
    /// median of <c>--reps</c> passes; then each device's outputs against the CPU's on the first 4,096 rows.
    /// </summary>
    public static int Scoring(Arguments a)
    {
        var ml = new MLContext(seed: 1);
        foreach (string name in a.Networks)
        {
            var network = BenchNetwork.Get(name);
            Console.Error.WriteLine($"scoring: training {name} for one epoch on the CPU");
            using var model = network.Trainer(ml, ComputeDevice.Cpu, 0, 1).Fit(network.Data(ml, a.TrainRows > 0 ? a.TrainRows : 2_048, 1));
            string onnx = Path.Combine(Path.GetTempPath(), $"deeparch-gpucheck-{name}-{Environment.ProcessId}.onnx");
            model.SaveOnnx(onnx);
            var data = network.Data(ml, a.Rows, 2);
            float[] flat = Flat(data, network.Width, a.Rows);
            float[]? cpuScores = null;
            try
            {
                foreach (string deviceName in a.Devices)
                {
                    var device = BenchNetwork.Device(deviceName);
                    foreach (int batch in a.Batches)
                    foreach (int threadsAsked in deviceName == "cpu" ? a.ScoringThreads.Distinct() : [0])
                    {
                        // -1: one core fewer than the machine has (at least one), so that the cursor reads ahead on the free core.
                        int threads = threadsAsked < 0 ? Math.Max(1, Environment.ProcessorCount + threadsAsked) : threadsAsked;
                        NetworkTransformer moved;
                        RawOrt raw;
                        try
                        {
                            moved = model.WithScoring(new ScoringOverrides { Device = device, FallbackToCpu = false, ScoringBatchSize = batch, ScoringThreads = threads });
                            raw = new RawOrt(onnx, "Features", network.Width, "Score", network.Classes, 0, batch, cuda: device == ComputeDevice.Cuda);
                        }
                        catch (Exception e)
                        {
                            Json.Line(new { check = "scoring", network = name, device = deviceName, batch, scoring_threads = threads, error = $"{e.GetType().Name}: {FirstLine(e.Message)}" });
                            continue;
                        }
                        using (moved)
                        using (raw)
                        {
                            var view = moved.Transform(data);
                            var deeparch = new List<double>();
                            var session = new List<double>();
                            // Interleaved: each repetition runs DeepArch, then the raw session.
                            Score(view, a.Rows);
                            raw.Pass(flat, a.Rows, batch);
                            for (int r = 0; r < a.Reps; r++)
                            {
                                deeparch.Add(Seconds(() => Score(view, a.Rows)));
                                session.Add(Seconds(() => raw.Pass(flat, a.Rows, batch)));
                            }
                            double d = a.Rows / Json.Median(deeparch), s = a.Rows / Json.Median(session);
                            Json.Line(new
                            {
                                check = "scoring", network = name, device = deviceName, batch, rows = a.Rows, scoring_threads = moved.ScoringThreads,
                                deeparch_rows_per_s = Json.Round(d), raw_session_rows_per_s = Json.Round(s), deeparch_vs_raw = Math.Round(d / s, 3), reads_ahead = ReadsAhead(device, moved.ScoringThreads),
                            });
                            if (batch == a.Batches[0] && threadsAsked == a.ScoringThreads[0])
                            {
                                float[] scores = Scores(view, Math.Min(a.Rows, 4_096));
                                if (deviceName == "cpu")
                                {
                                    cpuScores = scores;
                                }
                                else if (cpuScores is not null)
                                {
                                    double maxAbs = scores.Zip(cpuScores, (x, y) => (double)Math.Abs(x - y)).Max();
                                    Json.Line(new { check = "parity", network = name, device = deviceName, against = "cpu", rows = Math.Min(a.Rows, 4_096), max_abs_difference = maxAbs });
                                }
                            }
                        }
                    }
                }
            }
            finally
            {
                File.Delete(onnx);
            }
        }
        return 0;
    }

    /// <summary>
    /// Whether DeepArch's cursor reads the next batch while ONNX Runtime scores one: on CUDA, or with fewer session threads
    /// than cores (0 means one per core), as <c>OnnxScorer.OverlapsReading</c> decides.
    /// </summary>
    private static bool ReadsAhead(ComputeDevice device, int scoringThreads) =>
        device == ComputeDevice.Cuda || (scoringThreads > 0 && scoringThreads < Environment.ProcessorCount);

    /// <summary>
    /// Per network, device and thread count, a fresh process (<c>train-child</c>; libgomp reads its wait policy once per
    /// process) that times its second <c>Fit</c>: samples/s of training, ONNX export and everything else <c>Fit</c> does.
    /// CUDA runs once, with one thread (the threads then only feed the GPU).
    /// </summary>
    public static int Training(Arguments a)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        bool dll = Path.GetFileNameWithoutExtension(self) is "dotnet";
        foreach (string name in a.Networks)
        {
            var network = BenchNetwork.Get(name);
            int rows = a.TrainRows > 0 ? a.TrainRows : name switch { "mlp" => 20_000, "lenet5" => 8_000, _ => 4_000 };
            foreach (string device in a.Devices)
            {
                foreach (int threads in device == "cuda" ? [1] : a.Threads)
                {
                    var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
                    if (dll)
                    {
                        start.ArgumentList.Add(typeof(Checks).Assembly.Location);
                    }
                    foreach (string arg in new[] { "train-child", name, device, threads.ToString(Inv), rows.ToString(Inv), a.Epochs.ToString(Inv) })
                    {
                        start.ArgumentList.Add(arg);
                    }
                    using var child = Process.Start(start)!;
                    var error = child.StandardError.ReadToEndAsync();
                    string output = child.StandardOutput.ReadToEnd();
                    child.WaitForExit();
                    string line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
                    if (line.StartsWith('{'))
                    {
                        Console.WriteLine(line);
                    }
                    else
                    {
                        Json.Line(new { check = "training", network = name, device, threads, error = FirstLine(error.Result.Trim().Length > 0 ? error.Result.Trim() : output) });
                    }
                }
            }
        }
        return 0;
    }

    /// <summary>The child of <see cref="Training"/>: a warm-up <c>Fit</c> of one epoch, then the timed <c>Fit</c>.</summary>
    public static int TrainChild(string[] args)
    {
        var network = BenchNetwork.Get(args[0]);
        var device = BenchNetwork.Device(args[1]);
        int threads = int.Parse(args[2], Inv), rows = int.Parse(args[3], Inv), epochs = int.Parse(args[4], Inv);
        var ml = new MLContext(seed: 1);
        var data = network.Data(ml, rows, 1);
        NetworkTransformer model;
        double seconds;
        try
        {
            network.Trainer(ml, device, threads, 1).Fit(data).Dispose();
            var sw = Stopwatch.StartNew();
            model = network.Trainer(ml, device, threads, epochs).Fit(data);
            seconds = sw.Elapsed.TotalSeconds;
        }
        catch (Exception e)
        {
            Json.Line(new { check = "training", network = network.Name, device = args[1], threads, error = $"{e.GetType().Name}: {FirstLine(e.Message)}" });
            return 1;
        }
        using var _ = model;
        Json.Line(new
        {
            check = "training", network = network.Name, device = args[1], threads, rows, epochs,
            samples_per_s = Json.Round(rows * epochs / seconds), seconds = Math.Round(seconds, 3),
            final_loss = model.History.Epochs[^1].TrainLoss,
        });
        return 0;
    }

    private static double Seconds(Action pass)
    {
        var sw = Stopwatch.StartNew();
        pass();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Reads every row's Score through a cursor, as a pipeline's next stage would.</summary>
    private static double Score(IDataView view, int rows) => ScoreColumn.SumFirstSlot(view, "Score", rows);

    /// <summary>The first <paramref name="rows"/> rows' Score vectors, concatenated.</summary>
    private static float[] Scores(IDataView view, int rows)
    {
        var column = view.Schema["Score"];
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> value = default;
        var all = new List<float>();
        for (int n = 0; n < rows && cursor.MoveNext(); n++)
        {
            getter(ref value);
            all.AddRange(value.DenseValues());
        }
        return all.ToArray();
    }

    /// <summary>The Features column as one row-major array.</summary>
    private static float[] Flat(IDataView data, int width, int rows)
    {
        var flat = new float[(long)rows * width];
        var column = data.Schema["Features"];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> value = default;
        for (int r = 0; cursor.MoveNext(); r++)
        {
            getter(ref value);
            value.GetValues().CopyTo(flat.AsSpan(r * width, width));
        }
        return flat;
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
