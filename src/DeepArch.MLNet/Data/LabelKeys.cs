using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// What a model keeps of a key-typed column (a label): its key count and, when the column had them, its key values in key
/// order, written invariantly, so that a column it adds (a predicted label, a generated row's label) carries the same key
/// values and <c>MapKeyToValue</c> works after it.
/// </summary>
/// <param name="Count">The key count.</param>
/// <param name="ValueType">The name of the key values' raw type (<c>String</c>, <c>Single</c>, ...), or null.</param>
/// <param name="Values">The key values in key order, or null when the column has none.</param>
internal sealed record LabelKeys(int Count, string? ValueType, IReadOnlyList<string>? Values)
{
    /// <summary>The column's type, <c>Key&lt;UInt32, Count&gt;</c>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public KeyDataViewType KeyType => new(typeof(uint), Count);

    /// <summary>Checks that <paramref name="column"/> is a <c>Key&lt;UInt32&gt;</c> of at least 2 values and reads its keys.</summary>
    /// <param name="column">The column, or null when it is missing.</param>
    /// <param name="name">Its name, for the errors.</param>
    /// <param name="role">What the column is for the errors, for example <c>label</c>.</param>
    public static LabelKeys FromColumn(DataViewSchema.Column? column, string name, string role)
    {
        if (column is null)
        {
            throw SchemaErrors.ColumnNotFound(role, name);
        }
        if (column.Value.Type is not KeyDataViewType key || key.RawType != typeof(uint))
        {
            throw SchemaErrors.Mismatch(role, name, "Key<UInt32> (use MapValueToKey on the label)", SchemaErrors.Describe(column.Value.Type));
        }
        if (key.Count < 2 || key.Count > int.MaxValue)
        {
            // A key type of 0 or 1 values: MapValueToKey saw one class, or no rows at all (an empty view, a filter that kept nothing).
            throw SchemaErrors.Mismatch(role, name, "a key type with at least 2 values", SchemaErrors.Describe(key) +
                (key.Count < 2 ? ". MapValueToKey makes one key per value it saw: the data it was fitted on held a single class, or no rows at all " +
                    "(an empty view, or a filter that kept none); a label needs at least two classes (with one, there is nothing to tell apart or to condition on)." : ""));
        }
        return FromKeyColumn(column.Value);
    }

    /// <summary>The key count and key values of a key column or of a vector of keys (any raw type), not checked further.</summary>
    public static LabelKeys FromKeyColumn(DataViewSchema.Column column)
    {
        var key = (KeyDataViewType)(column.Type is VectorDataViewType vector ? vector.ItemType : column.Type);
        var annotation = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (annotation?.Type is VectorDataViewType { ItemType: PrimitiveDataViewType item } && KeyValueCodec.IsSupported(item.RawType))
        {
            var values = (IReadOnlyList<string>)typeof(LabelKeys).GetMethod(nameof(ReadKeyValues), BindingFlags.NonPublic | BindingFlags.Static)!
                .MakeGenericMethod(item.RawType).Invoke(null, [column])!;
            if (item.RawType == typeof(ReadOnlyMemory<char>))
            {
                values = Distinct(values);
            }
            return new LabelKeys((int)key.Count, KeyValueCodec.NameOf(item.RawType), values);
        }
        return new LabelKeys((int)key.Count, null, null);
    }

    /// <summary>
    /// Text key values made one per key: a value that repeats an earlier key's gets <c> (key N)</c> appended. ML.NET's own may
    /// repeat (<c>TokenizeIntoCharactersAsKeys</c> gives the 2,048 surrogate code units 2,048 keys but one value), and a saved model
    /// rebuilds its output keys from the values with <c>MapValueToKey</c>, which makes one key per distinct value: the loaded model's
    /// keys came back 2,047 fewer than the trained one's. Distinct, the keys are the same before and after saving.
    /// </summary>
    private static IReadOnlyList<string> Distinct(IReadOnlyList<string> values)
    {
        var seen = new HashSet<string>(values.Count, StringComparer.Ordinal);
        var result = new string[values.Count];
        for (int i = 0; i < values.Count; i++)
        {
            string value = values[i];
            for (int n = 2; !seen.Add(value); n++)
            {
                value = n == 2 ? $"{values[i]} (key {i + 1})" : $"{values[i]} (key {i + 1}, {n - 1})";
            }
            result[i] = value;
        }
        return result;
    }

    /// <summary>How key <paramref name="key"/> (1-based) reads in a message: <c> ('x')</c> with its key value, or nothing without key values.</summary>
    public string Describe(uint key) => Values is not null && key >= 1 && key <= Values.Count ? $" ('{Values[(int)key - 1]}')" : "";

    /// <summary>
    /// The transforms of a saved chain that turn numbers in <paramref name="inputColumnName"/> (a <c>UInt32</c> or a vector of them:
    /// <paramref name="first"/> for the first key, <paramref name="first"/> + 1 for the second, ...) into keys of this type in
    /// <paramref name="outputColumnName"/>, with these key values: <c>MapValue</c> to the key values, then <c>MapValueToKey</c> given them in key order.
    /// </summary>
    public IEstimator<ITransformer> NumbersToKeys(MLContext mlContext, string outputColumnName, string inputColumnName, string valueColumnName, uint first)
    {
        var method = typeof(LabelKeys).GetMethod(nameof(MapNumbersToKeys), BindingFlags.NonPublic | BindingFlags.Instance)!
            .MakeGenericMethod(ValueType is null ? typeof(uint) : KeyValueCodec.TypeOf(ValueType));
        return (IEstimator<ITransformer>)method.Invoke(this, [mlContext, outputColumnName, inputColumnName, valueColumnName, first])!;
    }

    private IEstimator<ITransformer> MapNumbersToKeys<T>(MLContext mlContext, string outputColumnName, string inputColumnName, string valueColumnName, uint first)
    {
        T[] values = Enumerable.Range(0, Count)
            .Select(i => Values is null ? (T)(object)(uint)(i + 1) : KeyValueCodec.Parse<T>(Values[i]))
            .ToArray();
        var keyData = mlContext.Data.LoadFromEnumerable(values.Select(v => new KeyDataRow<T> { Value = v }));
        return mlContext.Transforms.Conversion.MapValue(valueColumnName, values.Select((v, i) => new KeyValuePair<uint, T>((uint)i + first, v)), inputColumnName)
            .Append(mlContext.Transforms.Conversion.MapValueToKey(outputColumnName, valueColumnName, keyData: keyData));
    }

    /// <summary>One key value, for MapValueToKey's key data.</summary>
    private sealed class KeyDataRow<T>
    {
        public T Value { get; set; } = default!;
    }

    /// <summary>
    /// Checks keys read from a model file (<see cref="ModelInfo.CheckLoaded"/>); <paramref name="what"/> names them in the error. A
    /// label needs two classes at least; a token vocabulary may have one token (<paramref name="minimumCount"/> 1).
    /// </summary>
    public void CheckLoaded(string what, int minimumCount = 2)
    {
        ModelInfo.Require(Count >= minimumCount, $"{what}'s key count", Count);
        ModelInfo.Require((ValueType is null) == (Values is null) && (Values is null || Values.Count == Count),
            $"{what}'s key values", Values is null ? ValueType : $"{Values.Count} values for {Count} classes");
        if (ValueType is not null)
        {
            ModelInfo.Require(KeyValueCodec.IsKnown(ValueType), $"{what}'s key value type", ValueType);
            var type = KeyValueCodec.TypeOf(ValueType);
            foreach (string value in Values!)
            {
                ModelInfo.Require(value is not null && KeyValueCodec.TryParse(type, value), $"{what}'s key value", value);
            }
        }
    }

    /// <summary>The first key (0-based) whose value differs from <paramref name="other"/>'s, when both have key values; null when none does.</summary>
    public int? FirstDifference(LabelKeys other)
    {
        if (Values is null || other.Values is null)
        {
            return null;
        }
        int index = Enumerable.Range(0, Math.Min(Values.Count, other.Values.Count)).FirstOrDefault(i => Values[i] != other.Values[i], -1);
        return index >= 0 ? index : null;
    }

    /// <summary>The key (1-based) whose value is <paramref name="value"/> (written as <see cref="KeyValueCodec.Format"/> writes it), or the key <paramref name="value"/> itself when the column has no key values.</summary>
    /// <exception cref="ArgumentException">No key has that value.</exception>
    public uint KeyOf(string value, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(value, parameterName);
        int index = Values is null
            ? (uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint key) && key >= 1 && key <= Count ? (int)key - 1 : -1)
            : Values.ToList().IndexOf(value);
        if (index < 0)
        {
            string known = Values is null ? $"keys 1 to {Count}" : string.Join(", ", Values.Take(20).Select(v => $"'{v}'")) + (Values.Count > 20 ? ", ..." : "");
            throw new ArgumentException($"'{value}' is not a label the model was trained on; it knows {known}.", parameterName);
        }
        return (uint)index + 1;
    }

    /// <summary>The <c>KeyValues</c> annotation of a column of these keys, or null when there are no key values.</summary>
    public DataViewSchema.Annotations? Annotations()
    {
        if (Values is null)
        {
            return null;
        }
        var method = typeof(LabelKeys).GetMethod(nameof(BuildKeyValues), BindingFlags.NonPublic | BindingFlags.Instance)!
            .MakeGenericMethod(KeyValueCodec.RawTypeOf(ValueType!));
        return (DataViewSchema.Annotations)method.Invoke(this, null)!;
    }

    /// <summary>
    /// The <c>SlotNames</c> annotation of a vector with one value per class (a multiclass <c>Score</c>): each class's key value as
    /// text, as ML.NET's own multiclass trainers give it; null when the key type has no values.
    /// </summary>
    public DataViewSchema.Annotations? SlotNames()
    {
        if (Values is null)
        {
            return null;
        }
        var names = new VBuffer<ReadOnlyMemory<char>>(Count, Values.Select(v => v.AsMemory()).ToArray());
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, Count),
            (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v)));
        return builder.ToAnnotations();
    }

    private DataViewSchema.Annotations BuildKeyValues<T>()
    {
        var values = new VBuffer<T>(Count, Values!.Select(KeyValueCodec.ParseRaw<T>).ToArray());
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add("KeyValues", new VectorDataViewType((PrimitiveDataViewType)KeyValueCodec.DataViewTypeOf(ValueType!), Count),
            (ValueGetter<VBuffer<T>>)((ref VBuffer<T> v) => values.CopyTo(ref v)));
        return builder.ToAnnotations();
    }

    private static IReadOnlyList<string> ReadKeyValues<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => KeyValueCodec.Format(v!)).ToArray();
    }

}

/// <summary>Writes key values as invariant strings (to store them in a model's metadata) and reads them back.</summary>
internal static class KeyValueCodec
{
    /// <summary>The supported key value types by name: their raw type in a data view, and their data view type.</summary>
    private static readonly Dictionary<string, (Type Raw, DataViewType DataViewType)> Types = new()
    {
        ["String"] = (typeof(ReadOnlyMemory<char>), TextDataViewType.Instance),
        ["Single"] = (typeof(float), NumberDataViewType.Single),
        ["Double"] = (typeof(double), NumberDataViewType.Double),
        ["Int32"] = (typeof(int), NumberDataViewType.Int32),
        ["Int64"] = (typeof(long), NumberDataViewType.Int64),
        ["UInt32"] = (typeof(uint), NumberDataViewType.UInt32),
        ["UInt64"] = (typeof(ulong), NumberDataViewType.UInt64),
        ["Boolean"] = (typeof(bool), BooleanDataViewType.Instance),
    };

    public static bool IsSupported(Type raw) => Types.Values.Any(t => t.Raw == raw);

    /// <summary>Whether <paramref name="name"/> names a supported key value type.</summary>
    public static bool IsKnown(string name) => Types.ContainsKey(name);

    /// <summary>Whether <paramref name="text"/> parses to <paramref name="type"/> (the MapValue type of <see cref="TypeOf"/>).</summary>
    public static bool TryParse(Type type, string text)
    {
        try
        {
            _ = type == typeof(string) ? text : Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
            return true;
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidCastException)
        {
            return false;
        }
    }

    public static string NameOf(Type raw) => Types.First(t => t.Value.Raw == raw).Key;

    /// <summary>The type MapValue is given for <paramref name="name"/>: <c>string</c> for text, else the raw type.</summary>
    public static Type TypeOf(string name) => name == "String" ? typeof(string) : Types[name].Raw;

    /// <summary>The raw type of <paramref name="name"/> in a data view (<c>ReadOnlyMemory&lt;char&gt;</c> for text).</summary>
    public static Type RawTypeOf(string name) => Types[name].Raw;

    /// <summary>The data view type of the key values named <paramref name="name"/>.</summary>
    public static DataViewType DataViewTypeOf(string name) => Types[name].DataViewType;

    public static string Format(object value) => value switch
    {
        ReadOnlyMemory<char> text => text.ToString(),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Parses to the MapValue type (<c>string</c> for text).</summary>
    public static T Parse<T>(string text) => typeof(T) == typeof(string)
        ? (T)(object)text
        : (T)Convert.ChangeType(text, typeof(T), CultureInfo.InvariantCulture);

    /// <summary>Parses to the raw type of the annotation (<c>ReadOnlyMemory&lt;char&gt;</c> for text).</summary>
    public static T ParseRaw<T>(string text) => typeof(T) == typeof(ReadOnlyMemory<char>)
        ? (T)(object)text.AsMemory()
        : Parse<T>(text);
}
