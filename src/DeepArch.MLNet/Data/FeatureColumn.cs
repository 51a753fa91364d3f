using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// The feature column a network reads: a <c>Single</c>, or a known-size vector of <c>Single</c>.
/// Checks the column at estimator, fit and transform time, and reads its values row by row into a
/// caller-owned buffer (dense copy; sparse vectors are expanded).
/// </summary>
internal static class FeatureColumn
{
    public const string Expected = "Single or known-size vector of Single";

    /// <summary>Finds and checks the feature column; returns it and its number of values.</summary>
    public static (DataViewSchema.Column Column, int Size) Resolve(DataViewSchema schema, string name, string role = "feature")
    {
        var column = schema.GetColumnOrNull(name) ?? throw SchemaErrors.ColumnNotFound(role, name);
        return (column, SizeOf(column.Type) ?? throw SchemaErrors.Mismatch(role, name, Expected, SchemaErrors.Describe(column.Type)));
    }

    /// <summary>Checks the feature column and that it holds exactly <paramref name="expectedSize"/> values.</summary>
    public static DataViewSchema.Column Resolve(DataViewSchema schema, string name, int expectedSize, string role = "feature")
    {
        var column = schema.GetColumnOrNull(name) ?? throw SchemaErrors.ColumnNotFound(role, name);
        if (SizeOf(column.Type) != expectedSize)
        {
            string expected = expectedSize == 1 ? "Single or Vector<Single, 1>" : $"Vector<Single, {expectedSize}>";
            throw SchemaErrors.Mismatch(role, name, expected, SchemaErrors.Describe(column.Type));
        }
        return column;
    }

    /// <summary>Checks the feature column at estimator time, when only the kind of vector is known.</summary>
    public static void Check(SchemaShape shape, string name, string role = "feature")
    {
        var column = shape.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
        {
            throw SchemaErrors.ColumnNotFound(role, name);
        }
        if (column.IsKey || column.ItemType != NumberDataViewType.Single || column.Kind == SchemaShape.Column.VectorKind.VariableVector)
        {
            throw SchemaErrors.Mismatch(role, name, Expected, SchemaErrors.Describe(column));
        }
    }

    /// <summary>The number of values in one row of <paramref name="type"/>, or null when it is not a feature type.</summary>
    public static int? SizeOf(DataViewType type) => type switch
    {
        NumberDataViewType when type.RawType == typeof(float) => 1,
        VectorDataViewType { IsKnownSize: true } v when v.ItemType.RawType == typeof(float) && v.ItemType is not KeyDataViewType => v.Size,
        _ => null,
    };

    /// <summary>Returns a delegate that copies the current row's features into a span of the column's size.</summary>
    public static RowReader CreateReader(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type is VectorDataViewType)
        {
            var getter = row.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            return destination =>
            {
                getter(ref buffer);
                if (buffer.Length != destination.Length)
                {
                    // A view whose vectors do not have their column's size: copying would leave slots unwritten.
                    throw new InvalidOperationException(
                        $"Column '{column.Name}' is declared with {destination.Length} values but a row holds {buffer.Length}; the upstream IDataView is inconsistent.");
                }
                buffer.CopyTo(destination);
            };
        }
        var scalar = row.GetGetter<float>(column);
        return destination =>
        {
            float value = 0;
            scalar(ref value);
            destination[0] = value;
        };
    }

    /// <summary>Copies the current row's feature values into <paramref name="destination"/>.</summary>
    public delegate void RowReader(Span<float> destination);
}
