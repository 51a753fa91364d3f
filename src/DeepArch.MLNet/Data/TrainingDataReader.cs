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
    public static TrainingSet Read(IDataView data, DataViewSchema.Column feature, int featureSize,
        DataViewSchema.Column label, PredictionHead head, CancellationToken cancellationToken)
    {
        var features = new List<float>();
        var targets = new List<float>();
        var row = new float[featureSize];
        using (var cursor = data.GetRowCursor([feature, label]))
        {
            var readFeatures = FeatureColumn.CreateReader(cursor, feature);
            var readTarget = head.CreateTargetReader(cursor, label);
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
                targets.Add(readTarget(position));
                position++;
            }
        }
        if (targets.Count == 0)
        {
            throw new InvalidOperationException(
                $"Feature column '{feature.Name}' has no rows: training needs at least one row of {featureSize} values.");
        }
        return new TrainingSet(features.ToArray(), [featureSize], targets.ToArray(), 1);
    }
}
