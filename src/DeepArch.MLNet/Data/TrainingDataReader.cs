using System.Globalization;
using DeepArch.MLNet.Heads;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Data;

/// <summary>
/// Reads the feature and label columns of a training <see cref="IDataView"/> with one cursor into the
/// contiguous arrays training shuffles from (features <c>rows x size</c> floats, one target per row).
/// Rejects NaN and infinite features, naming the column, the row and the slot.
/// </summary>
internal static class TrainingDataReader
{
    /// <summary>Reads the feature column and, through <paramref name="head"/>, one target per row from <paramref name="label"/>.</summary>
    public static TrainingSet Read(IDataView data, DataViewSchema.Column feature, int featureSize,
        DataViewSchema.Column label, PredictionHead head, CancellationToken cancellationToken)
    {
        var targets = new List<float>();
        float[] features = ReadRows(data, feature, featureSize, [label], cursor =>
        {
            var readTarget = head.CreateTargetReader(cursor, label);
            return position => targets.Add(readTarget(position));
        }, cancellationToken);
        return new TrainingSet(features, [featureSize], targets.ToArray(), 1);
    }

    /// <summary>Reads only the feature column (unsupervised training: autoencoders), <c>rows x featureSize</c> floats.</summary>
    public static float[] ReadFeatures(IDataView data, DataViewSchema.Column feature, int featureSize, CancellationToken cancellationToken)
        => ReadRows(data, feature, featureSize, [], _ => _ => { }, cancellationToken);

    private static float[] ReadRows(IDataView data, DataViewSchema.Column feature, int featureSize, DataViewSchema.Column[] otherColumns,
        Func<DataViewRow, Action<long>> createRowAction, CancellationToken cancellationToken)
    {
        var features = new List<float>();
        var row = new float[featureSize];
        using (var cursor = data.GetRowCursor([feature, .. otherColumns]))
        {
            var readFeatures = FeatureColumn.CreateReader(cursor, feature);
            var rowAction = createRowAction(cursor);
            long position = 0;
            while (cursor.MoveNext())
            {
                if ((position & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                readFeatures(row);
                for (int i = 0; i < row.Length; i++)
                {
                    if (!float.IsFinite(row[i]))
                    {
                        throw new InvalidOperationException(
                            $"Feature column '{feature.Name}' holds {row[i].ToString(CultureInfo.InvariantCulture)} at row {position}, slot {i}; training needs finite values. " +
                            "Replace missing values first (for example with ReplaceMissingValues) or filter those rows out.");
                    }
                }
                features.AddRange(row);
                rowAction(position);
                position++;
            }
        }
        if (features.Count == 0)
        {
            throw new InvalidOperationException(
                $"Feature column '{feature.Name}' has no rows: training needs at least one row of {featureSize} values.");
        }
        return features.ToArray();
    }
}
