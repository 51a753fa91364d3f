using DeepArch.Bench;

// Benchmark driver. The Markdown report goes to stdout (and to --out PATH); progress goes to stderr.
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
if (options.Workload is not ("scoring" or "training"))
{
    Console.Error.WriteLine(options.Workload.Length == 0 ? "Name a workload." : $"Unknown workload '{options.Workload}'.");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 1;
}

var (report, checksumsOk) = options.Workload == "training"
    ? new TrainingWorkload(options, Console.Error).Run()
    : new ScoringWorkload(options, Console.Error).Run();
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
if (!checksumsOk)
{
    Console.Error.WriteLine("WARNING: checksums disagree between contenders; see the Checksums table.");
    return 2;
}
return 0;
