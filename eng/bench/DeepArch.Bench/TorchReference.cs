using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace DeepArch.Bench;

/// <summary>
/// Runs a PyTorch reference script (eng/bench/reference/torch_reference.py or gan_reference.py, Debian's /usr/bin/python3
/// with python3-torch) for one workload at a time and reads its samples/s; remembers what it ran for the report.
/// </summary>
internal sealed class TorchReference(string script, TextWriter log)
{
    private const string Python = "/usr/bin/python3";
    private readonly List<string> _runs = [];

    /// <summary>PyTorch's version as the script reported it, or null when nothing ran.</summary>
    public string? TorchVersion { get; private set; }

    /// <summary>Trains <paramref name="workload"/> (ae, lenet, lstm) on <paramref name="rows"/> rows for <paramref name="epochs"/> timed epochs; null when it cannot run.</summary>
    public double? Train(string workload, int rows, int epochs, int threads)
        => Run(workload, ["--workload", workload, "--rows", Text(rows), "--epochs", Text(epochs), "--warmup-epochs", "1", "--batch-size", "128", "--threads", Text(Threads(threads))])
            ?.GetProperty("samples_per_s").GetDouble();

    /// <summary>
    /// Runs the script with <paramref name="arguments"/> and returns the JSON line it printed last (its <c>samples_per_s</c> and
    /// whatever else it reports), or null when it cannot run; <paramref name="label"/> names the run in <see cref="Describe"/>.
    /// </summary>
    public JsonElement? Run(string label, IReadOnlyList<string> arguments)
    {
        if (!File.Exists(script) || !File.Exists(Python))
        {
            _runs.Add($"{label}: not run ({(File.Exists(Python) ? script : Python)} not found)");
            return null;
        }
        string[] args = [script, .. arguments];
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        log.WriteLine($"PyTorch reference: {Python} {string.Join(' ', args.Select(MachineInfo.Quote))}");
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string command = $"`{Python} {string.Join(' ', args.Select(a => a == script ? "eng/bench/reference/" + Path.GetFileName(script) : MachineInfo.Quote(a)))}`";
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (p.ExitCode != 0 || line is null)
        {
            string last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? $"exit code {p.ExitCode}";
            _runs.Add($"{label}: failed ({last}) — {command}");
            return null;
        }
        var root = JsonDocument.Parse(line).RootElement.Clone();
        double sps = root.GetProperty("samples_per_s").GetDouble();
        TorchVersion = root.TryGetProperty("torch", out var v) ? v.GetString() : TorchVersion;
        string blas = root.TryGetProperty("blas_threads", out var b) ? b.ToString() : "?";
        string malloc = root.TryGetProperty("malloc", out var m) ? m.ToString() : "?";
        _runs.Add($"{label}: {sps.ToString("F0", CultureInfo.InvariantCulture)} samples/s (torch {TorchVersion}, blas threads {blas}, malloc {malloc}) — {command}");
        return root;
    }

    /// <summary>One line per run: the figure and the command.</summary>
    public string Describe() => _runs.Count == 0 ? "none" : string.Join("; ", _runs);

    /// <summary>The thread count a reference runs with: <paramref name="threads"/>, or one per core for 0.</summary>
    public static int Threads(int threads) => threads > 0 ? threads : Environment.ProcessorCount;

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
