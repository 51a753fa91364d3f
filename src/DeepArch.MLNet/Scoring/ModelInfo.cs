using System.Text.Json;
using System.Text.Json.Serialization;
using DeepArch.MLNet.Data;
using DeepArch.MLNet.Heads;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet.Scoring;

/// <summary>
/// Everything a scoring transformer needs besides the network, stored as JSON in the exported model's
/// metadata (<see cref="MetadataKey"/>), so that an ONNX file alone restores the transformer.
/// </summary>
/// <param name="Trainer">The trainer that produced the model, e.g. <c>MultilayerPerceptron</c>.</param>
/// <param name="FeatureColumn">The feature column name (also the ONNX input name).</param>
/// <param name="FeatureSize">Values per row of the feature column.</param>
/// <param name="OutputShape">The network's per-row output shape.</param>
/// <param name="Head">The prediction task.</param>
/// <param name="History">The training history.</param>
/// <param name="Summary">The network summary table.</param>
/// <param name="Scoring">Rows per call, threads and device used when scoring.</param>
/// <param name="Sequence">How a recurrent network reads the feature column as time steps; null for every other network.</param>
internal sealed record ModelInfo(
    string Trainer,
    string FeatureColumn,
    int FeatureSize,
    int[] OutputShape,
    PredictionHead Head,
    TrainingHistory History,
    string Summary,
    ScoringSettings Scoring,
    SequenceLayout? Sequence = null)
{
    public const string MetadataKey = "deeparch.model";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelInfo FromJson(string json)
        => JsonSerializer.Deserialize<ModelInfo>(json, Json) ?? throw new JsonException("The model metadata is empty.");
}
