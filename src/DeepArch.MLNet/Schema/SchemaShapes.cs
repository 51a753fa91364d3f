using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// Creates <see cref="SchemaShape"/> columns for estimators' <c>GetOutputSchema</c>. ML.NET keeps the
/// <see cref="SchemaShape.Column"/> constructor internal (its own estimators reach it as a "best friend"),
/// so this one place calls it through reflection; a test pins that it still works.
/// </summary>
internal static class SchemaShapes
{
    private static readonly ConstructorInfo ColumnConstructor = typeof(SchemaShape.Column).GetConstructor(
            BindingFlags.Instance | BindingFlags.NonPublic,
            [typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape)])
        ?? throw new InvalidOperationException("This version of Microsoft.ML has no SchemaShape.Column(name, kind, type, isKey, annotations) constructor.");

    /// <summary>A column shape for a column of <paramref name="type"/>.</summary>
    public static SchemaShape.Column Column(string name, DataViewType type, SchemaShape? annotations = null)
    {
        var kind = type switch
        {
            VectorDataViewType { IsKnownSize: true } => SchemaShape.Column.VectorKind.Vector,
            VectorDataViewType => SchemaShape.Column.VectorKind.VariableVector,
            _ => SchemaShape.Column.VectorKind.Scalar,
        };
        var item = type is VectorDataViewType vector ? vector.ItemType : type;
        bool isKey = item is KeyDataViewType;
        var itemType = isKey ? ScalarTypeOf(item.RawType) : item;
        return (SchemaShape.Column)ColumnConstructor.Invoke([name, kind, itemType, isKey, annotations]);
    }

    /// <summary>The shape of the visible columns of <paramref name="schema"/>, with their annotations' shapes.</summary>
    public static SchemaShape Create(DataViewSchema schema) => new(schema.Where(c => !c.IsHidden).Select(c =>
        Column(c.Name, c.Type, c.Annotations.Schema.Count == 0 ? null : new SchemaShape(c.Annotations.Schema.Select(a => Column(a.Name, a.Type))))));

    /// <summary>Checks that <paramref name="inputSchema"/> has the example weight column <paramref name="weightName"/> as a <c>Single</c> scalar (nothing when it is null).</summary>
    public static void CheckWeightColumn(SchemaShape inputSchema, string? weightName)
    {
        if (weightName is null)
        {
            return;
        }
        var weight = inputSchema.FirstOrDefault(c => c.Name == weightName);
        if (weight.Name is null)
        {
            throw SchemaErrors.ColumnNotFound("example weight", weightName);
        }
        if (weight.IsKey || weight.Kind != SchemaShape.Column.VectorKind.Scalar || weight.ItemType != NumberDataViewType.Single)
        {
            throw SchemaErrors.Mismatch("example weight", weightName, "Single", SchemaErrors.Describe(weight));
        }
    }

    /// <summary><paramref name="input"/> with <paramref name="added"/> columns added (or replacing same-named ones).</summary>
    public static SchemaShape With(SchemaShape input, IEnumerable<SchemaShape.Column> added)
    {
        var columns = input.ToDictionary(c => c.Name);
        foreach (var column in added)
        {
            columns[column.Name] = column;
        }
        return new SchemaShape(columns.Values);
    }

    private static DataViewType ScalarTypeOf(Type raw) => raw switch
    {
        _ when raw == typeof(uint) => NumberDataViewType.UInt32,
        _ when raw == typeof(ulong) => NumberDataViewType.UInt64,
        _ when raw == typeof(ushort) => NumberDataViewType.UInt16,
        _ when raw == typeof(byte) => NumberDataViewType.Byte,
        _ => throw new ArgumentException($"{raw.Name} is not a key's raw type."),
    };
}
