using System.Diagnostics;
using Microsoft.ML;
using Xunit;
using Xunit.Abstractions;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// 50 fit / score / save / load / score / dispose cycles keep the process's memory flat: everything
/// native (TorchSharp modules, optimizers and tensors, ONNX Runtime sessions) is released when its
/// owner is disposed, not when the garbage collector gets to it.
/// </summary>
[Collection(SerialReliabilityCollection.Name)]
public class NativeMemoryTests(ITestOutputHelper output)
{
    private const int Cycles = 50;

    [Fact]
    public void Fifty_fit_score_dispose_cycles_keep_the_working_set_flat()
    {
        // A network big enough that a session or module left alive each cycle would show: its weights
        // (about 0.4 MB), the ONNX model bytes each session keeps, and the activations of a 1024-row batch
        // (1 MB per layer) in ONNX Runtime's arena. The working set is read after a full garbage
        // collection, so that only memory that is still reachable or native counts; windows of five
        // cycles are compared by their medians, after the allocators have warmed up.
        var rows = Rows(96, seed: 2);
        var scoringRows = Rows(1500, seed: 3).Select(r => new FeatureRow { Features = r.Features }).ToArray();
        var workingSet = new long[Cycles + 1];
        int liveSessions = OnnxScorer.LiveSessions;
        var clock = Stopwatch.StartNew();
        using var process = Process.GetCurrentProcess();
        for (int cycle = 1; cycle <= Cycles; cycle++)
        {
            RunCycle(cycle, rows, scoringRows);
            Assert.Equal(liveSessions, OnnxScorer.LiveSessions); // released by Dispose, not by the collector
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            process.Refresh();
            workingSet[cycle] = process.WorkingSet64;
        }

        double early = Median(workingSet[6..11]), late = Median(workingSet[46..51]);
        double growthMb = (late - early) / (1 << 20);
        output.WriteLine($"{Cycles} cycles in {clock.Elapsed.TotalSeconds:F1} s; working set (MB) by cycle: " +
            string.Join(" ", workingSet.Skip(1).Select(w => (w >> 20).ToString())));
        output.WriteLine($"median of cycles 6-10: {early / (1 << 20):F1} MB, of cycles 46-50: {late / (1 << 20):F1} MB, growth {growthMb:F1} MB");
        Assert.True(growthMb < 50, $"The working set grew by {growthMb:F1} MB between cycles 6-10 and 46-50.");
    }

    private static void RunCycle(int cycle, ReliabilityData.Row[] rows, FeatureRow[] scoringRows)
    {
        var ml = new MLContext(seed: cycle);
        var scoring = ml.Data.LoadFromEnumerable(scoringRows);
        using var network = Fit(ml, "multiclass", rows, o =>
        {
            o.HiddenLayers = [256, 256];
            o.Epochs = 2;
            o.BatchSize = 32;
            o.TrainingThreads = 1;
            o.ScoringThreads = 1;
        });
        Assert.Equal(scoringRows.Length, Scores(network.Transform(scoring)).Length);
        var engine = ml.Model.CreatePredictionEngine<FeatureRow, BadDataTests.VectorScore>(network, new PredictionEngineOptions { OwnsTransformer = false });
        Assert.Equal(3, engine.Predict(scoringRows[0]).Score.Length);
        engine.Dispose();

        using var saved = new MemoryStream(ModelFiles.Save(ml, network));
        var loaded = DeepArchModel.Load(new MLContext(), saved, out _);
        Assert.Equal(scoringRows.Length, Scores(loaded.Transform(scoring)).Length);
        ((IDisposable)loaded).Dispose();
    }

    [Fact]
    public void Disposal_releases_the_one_thread_session_single_rows_open()
    {
        var ml = new MLContext(seed: 1);
        int liveSessions = OnnxScorer.LiveSessions;
        var network = Fit(ml, "multiclass", Rows(40, seed: 2), o => o.ScoringThreads = 0);
        var row = Rows(1, seed: 3).Select(r => new FeatureRow { Features = r.Features }).Single();
        var engine = ml.Model.CreatePredictionEngine<FeatureRow, BadDataTests.VectorScore>(network, new PredictionEngineOptions { OwnsTransformer = false });

        Assert.Equal(3, engine.Predict(row).Score.Length);
        Assert.Equal(liveSessions + 1 + (network.Scorer.HasRowSession ? 1 : 0), OnnxScorer.LiveSessions);
        Assert.Equal(Environment.ProcessorCount is > 1 and < 8, network.Scorer.HasRowSession);
        engine.Dispose();
        network.Dispose();
        Assert.Equal(liveSessions, OnnxScorer.LiveSessions);
    }

    private static double Median(long[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2.0;
    }
}
