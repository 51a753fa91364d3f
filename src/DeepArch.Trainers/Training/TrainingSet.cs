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
        return new TrainingSet(features, SampleShape, targets, TargetWidth);
    }
}
