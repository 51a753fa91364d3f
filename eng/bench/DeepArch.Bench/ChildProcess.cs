using System.Diagnostics;
using System.Text.Json;

namespace DeepArch.Bench;

/// <summary>
/// Runs this benchmark program again as a child process, for measurements that need a fresh process (peak memory,
/// settings native libraries read once when they load). A child prints one JSON line on stdout as its result.
/// </summary>
internal static class ChildProcess
{
    /// <summary>Starts this program with <paramref name="arguments"/>, and <paramref name="environment"/> added to its environment (a null value removes the variable).</summary>
    public static Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, bool redirectOutput = true)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = redirectOutput, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }
        foreach (string argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                psi.Environment.Remove(name);
            }
            else
            {
                psi.Environment[name] = value;
            }
        }
        return Process.Start(psi)!;
    }

    /// <summary>Runs this program with <paramref name="arguments"/> to the end and reads the last JSON line it printed.</summary>
    /// <exception cref="InvalidOperationException">The child failed or printed no JSON line.</exception>
    public static T Run<T>(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var process = Start(arguments, environment);
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string? line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"Child '{string.Join(' ', arguments)}' failed with exit code {process.ExitCode}.");
        }
        return JsonSerializer.Deserialize<T>(line)!;
    }
}
