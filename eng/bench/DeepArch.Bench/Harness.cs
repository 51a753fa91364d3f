using System.Diagnostics;

namespace DeepArch.Bench;

/// <summary>One thing to time: a full pass that returns a checksum of what it computed.</summary>
/// <param name="Id">Short unique name.</param>
/// <param name="Rows">Rows one pass handles (to turn seconds into rows/s).</param>
/// <param name="Group">Contenders of the same group compute the same values, so their checksums must agree.</param>
/// <param name="Pass">Runs one pass and returns its checksum.</param>
internal sealed record Contender(string Id, long Rows, string Group, Func<double> Pass);

/// <summary>The timings of one contender: seconds per repetition, and the checksum of every pass.</summary>
internal sealed class Timing(Contender contender)
{
    public Contender Contender { get; } = contender;

    public List<double> Seconds { get; } = [];

    public List<double> Checksums { get; } = [];

    /// <summary>For each kept pass, the fraction of the machine's CPU other processes used during it.</summary>
    public List<double> Foreign { get; } = [];

    /// <summary>Passes redone because other processes disturbed them.</summary>
    public int Redone { get; set; }

    public double[] RowsPerSecond => Seconds.Select(s => Contender.Rows / s).ToArray();

    public double MedianRowsPerSecond => Stats.Median(RowsPerSecond);

    public double MedianMicrosecondsPerRow => Stats.Median(Seconds.Select(s => s * 1e6 / Contender.Rows));

    public double Checksum => Checksums[0];

    /// <summary>True when every pass produced the same checksum (within <paramref name="relTol"/>).</summary>
    public bool ChecksumStable(double relTol) => Checksums.All(c => Stats.RelDiff(c, Checksums[0]) <= relTol);
}

/// <summary>How the harness deals with other processes using the CPU during a timed pass.</summary>
/// <param name="MaxForeign">A pass during which other processes used more than this fraction of the machine's CPU is redone.</param>
/// <param name="RetryBudget">Total time the run may spend waiting and redoing disturbed passes; after that, disturbed passes are kept (and counted).</param>
internal sealed record DisturbancePolicy(double MaxForeign, TimeSpan RetryBudget);

/// <summary>
/// Runs contenders side by side: warm-up passes of each, then repetitions in which every contender runs
/// once (the order rotates from one repetition to the next), so that machine noise hits all of them alike.
/// Every timed pass also measures the CPU time other processes used meanwhile (/proc/stat minus this
/// process); a disturbed pass is redone after waiting for a quiet moment, within a time budget.
/// </summary>
internal static class Harness
{
    /// <summary>A pass is redone at most this many times, so that one busy stretch does not use up the whole retry budget.</summary>
    private const int MaxRetriesPerPass = 2;

    public static Dictionary<string, Timing> Run(IReadOnlyList<Contender> contenders, int warmups, int repetitions, DisturbancePolicy policy, TextWriter log)
    {
        var timings = contenders.ToDictionary(c => c.Id, c => new Timing(c));
        for (int w = 0; w < warmups; w++)
        {
            foreach (var c in contenders)
            {
                var sw = Stopwatch.StartNew();
                c.Pass();
                log.WriteLine($"  warm-up {w + 1}/{warmups} {c.Id,-28} {sw.Elapsed.TotalSeconds,7:F3} s");
            }
        }
        var budget = Stopwatch.StartNew();
        var retryTime = TimeSpan.Zero;
        for (int r = 0; r < repetitions; r++)
        {
            var sw = Stopwatch.StartNew();
            int redone = 0;
            for (int k = 0; k < contenders.Count; k++)
            {
                var c = contenders[(k + r) % contenders.Count];
                var timing = timings[c.Id];
                for (int attempt = 0; ; attempt++)
                {
                    Quiesce();
                    var before = CpuSnapshot.Take();
                    long t0 = Stopwatch.GetTimestamp();
                    double checksum = c.Pass();
                    double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    double foreign = CpuSnapshot.Take().ForeignFraction(before, seconds);
                    bool disturbed = foreign > policy.MaxForeign;
                    if (disturbed && attempt < MaxRetriesPerPass && retryTime < policy.RetryBudget)
                    {
                        var wait = Stopwatch.StartNew();
                        timing.Redone++;
                        redone++;
                        CpuSnapshot.WaitForIdle(policy.MaxForeign, TimeSpan.FromSeconds(5));
                        retryTime += wait.Elapsed + TimeSpan.FromSeconds(seconds);
                        continue;
                    }
                    timing.Seconds.Add(seconds);
                    timing.Checksums.Add(checksum);
                    timing.Foreign.Add(foreign);
                    break;
                }
            }
            log.WriteLine($"  repetition {r + 1}/{repetitions} done in {sw.Elapsed.TotalSeconds:F1} s ({redone} disturbed pass(es) redone; retry time used {retryTime.TotalSeconds:F0}/{policy.RetryBudget.TotalSeconds:F0} s)");
        }
        return timings;
    }

    /// <summary>Collects garbage left by the previous contender, outside the timed region.</summary>
    private static void Quiesce()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}

/// <summary>Machine-wide busy CPU time (/proc/stat) and this process's CPU time, to tell how much CPU other processes took.</summary>
internal readonly record struct CpuSnapshot(double MachineBusySeconds, double OwnSeconds, bool Valid)
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static CpuSnapshot Take()
    {
        try
        {
            string line = File.ReadLines("/proc/stat").First();
            var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse).ToArray();
            long busy = v.Sum() - v[3] - v[4]; // all but idle and iowait
            using var self = Process.GetCurrentProcess();
            return new(busy / TicksPerSecond, self.TotalProcessorTime.TotalSeconds, true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return new(0, 0, false);
        }
    }

    /// <summary>CPU used by other processes since <paramref name="before"/>, as a fraction of <paramref name="wallSeconds"/> x cores.</summary>
    public double ForeignFraction(CpuSnapshot before, double wallSeconds)
    {
        if (!Valid || !before.Valid || wallSeconds <= 0)
        {
            return 0;
        }
        double foreign = (MachineBusySeconds - before.MachineBusySeconds) - (OwnSeconds - before.OwnSeconds);
        return Math.Max(0, foreign) / (wallSeconds * Environment.ProcessorCount);
    }

    /// <summary>Waits until a 0.5 s window in which the machine is busy less than <paramref name="maxBusy"/>, or <paramref name="limit"/> passes.</summary>
    public static void WaitForIdle(double maxBusy, TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < limit)
        {
            var a = Take();
            Thread.Sleep(500);
            var b = Take();
            if (!a.Valid || (b.MachineBusySeconds - a.MachineBusySeconds) / (0.5 * Environment.ProcessorCount) < maxBusy)
            {
                return;
            }
        }
    }
}

internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        if (v.Length == 0)
        {
            return double.NaN;
        }
        int m = v.Length / 2;
        return v.Length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }

    /// <summary>Median over repetitions of the per-repetition ratio of rates (a / b).</summary>
    public static double MedianRatio(Timing a, Timing b)
    {
        var ra = a.RowsPerSecond;
        var rb = b.RowsPerSecond;
        int n = Math.Min(ra.Length, rb.Length);
        return Median(Enumerable.Range(0, n).Select(i => ra[i] / rb[i]));
    }

    public static double RelDiff(double a, double b) => Math.Abs(a - b) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), 1e-30);
}
