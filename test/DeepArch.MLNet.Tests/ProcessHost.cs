using System.Diagnostics;
using Xunit;

namespace DeepArch.MLNet.Tests;

/// <summary>Runs test/DeepArch.ProcessHost (built alongside the tests) as a separate process.</summary>
public static class ProcessHost
{
    private static string HostPath
    {
        get
        {
            // test/DeepArch.MLNet.Tests/bin/<Configuration>/net10.0 -> test/DeepArch.ProcessHost/bin/<Configuration>/net10.0
            var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string configuration = testOutput.Parent!.Name;
            string testRoot = testOutput.Parent!.Parent!.Parent!.Parent!.FullName;
            return Path.Combine(testRoot, "DeepArch.ProcessHost", "bin", configuration, testOutput.Name, "DeepArch.ProcessHost.dll");
        }
    }

    /// <summary>Runs the host with <paramref name="arguments"/> and returns its standard output lines.</summary>
    public static string[] Run(params string[] arguments) => Run(new Dictionary<string, string?>(), arguments).Output;

    /// <summary>
    /// Runs the host with <paramref name="arguments"/> and <paramref name="environment"/> added to (a null value: removed
    /// from) this process's environment; returns its standard output lines and its standard error.
    /// </summary>
    public static (string[] Output, string Error) Run(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        start.ArgumentList.Add(HostPath);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "The process host did not finish within 120 s.");
        Assert.True(process.ExitCode == 0, $"The process host failed ({process.ExitCode}): {stderr.Result}");
        return (stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), stderr.Result);
    }
}
