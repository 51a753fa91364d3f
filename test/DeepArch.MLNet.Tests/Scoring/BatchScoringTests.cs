using DeepArch.MLNet.Persistence;
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
}
