using System.Globalization;
using System.Numerics;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// How a <c>Fit</c> holds its training rows' features: streamed (<see cref="Stream"/>), or in memory, and with a
/// <see cref="Budget"/> only while they take at most that many bytes, past which reading starts over, streamed (for a view
/// that does not know its row count). The default is in memory, without a budget.
/// </summary>
internal readonly record struct RowHolding(bool Stream, long? Budget = null)
{
    /// <summary>In memory, whatever they take.</summary>
    public static RowHolding InMemory => new(false);

    /// <summary>Streamed.</summary>
    public static RowHolding Streamed => new(true);

    /// <summary>How a validation set is held next to the training set <paramref name="train"/>: streamed with it, or as its own view's <paramref name="own"/> says.</summary>
    public static RowHolding ForValidation(TrainingSet train, RowHolding own) => train.Rows is null ? own : Streamed;
}

/// <summary>
/// Reads the feature and label columns of a training <see cref="IDataView"/> with one cursor into the
/// contiguous arrays training shuffles from (features <c>rows x size</c> floats, one target per row), or, streamed,
/// checks the features and keeps a fingerprint of each row. Rejects NaN and infinite features, naming the column, the row
/// and the slot.
/// </summary>

internal static class TrainingDataReader
{
    /// <summary>
    /// Reads the feature column and, through <paramref name="task"/>, one target per row from <paramref name="label"/>; with
    /// <paramref name="weight"/> (a <c>Single</c> column), in the same pass, one example weight per row, each finite and at
    /// least 0 and not all 0.
    /// </summary>
    /// <remarks>
    /// Streamed (<paramref name="holding"/>), the features are checked and fingerprinted but not kept: the set is streamed
    /// (<see cref="TrainingSet.Streamed"/>), its features read again from <paramref name="data"/> at every pass; the targets
    /// and weights (one or two values per row) are held either way. In memory with a budget, rows past it start the read over, streamed.
    /// </remarks>
    public static TrainingSet Read(IDataView data, DataViewSchema.Column feature, int featureSize,
        DataViewSchema.Column label, PredictionTask task, CancellationToken cancellationToken, SequenceLayout? sequence = null,
        DataViewSchema.Column? weight = null, RowHolding holding = default)
    {
        return Held(holding, (stream, budget) => Read(data, feature, featureSize, label, task, cancellationToken, sequence, weight, stream, budget));
    }

    /// <summary>
    /// Reads as <paramref name="holding"/> says with <paramref name="read"/> (streamed, in memory, or in memory up to a budget),
    /// and when the rows pass the budget, reads them again, streamed.
    /// </summary>
    private static TrainingSet Held(RowHolding holding, Func<bool, long, TrainingSet> read)
    {
        if (!holding.Stream)
        {
            try
            {
                return read(false, holding.Budget ?? long.MaxValue);
            }
            catch (OverBudgetException)
            {
                // More rows than the budget holds: read them again, streamed.
            }
        }
        return read(true, long.MaxValue);
    }

    private static TrainingSet Read(IDataView data, DataViewSchema.Column feature, int featureSize, DataViewSchema.Column label, PredictionTask task,
        CancellationToken cancellationToken, SequenceLayout? sequence, DataViewSchema.Column? weight, bool stream, long budget)
    {
        var targets = new List<float>();
        var weights = weight is null ? null : new List<float>();
        IRowStore store = stream ? new Fingerprints(featureSize) : new RowArray(featureSize, data.GetRowCount(), "Feature", feature.Name, budget);
        ReadRows(data, feature, featureSize, weight is { } w ? [label, w] : [label], cursor =>
        {
            var readTarget = task.CreateTargetReader(cursor, label);
            var readWeight = weight is { } column ? CreateWeightReader(cursor, column) : null;
            return position =>
            {
                targets.Add(readTarget(position));
                weights?.Add(readWeight!(position));
            };
        }, cancellationToken, sequence, store);
        var set = store is Fingerprints fingerprints
            ? TrainingSet.Streamed(new DataViewRows(data, feature, featureSize, sequence, fingerprints.ToArray(), cancellationToken), [featureSize], targets.ToArray(), 1)
            : new TrainingSet(((RowArray)store).ToArray(), [featureSize], targets.ToArray(), 1);
        return weights is null ? set : set.WithWeights(CheckSomeCount(weights, weight!.Value));
    }

    /// <summary>
    /// Reads the feature column (as <see cref="ReadFeatures"/>) and, in the same pass, the example weight column <paramref name="weight"/>
    /// (a <c>Single</c> column), one weight per row, each finite and at least 0 and not all 0.
    /// </summary>
    public static (float[] Features, float[] Weights) ReadFeaturesAndWeights(IDataView data, DataViewSchema.Column feature, int featureSize,
        DataViewSchema.Column weight, CancellationToken cancellationToken)
    {
        var weights = new List<float>();
        var rows = new RowArray(featureSize, data.GetRowCount(), "Feature", feature.Name);
        ReadRows(data, feature, featureSize, [weight], cursor =>
        {
            var readWeight = CreateWeightReader(cursor, weight);
            return position => weights.Add(readWeight(position));
        }, cancellationToken, sequence: null, rows);
        return (rows.ToArray(), CheckSomeCount(weights, weight));
    }

    /// <summary>
    /// The training rows of an estimator without a label (an anomaly detector): the feature column, and when
    /// <paramref name="weightName"/> names one, the example weight column read in the same pass (null weights otherwise).
    /// </summary>
    public static (float[] Rows, float[]? Weights) ReadRowsAndWeights(IDataView data, DataViewSchema.Column feature, int featureSize,
        string? weightName, CancellationToken cancellationToken)
    {
        return weightName is null
            ? (ReadFeatures(data, feature, featureSize, cancellationToken), null)
            : ReadFeaturesAndWeights(data, feature, featureSize, WeightColumn(data, weightName, "example weight"), cancellationToken);
    }

    /// <summary>
    /// An autoencoder's training rows, whose targets are their features (<see cref="ReconstructionSet"/>): the feature column and,
    /// when <paramref name="weightName"/> names one, the example weight column read in the same pass; held as <paramref name="holding"/>
    /// says (streamed: a <see cref="TrainingSet.Streamed"/> set whose features are read again at every pass).
    /// </summary>
    public static TrainingSet ReadReconstruction(IDataView data, DataViewSchema.Column feature, int featureSize, string? weightName,
        CancellationToken cancellationToken, RowHolding holding, string role = "Feature")
    {
        return Held(holding, (stream, budget) => ReadReconstruction(data, feature, featureSize, weightName, cancellationToken, stream, budget, role));
    }

    private static TrainingSet ReadReconstruction(IDataView data, DataViewSchema.Column feature, int featureSize, string? weightName,
        CancellationToken cancellationToken, bool stream, long budget, string role)
    {
        var weight = weightName is null ? (DataViewSchema.Column?)null : WeightColumn(data, weightName, "example weight");
        var weights = weight is null ? null : new List<float>();
        IRowStore store = stream ? new Fingerprints(featureSize) : new RowArray(featureSize, data.GetRowCount(), role, feature.Name, budget);
        ReadRows(data, feature, featureSize, weight is { } w ? [w] : [], cursor =>
        {
            var readWeight = weight is { } column ? CreateWeightReader(cursor, column) : null;
            return position => weights?.Add(readWeight!(position));
        }, cancellationToken, sequence: null, store, role);
        var set = store is Fingerprints fingerprints
            ? TrainingSet.Streamed(new DataViewRows(data, feature, featureSize, null, fingerprints.ToArray(), cancellationToken), [featureSize], [], featureSize, targetsAreFeatures: true)
            : ReconstructionSet.Create(((RowArray)store).ToArray(), featureSize);
        return weights is null ? set : set.WithWeights(CheckSomeCount(weights, weight!.Value));
    }

    /// <summary>
    /// Runs <paramref name="read"/>, a read of the validation data: its data errors (a value out of range, no rows) start with
    /// "Validation data:", so that a row number in them is not taken for a training row's.
    /// </summary>
    public static T Validation<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException e) when (e is not ObjectDisposedException)
        {
            throw new InvalidOperationException($"Validation data: {e.Message}", e);
        }
    }

    /// <summary>The <c>Single</c> weight column <paramref name="name"/> of <paramref name="data"/>, or the schema error naming it as <paramref name="role"/>.</summary>
    public static DataViewSchema.Column WeightColumn(IDataView data, string name, string role)
    {
        var column = data.Schema.GetColumnOrNull(name) ?? throw SchemaErrors.ColumnNotFound(role, name);
        return column.Type == NumberDataViewType.Single ? column : throw SchemaErrors.Mismatch(role, name, "Single", SchemaErrors.Describe(column.Type));
    }

    private static float[] CheckSomeCount(List<float> weights, DataViewSchema.Column weight)
    {
        if (weights.TrueForAll(v => v == 0))
        {
            throw new InvalidOperationException($"Example weight column '{weight.Name}' is 0 in all {weights.Count} rows; at least one row must count.");
        }
        return Rescaled(weights.ToArray());
    }

    /// <summary>
    /// <paramref name="values"/> scaled, in place, so that the largest is at most 1e30 and, when all are below 1e-6, 1 (weights are
    /// scale-free; the loss is a weighted mean). Also applied to the weights class weighting computes.
    /// </summary>
    internal static float[] Rescaled(float[] values)
    {
        // A batch's loss is sum(w * loss) / sum(w): weights near float's limit (any finite weight is allowed) would overflow both
        // sums into NaN. Only their ratios matter, so weights above 1e30 are all scaled down until the largest is 1e30, no further:
        // scaled to 1, the others could fall under the loss's 1e-12 floor on sum(w) and their batches stop training.
        // At the other end, weights all below 1e-6 are scaled up until the largest is 1: a batch's sum of weights of 1e-14 fell
        // under that floor, and the model and its reported loss changed with the weights' scale (ML.NET's weights are scale-free).
        float largest = values.Max();
        float factor = largest > 1e30f ? largest / 1e30f : largest < 1e-6f ? largest : 1;
        if (factor != 1)
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] /= factor;
            }
        }
        return values;
    }

    /// <summary>A reader of the weight column's current value; it throws on a negative or non-finite weight, naming the row.</summary>
    private static Func<long, float> CreateWeightReader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<float>(column);
        return position =>
        {
            float value = 0;
            getter(ref value);
            if (!(value >= 0) || !float.IsFinite(value))
            {
                throw new InvalidOperationException(
                    $"Example weight column '{column.Name}' holds {value.ToString(CultureInfo.InvariantCulture)} at row {position}; weights must be finite numbers of at least 0.");
            }
            return value;
        };
    }

    /// <summary>Reads only the feature column (unsupervised training: autoencoders), <c>rows x featureSize</c> floats.</summary>
    /// <param name="data">The training data.</param>
    /// <param name="feature">The column to read.</param>
    /// <param name="featureSize">Values per row (the network's input size).</param>
    /// <param name="cancellationToken">Checked at every row.</param>
    /// <param name="sequence">For a recurrent network: how the column holds time steps; null reads it as it is.</param>
    /// <param name="role">How the column is named in errors.</param>
    /// <remarks>A vector label (forecast targets) is read the same way, with <paramref name="role"/> "Label" naming it in errors.</remarks>
    public static float[] ReadFeatures(IDataView data, DataViewSchema.Column feature, int featureSize, CancellationToken cancellationToken,
        SequenceLayout? sequence = null, string role = "Feature")
    {
        var rows = new RowArray(featureSize, data.GetRowCount(), role, feature.Name);
        ReadRows(data, feature, featureSize, [], _ => _ => { }, cancellationToken, sequence, rows, role);
        return rows.ToArray();
    }

    /// <summary>
    /// Reads every row's features into <paramref name="rows"/> (checking that they are finite) and calls the row action
    /// <paramref name="createRowAction"/> makes for the other columns.
    /// </summary>
    private static void ReadRows(IDataView data, DataViewSchema.Column feature, int featureSize, DataViewSchema.Column[] otherColumns,
        Func<DataViewRow, Action<long>> createRowAction, CancellationToken cancellationToken, SequenceLayout? sequence, IRowStore rows, string role = "Feature")
    {
        // Rows go straight into one array (RowArray), sized from the view's row count when it knows it (in-memory and binary
        // views, and the transforms over them do): no per-row copy into a list and no list growth, which cost about
        // a third of the read and twice the array's memory at its peak (eng/bench, training step, read-ae).
        using (var cursor = data.GetRowCursor([feature, .. otherColumns]))
        {
            var readFeatures = sequence?.CreateReader(cursor, feature, training: true) ?? FeatureColumn.CreateReader(cursor, feature);
            var rowAction = createRowAction(cursor);
            long position = 0;
            while (cursor.MoveNext())
            {
                // Every row: a slow view (a database, a remote file) can take seconds per thousand rows.
                cancellationToken.ThrowIfCancellationRequested();
                var row = rows.Append();
                readFeatures(row);
                int slot = FirstNonFinite(row);
                if (slot >= 0)
                {
                    throw new InvalidOperationException(
                        $"{role} column '{feature.Name}' holds {row[slot].ToString(CultureInfo.InvariantCulture)} at row {position}, {sequence?.DescribeSlot(slot) ?? $"slot {slot}"}; training needs finite values. " +
                        "Replace missing values first (for example with ReplaceMissingValues) or filter those rows out.");
                }
                rows.Keep(row);
                rowAction(position);
                position++;
            }
        }
        if (rows.Count == 0)
        {
            throw new InvalidOperationException(
                $"{role} column '{feature.Name}' has no rows: training needs at least one row of {featureSize} values.");
        }
    }

    /// <summary>The index of the first NaN or infinite value in <paramref name="values"/>, or -1 when all are finite.</summary>
    internal static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // x - x is 0 for every finite x and NaN for NaN and both infinities.
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(values[i..]);
                if (!Vector.EqualsAll(v - v, Vector<float>.Zero))
                {
                    break;
                }
            }
        }
        for (; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Rows read into memory passed the budget of <see cref="RowHolding"/>: the reader starts over, streamed.</summary>
    private sealed class OverBudgetException : Exception
    {
    }

    /// <summary>Where the reader puts each row: <see cref="Append"/> gives the span the row is read into, <see cref="Keep"/> takes it once checked.</summary>
    private interface IRowStore
    {
        int Count { get; }

        Span<float> Append();

        void Keep(ReadOnlySpan<float> row);
    }

    /// <summary>Rows read and checked but not kept: each row's fingerprint (<see cref="StreamedRows.Fingerprint"/>), for a streamed set.</summary>
    private sealed class Fingerprints(int width) : IRowStore
    {
        private readonly float[] _row = new float[width];
        private readonly List<int> _fingerprints = [];

        public int Count => _fingerprints.Count;

        public Span<float> Append() => _row;

        public void Keep(ReadOnlySpan<float> row) => _fingerprints.Add(StreamedRows.Fingerprint(row));

        public int[] ToArray() => _fingerprints.ToArray();
    }

    /// <summary>
    /// A streamed set's source: the feature column of <paramref name="data"/>, read with a new cursor at every pass, each row
    /// after checking <paramref name="cancellationToken"/> (a pass over a large or slow view can take minutes).
    /// </summary>
    private sealed class DataViewRows(IDataView data, DataViewSchema.Column feature, int featureSize, SequenceLayout? sequence, int[] fingerprints,
        CancellationToken cancellationToken)
        : StreamedRows(featureSize, fingerprints)
    {
        public override Pass Open() => new CursorPass(data.GetRowCursor([feature]), feature, sequence, cancellationToken);

        private sealed class CursorPass : Pass
        {
            private readonly DataViewRowCursor _cursor;
            private readonly FeatureColumn.RowReader _read;
            private readonly CancellationToken _cancellationToken;

            public CursorPass(DataViewRowCursor cursor, DataViewSchema.Column feature, SequenceLayout? sequence, CancellationToken cancellationToken)
            {
                _cursor = cursor;
                _cancellationToken = cancellationToken;
                try
                {
                    _read = sequence?.CreateReader(cursor, feature, training: true) ?? FeatureColumn.CreateReader(cursor, feature);
                }
                catch
                {
                    cursor.Dispose();
                    throw;
                }
            }

            public override bool MoveNext()
            {
                _cancellationToken.ThrowIfCancellationRequested();
                return _cursor.MoveNext();
            }

            public override void Read(Span<float> destination) => _read(destination);

            public override void Dispose()
            {
                _cursor.Dispose();
                base.Dispose();
            }
        }
    }

    /// <summary>
    /// Rows of a fixed width appended into one contiguous array: exactly sized when the row count is known up front,
    /// otherwise doubled as it fills and trimmed once at the end.
    /// </summary>
    private sealed class RowArray(int width, long? expectedRows, string role, string column, long budgetBytes = long.MaxValue) : IRowStore
    {
        // With a budget, never room for more rows than it holds: the row past it starts the read over, streamed.
        private readonly long _mostRows = Math.Max(1, budgetBytes / sizeof(float) / width);

        // Uninitialized: every slot up to Count x width is written by a row before it is read.
        private float[] _values = GC.AllocateUninitializedArray<float>(Capacity(Math.Min(expectedRows ?? 1024, Math.Max(1, budgetBytes / sizeof(float) / width)), width, role, column));

        public int Count { get; private set; }

        /// <summary>The next row's slots, to be filled by the caller.</summary>
        public Span<float> Append()
        {
            long needed = (long)(Count + 1) * width;
            if (needed * sizeof(float) > budgetBytes)
            {
                throw new OverBudgetException();
            }
            if (needed > _values.Length)
            {
                // Double, but not past the largest array when the rows could still fit in it.
                Array.Resize(ref _values, Capacity(Math.Max(Count + 1L, Math.Min(Math.Min(2L * Count, _mostRows), Array.MaxLength / width)), width, role, column));
            }
            return _values.AsSpan(Count++ * width, width);
        }

        public void Keep(ReadOnlySpan<float> row)
        {
        }

        /// <summary>The rows, as an array of exactly <c>Count x width</c> values (the buffer itself when it is that size).</summary>
        public float[] ToArray()
        {
            int length = Count * width;
            return length == _values.Length ? _values : _values.AsSpan(0, length).ToArray();
        }

        private static int Capacity(long rows, int width, string role, string column)
        {
            long values = rows * width;
            if (values > Array.MaxLength)
            {
                throw new InvalidOperationException(
                    $"{role} column '{column}' holds more than {Array.MaxLength:N0} values ({rows:N0} rows x {width}): training reads all rows into one array. " +
                    "Train on a sample of the rows.");
            }
            return (int)Math.Max(values, width);
        }
    }
}
