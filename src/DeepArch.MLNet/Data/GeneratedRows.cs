using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// Rows drawn from a GAN's generator (<c>mlContext.Data.Generate</c>), with the training data's feature column and, for a
/// conditional GAN, its label column (the same key type and key values); and the concatenation of data views with the
/// same columns (<c>mlContext.Data.AppendRows</c>), to add drawn rows to real ones.
/// </summary>
internal static class GeneratedRows
{
    /// <summary>Draws <paramref name="count"/> rows from <paramref name="generator"/>, of <paramref name="label"/> or, when null, of labels drawn with the training data's frequencies.</summary>
    public static IDataView Generate(NetworkTransformer generator, int count, int seed, string? label)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var info = generator.Info;
        var generation = info.Generation ?? throw new ArgumentException(
            $"Generate needs a generator fitted by GenerateByAdversarialNetwork; this transformer was made by {info.Trainer}.", nameof(generator));
        if (count < 0 || (long)count * generation.FeatureSize > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"count must be in [0, {Array.MaxLength / generation.FeatureSize:N0}] for rows of {generation.FeatureSize} values; got {count}.");
        }
        if (label is not null && info.Condition is null)
        {
            throw new ArgumentException($"The generator was trained without labels (an unconditional GAN), so it cannot draw rows of label '{label}'.", nameof(label));
        }
        var random = new Random(seed);
        uint? asked = label is null || info.Condition is null ? null : info.Condition.Keys.KeyOf(label, nameof(label));
        if (asked is { } key && generation.LabelFrequencies![key - 1] <= 0)
        {
            // The label's key type has the class, but no training row did: the generator never learned what such rows look like.
            throw new ArgumentException(
                $"Label '{label}' is a value of the label's key type, but no training row had it: the generator never learned that class, " +
                "so its rows would mean nothing. Train with rows of that label, or ask for another.", nameof(label));
        }
        CheckMemory(count, generation.FeatureSize, DeepArch.Trainers.Training.TrainingMemory.AvailableBytes);
        uint[] keys = info.Condition is null ? [] : DrawKeys(random, count, asked, generation.LabelFrequencies!);
        int noiseSize = info.FeatureSize, width = generation.FeatureSize;
        var values = new float[count * width];
        var scorer = generator.Scorer;
        int batchSize = generator.ScoringBatchSize;
        var batch = scorer.CreateBatch(batchSize);
        float[][] inputs = scorer.InputSizes.Select(size => new float[batchSize * size]).ToArray();
        for (int start = 0; start < count; start += batchSize)
        {
            int rows = Math.Min(batchSize, count - start);
            for (int i = 0; i < rows * noiseSize; i++)
            {
                inputs[0][i] = StandardNormal(random);
            }
            if (info.Condition is not null)
            {
                Array.Clear(inputs[1]);
                for (int r = 0; r < rows; r++)
                {
                    inputs[1][r * scorer.InputSizes[1] + (int)keys[start + r] - 1] = 1;
                }
            }
            scorer.Run(inputs, rows, batch);
            batch.Outputs[0].AsSpan(0, rows * width).CopyTo(values.AsSpan(start * width));
        }
        return new RowsDataView(generation.FeatureColumn, width, values, info.Condition, keys);
    }

    /// <summary>
    /// Refuses a draw whose rows (drawn when <c>Generate</c> is called, 4 bytes per value and per label) would take more than half
    /// of the <paramref name="available"/> memory, before any is allocated: asked for 500 million rows, it would otherwise end in
    /// an <see cref="OutOfMemoryException"/> after minutes of drawing.
    /// </summary>
    internal static void CheckMemory(int count, int width, long available)
    {
        long bytes = (long)count * (width + 1) * sizeof(float);
        if (bytes > available / 2)
        {
            throw new InsufficientMemoryException(
                $"Generating {count:N0} rows of {width} values needs about {DeepArch.Trainers.Training.TrainingMemory.FormatBytes(bytes)}, held in memory from the " +
                $"Generate call on, but {DeepArch.Trainers.Training.TrainingMemory.FormatBytes(available)} is available to this process: draw the rows in parts " +
                "(several Generate calls with smaller counts and different seeds), saving or using each part before the next.");
        }
    }

    /// <summary>The given key for every row, or keys drawn with <paramref name="frequencies"/>.</summary>
    private static uint[] DrawKeys(Random random, int count, uint? key, double[] frequencies)
    {
        if (key is { } given)
        {
            return Enumerable.Repeat(given, count).ToArray();
        }
        double total = frequencies.Sum();
        var keys = new uint[count];
        for (int r = 0; r < count; r++)
        {
            double u = random.NextDouble() * total, sum = 0;
            int c = 0;
            while (c < frequencies.Length - 1 && (sum += frequencies[c]) <= u)
            {
                c++;
            }
            keys[r] = (uint)c + 1;
        }
        return keys;
    }

    /// <summary>A draw from N(0, 1) (Box-Muller), from <paramref name="random"/> only, so that a seed gives the same rows in every process.</summary>
    private static float StandardNormal(Random random)
        => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));

    /// <summary>Appends the rows of <paramref name="sources"/>, which must have the same visible columns (names and types), in order.</summary>
    public static IDataView AppendRows(IReadOnlyList<IDataView> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0 || sources.Any(s => s is null))
        {
            throw new ArgumentException("AppendRows needs at least one data view, and none may be null.", nameof(sources));
        }
        var columns = sources[0].Schema.Where(c => !c.IsHidden).ToList();
        for (int s = 1; s < sources.Count; s++)
        {
            var schema = sources[s].Schema;
            foreach (var column in columns)
            {
                var other = schema.GetColumnOrNull(column.Name);
                if (other is null || !SameValues(other.Value.Type, column.Type))
                {
                    string problem = other is null
                        ? $"Data view {s} has no column '{column.Name}', which the first has ({column.Type})"
                        : $"Column '{column.Name}' is {other.Value.Type} in data view {s} but {column.Type} in the first";
                    throw new ArgumentException(
                        $"{problem}: appended data views need the same columns; select them in each first (mlContext.Transforms.SelectColumns).", nameof(sources));
                }
                if (column.Type is KeyDataViewType && KeysOf(column) is { } first && KeysOf(other.Value) is { } keys && first.FirstDifference(keys) is { } key)
                {
                    throw new ArgumentException($"Key column '{column.Name}': key {key + 1} is '{first.Values![key]}' in the first data view but '{keys.Values![key]}' " +
                        $"in data view {s}; appended rows need the same key values (map them with the same MapValueToKey).", nameof(sources));
                }
            }
        }
        return new AppendedDataView(sources, columns);
    }

    /// <summary>
    /// Whether rows of the two types can be appended: equal types, or vectors of the same item type and size whose dimensions
    /// differ (a generator's <c>Transform</c> writes <c>Vector&lt;Single, 1, K&gt;</c>, the type a plain load gives it, where real
    /// rows and <c>Generate</c> have <c>Vector&lt;Single, K&gt;</c>); the appended column has the first view's type.
    /// </summary>
    private static bool SameValues(DataViewType type, DataViewType first)
        => type.Equals(first) || (type is VectorDataViewType { IsKnownSize: true } a && first is VectorDataViewType { IsKnownSize: true } b
            && a.ItemType.Equals(b.ItemType) && a.Size == b.Size);

    /// <summary>The key values of a <c>Key&lt;UInt32&gt;</c> column of at least two keys, or null for any other column.</summary>
    private static LabelKeys? KeysOf(DataViewSchema.Column column)
        => column.Type is KeyDataViewType { RawType: var raw, Count: >= 2 } && raw == typeof(uint) ? LabelKeys.FromColumn(column, column.Name, "key") : null;

    /// <summary>Drawn rows: a known-size vector of <c>Single</c> per row and, for a conditional generator, its label key.</summary>
    private sealed class RowsDataView : IDataView
    {
        private readonly int _width;
        private readonly float[] _values;
        private readonly uint[] _keys;

        public RowsDataView(string featureColumn, int width, float[] values, ConditionInput? condition, uint[] keys)
        {
            _width = width;
            _values = values;
            _keys = keys;
            var builder = new DataViewSchema.Builder();
            builder.AddColumn(featureColumn, new VectorDataViewType(NumberDataViewType.Single, width));
            if (condition is not null)
            {
                builder.AddColumn(condition.Column, condition.Keys.KeyType, condition.Keys.Annotations());
            }
            Schema = builder.ToSchema();
        }

        public DataViewSchema Schema { get; }

        public bool CanShuffle => false;

        public long? GetRowCount() => _values.Length / _width;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

        private sealed class Cursor(RowsDataView view) : DataViewRowCursor
        {
            private long _position = -1;

            public override DataViewSchema Schema => view.Schema;

            public override long Position => _position;

            public override long Batch => 0;

            public override bool MoveNext() => ++_position < view.GetRowCount();

            public override bool IsColumnActive(DataViewSchema.Column column) => true;

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                Delegate getter = column.Index == 0
                    ? (ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
                    {
                        var editor = VBufferEditor.Create(ref value, view._width);
                        view._values.AsSpan((int)_position * view._width, view._width).CopyTo(editor.Values);
                        value = editor.Commit();
                    })
                    : (ValueGetter<uint>)((ref uint value) => value = view._keys[_position]);
                return getter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' has type {column.Type}, not {typeof(TValue).Name}.");
            }

            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);
        }
    }

    /// <summary>The rows of several data views with the same columns, one after another.</summary>
    private sealed class AppendedDataView : IDataView
    {
        private readonly IReadOnlyList<IDataView> _sources;

        public AppendedDataView(IReadOnlyList<IDataView> sources, IReadOnlyList<DataViewSchema.Column> columns)
        {
            _sources = sources;
            var builder = new DataViewSchema.Builder();
            foreach (var column in columns)
            {
                builder.AddColumn(column.Name, column.Type, column.Annotations);
            }
            Schema = builder.ToSchema();
        }

        public DataViewSchema Schema { get; }

        public bool CanShuffle => false;

        public long? GetRowCount()
        {
            long total = 0;
            foreach (var source in _sources)
            {
                if (source.GetRowCount() is not { } count)
                {
                    return null;
                }
                total += count;
            }
            return total;
        }

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
            => new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
            => [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(AppendedDataView view, HashSet<int> active) : DataViewRowCursor
        {
            private int _source = -1;
            private DataViewRowCursor? _current;
            private long _position = -1;

            public override DataViewSchema Schema => view.Schema;

            public override long Position => _position;

            public override long Batch => 0;

            public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

            public override bool MoveNext()
            {
                while (_current is null || !_current.MoveNext())
                {
                    _current?.Dispose();
                    _current = null;
                    if (++_source >= view._sources.Count)
                    {
                        return false;
                    }
                    var schema = view._sources[_source].Schema;
                    _current = view._sources[_source].GetRowCursor(view.Schema.Where(c => active.Contains(c.Index)).Select(c => schema[c.Name]));
                }
                _position++;
                return true;
            }

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                // The consumer keeps this getter for the whole cursor; it asks the current source for each value.
                ValueGetter<TValue>? getter = null;
                int source = -1;
                return (ref TValue value) =>
                {
                    if (source != _source)
                    {
                        getter = _current!.GetGetter<TValue>(_current.Schema[column.Name]);
                        source = _source;
                    }
                    getter!(ref value);
                };
            }

            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _current?.Dispose();
                }
                base.Dispose(disposing);
            }
        }
    }
}
