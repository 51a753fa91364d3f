using System.Text.Json.Serialization;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// What a prediction task adds around a network: how labels become training targets, which loss is
/// minimized, which ONNX outputs are exported (and the nodes, such as a softmax, that make them from the network's output), which ML.NET columns are produced (DESIGN §6), and the
/// ML.NET transforms that reproduce those columns in a saved model.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(MulticlassTask), "multiclass")]
[JsonDerivedType(typeof(BinaryTask), "binary")]
[JsonDerivedType(typeof(RegressionTask), "regression")]
[JsonDerivedType(typeof(VectorOutputTask), "vector")]
[JsonDerivedType(typeof(AnomalyTask), "anomaly")]
[JsonDerivedType(typeof(SequenceTask), "sequence")]
internal abstract class PredictionTask
{
    /// <summary>Reserved column names that a saved model uses between its steps and drops at the end.</summary>
    protected const string TemporaryPrefix = "__DeepArch_";

    /// <summary>The loss the network is trained with.</summary>
    [JsonIgnore]
    public abstract LossFunction Loss { get; }

    /// <summary>The network's output size.</summary>
    [JsonIgnore]
    public abstract int NetworkOutputs { get; }

    /// <summary>The names of the exported model's graph outputs, in order (overrides carry <c>[JsonIgnore]</c> too: it does not pass to them).</summary>
    [JsonIgnore]
    public abstract IReadOnlyList<string> OnnxOutputNames { get; }

    /// <summary>
    /// Declares the graph outputs <see cref="OnnxOutputNames"/> on top of the network's output <paramref name="value"/> (shaped
    /// [batch, ..<paramref name="outputShape"/>]), with the nodes the task adds to it; by default every output is the raw value.
    /// </summary>
    public virtual void AddOnnxOutputs(OnnxGraphBuilder graph, string value, IReadOnlyList<int> outputShape)
    {
        foreach (string name in OnnxOutputNames)
        {
            graph.AddOutput(value, name, outputShape);
        }
    }

    /// <summary>
    /// The graph outputs (of <see cref="OnnxOutputNames"/>) whose column the transformer types as a one-dimensional vector: a saved
    /// ML.NET chain reads them through flat copies (<see cref="DeepArch.Trainers.Onnx.OnnxFlatOutputs"/>), so that a plain
    /// <c>mlContext.Model.Load</c> gives them the same type. None by default.
    /// </summary>
    [JsonIgnore]
    public virtual IReadOnlyList<string> FlatOnnxOutputs => [];

    /// <summary>The graph outputs the scoring transformer runs, with their per-row shapes; by default every output has the network's output shape.</summary>
    public virtual IReadOnlyList<(string Name, int[] Shape)> ScoringOutputs(ModelInfo info)
        => OnnxOutputNames.Select(name => (name, info.OutputShape)).ToArray();

    /// <summary>
    /// Checks, for a task read from a model file, that its values are within bounds and agree with <paramref name="info"/>;
    /// <see cref="ModelInfo.CheckLoaded"/> calls it. Throws <see cref="InvalidDataException"/> (through <see cref="ModelInfo.Require"/>).
    /// </summary>
    public abstract void CheckLoaded(ModelInfo info);

    /// <summary>Whether scoring throws on a row whose features are not all finite (an anomaly detector's <see cref="MissingValuePolicy.Throw"/>).</summary>
    [JsonIgnore]
    public virtual bool RejectsNonFiniteFeatures => false;

    /// <summary>The columns the scoring transformer adds.</summary>
    public abstract IReadOnlyList<OutputColumn> CreateOutputColumns();

    /// <summary>Throws the schema error for a label column <paramref name="name"/> that is missing or not of <paramref name="type"/>.</summary>
    private protected static void CheckLabel(DataViewSchema.Column? label, string name, DataViewType type, string expected)
    {
        if (label is null)
        {
            throw SchemaErrors.ColumnNotFound("label", name);
        }
        if (label.Value.Type != type)
        {
            throw SchemaErrors.Mismatch("label", name, expected, SchemaErrors.Describe(label.Value.Type));
        }
    }

    /// <summary>A reader of the label column's current value as a training target; it throws on a bad value.</summary>
    public abstract Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label);

    /// <summary>
    /// The transforms that run after ML.NET's <c>OnnxTransformer</c> in a saved model, turning its raw
    /// vector outputs into this task's standard columns and dropping the temporary ones.
    /// </summary>
    public abstract IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext);
}
