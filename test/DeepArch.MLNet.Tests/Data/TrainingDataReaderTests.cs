using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Data;

/// <summary>
/// The training reader copies rows into one array sized from the view's row count, or grown when the view does not
/// know it, and finds non-finite values with a vectorized scan that must name the same slot a value-by-value scan would.
/// </summary>
public class TrainingDataReaderTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private sealed class WideRow
    {
        [VectorType(40)]
        public float[] Features { get; set; } = [];
    }

    private sealed class SparseRow
    {
        [VectorType(40)]
        public VBuffer<float> Features { get; set; }
    }

    private static WideRow[] Rows(int count)
    {
        var random = new Random(3);
        return Enumerable.Range(0, count)
            .Select(_ => new WideRow { Features = Enumerable.Range(0, 40).Select(_ => random.NextSingle()).ToArray() })
            .ToArray();
    }

    [Fact]
    public void Rows_read_the_same_whether_or_not_the_view_knows_its_row_count()
    {
        var rows = Rows(3000); // more than the first 1,024 rows the reader allocates for a view of unknown size
        var known = Ml.Data.LoadFromEnumerable(rows);
        var streamed = Ml.Data.LoadFromEnumerable(rows.Select(r => r)); // not a list: ML.NET streams it
        Assert.Equal(3000, known.GetRowCount());
        Assert.Null(streamed.GetRowCount());

        float[] fromKnown = TrainingDataReader.ReadFeatures(known, known.Schema["Features"], 40, CancellationToken.None);
        float[] fromStreamed = TrainingDataReader.ReadFeatures(streamed, streamed.Schema["Features"], 40, CancellationToken.None);

        float[] expected = rows.SelectMany(r => r.Features).ToArray();
        Assert.Equal(expected, fromKnown);
        Assert.Equal(expected, fromStreamed);
    }

    [Fact]
    public void Sparse_rows_are_expanded_with_zeros_in_the_slots_they_leave_out()
    {
        var rows = Enumerable.Range(0, 50).Select(r => new SparseRow
        {
            Features = new VBuffer<float>(40, 2, [r + 1f, -(r + 1f)], [r % 40, (r * 7 + 3) % 40 == r % 40 ? (r + 1) % 40 : (r * 7 + 3) % 40]),
        }).ToArray();
        // VBuffer indices must ascend.
        foreach (var row in rows)
        {
            var values = row.Features.GetValues().ToArray();
            var indices = row.Features.GetIndices().ToArray();
            if (indices[0] > indices[1])
            {
                row.Features = new VBuffer<float>(40, 2, [values[1], values[0]], [indices[1], indices[0]]);
            }
        }
        var data = Ml.Data.LoadFromEnumerable(rows);

        float[] read = TrainingDataReader.ReadFeatures(data, data.Schema["Features"], 40, CancellationToken.None);

        float[] expected = rows.SelectMany(r => r.Features.DenseValues()).ToArray();
        Assert.Equal(expected, read);
        Assert.Equal(100, read.Count(v => v != 0));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(37)] // inside the last whole vector (the scalar tail is covered by the 101-value scan test below)
    [InlineData(39)]
    public void A_non_finite_value_is_reported_at_its_slot_past_the_vector_width(int slot)
    {
        var rows = Rows(5);
        rows[2].Features[slot] = float.NegativeInfinity;
        rows[3].Features[1] = float.NaN; // a later row: the first bad row is the one reported
        var data = Ml.Data.LoadFromEnumerable(rows.Select(r => r));

        var error = Assert.Throws<InvalidOperationException>(() =>
            TrainingDataReader.ReadFeatures(data, data.Schema["Features"], 40, CancellationToken.None));

        Assert.Contains($"Feature column 'Features' holds -Infinity at row 2, slot {slot}; training needs finite values.", error.Message);
    }

    [Fact]
    public void The_vectorized_scan_finds_the_first_non_finite_value_and_accepts_every_finite_one()
    {
        float[] finite = [float.MaxValue, float.MinValue, float.Epsilon, -0f, 0f, 1e-40f, 3.5f, -2f, .. new float[93]];
        Assert.Equal(-1, TrainingDataReader.FirstNonFinite(finite));
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            for (int at = 0; at < finite.Length; at++)
            {
                float[] values = (float[])finite.Clone();
                values[at] = bad;
                values[^1] = float.NaN; // a later one must not be reported instead
                Assert.Equal(at, TrainingDataReader.FirstNonFinite(values));
            }
        }
    }
}
