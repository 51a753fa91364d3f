using DeepArch.Bench;

// Benchmark driver. The Markdown report goes to stdout (and to --out PATH), the headline ratios to --summary PATH;
// progress goes to stderr.
if (args.Length > 0 && args[0] == "memory-child")
{
    // One memory measurement in a fresh process, started by the "memory" workload.
    return MemoryWorkload.RunChild(args);
}
if (args.Length > 0 && args[0] == "wait-child")
{
    // One training measurement in a fresh process with OMP_WAIT_POLICY set, started by the "wait-policy" workload.
    return WaitPolicyWorkload.RunChild(args);
}
if (args.Length > 0 && args[0] == "spin-child")
{
    // A busy loop standing for another process's work, started (and killed) by the "wait-policy" workload.
    return WaitPolicyWorkload.Spin();
}
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 1;
}
if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

string report;
bool ok;
List<SummaryRow> summary;
IWorkload? workload = options.Workload switch
{
    "scoring" => new ScoringWorkload(options, Console.Error),
    "training" => new TrainingWorkload(options, Console.Error),
    "gan" => new GanWorkload(options, Console.Error),
    "seq2seq" => new SequenceWorkload(options, Console.Error),
    "memory" => new MemoryWorkload(options, Console.Error),
    "threads" => new ThreadsWorkload(options, Console.Error),
    "onednn" => new OneDnnWorkload(options, Console.Error),
    "training-threads" => new TrainingThreadsWorkload(options, Console.Error),
    "wait-policy" => new WaitPolicyWorkload(options, Console.Error),
    _ => null,
};
if (workload is not null)
{
    (report, ok) = workload.Run();
    summary = workload.Summary;
}
else if (options.Workload == "report")
{
    (report, _) = new PerformanceReport(options, Console.Error).Run();
    ok = true;
    summary = [];
}
else
{
    Console.Error.WriteLine(options.Workload.Length == 0 ? "Name a workload." : $"Unknown workload '{options.Workload}'.");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 1;
}

Console.Out.Write(report);
Console.Out.Flush();
if (options.OutPath is not null)
{
    string? dir = Path.GetDirectoryName(Path.GetFullPath(options.OutPath));
    if (dir is not null)
    {
        Directory.CreateDirectory(dir);
    }
    File.WriteAllText(options.OutPath, report);
    Console.Error.WriteLine($"Report written to {options.OutPath}");
}
if (options.SummaryPath is not null)
{
    SummaryFile.Write(options.SummaryPath, summary);
}
if (!ok)
{
    Console.Error.WriteLine("WARNING: checksums disagree between contenders; see the Checksums table.");
    return 2;
}
return 0;
