using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>One column a scoring transformer adds: its name, type, annotations, and how a row's value is read from a scored batch.</summary>
internal abstract class OutputColumn(string name, DataViewType type, DataViewSchema.Annotations? annotations)
{
    public string Name { get; } = name;

    public DataViewType Type { get; } = type;

    public DataViewSchema.Annotations? Annotations { get; } = annotations;

    /// <summary>A getter that reads the value of row <paramref name="row"/>() of <paramref name="batch"/>().</summary>
    public abstract Delegate CreateGetter(Func<ScoredBatch> batch, Func<int> row);

    /// <summary>A <c>Single</c> column: the first value of graph output <paramref name="output"/>.</summary>
    public static OutputColumn Scalar(string name, int output)
        => new OutputColumn<float>(name, NumberDataViewType.Single, (ScoredBatch b, int row, ref float v) => v = b.Row(output, row)[0]);

    /// <summary>A <c>Boolean</c> column: whether the first value of graph output <paramref name="output"/> (a probability or a 0/1 flag) is above 0.5.</summary>
    public static OutputColumn Flag(string name, int output)
        => new OutputColumn<bool>(name, BooleanDataViewType.Instance, (ScoredBatch b, int row, ref bool v) => v = b.Row(output, row)[0] > 0.5f);

    /// <summary>A known-size vector column of <paramref name="type"/>: the values of graph output <paramref name="output"/>.</summary>
    public static OutputColumn Vector(string name, VectorDataViewType type, int output, DataViewSchema.Annotations? annotations = null)
    {
        int size = type.Size;
        return new OutputColumn<VBuffer<float>>(name, type, (ScoredBatch b, int row, ref VBuffer<float> v) =>
        {
            var editor = VBufferEditor.Create(ref v, size);
            b.Row(output, row).CopyTo(editor.Values);
            v = editor.Commit();
        }, annotations);
    }
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
