using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace DeepArch.Bench;

/// <summary>
/// Runs the PyTorch reference (eng/bench/reference/torch_reference.py, Debian's /usr/bin/python3 with python3-torch) for one
/// workload at a time and reads its samples/s; remembers what it ran for the report.
/// </summary>
internal sealed class TorchReference(string script, TextWriter log)
{
    private const string Python = "/usr/bin/python3";
    private readonly List<string> _runs = [];

    /// <summary>PyTorch's version as the script reported it, or null when nothing ran.</summary>
    public string? TorchVersion { get; private set; }

    /// <summary>Trains <paramref name="workload"/> (ae, lenet, lstm) on <paramref name="rows"/> rows for <paramref name="epochs"/> timed epochs; null when it cannot run.</summary>
    public double? Train(string workload, int rows, int epochs, int threads)
    {
        if (!File.Exists(script) || !File.Exists(Python))
        {
            _runs.Add($"{workload}: not run ({(File.Exists(Python) ? script : Python)} not found)");
            return null;
        }
        string[] args = [script, "--workload", workload, "--rows", rows.ToString(CultureInfo.InvariantCulture), "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
            "--warmup-epochs", "1", "--batch-size", "128", "--threads", (threads > 0 ? threads : Environment.ProcessorCount).ToString(CultureInfo.InvariantCulture)];
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
        string command = $"`{Python} {string.Join(' ', args.Select(a => a == script ? "eng/bench/reference/torch_reference.py" : MachineInfo.Quote(a)))}`";
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (p.ExitCode != 0 || line is null)
        {
            string last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? $"exit code {p.ExitCode}";
            _runs.Add($"{workload}: failed ({last}) — {command}");
            return null;
        }
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        double sps = root.GetProperty("samples_per_s").GetDouble();
        TorchVersion = root.TryGetProperty("torch", out var v) ? v.GetString() : TorchVersion;
        string blas = root.TryGetProperty("blas_threads", out var b) ? b.ToString() : "?";
        string malloc = root.TryGetProperty("malloc", out var m) ? m.ToString() : "?";
        _runs.Add($"{workload}: {sps.ToString("F0", CultureInfo.InvariantCulture)} samples/s (torch {TorchVersion}, blas threads {blas}, malloc {malloc}) — {command}");
        return sps;
    }

    /// <summary>One line per run: the figure and the command.</summary>
    public string Describe() => _runs.Count == 0 ? "none" : string.Join("; ", _runs);
}
