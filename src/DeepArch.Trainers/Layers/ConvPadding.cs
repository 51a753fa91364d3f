using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// The zero padding of a convolution: an explicit number of values added on each side of every spatial
/// dimension (an <c>int</c> converts to it), or <see cref="Same"/>, which keeps the spatial size at stride 1
/// exactly as PyTorch's <c>padding='same'</c> does (an even kernel gets its extra padding at the end).
/// In JSON it is a number or the string <c>"same"</c>.
/// </summary>
[JsonConverter(typeof(ConvPaddingJsonConverter))]
public readonly record struct ConvPadding
{
    private ConvPadding(int size, bool isSame)
    {
        Size = size;
        IsSame = isSame;
    }

    /// <summary>No padding (PyTorch's <c>'valid'</c>); the default.</summary>
    public static ConvPadding Valid => default;

    /// <summary>Padding that keeps the spatial size at stride 1 (PyTorch's <c>'same'</c>).</summary>
    public static ConvPadding Same => new(0, true);

    /// <summary>Zero padding of <paramref name="size"/> values on each side; at least 0.</summary>
    public static ConvPadding Explicit(int size)
    {
        if (size < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"Padding must be at least 0; got {size}.");
        }
        return new ConvPadding(size, false);
    }

    /// <summary>Zero padding of <paramref name="size"/> values on each side.</summary>
    public static implicit operator ConvPadding(int size) => Explicit(size);

    /// <summary>Whether the padding is <see cref="Same"/>.</summary>
    public bool IsSame { get; }

    /// <summary>The explicit padding on each side; 0 when <see cref="IsSame"/>.</summary>
    public int Size { get; }

    /// <summary><c>same</c> or the explicit size.</summary>
    public override string ToString() => IsSame ? "same" : Size.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Writes <see cref="ConvPadding"/> as a number or <c>"same"</c>.</summary>
internal sealed class ConvPaddingJsonConverter : JsonConverter<ConvPadding>
{
    public override ConvPadding Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => ConvPadding.Explicit(reader.GetInt32()),
        JsonTokenType.String when string.Equals(reader.GetString(), "same", StringComparison.OrdinalIgnoreCase) => ConvPadding.Same,
        JsonTokenType.String when string.Equals(reader.GetString(), "valid", StringComparison.OrdinalIgnoreCase) => ConvPadding.Valid,
        _ => throw new JsonException($"A convolution's padding is a number or \"same\"; got {reader.TokenType}."),
    };

    public override void Write(Utf8JsonWriter writer, ConvPadding value, JsonSerializerOptions options)
    {
        if (value.IsSame)
        {
            writer.WriteStringValue("same");
        }
        else
        {
            writer.WriteNumberValue(value.Size);
        }
    }
}
