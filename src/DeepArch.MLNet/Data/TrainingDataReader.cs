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
        DataViewSchema.Column label, PredictionHead head, CancellationToken cancellationToken, SequenceLayout? sequence = null)
    {
        var targets = new List<float>();
        float[] features = ReadRows(data, feature, featureSize, [label], cursor =>
        {
            var readTarget = head.CreateTargetReader(cursor, label);
            return position => targets.Add(readTarget(position));
        }, cancellationToken, sequence);
        return new TrainingSet(features, [featureSize], targets.ToArray(), 1);
    }

    /// <summary>Reads only the feature column (unsupervised training: autoencoders), <c>rows x featureSize</c> floats.</summary>
    /// <param name="data">The training data.</param>
    /// <param name="feature">The column to read.</param>
    /// <param name="featureSize">Values per row (the network's input size).</param>
    /// <param name="cancellationToken">Checked every 1,024 rows.</param>
    /// <param name="sequence">For a recurrent network: how the column holds time steps; null reads it as it is.</param>
    /// <param name="role">How the column is named in errors.</param>
    /// <remarks>A vector label (forecast targets) is read the same way, with <paramref name="role"/> "Label" naming it in errors.</remarks>
    public static float[] ReadFeatures(IDataView data, DataViewSchema.Column feature, int featureSize, CancellationToken cancellationToken,
        SequenceLayout? sequence = null, string role = "Feature")
        => ReadRows(data, feature, featureSize, [], _ => _ => { }, cancellationToken, sequence, role);

    private static float[] ReadRows(IDataView data, DataViewSchema.Column feature, int featureSize, DataViewSchema.Column[] otherColumns,
        Func<DataViewRow, Action<long>> createRowAction, CancellationToken cancellationToken, SequenceLayout? sequence, string role = "Feature")
    {
        var features = new List<float>();
        var row = new float[featureSize];
        using (var cursor = data.GetRowCursor([feature, .. otherColumns]))
        {
            var readFeatures = sequence?.CreateReader(cursor, feature) ?? FeatureColumn.CreateReader(cursor, feature);
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
                            $"{role} column '{feature.Name}' holds {row[i].ToString(CultureInfo.InvariantCulture)} at row {position}, slot {i}; training needs finite values. " +
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
                $"{role} column '{feature.Name}' has no rows: training needs at least one row of {featureSize} values.");
        }
        return features.ToArray();
    }
}
