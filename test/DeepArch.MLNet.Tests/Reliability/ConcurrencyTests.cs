using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// One fitted transformer scores from 8 threads at once — Transform cursors and one PredictionEngine per
/// thread — with exactly the single-threaded results; disposing it while threads score never crashes.
/// </summary>
public class ConcurrencyTests
{
    private const int Threads = 8;

    private sealed class Output
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }

    [Fact]
    public async Task Eight_threads_scoring_one_transformer_get_exactly_the_single_threaded_results()
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "multiclass", Rows(90), o => o.ScoringBatchSize = 16);
        using var saved = new MemoryStream(ModelFiles.Save(ml, network));
        var loaded = DeepArchModel.Load(new MLContext(), saved, out _);
        var rows = Rows(300, seed: 6).Select(r => new FeatureRow { Features = r.Features }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);

        foreach (var model in new ITransformer[] { network, loaded })
        {
            var batched = Read(ml, model.Transform(data));
            var single = Predict(ml, model, rows);
            using var start = new Barrier(Threads);

            var results = await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                start.SignalAndWait();
                var mine = new List<(Output[] Batched, Output[] Single)>();
                for (int round = 0; round < 3; round++)
                {
                    // Half the threads start with a cursor, half with an engine, so that both kinds overlap.
                    Output[] cursor, engine;
                    if (t % 2 == 0)
                    {
                        cursor = Read(ml, model.Transform(data));
                        engine = Predict(ml, model, rows);
                    }
                    else
                    {
                        engine = Predict(ml, model, rows);
                        cursor = Read(ml, model.Transform(data));
                    }
                    mine.Add((cursor, engine));
                }
                return mine;
            })));

            foreach (var (concurrentBatched, concurrentSingle) in results.SelectMany(r => r))
            {
                AssertSame(batched, concurrentBatched);
                AssertSame(single, concurrentSingle);
            }
        }
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public async Task Disposing_the_transformer_while_threads_score_ends_each_in_results_or_ObjectDisposedException()
    {
        var ml = new MLContext(seed: 1);
        var network = Fit(ml, "multiclass", Rows(90), o => o.ScoringBatchSize = 4);
        var rows = Rows(400, seed: 6).Select(r => new FeatureRow { Features = r.Features }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var views = Enumerable.Range(0, Threads).Select(_ => network.Transform(data)).ToArray();
        using var started = new CountdownEvent(Threads);

        var scoring = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            started.Signal();
            try
            {
                return t % 2 == 0 ? Read(ml, views[t]).Length : Predict(ml, network, rows).Length;
            }
            catch (ObjectDisposedException)
            {
                return -1;
            }
        })).ToArray();
        started.Wait();
        network.Dispose();
        int[] outcomes = await Task.WhenAll(scoring);

        Assert.All(outcomes, n => Assert.True(n == rows.Length || n == -1, $"A thread read {n} rows."));
        // A data view made before the Dispose now fails cleanly instead of using the released session.
        Assert.Throws<ObjectDisposedException>(() => Read(ml, views[0]));
        Assert.Throws<ObjectDisposedException>(() => network.Transform(data));
    }

    private static Output[] Read(MLContext ml, IDataView scored) => ml.Data.CreateEnumerable<Output>(scored, reuseRowObject: false).ToArray();

    private static Output[] Predict(MLContext ml, ITransformer model, FeatureRow[] rows)
    {
        // One engine per call (so per thread); it must not dispose the shared transformer.
        using var engine = ml.Model.CreatePredictionEngine<FeatureRow, Output>(model, new PredictionEngineOptions { OwnsTransformer = false });
        return rows.Select(r =>
        {
            var o = engine.Predict(r);
            return new Output { Score = (float[])o.Score.Clone(), PredictedLabel = o.PredictedLabel };
        }).ToArray();
    }

    private static void AssertSame(Output[] expected, Output[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Score, actual[i].Score);
            Assert.Equal(expected[i].PredictedLabel, actual[i].PredictedLabel);
        }
    }
}
