using DeepArch.ProcessHost;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// The same seed and data give bit-identical predictions on the CPU: across two fits in one process
/// (with Options.Seed, and with only the MLContext's seed), while other test classes train on other
/// threads, and across processes. For each architecture family present (multilayer perceptrons).
/// </summary>
public class DeterminismTests
{
    private static IReadOnlyList<DeterminismPipeline.Row> TrainingRows => Rows(96, seed: 12)
        .Select(r => new DeterminismPipeline.Row { Features = r.Features, Class = r.Class, Flag = r.Flag, Target = r.Target }).ToArray();

    [Theory]
    [MemberData(nameof(Tasks), MemberType = typeof(ReliabilityData))]
    public void Two_fits_with_the_same_Options_Seed_predict_the_same_bits_whatever_the_MLContext_seed(string task)
    {
        var rows = Rows(80, seed: 3);

        var first = Fit(new MLContext(seed: 1), task, rows, o => { o.Seed = 11; o.Dropout = 0.2f; });
        var second = Fit(new MLContext(seed: 99), task, rows, o => { o.Seed = 11; o.Dropout = 0.2f; });

        var data = Prepare(new MLContext(), task, new MLContext().Data.LoadFromEnumerable(rows));
        Assert.Equal(Bits(Scores(first.Transform(data))), Bits(Scores(second.Transform(data))));
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public void Two_fits_seeded_only_by_the_MLContext_predict_the_same_bits_and_another_seed_changes_them()
    {
        var rows = TrainingRows;

        string[] first = DeterminismPipeline.FitAndScore(rows, seed: 3).ToArray();
        string[] second = DeterminismPipeline.FitAndScore(rows, seed: 3).ToArray();
        string[] other = DeterminismPipeline.FitAndScore(rows, seed: 4).ToArray();

        Assert.Equal(3 * rows.Count, first.Length);
        Assert.Equal(first, second);
        foreach (string task in DeterminismPipeline.Tasks)
        {
            Assert.NotEqual(first.Where(l => l.StartsWith(task + ":", StringComparison.Ordinal)), other.Where(l => l.StartsWith(task + ":", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void A_fit_in_a_fresh_process_predicts_the_same_bits_as_in_this_one()
    {
        var rows = TrainingRows;
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-determinism-{Guid.NewGuid():N}.csv");
        try
        {
            DeterminismPipeline.WriteCsv(path, rows);
            Assert.Equal(RowBits(rows), RowBits(DeterminismPipeline.ReadCsv(path)));

            string[] here = DeterminismPipeline.FitAndScore(rows, seed: 5).ToArray();
            string[] there = ProcessHost.Run("fit", path, "5");

            Assert.Equal(3 * rows.Count, here.Length);
            Assert.Equal(here, there);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int[][] RowBits(IEnumerable<DeterminismPipeline.Row> rows)
        => rows.Select(r => r.Features.Append(r.Class).Append(r.Target).Select(BitConverter.SingleToInt32Bits).Append(r.Flag ? 1 : 0).ToArray()).ToArray();
}
