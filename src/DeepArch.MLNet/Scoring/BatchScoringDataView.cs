using DeepArch.MLNet.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Scoring;

/// <summary>
/// The lazy output of <see cref="NetworkTransformer.Transform"/>: the input's columns plus the network's
/// output columns. Its cursor reads a batch of rows from the upstream cursor, keeps the values of the
/// requested upstream columns for those rows, scores the batch with one ONNX Runtime call and then
/// hands the rows out one at a time.
/// </summary>
internal sealed class BatchScoringDataView : IDataView
{
    private readonly NetworkTransformer _parent;
    private readonly IDataView _input;
    private readonly IReadOnlyList<DataViewSchema.Column> _inputColumns;

    public BatchScoringDataView(NetworkTransformer parent, IDataView input)
    {
        _parent = parent;
        _input = input;
        Schema = parent.GetOutputSchema(input.Schema);
        _inputColumns = parent.ResolveInputs(input.Schema);
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int inputCount = _input.Schema.Count;
        var active = new bool[Schema.Count];
        foreach (var column in columnsNeeded)
        {
            active[column.Index] = true;
        }
        bool scoring = active.Skip(inputCount).Any(a => a);
        var upstreamColumns = _input.Schema.Where(c => active[c.Index] || (scoring && _inputColumns.Any(i => i.Index == c.Index)));
        var upstream = _input.GetRowCursor(upstreamColumns, rand);
        return new Cursor(this, upstream, active, scoring);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    /// <summary>Reads ahead a batch of upstream rows, scores them in one call, and replays them.</summary>
    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchScoringDataView _view;
        private readonly DataViewRowCursor _upstream;
        private readonly bool[] _active;
        private readonly bool _scoring;
        private readonly int _batchSize;
        private readonly int _inputCount;
        private readonly ColumnCache?[] _caches;
        private readonly DataViewRowId[] _ids;
        private readonly ValueGetter<DataViewRowId> _upstreamId;
        private readonly FeatureColumn.RowReader[] _readInputs = [];
        private readonly float[][] _inputs = [];
        private readonly ScoredBatch? _batch;
        private int _rows;
        private int _index = -1;
        private long _position = -1;
        private bool _upstreamDone;

        public Cursor(BatchScoringDataView view, DataViewRowCursor upstream, bool[] active, bool scoring)
        {
            _view = view;
            _upstream = upstream;
            _active = active;
            _scoring = scoring;
            _inputCount = view._input.Schema.Count;
            var scorer = view._parent.Scorer;
            _batchSize = view._parent.ScoringBatchSize;
            _caches = view._input.Schema.Select(c => active[c.Index] ? ColumnCache.Create(upstream, c, _batchSize) : null).ToArray();
            _ids = new DataViewRowId[_batchSize];
            _upstreamId = upstream.GetIdGetter();
            if (scoring)
            {
                _readInputs = view._parent.CreateInputReaders(upstream, view._inputColumns);
                _inputs = scorer.InputSizes.Select(size => new float[_batchSize * size]).ToArray();
                _batch = scorer.CreateBatch(_batchSize);
            }
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override bool MoveNext()
        {
            if (_index + 1 < _rows)
            {
                _index++;
                _position++;
                return true;
            }
            if (_upstreamDone || !FillBatch())
            {
                _rows = 0;
                return false;
            }
            _index = 0;
            _position++;
            return true;
        }

        private bool FillBatch()
        {
            var inputSizes = _view._parent.Scorer.InputSizes;
            _rows = 0;
            while (_rows < _batchSize)
            {
                if (!_upstream.MoveNext())
                {
                    _upstreamDone = true;
                    break;
                }
                for (int i = 0; i < _readInputs.Length; i++)
                {
                    _readInputs[i](_inputs[i].AsSpan(_rows * inputSizes[i], inputSizes[i]));
                }
                foreach (var cache in _caches)
                {
                    cache?.Capture(_rows);
                }
                _upstreamId(ref _ids[_rows]);
                _rows++;
            }
            if (_rows > 0 && _scoring)
            {
                _view._parent.Scorer.Run(_inputs, _rows, _batch!);
            }
            return _rows > 0;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index])
            {
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor; request it in GetRowCursor.");
            }
            if (column.Index < _inputCount)
            {
                return _caches[column.Index]!.GetGetter<TValue>(() => _index);
            }
            var output = _view._parent.Outputs[column.Index - _inputCount];
            return output.CreateGetter(() => _batch!, () => _index) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' has type {output.Type.RawType.Name}, not {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = _ids[_index];

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _upstream.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>The values of one upstream column for the rows of the current batch.</summary>
internal abstract class ColumnCache
{
    /// <summary>Stores the upstream cursor's current value in <paramref name="slot"/>.</summary>
    public abstract void Capture(int slot);

    /// <summary>A getter returning the value stored in slot <paramref name="slot"/>().</summary>
    public abstract ValueGetter<TValue> GetGetter<TValue>(Func<int> slot);

    public static ColumnCache Create(DataViewRow upstream, DataViewSchema.Column column, int capacity)
    {
        var type = column.Type is VectorDataViewType vector
            ? typeof(VectorCache<>).MakeGenericType(vector.ItemType.RawType)
            : typeof(ScalarCache<>).MakeGenericType(column.Type.RawType);
        return (ColumnCache)Activator.CreateInstance(type, upstream, column, capacity)!;
    }

    /// <summary>Scalars, and immutable values such as text, are stored and returned as they are.</summary>
    private sealed class ScalarCache<T>(DataViewRow upstream, DataViewSchema.Column column, int capacity) : ColumnCache
    {
        private readonly ValueGetter<T> _getter = upstream.GetGetter<T>(column);
        private readonly T[] _values = new T[capacity];

        public override void Capture(int slot) => _getter(ref _values[slot]);

        public override ValueGetter<TValue> GetGetter<TValue>(Func<int> slot)
            => (ValueGetter<TValue>)(Delegate)new ValueGetter<T>((ref T value) => value = _values[slot()]);
    }

    /// <summary>Each slot owns its buffer; values are copied out, so callers never share the cache's arrays.</summary>
    private sealed class VectorCache<T>(DataViewRow upstream, DataViewSchema.Column column, int capacity) : ColumnCache
    {
        private readonly ValueGetter<VBuffer<T>> _getter = upstream.GetGetter<VBuffer<T>>(column);
        private readonly VBuffer<T>[] _values = new VBuffer<T>[capacity];

        public override void Capture(int slot) => _getter(ref _values[slot]);

        public override ValueGetter<TValue> GetGetter<TValue>(Func<int> slot)
            => (ValueGetter<TValue>)(Delegate)new ValueGetter<VBuffer<T>>((ref VBuffer<T> value) => _values[slot()].CopyTo(ref value));
    }
}
