using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace DeepArch.MLNet;

/// <summary>
/// The seal of a whole model file: one zip entry, written by <see cref="DeepArchModel"/>'s <c>Save</c> after ML.NET's
/// own, that lists every other entry with its length and SHA-256, and, when a signing key is given, an HMAC-SHA256 of
/// that list under the key. It binds every part of the model to every other (networks, column names, sizes, tasks and
/// the ML.NET transforms around them): no entry can be changed, swapped, added or removed without the check failing.
/// ML.NET's loader never opens the entry, so the file stays an ordinary ML.NET model.
/// </summary>
internal static class ModelManifest
{
    /// <summary>The manifest's entry name.</summary>
    public const string EntryName = "DeepArch/Manifest.json";

    private const int Format = 1;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, MaxDepth = 8 };

    private sealed record Document(int Format, List<Item> Entries, string? HmacSha256);

    private sealed record Item(string Name, long Length, string Sha256);

    /// <summary>The manifest of <paramref name="entries"/> (the manifest itself excluded), signed with <paramref name="key"/> when one is given.</summary>
    public static byte[] Create(IEnumerable<ModelArchive.Entry> entries, byte[]? key)
    {
        var items = entries.Where(e => e.Name != EntryName).Select(e => new Item(e.Name, e.Length, e.Sha256)).OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
        string? mac = key is null ? null : Convert.ToHexStringLower(HMACSHA256.HashData(key, Canonical(items)));
        return JsonSerializer.SerializeToUtf8Bytes(new Document(Format, items, mac), Json);
    }

    /// <summary>
    /// Checks <paramref name="entries"/> against their manifest, when the file has one. With a <paramref name="key"/>, the
    /// manifest must be there and signed with that key.
    /// </summary>
    /// <exception cref="InvalidDataException">An entry differs from the manifest, or the signature is missing or does not match the key.</exception>
    public static void Verify(IReadOnlyList<ModelArchive.Entry> entries, byte[]? key)
    {
        var manifest = entries.FirstOrDefault(e => e.Name == EntryName);
        if (manifest is null)
        {
            if (key is not null)
            {
                throw new InvalidDataException(
                    $"The model is not signed (it has no '{EntryName}' entry), but ModelLoadOptions.SigningKey is set: save it with DeepArchModel.Save and ModelSaveOptions.SigningKey.");
            }
            return;
        }
        // Eight tokens per entry it can list (the others in the file), and the document's own.
        int listed = entries.Count - 1;
        JsonBudget.Check(manifest.Content, MaxTokens(listed), Json.MaxDepth, $"The model's manifest ('{EntryName}')", $"the {listed:N0} entries it can list");
        Document document;
        try
        {
            document = JsonSerializer.Deserialize<Document>(manifest.Content, Json) ?? throw new JsonException("it is empty");
            if (document.Format != Format || document.Entries is null || document.Entries.Any(i => i?.Name is null || i.Sha256 is null))
            {
                throw new JsonException($"it has format {document.Format}, or lacks entries; this DeepArch reads format {Format}");
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The model's manifest ('{EntryName}') is damaged: {e.Message}", e);
        }
        if (key is not null)
        {
            string expected = Convert.ToHexStringLower(HMACSHA256.HashData(key, Canonical(document.Entries)));
            if (document.HmacSha256 is null)
            {
                throw new InvalidDataException("The model is not signed (its manifest holds no signature), but ModelLoadOptions.SigningKey is set.");
            }
            if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(document.HmacSha256)))
            {
                throw new InvalidDataException("The model's signature does not match ModelLoadOptions.SigningKey: it was signed with another key, or changed after it was signed.");
            }
        }
        var items = new Dictionary<string, Item>(StringComparer.Ordinal);
        foreach (var item in document.Entries)
        {
            if (!items.TryAdd(item.Name, item))
            {
                throw new InvalidDataException($"The model's manifest lists entry '{item.Name}' twice.");
            }
        }
        foreach (var entry in entries.Where(e => e.Name != EntryName))
        {
            if (!items.Remove(entry.Name, out var item))
            {
                throw new InvalidDataException($"Zip entry '{entry.Name}' is not in the model's manifest: it was added after the model was saved.");
            }
            if (item.Length != entry.Length || item.Sha256 != entry.Sha256)
            {
                throw new InvalidDataException(
                    $"Zip entry '{entry.Name}' differs from the model's manifest (SHA-256 {entry.Sha256}, manifest {item.Sha256}): it was changed or swapped after the model was saved.");
            }
        }
        if (items.Count > 0)
        {
            throw new InvalidDataException($"Zip entry '{items.Keys.Order(StringComparer.Ordinal).First()}' of the model's manifest is missing: it was removed after the model was saved.");
        }
    }

    /// <summary>The most JSON tokens a manifest of <paramref name="entries"/> entries holds as <see cref="Create"/> writes it: 8 per entry (its object and three properties) and 9 for the document.</summary>
    internal static long MaxTokens(int entries) => 9 + 8L * entries;

    /// <summary>The bytes the signature covers: the format and every entry's name, length and SHA-256, one per line, in name order.</summary>
    private static byte[] Canonical(IEnumerable<Item> items)
    {
        var text = new StringBuilder($"deeparch.manifest {Format}\n");
        foreach (var item in items.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            text.Append(item.Name).Append('\n').Append(item.Length.ToString(CultureInfo.InvariantCulture)).Append('\n').Append(item.Sha256).Append('\n');
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
