using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Tests;

/// <summary>Reads the <c>Score</c> column of scored data, whatever the task, for comparisons between models.</summary>
public static class ScoreReader
{
    /// <summary>Every row's <c>Score</c> (one value for binary and regression, the class probabilities for multiclass), read through a cursor.</summary>
    public static float[][] Scores(IDataView scored)
    {
        var column = scored.Schema["Score"];
        using var cursor = scored.GetRowCursor([column]);
        var result = new List<float[]>();
        if (column.Type is VectorDataViewType)
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> value = default;
            while (cursor.MoveNext())
            {
                getter(ref value);
                result.Add(value.DenseValues().ToArray());
            }
        }
        else
        {
            var getter = cursor.GetGetter<float>(column);
            float value = 0;
            while (cursor.MoveNext())
            {
                getter(ref value);
                result.Add([value]);
            }
        }
        return result.ToArray();
    }
}
