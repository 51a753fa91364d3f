using System.Text.Json.Serialization;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// A transform's task: the network's output as it is, in one known-size vector column (an autoencoder's
/// code, reconstruction or decoding). No label; the graph's single output is named after the output column
/// (a temporary name when the output column replaces the input column, whose name the graph input has).
/// </summary>
/// <remarks>
/// The column is typed <c>Vector&lt;Single, 1, K&gt;</c> (K values, <see cref="Size"/>), the type ML.NET's
/// <c>OnnxTransformer</c> gives a [batch, K] graph output, so that a pipeline loaded back with plain
/// <c>mlContext.Model.Load</c> (where the saved <c>OnnxTransformer</c> computes the column) hands the trainers
/// fitted after the transform exactly the type they were fitted on: a trainer checks its feature column's type
/// against the one it saw, dimensions included, and no public ML.NET transform turns <c>Vector&lt;Single, 1, K&gt;</c>
/// into <c>Vector&lt;Single, K&gt;</c> (measured: CopyColumns, ConvertType, the normalizers, ReplaceMissingValues and a
/// one-column Concatenate all keep the dimensions). Every consumer that reads a known-size vector of K values accepts it.
/// </remarks>
internal sealed class VectorOutputTask : PredictionTask
{
    private const string ReplacingOutput = TemporaryPrefix + "Output";

    /// <summary>Creates the task.</summary>
    /// <param name="outputColumnName">The column the transform adds.</param>
    /// <param name="inputColumnName">The column the network reads (the graph input's name).</param>
    /// <param name="size">Values per row of the output.</param>
    public VectorOutputTask(string outputColumnName, string inputColumnName, int size)
    {
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Size = size;
    }

    /// <summary>The column the transform adds.</summary>
    public string OutputColumnName { get; }

    /// <summary>The column the network reads.</summary>
    public string InputColumnName { get; }

    /// <summary>Values per row of the output.</summary>
    public int Size { get; }

    /// <summary>The graph output's name: the output column's, unless that is the input column's.</summary>
    [JsonIgnore]
    public string OnnxOutputName => OutputColumnName == InputColumnName ? ReplacingOutput : OutputColumnName;

    public override LossFunction Loss => LossFunction.MeanSquaredError;

    public override int NetworkOutputs => Size;

    [JsonIgnore]
    public override IReadOnlyList<string> OnnxOutputNames => [OnnxOutputName];

    /// <summary>The type of the output column.</summary>
    public static VectorDataViewType OutputType(int size) => new(NumberDataViewType.Single, 1, size);

    /// <summary>The column the estimator adds, at schema-shape level.</summary>
    public static SchemaShape.Column OutputShape(string outputColumnName)
        => SchemaShapes.Column(outputColumnName, new VectorDataViewType(NumberDataViewType.Single, 1));

    public override void CheckLoaded(ModelInfo info)
    {
        ModelInfo.RequireName(OutputColumnName, "output column");
        ModelInfo.Require(InputColumnName == info.FeatureColumn, "vector task's input column", InputColumnName);
        ModelInfo.Require(Size >= 1 && Size == info.OutputShape.Aggregate(1L, (a, d) => a * d), "vector task's size", Size);
    }

    public override IReadOnlyList<OutputColumn> CreateOutputColumns() => [OutputColumn.Vector(OutputColumnName, OutputType(Size), 0)];

    public override Func<long, float> CreateTargetReader(DataViewRow row, DataViewSchema.Column label)
        => throw new NotSupportedException("A transform's network has no label: its targets are its inputs.");

    /// <summary>The saved <c>OnnxTransformer</c> names its column after the graph output; a copy names it after the output column.</summary>
    public override IEstimator<ITransformer> CreatePersistedTail(MLContext mlContext)
    {
        var copy = mlContext.Transforms.CopyColumns(OutputColumnName, OnnxOutputName);
        return OnnxOutputName == OutputColumnName
            ? copy
            : copy.Append(mlContext.Transforms.DropColumns(OnnxOutputName));
    }
}
