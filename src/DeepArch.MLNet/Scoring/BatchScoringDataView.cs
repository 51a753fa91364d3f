using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

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
        var (active, scoring, upstreamColumns) = Plan(columnsNeeded);
        return new Cursor(this, _input.GetRowCursor(upstreamColumns, rand), active, scoring);
    }

    /// <summary>
    /// One cursor per upstream cursor of the input's own set (ML.NET asks for a set where it reads in parallel, as
    /// evaluation and caching do): each reads, batches and scores its share of the rows, all on the one shared session.
    /// </summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var (active, scoring, upstreamColumns) = Plan(columnsNeeded);
        return _input.GetRowCursorSet(upstreamColumns, n, rand).Select(upstream => (DataViewRowCursor)new Cursor(this, upstream, active, scoring)).ToArray();
    }

    /// <summary>The active output columns, whether anything is scored, and the upstream columns to read.</summary>
    private (bool[] Active, bool Scoring, IEnumerable<DataViewSchema.Column> Upstream) Plan(IEnumerable<DataViewSchema.Column> columnsNeeded)
    {
        int inputCount = _input.Schema.Count;
        var active = new bool[Schema.Count];
        foreach (var column in columnsNeeded)
        {
            active[column.Index] = true;
        }
        bool scoring = active.Skip(inputCount).Any(a => a);
        var upstreamColumns = _input.Schema.Where(c => active[c.Index] || (scoring && _inputColumns.Any(i => i.Index == c.Index))).ToList();
        return (active, scoring, upstreamColumns);
    }

    /// <summary>Whether a run that starts now runs beside another: when any of <paramref name="otherRuns"/> (the cursor's other batches' runs) is still going.</summary>
    internal static bool RunsBeside(IEnumerable<Task?> otherRuns) => otherRuns.Any(run => run is { IsCompleted: false });

    /// <summary>
    /// Reads upstream rows a batch at a time and hands them out one by one. When the session leaves a core free
    /// (<see cref="OnnxScorer.OverlapsReading(int)"/>), with two batches in flight: while ONNX Runtime
    /// scores batch k+1 on a pool thread, the caller reads the rows of batch k, and when they run out the cursor reads batch
    /// k+2 from upstream before it waits for k+1 (from the second batch on: the first <see cref="MoveNext"/> reads one batch).
    /// Memory holds two batches. Reading and scoring overlap; the values are those of scoring each batch in
    /// turn, bit for bit. An exception of a run is thrown on the caller's thread, by the <see cref="MoveNext"/> that needs it.
    /// </summary>
    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchScoringDataView _view;
        private readonly DataViewRowCursor _upstream;
        private readonly bool[] _active;
        private readonly bool _scoring;
        private readonly int _batchSize;
        private readonly int _inputCount;
        private readonly FeatureColumn.RowReader[] _readInputs = [];
        private readonly ValueGetter<DataViewRowId> _upstreamId;
        private readonly Buffer[] _buffers;
        private Buffer _current;
        private Buffer? _next;
        private int _index = -1;
        private long _position = -1;
        private bool _upstreamDone;

        /// <summary>One batch: its upstream values, ids, network inputs and outputs, and the ONNX Runtime run scoring it.</summary>
        private sealed class Buffer
        {
            public required ColumnCache?[] Caches { get; init; }
            public required DataViewRowId[] Ids { get; init; }

            /// <summary>Each row's upstream cursor batch (<c>DataViewRow.Batch</c>): how ML.NET puts the rows of a cursor set back in order.</summary>
            public required long[] Batches { get; init; }
            public required float[][] Inputs { get; init; }
            public required ScoredBatch? Outputs { get; init; }
            public int Rows { get; set; }
            public Task? Run { get; set; }

            /// <summary>What reading the batch threw, kept until the batch is due, so that it surfaces where it did without read-ahead.</summary>
            public System.Runtime.ExceptionServices.ExceptionDispatchInfo? ReadError { get; set; }
        }

        public Cursor(BatchScoringDataView view, DataViewRowCursor upstream, bool[] active, bool scoring)
        {
            _view = view;
            _upstream = upstream;
            _active = active;
            _scoring = scoring;
            _inputCount = view._input.Schema.Count;
            var scorer = view._parent.Scorer;
            _batchSize = view._parent.ScoringBatchSize;
            _upstreamId = upstream.GetIdGetter();
            if (scoring)
            {
                _readInputs = view._parent.CreateInputReaders(upstream, view._inputColumns);
            }
            // Two buffers only when a run can overlap the reading: the cursor scores, and the session leaves a core free
            // (OnnxScorer.OverlapsReading); otherwise one batch at a time, read, scored and handed out in turn.
            _buffers = Enumerable.Range(0, scoring && scorer.OverlapsReading(_batchSize) ? 2 : 1).Select(_ => new Buffer
            {
                Caches = view._input.Schema.Select(c => active[c.Index] ? ColumnCache.Create(upstream, c, _batchSize) : null).ToArray(),
                Ids = new DataViewRowId[_batchSize],
                Batches = new long[_batchSize],
                Inputs = scoring ? scorer.InputSizes.Select(size => new float[_batchSize * size]).ToArray() : [],
                Outputs = scoring ? scorer.CreateBatch(_batchSize) : null,
            }).ToArray();
            _current = _buffers[0];
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _position;

        public override long Batch => _index >= 0 && _index < _current.Rows ? _current.Batches[_index] : 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override bool MoveNext()
        {
            if (_index + 1 < _current.Rows)
            {
                _index++;
                _position++;
                return true;
            }
            if (!NextBatch())
            {
                // As ML.NET's own cursors: no current row, and Position back to -1.
                _current.Rows = 0;
                _index = -1;
                _position = -1;
                return false;
            }
            _index = 0;
            _position++;
            return true;
        }

        /// <summary>Makes the next batch current: read (or already reading) and scored; false when upstream has no more rows.</summary>
        private bool NextBatch()
        {
            // The batch to hand out next: the one scoring in the background, or (first call, or no second buffer) one read now.
            var next = _next ?? Fill(_buffers[0]);
            _next = null;
            if (next is null)
            {
                return false;
            }
            if (_buffers.Length > 1 && _position >= 0)
            {
                // Read the batch after it into the other buffer while it scores (its rows are all handed out by now). Not before
                // the first row: a cursor that reads one row reads one batch.
                _next = Fill(Other(next));
            }
            Wait(next);
            _current = next;
            return true;
        }

        /// <summary>The buffer that is not <paramref name="buffer"/>, when the cursor keeps two.</summary>
        private Buffer Other(Buffer buffer) => ReferenceEquals(buffer, _buffers[0]) ? _buffers[1] : _buffers[0];

        /// <summary>Reads up to a batch of upstream rows into <paramref name="buffer"/> and starts scoring them; null when there were none.</summary>
        private Buffer? Fill(Buffer buffer)
        {
            buffer.Rows = 0;
            if (_upstreamDone)
            {
                return null;
            }
            var inputSizes = _view._parent.Scorer.InputSizes;
            try
            {
                while (buffer.Rows < _batchSize)
                {
                    if (!_upstream.MoveNext())
                    {
                        _upstreamDone = true;
                        break;
                    }
                    int row = buffer.Rows;
                    for (int i = 0; i < _readInputs.Length; i++)
                    {
                        _readInputs[i](buffer.Inputs[i].AsSpan(row * inputSizes[i], inputSizes[i]));
                    }
                    foreach (var cache in buffer.Caches)
                    {
                        cache?.Capture(row);
                    }
                    _upstreamId(ref buffer.Ids[row]);
                    buffer.Batches[row] = _upstream.Batch;
                    buffer.Rows++;
                }
            }
            catch (Exception e)
            {
                // A bad row (a value the network refuses, an upstream error) fails the batch it is in, when that batch is due.
                _upstreamDone = true;
                buffer.ReadError = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                return buffer;
            }
            if (buffer.Rows == 0)
            {
                return null;
            }
            if (_scoring)
            {
                var scorer = _view._parent.Scorer;
                int rows = buffer.Rows;
                if (_buffers.Length > 1)
                {
                    // Beside the other batch's run when that is still going: this run then takes OnnxScorer.BesideThreads (the one
                    // already going keeps what it started with); a run alone (the first batch, or reading slower than scoring) takes them all.
                    bool beside = RunsBeside([Other(buffer).Run]);
                    buffer.Run = Task.Run(() => scorer.Run(buffer.Inputs, rows, buffer.Outputs!, beside));
                }
                else
                {
                    scorer.Run(buffer.Inputs, rows, buffer.Outputs!);
                }
            }
            return buffer;
        }

        /// <summary>Waits for <paramref name="buffer"/>'s run, throwing its exception (or its reading's) as it was thrown.</summary>
        private static void Wait(Buffer buffer)
        {
            var error = buffer.ReadError;
            buffer.ReadError = null;
            error?.Throw();
            var run = buffer.Run;
            buffer.Run = null;
            run?.GetAwaiter().GetResult();
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index])
            {
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor; request it in GetRowCursor.");
            }
            if (column.Index < _inputCount)
            {
                var getters = _buffers.Select(b => b.Caches[column.Index]!.GetGetter<TValue>(CurrentRow)).ToArray();
                if (getters.Length == 1)
                {
                    return getters[0];
                }
                var (first, second) = (getters[0], getters[1]);
                return (ref TValue value) => (ReferenceEquals(_current, _buffers[0]) ? first : second)(ref value);
            }
            var output = _view._parent.Outputs[column.Index - _inputCount];
            return output.CreateGetter(() => _current.Outputs!, CurrentRow) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' has type {output.Type.RawType.Name}, not {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = _current.Ids[CurrentRow()];

        /// <summary>The current row's index in its batch; a getter called before the first MoveNext or after the last throws, as ML.NET's cursors do.</summary>
        private int CurrentRow() => _index >= 0 && _index < _current.Rows
            ? _index
            : throw new InvalidOperationException("The cursor has no current row: call MoveNext first, and read no further once it has returned false.");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // A run still scoring the batch read ahead finishes before the cursor goes; its outcome no longer matters.
                if (_next?.Run is { } pending)
                {
                    try
                    {
                        pending.Wait();
                    }
                    catch (AggregateException)
                    {
                    }
                }
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
            => new ValueGetter<T>((ref T value) => value = _values[slot()]) as ValueGetter<TValue> ?? throw WrongType<TValue>(column, typeof(T));
    }

    /// <summary>Each slot owns its buffer; values are copied out, so callers never share the cache's arrays.</summary>
    private sealed class VectorCache<T>(DataViewRow upstream, DataViewSchema.Column column, int capacity) : ColumnCache
    {
        private readonly ValueGetter<VBuffer<T>> _getter = upstream.GetGetter<VBuffer<T>>(column);
        private readonly VBuffer<T>[] _values = new VBuffer<T>[capacity];

        public override void Capture(int slot) => _getter(ref _values[slot]);

        public override ValueGetter<TValue> GetGetter<TValue>(Func<int> slot)
            => new ValueGetter<VBuffer<T>>((ref VBuffer<T> value) => _values[slot()].CopyTo(ref value)) as ValueGetter<TValue>
                ?? throw WrongType<TValue>(column, typeof(VBuffer<T>));
    }

    /// <summary>ML.NET's error for a getter of another type than the column's (an InvalidCastException before).</summary>
    private static InvalidOperationException WrongType<TValue>(DataViewSchema.Column column, Type actual)
        => new($"Invalid TValue in GetGetter for column '{column.Name}': expected type {actual.Name}, got {typeof(TValue).Name}.");
}
