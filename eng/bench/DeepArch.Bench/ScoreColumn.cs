using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Bench;

/// <summary>Reads a scored view as a pipeline's next stage would. Also compiled into eng/gpu's GpuCheck.</summary>
internal static class ScoreColumn
{
    /// <summary>A cursor over one vector column; sums the first slot of every row, and checks the row count.</summary>
    public static double SumFirstSlot(IDataView view, string column, int expectedRows)
    {
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> value = default;
        double sum = 0;
        int n = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            sum += value.GetValues()[0];
            n++;
        }
        if (n != expectedRows)
        {
            throw new InvalidOperationException($"Cursor over '{column}' gave {n} rows, expected {expectedRows}.");
        }
        return sum;
    }

    /// <summary>Reads a <c>Single</c> column (an anomaly detector's Score) through a cursor and returns the sum of its values.</summary>
    public static double SumScalar(IDataView view, string column, int expectedRows)
    {
        var col = view.Schema[column];
        using var cursor = view.GetRowCursor([col]);
        var getter = cursor.GetGetter<float>(col);
        float value = 0;
        double sum = 0;
        int n = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            sum += value;
            n++;
        }
        return n == expectedRows ? sum : throw new InvalidOperationException($"Cursor over '{column}' gave {n} rows, expected {expectedRows}.");
    }
}
