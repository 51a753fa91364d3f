using System.Text.Json.Serialization;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Heads;

/// <summary>
/// What a prediction task adds around a network: how labels become training targets, which loss is
/// minimized, which ONNX outputs are exported, which ML.NET columns are produced (DESIGN §6), and the
/// ML.NET transforms that reproduce those columns in a saved model.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "task")]
[JsonDerivedType(typeof(MulticlassHead), "multiclass")]
[JsonDerivedType(typeof(BinaryHead), "binary")]
[JsonDerivedType(typeof(RegressionHead), "regression")]
[JsonDerivedType(typeof(VectorOutputHead), "vector")]
[JsonDerivedType(typeof(AnomalyHead), "anomaly")]
internal abstract class PredictionHead
{
    /// <summary>Reserved column names that a saved model uses between its steps and drops at the end.</summary>
    protected const string TemporaryPrefix = "__DeepArch_";

    /// <summary>The loss the network is trained with.</summary>
    [JsonIgnore]
    public abstract LossFunction Loss { get; }

    /// <summary>The network's output size.</summary>
    [JsonIgnore]
    public abstract int NetworkOutputs { get; }

    /// <summary>The graph outputs of the exported model, in order.</summary>
    [JsonIgnore]
    public abstract IReadOnlyList<OnnxOutput> OnnxOutputs { get; }

    /// <summary>The graph outputs the scoring transformer runs, with their per-row shapes; by default every output has the network's output shape.</summary>
    public virtual IReadOnlyList<(string Name, int[] Shape)> ScoringOutputs(ModelInfo info)
        => OnnxOutputs.Select(o => (o.Name, info.OutputShape)).ToArray();

    /// <summary>
    /// Checks, for a head read from a model file, that its values are within bounds and agree with <paramref name="info"/>;
    /// <see cref="ModelInfo.CheckLoaded"/> calls it. Throws <see cref="InvalidDataException"/> (through <see cref="ModelInfo.Require"/>).
    /// </summary>
    public abstract void CheckLoaded(ModelInfo info);

    /// <summary>Whether scoring throws on a row whose features are not all finite (an anomaly detector's <see cref="Trainers.MissingValuePolicy.Throw"/>).</summary>
    [JsonIgnore]
    public virtual bool RejectsNonFiniteFeatures => false;

    /// <summary>The columns the scoring transformer adds.</summary>
    public abstract IReadOnlyList<OutputColumn> CreateOutputColumns();

    /// <summary>A reader of the label column's current value as a training target; it throws on a bad value.</summary>
    public abstract Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label);

    /// <summary>
    /// The transforms that run after ML.NET's <c>OnnxTransformer</c> in a saved model, turning its raw
    /// vector outputs into this task's standard columns and dropping the temporary ones.
    /// </summary>
    public abstract IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext);
}
