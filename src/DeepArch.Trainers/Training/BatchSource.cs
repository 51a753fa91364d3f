using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Where the training loop's batches come from: a set copied once to the training device (<see cref="DeviceBatches"/>), or a
/// streamed set read again through a bounded shuffle buffer at every pass (<see cref="StreamedBatches"/>). A batch's tensors
/// are created when the enumerator moves to it, in the caller's dispose scope.
/// </summary>
internal abstract class BatchSource : IDisposable
{
    /// <summary>The rows per pass.</summary>
    public abstract int Count { get; }

    /// <summary>One epoch's training batches of <paramref name="batchSize"/> rows, shuffled with <paramref name="shuffler"/> when <paramref name="shuffle"/> is set.</summary>
    public abstract IEnumerable<TrainingBatch> Shuffled(Random shuffler, bool shuffle, int batchSize);

    /// <summary>Every row once, in batches of at most <paramref name="batchSize"/> rows: in the set's order, or a streamed set's source order when its buffer does not hold it all.</summary>
    public abstract IEnumerable<TrainingBatch> InOrder(int batchSize);

    /// <summary>Draws from <paramref name="shuffler"/> exactly what one shuffled epoch draws (a resumed run replays the epochs before its checkpoint).</summary>
    public abstract void ReplayShuffle(Random shuffler, int batchSize);

    /// <inheritdoc/>
    public abstract void Dispose();

    /// <summary>The source of <paramref name="set"/>'s batches: <paramref name="buffer"/> serves a streamed set (one buffer may serve several sets, one pass at a time).</summary>
    public static BatchSource Create(TrainingSet set, TargetKind targets, Device device, ShuffleBuffer? buffer)
        => set.Rows is null ? new DeviceBatches(set, targets, device) : new StreamedBatches(set, targets, device, buffer!);

    /// <summary>
    /// The size of the batch that starts with <paramref name="remaining"/> rows left in the epoch: <paramref name="batchSize"/>, or
    /// what is left; a last batch of one row joins the one before, since batch normalization's running variance (unbiased,
    /// n - 1 in the denominator) would become NaN on a single row.
    /// </summary>
    protected static int NextSize(int remaining, int batchSize)
    {
        int size = Math.Min(batchSize, remaining);
        return batchSize > 1 && remaining - size == 1 ? size + 1 : size;
    }

    /// <summary>The shuffle buffer the streamed sets of one <c>Fit</c> share: <see cref="Rows"/> rows of the streamed rows' width.</summary>
    internal sealed class ShuffleBuffer
    {
        /// <summary>The buffer's default size in bytes (<see cref="TrainingOptions.ShuffleBufferRows"/> 0).</summary>
        public const long DefaultBytes = 64L << 20;

        public ShuffleBuffer(int rows, int rowSize)
        {
            Rows = rows;
            Values = GC.AllocateUninitializedArray<float>(checked(rows * rowSize));
        }

        /// <summary>
        /// The rows of the buffer for streamed sets of <paramref name="largest"/> rows of <paramref name="rowSize"/> values (see
        /// <see cref="RowsFor"/>), checked: a buffer that does not hold every row must hold two batches, or no block could make one.
        /// </summary>
        public static int CheckedRowsFor(int requested, int rowSize, int batchSize, int largest)
        {
            int rows = RowsFor(requested, rowSize, batchSize, largest);
            if (rows < largest && rows < 2L * batchSize)
            {
                throw new ArgumentException(
                    $"Streamed rows of {rowSize:N0} values leave room for {rows:N0} rows in one shuffle buffer, fewer than two batches of BatchSize {batchSize}: lower BatchSize.");
            }
            return rows;
        }

        public int Rows { get; }

        public float[] Values { get; }

        /// <summary>
        /// The rows of the buffer for sets of <paramref name="largest"/> rows of <paramref name="rowSize"/> values: <paramref name="requested"/>,
        /// or (0) as many as <see cref="DefaultBytes"/> hold and at least 8 batches; never more than the largest set.
        /// </summary>
        public static int RowsFor(int requested, int rowSize, int batchSize, int largest)
        {
            long rows = requested > 0 ? requested : Math.Max(DefaultBytes / sizeof(float) / rowSize, 8L * batchSize);
            return (int)Math.Min(Math.Min(rows, largest), Array.MaxLength / rowSize);
        }
    }

    /// <summary>A training set copied once to the training device: features, and targets typed as the objective reads them.</summary>
    private sealed class DeviceBatches : BatchSource
    {
        private readonly Tensor _features;
        private readonly Tensor? _targets;
        private readonly Tensor? _weights;

        public DeviceBatches(TrainingSet set, TargetKind targets, Device device)
        {
            Count = set.Count;
            long[] shape = [set.Count, .. set.SampleShape.Select(d => (long)d)];
            _features = DeviceTensor(set.Features, shape, device);
            _targets = targets switch
            {
                TargetKind.None => null,
                // A reconstruction set (ReconstructionSet): the targets are the features, so they share the features' memory as a
                // [rows, width] view instead of holding a second copy on the device. Neither may be changed in place.
                TargetKind.Values when set.TargetsAreFeatures => _features.view(set.Count, set.TargetWidth).DetachFromDisposeScope(),
                TargetKind.Values => DeviceTensor(set.Targets, [set.Count, set.TargetWidth], device),
                TargetKind.Classes => DeviceTensor(set.Targets.Select(t => (long)t).ToArray(), [set.Count], device),
                _ => DeviceTensor(set.Targets.Select(t => (long)t).ToArray(), [set.Count, set.TargetWidth], device),
            };
            _weights = set.Weights is null ? null : DeviceTensor(set.Weights, [set.Count], device);
        }

        public override int Count { get; }

        public override IEnumerable<TrainingBatch> Shuffled(Random shuffler, bool shuffle, int batchSize)
        {
            long[] order = Enumerable.Range(0, Count).Select(i => (long)i).ToArray();
            if (shuffle)
            {
                shuffler.Shuffle(order);
            }
            for (int start = 0, size; start < order.Length; start += size)
            {
                size = NextSize(order.Length - start, batchSize);
                var indices = tensor(order.AsSpan(start, size).ToArray(), device: _features.device);
                yield return new TrainingBatch(_features.index_select(0, indices), _targets?.index_select(0, indices), _weights?.index_select(0, indices));
            }
        }

        public override IEnumerable<TrainingBatch> InOrder(int batchSize)
        {
            for (int start = 0; start < Count; start += batchSize)
            {
                int size = Math.Min(batchSize, Count - start);
                yield return new TrainingBatch(Aligned(_features.narrow(0, start, size)), _targets is null ? null : Aligned(_targets.narrow(0, start, size)),
                    _weights is null ? null : Aligned(_weights.narrow(0, start, size)));
            }
        }

        /// <summary>
        /// On the CPU, a copy of <paramref name="rows"/> in libtorch's own 64-byte-aligned memory. The source's tensors are the
        /// caller's arrays (<see cref="DeviceTensor"/>), only 8-byte aligned at an offset that varies from run to run, and some
        /// vectorized kernels round differently on 16- and 32-byte-aligned data: read in place, the validation losses could change
        /// in their last bits from run to run. (Shuffled batches are gathered into new memory anyway.)
        /// </summary>
        private Tensor Aligned(Tensor rows) => _features.device.type == DeviceType.CPU ? rows.clone() : rows;

        public override void ReplayShuffle(Random shuffler, int batchSize) => shuffler.Shuffle(new long[Count]);

        /// <summary>
        /// <paramref name="values"/> as a tensor of <paramref name="shape"/> on <paramref name="device"/>, owned by the source (not by a
        /// dispose scope): on the CPU the array itself, pinned until the source is disposed (a copy of 20,000 rows of 784 values took 170
        /// ms of each Fit, most of it page faults on the new memory); on a GPU a copy.
        /// </summary>
        private static Tensor DeviceTensor<T>(T[] values, long[] shape, Device device) where T : unmanaged
        {
            using var shared = from_array(values);
            var shaped = shared.view(shape);
            if (device.type == DeviceType.CPU)
            {
                return shaped.DetachFromDisposeScope();
            }
            using (shaped)
            {
                return shaped.to(device).DetachFromDisposeScope();
            }
        }

        public override void Dispose()
        {
            _features.Dispose();
            _targets?.Dispose();
            _weights?.Dispose();
        }
    }

    /// <summary>
    /// A streamed set: every pass reads the source's rows in order into the shuffle buffer, skipping those of other sets (a
    /// validation split's), and makes batches from what the buffer holds. Training shuffles each full buffer and keeps the rows
    /// short of a whole batch for the next one; when the buffer holds the whole set, the batches are exactly those of the same
    /// set in memory (<see cref="DeviceBatches"/>). Every row read is checked against the fingerprint it had when first read.
    /// </summary>
    private sealed class StreamedBatches : BatchSource
    {
        private readonly TrainingSet _set;
        private readonly StreamedRows _rows;
        private readonly TargetKind _targetKind;
        private readonly Device _device;
        private readonly ShuffleBuffer _buffer;
        private readonly int[] _indexOf;
        private readonly long[] _sampleShape;
        private readonly bool _whole;
        private float[] _batch = [];

        public StreamedBatches(TrainingSet set, TargetKind targets, Device device, ShuffleBuffer buffer)
        {
            _set = set;
            _rows = set.Rows!;
            _targetKind = targets;
            _device = device;
            _buffer = buffer;
            _sampleShape = set.SampleShape.Select(d => (long)d).ToArray();
            _indexOf = StreamedRows.IndexOf(set, null);
            _whole = buffer.Rows >= set.Count;
        }

        public override int Count => _set.Count;

        private int RowSize => _rows.RowSize;

        public override IEnumerable<TrainingBatch> Shuffled(Random shuffler, bool shuffle, int batchSize)
        {
            EnsureBatchBuffer(batchSize);
            if (_whole)
            {
                // The whole set in the buffer, each row at its index: the in-memory loop's batches, drawn the same way.
                ReadAll();
                long[] order = Enumerable.Range(0, Count).Select(i => (long)i).ToArray();
                if (shuffle)
                {
                    shuffler.Shuffle(order);
                }
                int[] slots = new int[batchSize + 1];
                for (int start = 0, size; start < order.Length; start += size)
                {
                    size = NextSize(order.Length - start, batchSize);
                    for (int j = 0; j < size; j++)
                    {
                        slots[j] = (int)order[start + j];
                    }
                    yield return Batch(slots.AsSpan(0, size), slots.AsSpan(0, size));
                }
                yield break;
            }

            int capacity = _buffer.Rows;
            var slotIndex = new int[capacity];
            var blockOrder = new int[capacity];
            var batchSlots = new int[batchSize + 1];
            var batchIndices = new int[batchSize + 1];
            int filled = 0, emitted = 0;
            using var pass = new StreamedRows.CheckedPass(_rows, _indexOf, Count);
            while (emitted < Count)
            {
                while (filled < capacity && pass.MoveNext(out int index))
                {
                    pass.Read(_buffer.Values.AsSpan(filled * RowSize, RowSize));
                    slotIndex[filled++] = index;
                }
                bool last = pass.Done;
                for (int j = 0; j < filled; j++)
                {
                    blockOrder[j] = j;
                }
                if (shuffle)
                {
                    shuffler.Shuffle(blockOrder.AsSpan(0, filled));
                }
                int take = Take(filled, last, Count - emitted, batchSize), start = 0;
                while (start < take)
                {
                    int size = last ? NextSize(take - start, batchSize) : batchSize;
                    for (int j = 0; j < size; j++)
                    {
                        batchSlots[j] = blockOrder[start + j];
                        batchIndices[j] = slotIndex[batchSlots[j]];
                    }
                    start += size;
                    emitted += size;
                    yield return Batch(batchSlots.AsSpan(0, size), batchIndices.AsSpan(0, size));
                }
                // The rows kept: move them to the front of the buffer (through the batch buffer: they may overlap their new slots).
                int kept = filled - take;
                for (int j = 0; j < kept; j++)
                {
                    int slot = blockOrder[take + j];
                    _buffer.Values.AsSpan(slot * RowSize, RowSize).CopyTo(_batch.AsSpan(j * RowSize, RowSize));
                    batchIndices[j] = slotIndex[slot];
                }
                _batch.AsSpan(0, kept * RowSize).CopyTo(_buffer.Values);
                batchIndices.AsSpan(0, kept).CopyTo(slotIndex);
                filled = kept;
                if (last && kept > 0)
                {
                    throw new InvalidOperationException($"Internal error: {kept} streamed rows left after the last batch.");
                }
            }
        }

        public override IEnumerable<TrainingBatch> InOrder(int batchSize)
        {
            EnsureBatchBuffer(batchSize);
            int[] slots = new int[batchSize];
            if (_whole)
            {
                ReadAll();
                for (int start = 0; start < Count; start += batchSize)
                {
                    int size = Math.Min(batchSize, Count - start);
                    for (int j = 0; j < size; j++)
                    {
                        slots[j] = start + j;
                    }
                    yield return Batch(slots.AsSpan(0, size), slots.AsSpan(0, size));
                }
                yield break;
            }
            int capacity = _buffer.Rows;
            var slotIndex = new int[capacity];
            int[] indices = new int[batchSize];
            using var pass = new StreamedRows.CheckedPass(_rows, _indexOf, Count);
            while (!pass.Done)
            {
                int filled = 0;
                while (filled < capacity && pass.MoveNext(out int index))
                {
                    pass.Read(_buffer.Values.AsSpan(filled * RowSize, RowSize));
                    slotIndex[filled++] = index;
                }
                for (int start = 0; start < filled; start += batchSize)
                {
                    int size = Math.Min(batchSize, filled - start);
                    for (int j = 0; j < size; j++)
                    {
                        slots[j] = start + j;
                        indices[j] = slotIndex[start + j];
                    }
                    yield return Batch(slots.AsSpan(0, size), indices.AsSpan(0, size));
                }
            }
        }

        public override void ReplayShuffle(Random shuffler, int batchSize)
        {
            if (_whole)
            {
                shuffler.Shuffle(new long[Count]);
                return;
            }
            // The blocks a pass makes depend only on the counts: replay their shuffles without reading a row.
            int capacity = _buffer.Rows, filled = 0, emitted = 0, read = 0;
            var block = new int[capacity];
            while (emitted < Count)
            {
                int added = Math.Min(capacity - filled, Count - read);
                read += added;
                filled += added;
                bool last = read == Count;
                shuffler.Shuffle(block.AsSpan(0, filled));
                int take = Take(filled, last, Count - emitted, batchSize);
                emitted += take;
                filled -= take;
            }
        }

        public override void Dispose()
        {
        }

        /// <summary>
        /// How many of the <paramref name="filled"/> rows in the buffer a training pass takes now, with <paramref name="remaining"/>
        /// rows of the epoch left (those in the buffer included): a full buffer trains on whole batches and keeps the rest for
        /// the next; the last one trains on everything. A remainder of one row left for the very end would become a one-row
        /// batch, so one more batch waits with it. The pass and its replay (<see cref="ReplayShuffle"/>) both cut blocks here.
        /// </summary>
        private static int Take(int filled, bool last, int remaining, int batchSize)
        {
            if (last)
            {
                return filled;
            }
            int batches = filled / batchSize;
            if (batchSize > 1 && remaining - batches * batchSize == 1 && batches > 0)
            {
                batches--;
            }
            return batches * batchSize;
        }

        private void EnsureBatchBuffer(int batchSize)
        {
            if (_batch.Length < (batchSize + 1) * RowSize)
            {
                _batch = GC.AllocateUninitializedArray<float>((batchSize + 1) * RowSize);
            }
        }

        /// <summary>Reads the whole set into the buffer, each row at its index in the set.</summary>
        private void ReadAll()
        {
            using var pass = new StreamedRows.CheckedPass(_rows, _indexOf, Count);
            while (pass.MoveNext(out int index))
            {
                pass.Read(_buffer.Values.AsSpan(index * RowSize, RowSize));
            }
        }

        /// <summary>The batch of the rows in buffer slots <paramref name="slots"/>, whose indices in the set are <paramref name="indices"/>.</summary>
        private TrainingBatch Batch(ReadOnlySpan<int> slots, ReadOnlySpan<int> indices)
        {
            int n = slots.Length, width = _set.TargetWidth;
            for (int j = 0; j < n; j++)
            {
                _buffer.Values.AsSpan(slots[j] * RowSize, RowSize).CopyTo(_batch.AsSpan(j * RowSize, RowSize));
            }
            var features = OnDevice(_batch.AsSpan(0, n * RowSize), [n, .. _sampleShape]);
            Tensor? targets = null;
            if (_targetKind == TargetKind.Values && _set.TargetsAreFeatures)
            {
                targets = features.view(n, width);
            }
            else if (_targetKind != TargetKind.None)
            {
                var values = new float[n * width];
                for (int j = 0; j < n; j++)
                {
                    _set.Targets.AsSpan(indices[j] * width, width).CopyTo(values.AsSpan(j * width, width));
                }
                targets = _targetKind switch
                {
                    TargetKind.Values => OnDevice<float>(values, [n, width]),
                    TargetKind.Classes => OnDevice<long>(values.Select(t => (long)t).ToArray(), [n]),
                    _ => OnDevice<long>(values.Select(t => (long)t).ToArray(), [n, width]),
                };
            }
            Tensor? weights = null;
            if (_set.Weights is { } rowWeights)
            {
                var values = new float[n];
                for (int j = 0; j < n; j++)
                {
                    values[j] = rowWeights[indices[j]];
                }
                weights = OnDevice<float>(values, [n]);
            }
            return new TrainingBatch(features, targets, weights);
        }

        /// <summary>
        /// A tensor of <paramref name="values"/> in libtorch's own (aligned) memory, on the training device: the in-memory set's
        /// rows, gathered by index_select, are aligned the same way, so both give the same bits.
        /// </summary>
        private Tensor OnDevice<T>(Span<T> values, long[] shape) where T : unmanaged
        {
            var host = empty(shape, typeof(T) == typeof(long) ? ScalarType.Int64 : ScalarType.Float32);
            host.bytes = MemoryMarshal.AsBytes(values);
            return _device.type == DeviceType.CPU ? host : host.to(_device);
        }
    }
}
