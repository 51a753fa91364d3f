using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Scoring;

/// <summary>One column a scoring transformer adds: its name, type, annotations, and how a row's value is read from a scored batch.</summary>
internal abstract class OutputColumn(string name, DataViewType type, DataViewSchema.Annotations? annotations)
{
    public string Name { get; } = name;

    public DataViewType Type { get; } = type;

    public DataViewSchema.Annotations? Annotations { get; } = annotations;

    /// <summary>A getter that reads the value of row <paramref name="row"/>() of <paramref name="batch"/>().</summary>
    public abstract Delegate CreateGetter(Func<ScoredBatch> batch, Func<int> row);
}

/// <summary>An output column whose values are of raw type <typeparamref name="T"/>.</summary>
internal sealed class OutputColumn<T>(string name, DataViewType type, OutputColumn<T>.Filler fill, DataViewSchema.Annotations? annotations = null)
    : OutputColumn(name, type, annotations)
{
    /// <summary>Writes the value of <paramref name="row"/> of <paramref name="batch"/> into <paramref name="value"/>.</summary>
    public delegate void Filler(ScoredBatch batch, int row, ref T value);

    public override Delegate CreateGetter(Func<ScoredBatch> batch, Func<int> row)
        => new ValueGetter<T>((ref T value) => fill(batch(), row(), ref value));
}
