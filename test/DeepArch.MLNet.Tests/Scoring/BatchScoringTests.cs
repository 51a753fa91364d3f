using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Scoring;

public class BatchScoringTests
{
    private sealed class Scored
    {
        public string Name { get; set; } = "";

        public float[] Extra { get; set; } = [];

        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }

    private sealed class Input
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(50)]
    [InlineData(4096)]
    public void Any_batch_size_gives_the_same_rows_in_order_with_passthrough_columns(int batchSize)
    {
        var (ml, model, _) = Fixtures.Multiclass(scoringBatchSize: batchSize);
        var (_, reference, _) = Fixtures.Multiclass(scoringBatchSize: 1);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(50, seed: 9));

        var rows = ml.Data.CreateEnumerable<Scored>(model.Transform(data), reuseRowObject: false).ToArray();
        var expected = ml.Data.CreateEnumerable<Scored>(reference.Transform(data), reuseRowObject: false).ToArray();

        Assert.Equal(50, rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.Equal($"row{i}", rows[i].Name);
            Assert.Equal([i, -i], rows[i].Extra);
            Assert.Equal(expected[i].Score, rows[i].Score);
            Assert.Equal(expected[i].PredictedLabel, rows[i].PredictedLabel);
            Assert.Equal(1f, rows[i].Score.Sum(), 1e-5f);
            Assert.Equal((uint)Array.IndexOf(rows[i].Score, rows[i].Score.Max()) + 1, rows[i].PredictedLabel);
        }
    }

    [Fact]
    public void Scores_match_a_direct_onnx_runtime_run_of_the_exported_file()
    {
        var (ml, model, network) = Fixtures.Multiclass();
        var rows = Fixtures.Rows(20, seed: 4);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-{Guid.NewGuid():N}.onnx");
        network.SaveOnnx(path);
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            OnnxAssert.CheckModel(bytes);
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(bytes);
            var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(rows.SelectMany(r => r.Features).ToArray(), [20, 6]);
            using var results = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("Features", input)]);
            float[] direct = results.Single(r => r.Name == "Score").AsTensor<float>().ToArray();

            var scored = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(rows)), false).ToArray();

            Assert.Equal(direct, scored.SelectMany(s => s.Score).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_cursor_over_a_subset_of_columns_works_and_an_output_only_cursor_needs_no_passthrough()
    {
        var (ml, model, _) = Fixtures.Multiclass();
        var output = model.Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(30)));

        using (var cursor = output.GetRowCursor([output.Schema["Name"]]))
        {
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(output.Schema["Name"]);
            int n = 0;
            while (cursor.MoveNext())
            {
                ReadOnlyMemory<char> name = default;
                getter(ref name);
                Assert.Equal($"row{n++}", name.ToString());
            }
            Assert.Equal(30, n);
            Assert.False(cursor.IsColumnActive(output.Schema["Score"]));
        }
        using (var cursor = output.GetRowCursor([output.Schema["PredictedLabel"]]))
        {
            var getter = cursor.GetGetter<uint>(output.Schema["PredictedLabel"]);
            var ids = cursor.GetIdGetter();
            var seen = new HashSet<DataViewRowId>();
            while (cursor.MoveNext())
            {
                uint key = 0;
                getter(ref key);
                Assert.InRange(key, 1u, 3u);
                DataViewRowId id = default;
                ids(ref id);
                Assert.True(seen.Add(id));
                Assert.Equal(seen.Count - 1, cursor.Position);
            }
            Assert.Equal(30, seen.Count);
        }
    }

    /// <summary>
    /// ML.NET's cursor protocol (an outside probe found each of these different): no current row before the first MoveNext or
    /// after the last (getters throw InvalidOperationException, not an index error or the last row's value), Position -1 once
    /// the cursor is done, a getter of the wrong type an InvalidOperationException (not an InvalidCastException), and a
    /// prediction row's getter for an inactive output refused (a NullReferenceException before).
    /// </summary>
    [Fact]
    public void The_cursor_and_the_row_follow_MLNets_protocol_before_the_first_row_and_after_the_last()
    {
        var (ml, model, _) = Fixtures.Multiclass();
        var output = model.Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(5)));
        using var cursor = output.GetRowCursor(output.Schema);
        var score = cursor.GetGetter<VBuffer<float>>(output.Schema["Score"]);
        var name = cursor.GetGetter<ReadOnlyMemory<char>>(output.Schema["Name"]);
        var ids = cursor.GetIdGetter();
        VBuffer<float> value = default;
        ReadOnlyMemory<char> text = default;
        DataViewRowId id = default;

        Assert.Throws<InvalidOperationException>(() => score(ref value));
        Assert.Throws<InvalidOperationException>(() => ids(ref id));
        while (cursor.MoveNext())
        {
            score(ref value);
            name(ref text);
        }
        Assert.Equal(-1, cursor.Position);
        Assert.Throws<InvalidOperationException>(() => score(ref value));
        Assert.Throws<InvalidOperationException>(() => name(ref text));
        var wrongType = Assert.Throws<InvalidOperationException>(() => cursor.GetGetter<VBuffer<double>>(output.Schema["Extra"]));
        Assert.Contains("Invalid TValue", wrongType.Message);

        var inputData = ml.Data.LoadFromEnumerable(Fixtures.Rows(1));
        var mapper = model.GetRowToRowMapper(inputData.Schema);
        using var input = inputData.GetRowCursor(inputData.Schema);
        var row = mapper.GetRow(input, [mapper.OutputSchema["PredictedLabel"]]);
        Assert.Throws<InvalidOperationException>(() => row.GetGetter<VBuffer<float>>(mapper.OutputSchema["Score"]));
    }

    [Fact]
    public void Vector_values_handed_out_are_copies_the_caller_may_keep()
    {
        var (ml, model, _) = Fixtures.Multiclass(scoringBatchSize: 4);
        var output = model.Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(10)));
        using var cursor = output.GetRowCursor(output.Schema);
        var extra = cursor.GetGetter<VBuffer<float>>(output.Schema["Extra"]);
        var kept = new List<float[]>();
        while (cursor.MoveNext())
        {
            VBuffer<float> value = default;
            extra(ref value);
            kept.Add(value.DenseValues().ToArray());
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => new float[] { i, -i }), kept);
    }

    [Fact]
    public void Prediction_engine_gives_the_batched_scores()
    {
        var (ml, model, network) = Fixtures.Multiclass();
        var rows = Fixtures.Rows(12, seed: 8);
        var batched = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(rows)), false).ToArray();
        var engine = ml.Model.CreatePredictionEngine<Input, Prediction>(network);

        for (int i = 0; i < rows.Length; i++)
        {
            var prediction = engine.Predict(new Input { Features = rows[i].Features });
            Assert.Equal(batched[i].Score, prediction.Score);
        }
    }

    [Fact]
    public void Prediction_engine_works_on_a_model_loaded_both_ways()
    {
        var (ml, _, model) = Fixtures.Multiclass();
        var rows = Fixtures.Rows(5, seed: 3);
        var expected = ml.Model.CreatePredictionEngine<Input, Prediction>(model).Predict(new Input { Features = rows[0].Features }).Score;
        using var stream = new MemoryStream();
        ml.Model.Save(model, ml.Data.LoadFromEnumerable(rows).Schema, stream);

        var fresh = new MLContext();
        stream.Position = 0;
        var loaded = DeepArchModel.Load(fresh, stream, out _);
        stream.Position = 0;
        var plain = fresh.Model.Load(stream, out _);

        foreach (var reloaded in new[] { loaded, plain })
        {
            var score = fresh.Model.CreatePredictionEngine<Input, Prediction>(reloaded).Predict(new Input { Features = rows[0].Features }).Score;
            Assert.Equal(expected.Length, score.Length);
            Assert.All(expected.Zip(score), p => Assert.Equal(p.First, p.Second, 1e-5f));
        }
    }

    [Fact]
    public void Transform_reads_nothing_until_a_cursor_moves()
    {
        var (ml, _, model) = Fixtures.Multiclass();
        int reads = 0;
        var lazyRows = Fixtures.Rows(40).Select(r => { reads++; return r; });
        var output = model.Transform(ml.Data.LoadFromEnumerable(lazyRows));
        Assert.Equal(0, reads);

        using var cursor = output.GetRowCursor(output.Schema);
        cursor.MoveNext();

        Assert.InRange(reads, 1, 7);
    }

    /// <summary>The network scored with one ONNX Runtime thread, which leaves the cursor a core to read the next batch on (two batches in flight).</summary>
    private static NetworkTransformer Overlapping(NetworkTransformer network)
    {
        var overlapping = network.WithScoring(new ScoringOverrides { ScoringThreads = 1 });
        Assert.Equal(Environment.ProcessorCount > 1, overlapping.Scorer.OverlapsReading(overlapping.ScoringBatchSize));
        return overlapping;
    }

    /// <summary>The network scored with every core in a session whose threads spin: reading and scoring in turn, one batch at a time.</summary>
    private static NetworkTransformer InTurn(NetworkTransformer network)
    {
        var inTurn = network.WithSettings(network.Info.Scoring with { Spins = true });
        Assert.False(inTurn.Scorer.OverlapsReading(inTurn.ScoringBatchSize));
        return inTurn;
    }

    /// <summary>
    /// Where the session's threads sleep, <c>PredictionEngine</c>'s rows run on a second session of one thread (waking a sleeping
    /// thread for one row cost more than the row): the same bits as the batched scores, and the session is opened once.
    /// </summary>
    [Fact]
    public void Single_rows_on_a_sleeping_session_run_on_one_thread_with_the_bits_of_the_batches()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 7);
        using var sleeping = network.WithSettings(network.Info.Scoring with { Spins = false, Threads = 0 });
        var rows = Fixtures.Rows(20, seed: 4);
        var batched = ml.Data.CreateEnumerable<Scored>(sleeping.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToArray();

        using var engine = ml.Model.CreatePredictionEngine<Fixtures.Row, Scored>(sleeping, new PredictionEngineOptions { OwnsTransformer = false });
        var single = rows.Select(r => engine.Predict(r)).Select(s => (s.Score.ToArray(), s.PredictedLabel)).ToArray();

        Assert.Equal(batched.Select(s => s.Score), single.Select(s => s.Item1));
        Assert.Equal(batched.Select(s => s.PredictedLabel), single.Select(s => s.PredictedLabel));
        Assert.Equal(Environment.ProcessorCount > 1, sleeping.Scorer.HasRowSession);
        using var spinning = network.WithSettings(network.Info.Scoring with { Spins = true });
        using var spinningEngine = ml.Model.CreatePredictionEngine<Fixtures.Row, Scored>(spinning, new PredictionEngineOptions { OwnsTransformer = false });
        Assert.Equal(batched[0].Score, spinningEngine.Predict(rows[0]).Score);
        Assert.False(spinning.Scorer.HasRowSession);
    }

    /// <summary>
    /// With <c>ScoringThreads</c> left at 0 and sleeping threads, a cursor's batch whose run starts while the other batch's is
    /// still going runs on half the threads (one on 2 cores, a second session): the bits of one batch at a time on every thread.
    /// A thread count the user set is used for every batch, and spinning sessions keep all their threads.
    /// </summary>
    [Fact]
    public void Batches_read_ahead_run_beside_each_other_on_half_the_threads_with_the_bits_of_all_threads()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 16);
        using var sleeping = network.WithSettings(network.Info.Scoring with { Spins = false, Threads = 0 });
        using var inTurn = InTurn(network);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(96, seed: 11)); // six full batches: none small enough for the one-thread session

        var expected = ml.Data.CreateEnumerable<Scored>(inTurn.Transform(data), reuseRowObject: false).ToArray();
        var rows = ml.Data.CreateEnumerable<Scored>(sleeping.Transform(data), reuseRowObject: false).ToArray();
        Assert.Equal(96, rows.Length);
        Assert.Equal(expected.Select(r => r.Score), rows.Select(r => r.Score));
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), sleeping.Scorer.BesideThreads);

        // A run beside another, directly: on 2 or 3 cores it opens the one-thread session, and gives the bits of a run alone.
        using var fresh = network.WithSettings(network.Info.Scoring with { Spins = false, Threads = 0 });
        var features = Fixtures.Rows(16, seed: 12).SelectMany(r => r.Features).ToArray();
        var alone = fresh.Scorer.CreateBatch(16);
        var beside = fresh.Scorer.CreateBatch(16);
        fresh.Scorer.Run([features], 16, alone);
        Assert.False(fresh.Scorer.HasRowSession);
        fresh.Scorer.Run([features], 16, beside, beside: true);
        Assert.Equal(Environment.ProcessorCount is 2 or 3, fresh.Scorer.HasRowSession);
        Assert.Equal(fresh.Scorer.BesideThreads < fresh.Scorer.SessionThreads, fresh.Scorer.HasSession(fresh.Scorer.BesideThreads));
        Assert.Equal(alone.Outputs[0], beside.Outputs[0]);

        // The cursor asks for it exactly while its other batch's run is still going.
        var running = new TaskCompletionSource();
        Assert.False(BatchScoringDataView.RunsBeside([null]));
        Assert.True(BatchScoringDataView.RunsBeside([running.Task]));
        running.SetResult();
        Assert.False(BatchScoringDataView.RunsBeside([running.Task]));

        using var chosen = network.WithSettings(network.Info.Scoring with { Spins = false, Threads = Environment.ProcessorCount });
        Assert.Equal(chosen.Scorer.SessionThreads, chosen.Scorer.BesideThreads);
        using var spinning = network.WithSettings(network.Info.Scoring with { Spins = true, Threads = 0 });
        Assert.Equal(spinning.Scorer.SessionThreads, spinning.Scorer.BesideThreads);
    }

    [Fact]
    public void By_default_the_cursor_reads_ahead_below_8_cores_where_the_session_threads_sleep()
    {
        var (_, _, network) = Fixtures.Multiclass(scoringBatchSize: 7);

        Assert.Equal(Environment.ProcessorCount < 8, !OnnxScorer.SessionSpins);
        Assert.Equal(Environment.ProcessorCount < 8, network.Scorer.OverlapsReading(OnnxScorer.SmallBatchRows));
        Assert.False(network.Scorer.OverlapsReading(OnnxScorer.SmallBatchRows - 1)); // too little work to share: in turn, on one thread
    }

    [Fact]
    public void Reading_ahead_gives_the_rows_and_scores_of_reading_in_turn()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 7);
        using var overlapping = Overlapping(network);
        using var inTurn = InTurn(network);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(100, seed: 9));

        var expected = ml.Data.CreateEnumerable<Scored>(inTurn.Transform(data), reuseRowObject: false).ToArray();
        var rows = ml.Data.CreateEnumerable<Scored>(overlapping.Transform(data), reuseRowObject: false).ToArray();

        Assert.Equal(expected.Select(r => r.Name), rows.Select(r => r.Name));
        Assert.Equal(expected.Select(r => r.Score), rows.Select(r => r.Score));
        Assert.Equal(expected.Select(r => r.PredictedLabel), rows.Select(r => r.PredictedLabel));
    }

    /// <summary>
    /// The cursor reads batch k+2 while batch k+1 scores (two batches in flight), but an upstream error still surfaces where
    /// it did when batches were read one at a time: at the first row of the batch holding the bad row, never earlier.
    /// </summary>
    [Fact]
    public void A_failing_row_read_ahead_throws_when_its_batch_is_due()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 7);
        using var model = Overlapping(network);
        var rows = Fixtures.Rows(40).Select((r, i) => i == 20 ? throw new InvalidDataException("row 20 is bad") : r);
        var output = model.Transform(ml.Data.LoadFromEnumerable(rows));

        using var cursor = output.GetRowCursor(output.Schema);
        var score = cursor.GetGetter<VBuffer<float>>(output.Schema["Score"]);
        var value = default(VBuffer<float>);
        int read = 0;
        var error = Assert.Throws<InvalidDataException>(() =>
        {
            while (cursor.MoveNext())
            {
                score(ref value);
                read++;
            }
        });

        Assert.Equal("row 20 is bad", error.Message);
        Assert.Equal(14, read); // batches [0, 7) and [7, 14); the batch [14, 21) holds row 20
    }

    /// <summary>A cursor set (as ML.NET asks for when it reads in parallel) scores every row once, with the values of a single cursor.</summary>
    [Fact]
    public void A_cursor_set_scores_every_row_once_with_the_same_values()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 7);
        using var model = Overlapping(network);
        // A cached view hands out as many cursors as asked for.
        var data = ml.Data.Cache(ml.Data.LoadFromEnumerable(Fixtures.Rows(100, seed: 3)));
        var output = model.Transform(data);
        var expected = ml.Data.CreateEnumerable<Scored>(output, reuseRowObject: false).ToDictionary(r => r.Name, r => r.Score);

        var cursors = output.GetRowCursorSet(output.Schema, 2);
        var seen = new Dictionary<string, float[]>();
        foreach (var cursor in cursors)
        {
            using (cursor)
            {
                var name = cursor.GetGetter<ReadOnlyMemory<char>>(output.Schema["Name"]);
                var score = cursor.GetGetter<VBuffer<float>>(output.Schema["Score"]);
                ReadOnlyMemory<char> n = default;
                VBuffer<float> s = default;
                while (cursor.MoveNext())
                {
                    name(ref n);
                    score(ref s);
                    seen.Add(n.ToString(), s.DenseValues().ToArray());
                }
            }
        }

        Assert.Equal(2, cursors.Length);
        Assert.Equal(expected.Keys.Order(), seen.Keys.Order());
        Assert.All(expected, e => Assert.Equal(e.Value, seen[e.Key]));
    }

    /// <summary>A cursor disposed while the batch it read ahead is still scoring waits for that run and leaves the transformer usable.</summary>
    [Fact]
    public void A_cursor_disposed_mid_stream_leaves_the_transformer_usable()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 7);
        using var model = Overlapping(network);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(60));
        var output = model.Transform(data);

        for (int stop = 1; stop <= 30; stop += 4)
        {
            using var cursor = output.GetRowCursor(output.Schema);
            for (int i = 0; i < stop && cursor.MoveNext(); i++)
            {
            }
        }

        Assert.Equal(60, ml.Data.CreateEnumerable<Scored>(output, reuseRowObject: false).Count());
    }

    /// <summary>The scoring thread count is only about speed: 1 and 2 ONNX Runtime threads give the same bits (docs/performance.md).</summary>
    [Fact]
    public void Scores_are_the_same_bits_whatever_the_scoring_thread_count()
    {
        var (ml, _, network) = Fixtures.Multiclass(scoringBatchSize: 64, rows: 300);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(300, seed: 4));
        using var one = network.WithScoring(new ScoringOverrides { ScoringThreads = 1 });
        using var two = network.WithScoring(new ScoringOverrides { ScoringThreads = 2 });

        var a = ScoreReader.Scores(one.Transform(data)).SelectMany(r => r).Select(BitConverter.SingleToInt32Bits);
        var b = ScoreReader.Scores(two.Transform(data)).SelectMany(r => r).Select(BitConverter.SingleToInt32Bits);

        Assert.Equal(a, b);
    }
}
