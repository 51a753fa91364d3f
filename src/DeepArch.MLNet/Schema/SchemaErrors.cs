using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// Builds the schema errors, in ML.NET's own wording, so that the wording never drifts:
/// "Could not find feature column 'Features'" and
/// "Schema mismatch for feature column 'Features': expected known-size vector of Single, got Vector&lt;Single&gt;".
/// </summary>
internal static class SchemaErrors
{
    /// <summary>The column named <paramref name="name"/> is missing.</summary>
    public static ArgumentOutOfRangeException ColumnNotFound(string role, string name)
        => new("inputSchema", $"Could not find {role} column '{name}'");

    /// <summary>The column is there but its type is not the expected one.</summary>
    public static ArgumentOutOfRangeException Mismatch(string role, string name, string expected, string actual)
        => new("inputSchema", $"Schema mismatch for {role} column '{name}': expected {expected}, got {actual}");

    /// <summary>Describes a column type the way ML.NET's messages do, e.g. <c>Vector&lt;Single, 64&gt;</c>.</summary>
    public static string Describe(DataViewType type) => type switch
    {
        // ML.NET's own spelling: the dimensions when there are several (ExtractPixels writes [channels, height, width], or
        // [height, width, channels] with interleavePixelColors), which tell a user the shape to declare.
        VectorDataViewType { IsKnownSize: true } v => $"Vector<{Describe(v.ItemType)}, {string.Join(", ", v.Dimensions)}>",
        VectorDataViewType v => $"Vector<{Describe(v.ItemType)}>",
        KeyDataViewType k => $"Key<{k.RawType.Name}, 0-{k.Count - 1}>",
        _ => type.RawType == typeof(ReadOnlyMemory<char>) ? "String" : type.RawType.Name,
    };

    /// <summary>Describes a schema-shape column (estimator time, when sizes are unknown).</summary>
    public static string Describe(Microsoft.ML.SchemaShape.Column column)
    {
        string item = column.IsKey ? $"Key<{column.ItemType.RawType.Name}>" : Describe(column.ItemType);
        return column.Kind switch
        {
            Microsoft.ML.SchemaShape.Column.VectorKind.Vector => $"known-size vector of {item}",
            Microsoft.ML.SchemaShape.Column.VectorKind.VariableVector => $"Vector<{item}>",
            _ => item,
        };
    }
}
