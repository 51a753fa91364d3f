using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// The token vocabulary of a key-vector column as a sequence-to-sequence model keeps it: the column's key type (raw type and
/// count, its key values when it has them) and the keys seen in the training rows, in ascending order; the network's token i is
/// key <see cref="Keys"/>[i]. A key the training rows did not hold has no token: scoring it is an error that names it.
/// </summary>
/// <param name="KeyRawType">The key type's raw type name (<c>Byte</c>, <c>UInt16</c>, <c>UInt32</c>, <c>UInt64</c>).</param>
/// <param name="Labels">The key count and key values.</param>
/// <param name="Keys">The keys (1-based) seen in training, ascending.</param>
internal sealed record TokenVocabulary(string KeyRawType, LabelKeys Labels, uint[] Keys)
{
    /// <summary>The most keys a vocabulary column may have: the decoded tokens travel as floats.</summary>
    public const int MaxKeyCount = 1 << 24;

    private static readonly Type[] RawTypes = [typeof(byte), typeof(ushort), typeof(uint), typeof(ulong)];

    /// <summary>The column's key type.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public KeyDataViewType KeyType => new(RawTypes.First(t => t.Name == KeyRawType), Labels.Count);

    /// <summary>What a token column must be, in schema-error wording.</summary>
    public const string Expected = "vector of keys (known-size or variable-size), as TokenizeIntoWords + MapValueToKey or TokenizeIntoCharactersAsKeys give";

    /// <summary>Whether <paramref name="type"/> is a vector of keys DeepArch reads as tokens.</summary>
    public static bool IsTokenColumn(DataViewType type)
        => type is VectorDataViewType { ItemType: KeyDataViewType key } && RawTypes.Contains(key.RawType) && key.Count >= 1 && key.Count <= MaxKeyCount;

    /// <summary>Checks that <paramref name="column"/> is a vector of keys; returns its key type.</summary>
    public static KeyDataViewType Resolve(DataViewSchema.Column? column, string name, string role)
    {
        if (column is null)
        {
            throw SchemaErrors.ColumnNotFound(role, name);
        }
        if (!IsTokenColumn(column.Value.Type))
        {
            throw SchemaErrors.Mismatch(role, name, Expected + $" with at most {MaxKeyCount:N0} keys", SchemaErrors.Describe(column.Value.Type));
        }
        return (KeyDataViewType)((VectorDataViewType)column.Value.Type).ItemType;
    }

    /// <summary>The vocabulary of <paramref name="column"/> (a token column) whose training rows hold <paramref name="seen"/>.</summary>
    public static TokenVocabulary Of(DataViewSchema.Column column, IEnumerable<uint> seen)
    {
        var key = (KeyDataViewType)((VectorDataViewType)column.Type).ItemType;
        return new(key.RawType.Name, LabelKeys.FromKeyColumn(column), seen.Distinct().Order().ToArray());
    }

    /// <summary>The network's token of each key number 0 to the key count (-1 for a key not in the vocabulary, and for 0, the missing key).</summary>
    public long[] TokenOfKey()
    {
        var table = new long[Labels.Count + 1];
        Array.Fill(table, -1);
        for (int token = 0; token < Keys.Length; token++)
        {
            table[Keys[token]] = token;
        }
        return table;
    }

    /// <summary>Checks a vocabulary read from a model file; <paramref name="what"/> names it in the error.</summary>
    public void CheckLoaded(string what)
    {
        ModelInfo.Require(RawTypes.Any(t => t.Name == KeyRawType), $"{what}'s key type", KeyRawType);
        ModelInfo.Require(Labels is not null, $"{what}'s keys", null);
        ModelInfo.Require(Labels!.Count >= 1 && Labels.Count <= MaxKeyCount, $"{what}'s key count", Labels.Count);
        if (Labels.Values is not null || Labels.ValueType is not null)
        {
            Labels.CheckLoaded(what, minimumCount: 1);
        }
        ModelInfo.Require(Keys is { Length: >= 1 } && Keys[0] >= 1 && Keys[^1] <= Labels.Count
            && Keys.Zip(Keys.Skip(1)).All(p => p.First < p.Second), $"{what}'s vocabulary", Keys?.Length);
    }

    /// <summary>
    /// A reader of the current row's keys as numbers (1-based) into a reused list; a key type of any raw type. The values are the
    /// keys as they are: 0 for a missing key.
    /// </summary>
    public static Func<List<uint>> CreateKeyReader(DataViewRow row, DataViewSchema.Column column)
        => ((VectorDataViewType)column.Type).ItemType.RawType switch
        {
            var t when t == typeof(byte) => KeyReader<byte>(row, column, key => key),
            var t when t == typeof(ushort) => KeyReader<ushort>(row, column, key => key),
            var t when t == typeof(uint) => KeyReader<uint>(row, column, key => key),
            _ => KeyReader<ulong>(row, column, key => key > uint.MaxValue ? uint.MaxValue : (uint)key),
        };

    private static Func<List<uint>> KeyReader<T>(DataViewRow row, DataViewSchema.Column column, Func<T, uint> toNumber)
    {
        var getter = row.GetGetter<VBuffer<T>>(column);
        VBuffer<T> buffer = default;
        var keys = new List<uint>();
        return () =>
        {
            getter(ref buffer);
            keys.Clear();
            foreach (var value in buffer.DenseValues())
            {
                keys.Add(toNumber(value));
            }
            return keys;
        };
    }
}

/// <summary>
/// What a sequence-to-sequence model keeps of its columns: the source column's vocabulary and the most tokens a source may
/// hold, the target column's vocabulary and the most tokens decoding writes.
/// </summary>
/// <param name="Source">The source (input) column's vocabulary.</param>
/// <param name="MaxSourceLength">The most tokens a source may hold.</param>
/// <param name="TargetColumn">The training target column's name.</param>
/// <param name="Target">The target column's vocabulary: the output column has its key type and key values.</param>
/// <param name="MaxTargetLength">The most tokens decoding writes.</param>
internal sealed record TranslationInfo(TokenVocabulary Source, int MaxSourceLength, string TargetColumn, TokenVocabulary Target, int MaxTargetLength)
{
    /// <summary>The most source tokens a model may take: a saved model's chain reads sources in a fixed-size vector of 1 + 255 values.</summary>
    public const int MaxSourceTokens = 255;

    /// <summary>The graph input's name, fixed so that a saved chain can compute it under that name.</summary>
    public const string SourceInput = "__DeepArch_Source";

    /// <summary>Each model info's source table, built once per instance (kept outside the record so that it takes no part in its equality).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TranslationInfo, long[]> SourceTables = [];

    /// <summary>The network's token of each source key number (<see cref="TokenVocabulary.TokenOfKey"/>), built once: every cursor reads it.</summary>
    private long[] SourceTokens => SourceTables.GetValue(this, info => info.Source.TokenOfKey());

    /// <summary>Values per row of the graph input: the length, then <see cref="MaxSourceLength"/> key numbers.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int InputSize => 1 + MaxSourceLength;

    /// <summary>Checks a scoring or validation column against the training source column: a vector of the same key type.</summary>
    public DataViewSchema.Column Resolve(DataViewSchema schema, string name, string role = "source")
    {
        var column = schema.GetColumnOrNull(name);
        var key = TokenVocabulary.Resolve(column, name, role);
        if (!key.Equals(Source.KeyType))
        {
            throw SchemaErrors.Mismatch(role, name, $"Vector<{SchemaErrors.Describe(Source.KeyType)}> (the key type at training)", SchemaErrors.Describe(column!.Value.Type));
        }
        return column!.Value;
    }

    /// <summary>
    /// A reader of the current row as the graph's input: the number of tokens, then the key numbers, then zeros. Errors name the
    /// column, the row and the key: an empty sequence, a missing key, a key not seen in training, more than <see cref="MaxSourceLength"/> tokens.
    /// </summary>
    public FeatureColumn.RowReader CreateReader(DataViewRow row, DataViewSchema.Column column)
    {
        var read = TokenVocabulary.CreateKeyReader(row, column);
        var known = SourceTokens;
        string name = column.Name;
        return destination =>
        {
            var keys = read();
            if (keys.Count == 0 || keys.Count > MaxSourceLength)
            {
                throw new InvalidOperationException(keys.Count == 0
                    ? $"Source column '{name}' holds an empty sequence at row {row.Position}; a sequence-to-sequence model needs at least one token."
                    : $"Source column '{name}' holds {keys.Count} tokens at row {row.Position}, more than the {MaxSourceLength} the model was trained for (Options.MaxSourceLength, or the longest training source when it is 0).");
            }
            destination[0] = keys.Count;
            for (int t = 0; t < keys.Count; t++)
            {
                uint key = keys[t];
                if (key == 0 || key >= known.Length || known[key] < 0)
                {
                    throw new InvalidOperationException(key == 0
                        ? $"Source column '{name}' has a missing key at row {row.Position}, token {t}."
                        : $"Source column '{name}' has key {key}{Source.Labels.Describe(key)} at row {row.Position}, token {t}, which no training source held: the model has no embedding for it. " +
                          "Train on data that holds it, or map it to a known token first.");
                }
                destination[1 + t] = key;
            }
            destination[(1 + keys.Count)..].Clear();
        };
    }

    /// <summary>Checks model info read from a file.</summary>
    public void CheckLoaded(int featureSize)
    {
        ModelInfo.Require(Source is not null && Target is not null, "translation columns", null);
        ModelInfo.RequireName(TargetColumn, "target column");
        Source!.CheckLoaded("source");
        Target!.CheckLoaded("target");
        ModelInfo.Require(MaxSourceLength >= 1 && MaxSourceLength <= MaxSourceTokens && InputSize == featureSize, "most source tokens", MaxSourceLength);
        ModelInfo.Require(MaxTargetLength >= 1 && MaxTargetLength <= ScoringSettings.MaxValuesPerRow, "most target tokens", MaxTargetLength);
    }
}
