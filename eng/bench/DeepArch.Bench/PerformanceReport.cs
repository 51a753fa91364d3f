using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;

namespace DeepArch.Bench;

/// <summary>
/// The "report" step: gathers what the workloads left in the results directory (their Markdown reports, their summary
/// JSON, the quiet_run verdicts in their logs) into docs/performance.md, with the machine and versions, one table of
/// ratios, and a PNG chart of those ratios against the issue's targets.
/// </summary>
internal sealed class PerformanceReport(BenchOptions options, TextWriter log)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The workloads in the order the report shows them, with the verb that produced each.</summary>
    private static readonly string[] Stages = ["scoring", "training", "gan", "onednn", "memory", "threads", "wait-policy", "training-threads"];

    public (string Report, bool Ok) Run()
    {
        string dir = options.ResultsDirectory ?? throw new ArgumentException("report needs --results DIR.");
        var rows = new List<(string Stage, SummaryRow Row)>();
        foreach (var stage in Stages)
        {
            string path = Path.Combine(dir, stage + ".json");
            if (File.Exists(path))
            {
                rows.AddRange(SummaryFile.Read(path).Select(r => (stage, r)));
            }
        }
        var sb = new StringBuilder();
        sb.AppendLine("# DeepArch performance").AppendLine();
        sb.AppendLine("This file is written by `eng/bench/run-all.sh` (see [eng/bench/README.md](../eng/bench/README.md)); do not edit it by hand, " +
                      "edit `eng/bench/performance-notes.md`, which is copied into it. Every figure below comes from the run described here, " +
                      "except those under \"Past measurements\", which keep the last figures of comparisons the bench no longer runs, each with the run and commit that measured it; " +
                      "each section names the exact command that produced it. The ratios are what the run compares: they are measured side by side, " +
                      "in one process and interleaved, except the PyTorch figures (a separate process right after the C# passes) and the memory peaks " +
                      "(a fresh process each). Absolute figures drift on this shared 2-core machine and are context only.");
        sb.AppendLine();
        AppendMachine(sb, dir);
        sb.AppendLine("## Summary").AppendLine();
        sb.AppendLine("| section | workload | DeepArch | compared with | its figure | ratio | target | met | measured by |");
        sb.AppendLine("| --- | --- | ---: | --- | ---: | ---: | --- | --- | --- |");
        foreach (var (stage, r) in rows)
        {
            string ratio = double.IsNaN(r.Ratio) ? "n/a" : r.Ratio.ToString("F2", Inv) + "x";
            sb.AppendLine($"| {r.Section} | {r.Workload} | {r.DeepArch} | {r.Comparison} | {r.ComparisonFigure} | {ratio} | {r.TargetText} | {r.Met} | [`{stage}`](#{stage}) |");
        }
        sb.AppendLine();
        if (rows.Count > 0)
        {
            string chart = Path.GetFullPath(options.ChartPath);
            Chart.Write(chart, rows.Select(r => r.Row).ToList());
            string? outDir = options.OutPath is null ? null : Path.GetDirectoryName(Path.GetFullPath(options.OutPath));
            string link = outDir is null ? chart : Path.GetRelativePath(outDir, chart).Replace('\\', '/');
            sb.AppendLine($"![Ratios against the targets]({link})").AppendLine();
            log.WriteLine($"report: chart written to {chart}");
        }
        string notes = FindNotes();
        if (File.Exists(notes))
        {
            sb.AppendLine(File.ReadAllText(notes).TrimEnd()).AppendLine();
        }
        foreach (var stage in Stages)
        {
            string md = Path.Combine(dir, stage + ".md");
            if (!File.Exists(md))
            {
                continue;
            }
            sb.AppendLine($"<a id=\"{stage}\"></a>").AppendLine();
            sb.AppendLine($"## Details: {stage}").AppendLine();
            string verdict = QuietVerdict(Path.Combine(dir, stage + ".log"));
            if (verdict.Length > 0)
            {
                sb.AppendLine($"quiet_run verdict for this step: `{verdict}`").AppendLine();
            }
            // The workload's own report, its headings moved two levels down.
            foreach (var line in File.ReadAllLines(md))
            {
                sb.AppendLine(line.StartsWith('#') ? "##" + line : line);
            }
            sb.AppendLine();
        }
        return (sb.ToString(), rows.All(r => r.Row.Met != "NO"));
    }

    private static string FindNotes()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "DeepArch.slnx")))
            {
                return Path.Combine(d.FullName, "eng", "bench", "performance-notes.md");
            }
        }
        return "performance-notes.md";
    }

    private static void AppendMachine(StringBuilder sb, string dir)
    {
        sb.AppendLine("## Machine and versions").AppendLine();
        string runInfo = Path.Combine(dir, "run.txt");
        if (File.Exists(runInfo))
        {
            foreach (var line in File.ReadAllLines(runInfo).Where(l => l.Length > 0))
            {
                sb.AppendLine("- " + line);
            }
        }
        sb.AppendLine($"- Cores: {Environment.ProcessorCount} (nproc); CPU: {MachineInfo.CpuModel()} (from /proc/cpuinfo); RAM {MachineInfo.MemoryGb()}");
        sb.AppendLine($"- OS: {RuntimeInformation.OSDescription} ({RuntimeInformation.RuntimeIdentifier}); .NET {RuntimeInformation.FrameworkDescription}");
        sb.AppendLine($"- ONNX Runtime {OrtEnv.Instance().GetVersionString()} (native), Microsoft.ML {MachineInfo.VersionOf(typeof(MLContext).Assembly)}, " +
                      $"TorchSharp {MachineInfo.VersionOf("TorchSharp")}, libtorch {PackageVersion("libtorch-cpu-linux-x64")} (libtorch-cpu-linux-x64 in Directory.Packages.props)");
        sb.AppendLine($"- PyTorch {Shell("/usr/bin/python3", "-c", "import torch; print(torch.__version__)")} (Debian python3-torch, /usr/bin/python3), " +
                      $"OpenBLAS {Shell("dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread")} (libopenblas0-pthread)");
        sb.AppendLine($"- Threading environment: {MachineInfo.ThreadingEnvironment()}; DeepArch git {MeasuredGitState(dir)}");
        sb.AppendLine();
    }

    /// <summary>
    /// The commit the run measured, as its steps' reports recorded it when they ran: a report rendered again later (the
    /// <c>report</c> verb) must not name the commit checked out then.
    /// </summary>
    private static string MeasuredGitState(string dir)
    {
        var states = Directory.EnumerateFiles(dir, "*.md")
            .SelectMany(f => System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(f), @"DeepArch git ([0-9a-f]{7,40} \([^)]*\))").Select(m => m.Groups[1].Value))
            .Distinct().ToList();
        return states.Count > 0 ? string.Join("; ", states) : $"{MachineInfo.GitState(AppContext.BaseDirectory)} (at report time; the steps' reports record none)";
    }

    private static string PackageVersion(string id)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string props = Path.Combine(d.FullName, "Directory.Packages.props");
            if (File.Exists(props))
            {
                var m = Regex.Match(File.ReadAllText(props), $"Include=\"{Regex.Escape(id)}\"\\s+Version=\"([^\"]+)\"");
                return m.Success ? m.Groups[1].Value : "?";
            }
        }
        return "?";
    }

    private static string Shell(string program, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && output.Length > 0 ? output : "not available";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not available";
        }
    }

    /// <summary>The last quiet_run verdict in a step's log, or "".</summary>
    private static string QuietVerdict(string logPath)
    {
        if (!File.Exists(logPath))
        {
            return "";
        }
        return File.ReadLines(logPath).LastOrDefault(l => l.StartsWith("{\"quiet_run\"", StringComparison.Ordinal)) ?? "";
    }
}
