using System.Text.Json;

namespace DeepArch.MLNet;

/// <summary>
/// Counts the tokens of a JSON document read from a model file before it is deserialized, allocating nothing: a deserializer
/// builds an object per value, and a document of empty objects (<c>[{},{},...]</c>) takes tens of times its size in memory
/// (an outside probe loaded a 1 MB zip whose 99 MB manifest of <c>{}</c> took 1.9 GB).
/// </summary>
internal static class JsonBudget
{
    /// <summary>Throws unless <paramref name="utf8"/> is JSON of at most <paramref name="maxTokens"/> tokens, nested at most <paramref name="maxDepth"/> deep.</summary>
    /// <param name="utf8">The document.</param>
    /// <param name="maxTokens">The most tokens (each value, property name, start and end of an object or array) it may hold.</param>
    /// <param name="maxDepth">How deep it may nest.</param>
    /// <param name="what">What the message calls the document, for example "The model's manifest".</param>
    /// <param name="why">What the limit allows, for the message, for example "the 3 entries it lists".</param>
    /// <exception cref="InvalidDataException">The document is not JSON, or is over a limit.</exception>
    public static void Check(ReadOnlySpan<byte> utf8, long maxTokens, int maxDepth, string what, string why)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        long tokens = 0;
        try
        {
            while (reader.Read())
            {
                if (++tokens > maxTokens)
                {
                    throw new InvalidDataException($"{what} is refused: it holds more than {maxTokens:N0} JSON tokens, more than {why} take.");
                }
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{what} is damaged: {e.Message}", e);
        }
    }
}
