using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// The row-at-a-time path used by <c>PredictionEngine</c>: each row is scored on its own (a batch of
/// one), once per row position, however many output columns are read.
/// </summary>
internal sealed class NetworkRowMapper : IRowToRowMapper
{
    private readonly NetworkTransformer _parent;
    private readonly IReadOnlyList<DataViewSchema.Column> _inputColumns;

    public NetworkRowMapper(NetworkTransformer parent, DataViewSchema inputSchema)
    {
        _parent = parent;
        InputSchema = inputSchema;
        OutputSchema = parent.GetOutputSchema(inputSchema);
        _inputColumns = parent.ResolveInputs(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = new HashSet<int>();
        foreach (var column in dependingColumns)
        {
            if (column.Index < InputSchema.Count)
            {
                needed.Add(column.Index);
            }
            else
            {
                needed.UnionWith(_inputColumns.Select(c => c.Index));
            }
        }
        return InputSchema.Where(c => needed.Contains(c.Index));
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        => new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class Row : DataViewRow
    {
        private readonly NetworkRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly HashSet<int> _active;
        private readonly FeatureColumn.RowReader[]? _readInputs;
        private readonly float[][] _inputs;
        private readonly ScoredBatch _batch;
        private long _scoredPosition = -1;

        public Row(NetworkRowMapper mapper, DataViewRow input, HashSet<int> active)
        {
            _mapper = mapper;
            _input = input;
            _active = active;
            var scorer = mapper._parent.Scorer;
            _inputs = scorer.InputSizes.Select(size => new float[size]).ToArray();
            _batch = scorer.CreateBatch(1);
            if (active.Any(i => i >= mapper.InputSchema.Count))
            {
                _readInputs = mapper._parent.CreateInputReaders(input, mapper._inputColumns);
            }
        }

        public override DataViewSchema Schema => _mapper.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active.Contains(column.Index))
            {
                // An inactive output has no input readers behind it (a NullReferenceException when read before).
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this row; request it in GetRow.");
            }
            int inputCount = _mapper.InputSchema.Count;
            if (column.Index < inputCount)
            {
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            }
            var output = _mapper._parent.Outputs[column.Index - inputCount];
            return output.CreateGetter(CurrentBatch, () => 0) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' has type {output.Type.RawType.Name}, not {typeof(TValue).Name}.");
        }

        private ScoredBatch CurrentBatch()
        {
            if (_scoredPosition != _input.Position || _input.Position < 0)
            {
                for (int i = 0; i < _inputs.Length; i++)
                {
                    _readInputs![i](_inputs[i]);
                }
                _mapper._parent.Scorer.Run(_inputs, 1, _batch);
                _scoredPosition = _input.Position;
            }
            return _batch;
        }
    }
}
