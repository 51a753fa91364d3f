using System.IO.Compression;

namespace DeepArch.MLNet.Persistence;

/// <summary>
/// Reads every entry of a saved ML.NET model (a zip archive) and checks it against the sizes and CRC-32
/// the archive records. .NET's <see cref="ZipArchive"/> does not check CRCs, and ML.NET reads only the
/// bytes it needs, so without this a damaged entry decompresses into different bytes and loads silently.
/// </summary>
internal static class ModelArchive
{
    /// <summary>One entry's full name and checked content.</summary>
    public sealed record Entry(string FullName, byte[] Content);

    /// <summary>The entries of the archive in <paramref name="zip"/>, in archive order.</summary>
    /// <exception cref="InvalidDataException">The archive, or an entry in it, is damaged.</exception>
    public static IReadOnlyList<Entry> Read(Stream zip)
    {
        ZipArchive? archive = null;
        IReadOnlyList<ZipArchiveEntry> archived;
        try
        {
            archive = new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
            archived = archive.Entries;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException or ArgumentException)
        {
            archive?.Dispose();
            throw new InvalidDataException($"The model file is not an intact zip archive: {e.Message}", e);
        }
        using (archive)
        {
            var entries = new List<Entry>();
            foreach (var entry in archived)
            {
                try
                {
                    entries.Add(new Entry(entry.FullName, ReadChecked(entry)));
                }
                catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException or ArgumentException)
                {
                    throw new InvalidDataException($"Zip entry '{entry.FullName}' is damaged: {e.Message}", e);
                }
            }
            return entries;
        }
    }

    /// <summary>The content of <paramref name="entry"/>, checked against its recorded size and CRC-32.</summary>
    private static byte[] ReadChecked(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var content = new MemoryStream((int)Math.Min(entry.Length, 1 << 20));
        byte[] buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            if (content.Length + read > entry.Length)
            {
                throw new InvalidDataException($"it holds more than the {entry.Length} bytes the archive records.");
            }
            content.Write(buffer, 0, read);
        }
        if (content.Length != entry.Length)
        {
            throw new InvalidDataException($"it holds {content.Length} bytes but the archive records {entry.Length}.");
        }
        byte[] bytes = content.ToArray();
        uint crc = Crc32(bytes);
        if (crc != entry.Crc32)
        {
            throw new InvalidDataException($"its CRC-32 is {crc:x8} but the archive records {entry.Crc32:x8}.");
        }
        return bytes;
    }

    private static readonly uint[] Crc32Table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c;
    }).ToArray();

    /// <summary>The CRC-32 zip uses (IEEE 802.3, reflected polynomial 0xEDB88320).</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc = Crc32Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return ~crc;
    }
}
