using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Training rows held in memory: features row-major (<c>Count x size(SampleShape)</c> floats) and
/// targets row-major (<c>Count x TargetWidth</c> floats; class indices for cross-entropy).
/// </summary>
public sealed class TrainingSet
{
    /// <summary>Wraps the arrays (no copy); checks that their sizes agree. A target width of 0 (and no targets) is a set without targets (<see cref="TargetKind.None"/>).</summary>
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
        Features = features;
        SampleShape = sampleShape.ToArray();
        Targets = targets;
        TargetWidth = targetWidth;
    }

    /// <summary>A set of features without targets, for objectives that read none (<see cref="TargetKind.None"/>).</summary>
    public static TrainingSet WithoutTargets(float[] features, IReadOnlyList<int> sampleShape) => new(features, sampleShape, [], 0);

    /// <summary>The features, row-major.</summary>
    public float[] Features { get; }

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
        return new TrainingSet(Features, SampleShape, Targets, TargetWidth) { Weights = weights };
    }

    /// <summary>The rows at <paramref name="indices"/>, as a new set.</summary>
    public TrainingSet Subset(IReadOnlyList<int> indices)
    {
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
