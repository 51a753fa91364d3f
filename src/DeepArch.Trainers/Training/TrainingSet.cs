using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Training rows: features row-major (<c>Count x size(SampleShape)</c> floats), held in memory or, for a streamed set
/// (<see cref="Streamed"/>), read again from a <see cref="StreamedRows"/> source at every pass; and targets row-major
/// (<c>Count x TargetWidth</c> floats; class indices for cross-entropy), always in memory.
/// </summary>
public sealed class TrainingSet
{
    /// <summary>
    /// Wraps the arrays (no copy); checks that their sizes agree. A target width of 0 (and no targets) is a set without targets
    /// (<see cref="TargetKind.None"/>). A training on the CPU reads the arrays in place: do not change them while it runs.
    /// </summary>
    public TrainingSet(float[] features, IReadOnlyList<int> sampleShape, float[] targets, int targetWidth)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        int sampleSize = Shapes.Size(sampleShape);
        if (sampleSize < 1 || features.Length % sampleSize != 0)
        {
            throw new ArgumentException($"{features.Length} feature values do not split into samples of shape {Shapes.Format(sampleShape)}.", nameof(features));
        }
        Count = features.Length / sampleSize;
        if (targetWidth < 0 || targets.Length != Count * targetWidth)
        {
            throw new ArgumentException($"Expected {Count} rows of {targetWidth} targets ({Count * targetWidth}), got {targets.Length}.", nameof(targets));
        }
        _features = features;
        SampleShape = sampleShape.ToArray();
        Targets = targets;
        TargetWidth = targetWidth;
    }

    /// <summary>A set of features without targets, for objectives that read none (<see cref="TargetKind.None"/>).</summary>
    public static TrainingSet WithoutTargets(float[] features, IReadOnlyList<int> sampleShape) => new(features, sampleShape, [], 0);

    private readonly float[]? _features;

    /// <summary>The features, row-major.</summary>
    /// <exception cref="InvalidOperationException">The set is streamed (<see cref="Rows"/>): its features are not in memory.</exception>
    public float[] Features => _features
        ?? throw new InvalidOperationException("This training set is streamed: its features are read from its StreamedRows at every pass, not held in memory.");

    /// <summary>For a streamed set (<see cref="Streamed"/>), the source its features are read from; null when they are in memory.</summary>
    public StreamedRows? Rows { get; private init; }

    /// <summary>For a streamed set, the position in <see cref="Rows"/> of each of its rows, in the set's order; null when it is every row in order.</summary>
    public IReadOnlyList<int>? Positions { get; private init; }

    /// <summary>Whether the targets are the features (an autoencoder's reconstruction set, <see cref="ReconstructionSet"/>).</summary>
    public bool TargetsAreFeatures => _features is null ? _targetsAreFeatures : ReferenceEquals(Targets, _features);

    private readonly bool _targetsAreFeatures;

    /// <summary>
    /// A streamed set: the features of <paramref name="rows"/>, read again at every pass, with <paramref name="targetWidth"/>
    /// targets per row held in memory (<paramref name="targets"/>, one row of targets per source row); or, with
    /// <paramref name="targetsAreFeatures"/>, the features as the targets (an autoencoder's reconstruction set, no targets given).
    /// </summary>
    public static TrainingSet Streamed(StreamedRows rows, IReadOnlyList<int> sampleShape, float[] targets, int targetWidth, bool targetsAreFeatures = false)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(targets);
        if (Shapes.Size(sampleShape) != rows.RowSize)
        {
            throw new ArgumentException($"Rows of {rows.RowSize} values are not samples of shape {Shapes.Format(sampleShape)}.", nameof(sampleShape));
        }
        if (targetsAreFeatures && (targets.Length != 0 || targetWidth != rows.RowSize))
        {
            throw new ArgumentException($"A set whose targets are its features has no targets of its own and a target width of {rows.RowSize}.", nameof(targets));
        }
        return new TrainingSet(rows, null, sampleShape, targets, targetWidth, targetsAreFeatures, null);
    }

    private TrainingSet(StreamedRows rows, IReadOnlyList<int>? positions, IReadOnlyList<int> sampleShape, float[] targets, int targetWidth, bool targetsAreFeatures, float[]? weights)
    {
        Count = positions?.Count ?? rows.Count;
        if (targetWidth < 0 || (!targetsAreFeatures && targets.Length != (long)Count * targetWidth))
        {
            throw new ArgumentException($"Expected {Count} rows of {targetWidth} targets ({(long)Count * targetWidth}), got {targets.Length}.", nameof(targets));
        }
        Rows = rows;
        Positions = positions;
        SampleShape = sampleShape.ToArray();
        Targets = targets;
        TargetWidth = targetWidth;
        _targetsAreFeatures = targetsAreFeatures;
        Weights = weights;
    }

    /// <summary>The per-sample feature shape.</summary>
    public IReadOnlyList<int> SampleShape { get; }

    /// <summary>The targets, row-major.</summary>
    public float[] Targets { get; }

    /// <summary>Targets per row.</summary>
    public int TargetWidth { get; }

    /// <summary>The number of rows.</summary>
    public int Count { get; }

    /// <summary>
    /// One weight per row that scales its loss (the weighted mean over a batch: a weight of 2 counts a row as if it were there
    /// twice), or null when every row counts the same (<see cref="WithWeights"/>).
    /// </summary>
    public float[]? Weights { get; private init; }

    /// <summary>This set (sharing its arrays) with one weight per row; null clears them.</summary>
    /// <exception cref="ArgumentException">A weight count other than <see cref="Count"/>, a weight that is negative or not finite, or weights that are all 0.</exception>
    public TrainingSet WithWeights(float[]? weights)
    {
        if (weights is not null)
        {
            if (weights.Length != Count)
            {
                throw new ArgumentException($"Expected one weight per row ({Count}), got {weights.Length}.", nameof(weights));
            }
            int bad = Array.FindIndex(weights, w => !(w >= 0) || !float.IsFinite(w));
            if (bad >= 0)
            {
                throw new ArgumentException($"Weights must be finite and at least 0; row {bad} has {weights[bad]}.", nameof(weights));
            }
            if (Array.TrueForAll(weights, w => w == 0))
            {
                throw new ArgumentException($"Weights must not all be 0 (all {Count} rows are).", nameof(weights));
            }
        }
        return Rows is not null
            ? new TrainingSet(Rows, Positions, SampleShape, Targets, TargetWidth, _targetsAreFeatures, weights)
            : new TrainingSet(Features, SampleShape, Targets, TargetWidth) { Weights = weights };
    }

    /// <summary>
    /// The features in row-major chunks: a set in memory gives <see cref="Features"/> as one chunk; a streamed set reads its
    /// source once, in chunks of at most <paramref name="rows"/> rows, in the source's order (the set's order unless it is a
    /// subset), checking every row against its first fingerprint. A streamed set's chunks share one array, valid until the next
    /// chunk (the last may be a shorter array), so that memory stays flat over any number of rows.
    /// </summary>
    public IEnumerable<float[]> FeatureChunks(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        if (Rows is not { } source)
        {
            yield return Features;
            yield break;
        }
        int width = source.RowSize, left = Count;
        float[] chunk = [];
        using var pass = new StreamedRows.CheckedPass(source, StreamedRows.IndexOf(this, null), Count);
        while (left > 0)
        {
            int size = Math.Min(rows, left);
            if (chunk.Length != size * width)
            {
                chunk = GC.AllocateUninitializedArray<float>(size * width);
            }
            for (int r = 0; r < size && pass.MoveNext(out _); r++)
            {
                pass.Read(chunk.AsSpan(r * width, width));
            }
            left -= size;
            yield return chunk;
        }
    }

    /// <summary>The rows at <paramref name="indices"/>, as a new set.</summary>
    public TrainingSet Subset(IReadOnlyList<int> indices)
    {
        if (Rows is not null)
        {
            // A streamed subset names its rows by their positions in the source; only the targets are copied.
            var positions = indices.Select(i => Positions?[i] ?? i).ToArray();
            if (positions.Distinct().Count() != positions.Length)
            {
                throw new ArgumentException("A streamed set reads each source row once: a subset of it cannot take a row twice.", nameof(indices));
            }
            var subsetTargets = new float[_targetsAreFeatures ? 0 : indices.Count * TargetWidth];
            for (int i = 0; i < indices.Count && !_targetsAreFeatures; i++)
            {
                Array.Copy(Targets, (long)indices[i] * TargetWidth, subsetTargets, (long)i * TargetWidth, TargetWidth);
            }
            return new TrainingSet(Rows, positions, SampleShape, subsetTargets, TargetWidth, _targetsAreFeatures, Weights is null ? null : indices.Select(i => Weights[i]).ToArray());
        }
        int f = Features.Length / Math.Max(Count, 1);
        var features = new float[indices.Count * f];
        // A set whose targets are its features (ReconstructionSet) keeps sharing them in the subset.
        bool shared = ReferenceEquals(Targets, Features);
        var targets = shared ? features : new float[indices.Count * TargetWidth];
        for (int i = 0; i < indices.Count; i++)
        {
            Array.Copy(Features, (long)indices[i] * f, features, (long)i * f, f);
            if (!shared)
            {
                Array.Copy(Targets, (long)indices[i] * TargetWidth, targets, (long)i * TargetWidth, TargetWidth);
            }
        }
        return new TrainingSet(features, SampleShape, targets, TargetWidth) { Weights = Weights is null ? null : indices.Select(i => Weights[i]).ToArray() };
    }
}
