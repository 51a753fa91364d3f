using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeepArch.Trainers.Layers;

/// <summary>JSON round-tripping of layer specifications (the <c>type</c> property names the layer).</summary>
public static class LayerSpecJson
{
    /// <summary>The serializer options used for layer specifications.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Writes <paramref name="spec"/> as JSON.</summary>
    public static string Serialize(LayerSpec spec) => JsonSerializer.Serialize(spec, Options);

    /// <summary>Reads a specification written by <see cref="Serialize"/>.</summary>
    public static LayerSpec Deserialize(string json)
        => JsonSerializer.Deserialize<LayerSpec>(json, Options) ?? throw new JsonException("The JSON holds no layer specification.");
}
