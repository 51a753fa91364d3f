using System.Runtime.InteropServices;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Rows of features that training reads again at every pass instead of holding them in memory (a streamed
/// <see cref="TrainingSet"/>, <see cref="TrainingSet.Streamed"/>): a source that can be read from the start as often as
/// needed, giving the same rows in the same order every time. Training draws its shuffled batches through a bounded buffer
/// (<see cref="TrainingOptions.ShuffleBufferRows"/>), so its memory no longer grows with the features (a few bytes per row
/// remain: a fingerprint, the targets, an index).
/// </summary>
/// <remarks>
/// Rows are known by their position in the source. A fingerprint of every row taken when the rows are first read
/// (<see cref="Fingerprints"/>) is compared at every later pass, so a source that changes between passes (other values,
/// another order, fewer rows) stops training with an error instead of pairing rows with the wrong targets. A pass stops
/// at the last row it needs: rows added after those first read are not seen.
/// </remarks>
public abstract class StreamedRows
{
    /// <summary>Creates the source of rows of <paramref name="rowSize"/> values, one per fingerprint in <paramref name="fingerprints"/> (<see cref="Fingerprint"/> of each row as first read).</summary>
    protected StreamedRows(int rowSize, int[] fingerprints)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowSize, 1);
        ArgumentNullException.ThrowIfNull(fingerprints);
        RowSize = rowSize;
        Fingerprints = fingerprints;
    }

    /// <summary>Values per row.</summary>
    public int RowSize { get; }

    /// <summary>The number of rows.</summary>
    public int Count => Fingerprints.Count;

    /// <summary>Each row's <see cref="Fingerprint"/>, as first read.</summary>
    public IReadOnlyList<int> Fingerprints { get; }

    /// <summary>Opens a pass over every row, from the first.</summary>
    public abstract Pass Open();

    /// <summary>A hash of a row's values (their bits, in order), cheap next to reading the row.</summary>
    public static int Fingerprint(ReadOnlySpan<float> row)
    {
        uint hash = 2166136261;
        foreach (uint bits in MemoryMarshal.Cast<float, uint>(row))
        {
            hash = (hash ^ bits) * 16777619;
        }
        return (int)hash;
    }

    /// <summary>Rows already in memory (row-major, <paramref name="rowSize"/> values each) as a streamed source, mostly for tests.</summary>
    public static StreamedRows FromArray(float[] rows, int rowSize)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowSize, 1);
        if (rows.Length % rowSize != 0)
        {
            throw new ArgumentException($"{rows.Length} values do not split into rows of {rowSize}.", nameof(rows));
        }
        var fingerprints = new int[rows.Length / rowSize];
        for (int r = 0; r < fingerprints.Length; r++)
        {
            fingerprints[r] = Fingerprint(rows.AsSpan(r * rowSize, rowSize));
        }
        return new ArrayRows(rows, rowSize, fingerprints);
    }

    /// <summary>One pass over the rows of a <see cref="StreamedRows"/>, in order.</summary>
    public abstract class Pass : IDisposable
    {
        /// <summary>Moves to the next row; false after the last.</summary>
        public abstract bool MoveNext();

        /// <summary>Copies the current row's values into <paramref name="destination"/> (<see cref="RowSize"/> values).</summary>
        public abstract void Read(Span<float> destination);

        /// <summary>Releases what the pass holds (a cursor).</summary>
        public virtual void Dispose() => GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Each source position's index in <paramref name="set"/> (a streamed set) when it is one of the rows at
    /// <paramref name="use"/> (indices in the set; every row when null), -1 otherwise.
    /// </summary>
    internal static int[] IndexOf(TrainingSet set, IEnumerable<int>? use)
    {
        var indexOf = new int[set.Rows!.Count];
        Array.Fill(indexOf, -1);
        foreach (int index in use ?? Enumerable.Range(0, set.Count))
        {
            int position = set.Positions?[index] ?? index;
            if (indexOf[position] >= 0)
            {
                throw new ArgumentException($"A streamed set reads each source row once; row {position} is in it twice (rows {indexOf[position]} and {index}).", nameof(use));
            }
            indexOf[position] = index;
        }
        return indexOf;
    }

        /// <summary>
        /// One pass over a streamed source that yields the rows of one set (by position) and checks that the source still gives
        /// the rows first read: every row read has its first fingerprint, and the pass ends after as many rows as the first read.
        /// </summary>
        internal sealed class CheckedPass(StreamedRows rows, int[] indexOf, int wanted) : IDisposable
        {
            private readonly StreamedRows.Pass _pass = rows.Open();
            private int _position = -1;
            private int _yielded;

            /// <summary>Whether every row of the set has been yielded.</summary>
            public bool Done => _yielded == wanted;

            /// <summary>Moves to the set's next row; <paramref name="index"/> is its index in the set.</summary>
            public bool MoveNext(out int index)
            {
                index = -1;
                if (Done)
                {
                    return false;
                }
                while (_pass.MoveNext())
                {
                    _position++;
                    if (_position >= indexOf.Length)
                    {
                        throw Changed($"it gave more than the {indexOf.Length:N0} rows it had when first read");
                    }
                    if (indexOf[_position] >= 0)
                    {
                        index = indexOf[_position];
                        _yielded++;
                        return true;
                    }
                }
                throw Changed($"it ended after {_position + 1:N0} rows; it had {indexOf.Length:N0} when first read");
            }

            /// <summary>Reads the current row and checks it.</summary>
            public void Read(Span<float> destination)
            {
                _pass.Read(destination);
                if (StreamedRows.Fingerprint(destination) != rows.Fingerprints[_position])
                {
                    throw Changed($"row {_position:N0} is not the row first read there (other values, or another order)");
                }
            }

            private static InvalidOperationException Changed(string what) => new(
                $"The streamed training data changed between passes: {what}. Streaming reads the data again at every epoch and needs it to give " +
                "the same rows in the same order each time (an enumerable that draws new values or another order each time it is enumerated, or a file changed while training, does not).");

            public void Dispose() => _pass.Dispose();
        }

    private sealed class ArrayRows(float[] rows, int size, int[] fingerprints) : StreamedRows(size, fingerprints)
    {
        public override Pass Open() => new ArrayPass(rows, RowSize);

        private sealed class ArrayPass(float[] rows, int rowSize) : Pass
        {
            private int _row = -1;

            public override bool MoveNext() => ++_row < rows.Length / rowSize;

            public override void Read(Span<float> destination) => rows.AsSpan(_row * rowSize, rowSize).CopyTo(destination);
        }
    }
}
