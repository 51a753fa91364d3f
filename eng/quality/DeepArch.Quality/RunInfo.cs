using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DeepArch.Quality;

/// <summary>Where and on what a report was produced: commit, machine, runtime.</summary>
internal static class RunInfo
{
    /// <summary>A report's title and the table every report opens with: command, commit, machine, date, wall time and load, and the seeds.</summary>
    public static void AppendHeader(System.Text.StringBuilder md, string title, string command, string commit, string machine, string load, TimeSpan elapsed,
        IReadOnlyList<int> seeds, string seedsMean)
    {
        md.AppendLine("# " + title).AppendLine();
        md.AppendLine("| | |").AppendLine("| --- | --- |");
        md.AppendLine($"| command | `{command}` |");
        md.AppendLine($"| commit | {commit} |");
        md.AppendLine($"| machine | {machine} |");
        md.AppendLine($"| date (UTC) | {DateTime.UtcNow:yyyy-MM-dd HH:mm} |");
        md.AppendLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"| wall time | {elapsed.TotalMinutes:F1} min (1-minute load average at the start and end: {load}) |"));
        md.AppendLine($"| seeds | {seeds[0]} to {seeds[^1]} ({seeds.Count}): {seedsMean} |").AppendLine();
    }

    /// <summary>The command that ran, as the README gives it, with the arguments this process received.</summary>
    public static string Command(string[] args)
        => "dotnet run -c Release --project eng/quality/DeepArch.Quality -- " + string.Join(' ', args.Select(Quote));

    /// <summary>The commit the program was built from and whether src/ or eng/quality/ had changes, or "?" without git.</summary>
    public static string Commit()
    {
        string directory = AppContext.BaseDirectory;
        string? head = Git(directory, "rev-parse --short=12 HEAD");
        if (head is null)
        {
            return "?";
        }
        string? status = Git(directory, "status --porcelain -- :/src :/eng/quality");
        return head + (status is null ? "" : status.Length == 0 ? " (src/ and eng/quality/ clean)" : " (src/ or eng/quality/ had uncommitted changes)");
    }

    public static string Machine()
    {
        string cpu = "?";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
        }
        return $"{cpu}, {Environment.ProcessorCount} cores; {RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}";
    }

    /// <summary>The 1-minute load average (the machine is shared; AUC and accuracy do not depend on it, the wall time does).</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string? Git(string directory, string arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git", $"-C \"{directory}\" {arguments}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var git = Process.Start(start);
            if (git is null)
            {
                return null;
            }
            string output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            return git.ExitCode == 0 ? output.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static string Quote(string s) => s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";
}
