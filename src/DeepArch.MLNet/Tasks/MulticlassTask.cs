using System.Reflection;
using System.Text.Json.Serialization;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace DeepArch.MLNet;

/// <summary>
/// Multiclass classification: a key-typed label, softmax cross-entropy, and the columns <c>Score</c>
/// (the class probabilities, one slot per key value) and <c>PredictedLabel</c> (a key of the label's
/// key type, carrying the label's key values so that <c>MapKeyToValue</c> works after it).
/// </summary>
internal sealed class MulticlassTask : PredictionTask
{
    internal const string RawArgMax = TemporaryPrefix + "ArgMax";
    internal const string RawLabelValue = TemporaryPrefix + "LabelValue";

    /// <summary>Creates the task for <paramref name="classCount"/> classes with the label's key values, if it had any.</summary>
    /// <param name="classCount">The label's key count.</param>
    /// <param name="keyValueType">The item type of the key values (<c>String</c>, <c>Single</c>, ...), or null.</param>
    /// <param name="keyValues">The key values in key order, written invariantly; null when the label has none.</param>
    public MulticlassTask(int classCount, string? keyValueType, IReadOnlyList<string>? keyValues)
    {
        ClassCount = classCount;
        KeyValueType = keyValueType;
        KeyValues = keyValues;
    }

    /// <summary>The number of classes (the label's key count).</summary>
    public int ClassCount { get; }

    /// <summary>The name of the key values' raw type, or null.</summary>
    public string? KeyValueType { get; }

    /// <summary>The key values in key order, or null.</summary>
    public IReadOnlyList<string>? KeyValues { get; }

    public override LossFunction Loss => LossFunction.CrossEntropy;

    public override int NetworkOutputs => ClassCount;

    [JsonIgnore]
    public override IReadOnlyList<string> OnnxOutputNames => [ColumnNames.Score];

    /// <summary>The probabilities: <c>Vector&lt;Single, K&gt;</c>, ML.NET's type for a multiclass score, after either load too.</summary>
    [JsonIgnore]
    public override IReadOnlyList<string> FlatOnnxOutputs => [ColumnNames.Score];

    /// <summary>The class probabilities: the softmax of the logits over the last axis.</summary>
    public override void AddOnnxOutputs(OnnxGraphBuilder graph, string value, IReadOnlyList<int> outputShape)
        => graph.AddOutput(graph.AddNode("Softmax", [value], ("axis", -1L)), ColumnNames.Score, outputShape);

    /// <summary>Checks the label column and builds the task from its key type.</summary>
    public static MulticlassTask FromLabel(DataViewSchema.Column? label, string name)
    {
        var keys = LabelKeys.FromColumn(label, name, "label");
        return new MulticlassTask(keys.Count, keys.ValueType, keys.Values);
    }

    /// <summary>The label's key count and values.</summary>
    internal LabelKeys Keys => new(ClassCount, KeyValueType, KeyValues);

    /// <summary>The columns the estimator adds, at schema-shape level.</summary>
    public static IEnumerable<SchemaShape.Column> OutputShape(SchemaShape.Column label)
    {
        var keyValues = label.Annotations.FirstOrDefault(a => a.Name == "KeyValues");
        return
        [
            SchemaShapes.Column(ColumnNames.Score, new VectorDataViewType(NumberDataViewType.Single, 1)),
            SchemaShapes.Column(ColumnNames.PredictedLabel, new KeyDataViewType(typeof(uint), 2),
                keyValues.Name is null ? null : new SchemaShape([keyValues])),
        ];
    }

    public override void CheckLoaded(ModelInfo info)
    {
        ModelInfo.Require(ClassCount >= 2 && info.OutputShape[^1] == ClassCount, "class count", ClassCount);
        Keys.CheckLoaded("label");
    }

    public override IReadOnlyList<OutputColumn> CreateOutputColumns() =>
    [
        OutputColumn.Vector(ColumnNames.Score, new VectorDataViewType(NumberDataViewType.Single, ClassCount), 0, Keys.SlotNames()),
        new OutputColumn<uint>(ColumnNames.PredictedLabel, new KeyDataViewType(typeof(uint), ClassCount),
            (ScoredBatch b, int row, ref uint v) => v = (uint)ArgMax(b.Row(0, row)) + 1,
            Keys.Annotations()),
    ];

    public override Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label)
    {
        var getter = row.GetGetter<uint>(label);
        return position =>
        {
            uint key = 0;
            getter(ref key);
            if (key == 0 || key > ClassCount)
            {
                throw new InvalidOperationException(
                    $"Label column '{label.Name}' has a missing key at row {position}; every training row needs a class. " +
                    "Filter out rows with unknown labels (for example with FilterRowsByMissingValues on the key column, after MapValueToKey).");
            }
            return key - 1;
        };
    }

    public override IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext)
    {
        // ONNX gives the probabilities as "Score". A custom mapping takes their arg max, MapValue turns it
        // into the class's original label value, and MapValueToKey, given the label's values in key order,
        // turns that into a key whose key values are the label's (so MapKeyToValue works after it).
        return mlContext.Transforms.CustomMapping(new ArgMaxMapping().GetMapping(), ArgMaxMapping.ContractName)
            .Append(Keys.NumbersToKeys(mlContext, ColumnNames.PredictedLabel, RawArgMax, RawLabelValue, first: 0))
            .Append(mlContext.Transforms.DropColumns(RawArgMax, RawLabelValue));
    }

    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>The probabilities output of a saved multiclass model.</summary>
    public sealed class RawRow
    {
        [ColumnName(ColumnNames.Score)]
        public float[] Score { get; set; } = [];
    }

    /// <summary>The 0-based index of the most probable class.</summary>
    public sealed class ArgMaxRow
    {
        [ColumnName(RawArgMax)]
        public uint ArgMax { get; set; }
    }

    /// <summary>Takes the arg max of the saved model's probabilities.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class ArgMaxMapping : CustomMappingFactory<RawRow, ArgMaxRow>
    {
        public const string ContractName = "DeepArch.MulticlassArgMax";

        public override Action<RawRow, ArgMaxRow> GetMapping() => (raw, row) => row.ArgMax = (uint)MulticlassTask.ArgMax(raw.Score);
    }
}
