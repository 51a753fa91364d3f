using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace DeepArch.Bench;

/// <summary>Facts about the machine, runtime and packages, for the header of the report.</summary>
internal static class MachineInfo
{
    /// <summary>The lines that open a training workload's report: the command, date, wall time and load, machine, versions and threading environment.</summary>
    public static void AppendRunHeader(System.Text.StringBuilder sb, TimeSpan wall, string loadBefore)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"- Command: `dotnet run -c Release --project eng/bench/DeepArch.Bench -- {string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(Quote))}`");
        sb.AppendLine(inv, $"- Date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", inv)} UTC; wall time {wall.TotalSeconds:F0} s; load average before {loadBefore}, after {LoadAverage()}");
        sb.AppendLine(inv, $"- Machine: nproc {Environment.ProcessorCount}; CPU {CpuModel()}; RAM {MemoryGb()}; {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        sb.AppendLine(inv, $"- .NET: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}; Microsoft.ML {VersionOf(typeof(Microsoft.ML.MLContext).Assembly)}; TorchSharp {VersionOf("TorchSharp")}; DeepArch git {GitState(AppContext.BaseDirectory)}");
        sb.AppendLine(inv, $"- Threading environment: {ThreadingEnvironment()}");
    }

    public static string CpuModel()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string Field(string key) => lines.FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model\t")}, {Field("cpu MHz")} MHz)";
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static string MemoryGb()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            double kb = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return (kb / 1024 / 1024).ToString("F1", CultureInfo.InvariantCulture) + " GiB";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException)
        {
            return "?";
        }
    }

    /// <summary>The command line of this process, as the kernel has it.</summary>
    public static string ProcessCommandLine()
    {
        try
        {
            var parts = File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            return string.Join(' ', parts.Select(Quote));
        }
        catch (IOException)
        {
            return string.Join(' ', Environment.GetCommandLineArgs().Select(Quote));
        }
    }

    public static string Quote(string s) => s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>The package version an assembly was built as (informational version without the commit suffix).</summary>
    public static string VersionOf(Assembly assembly)
    {
        string? v = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (v is null)
        {
            return assembly.GetName().Version?.ToString() ?? "?";
        }
        int plus = v.IndexOf('+');
        return plus < 0 ? v : v[..plus];
    }

    public static string VersionOf(string assemblyName)
    {
        try
        {
            return VersionOf(Assembly.Load(assemblyName));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return "not loaded";
        }
    }

    /// <summary>Whether an assembly was compiled with optimisations (Release).</summary>
    public static bool IsOptimized(Assembly assembly)
        => assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };

    public static string GcMode() => $"{(GCSettings.IsServerGC ? "server" : "workstation")}, latency {GCSettings.LatencyMode}";

    /// <summary>The repository's git state (commit and whether the work tree has changes), or "?".</summary>
    public static string GitState(string directory)
    {
        string? Git(string args)
        {
            try
            {
                var psi = new ProcessStartInfo("git", args)
                {
                    WorkingDirectory = directory,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                using var p = Process.Start(psi);
                if (p is null)
                {
                    return null;
                }
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode == 0 ? output.Trim() : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }
        string? head = Git("rev-parse --short HEAD");
        if (head is null)
        {
            return "?";
        }
        // ":/src" is the repository's top-level src/, whatever the working directory.
        string? status = Git("status --porcelain -- :/src");
        return head + (status is null ? "" : status.Length == 0 ? " (src/ clean at run time)" : " (src/ had uncommitted changes at run time)");
    }

    /// <summary>Environment variables that change native threading or BLAS behaviour.</summary>
    public static string ThreadingEnvironment()
    {
        var sb = new StringBuilder();
        foreach (var name in new[] { "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DOTNET_gcServer", "DOTNET_TieredPGO" })
        {
            string? v = Environment.GetEnvironmentVariable(name);
            if (v is not null)
            {
                sb.Append(sb.Length > 0 ? ", " : "").Append(name).Append('=').Append(v);
            }
        }
        return sb.Length > 0 ? sb.ToString() : "none set";
    }
}
