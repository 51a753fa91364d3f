using System.Buffers;
using System.IO.Compression;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace DeepArch.MLNet;

/// <summary>
/// Reads the entries of a saved ML.NET model (a zip archive) as untrusted input, before ML.NET or ONNX Runtime sees any
/// of it: names must be of the shape ML.NET writes and unique, sizes within <see cref="ModelLoadOptions"/>' limits
/// (checked on the sizes the archive records before anything is decompressed, and again while decompressing), and each
/// entry's content must match the size and CRC-32 the archive records (.NET's <see cref="ZipArchive"/> does not check
/// CRCs, and ML.NET reads only the bytes it needs, so without this a damaged entry decompresses into different bytes and
/// loads silently).
/// </summary>
/// <remarks>
/// Entries are decompressed as a stream, a buffer at a time, and only the ones the caller keeps (ONNX models, the
/// manifest) are held in memory; an entry whose name ML.NET never writes is refused without being decompressed.
/// </remarks>
internal static partial class ModelArchive
{
    /// <summary>One entry: its name (with '/' separators), decompressed length, SHA-256 (lowercase hex) and, when kept, its content.</summary>
    public sealed record Entry(string Name, long Length, string Sha256, byte[]? Content);

    /// <summary>The entries of the archive in <paramref name="zip"/>, in archive order.</summary>
    /// <param name="zip">A seekable stream positioned at the archive's start; it is left open.</param>
    /// <param name="limits">The size limits.</param>
    /// <param name="keep">Which entries (by name) to return with their content.</param>
    /// <exception cref="InvalidDataException">The archive, or an entry in it, is damaged, unexpected or over a limit.</exception>
    public static IReadOnlyList<Entry> Read(Stream zip, ModelLoadOptions limits, Func<string, bool> keep)
    {
        ZipArchive? archive = null;
        IReadOnlyList<ZipArchiveEntry> archived;
        // Before the try below: too many entries is a limit, not damage.
        CheckEntryCount(zip, limits.MaxEntries);
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
            CheckNamesAndSizes(archived, limits);
            var entries = new List<Entry>(archived.Count);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                foreach (var entry in archived)
                {
                    string name = Normalize(entry.FullName);
                    try
                    {
                        entries.Add(ReadChecked(entry, name, keep(name), buffer));
                    }
                    catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException or ArgumentException)
                    {
                        throw new InvalidDataException($"Zip entry '{entry.FullName}' is damaged: {e.Message}", e);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            return entries;
        }
    }

    /// <summary>The end of central directory record's signature, and its size without the comment.</summary>
    private const uint EndRecordSignature = 0x06054b50;
    private const int EndRecordSize = 22;

    /// <summary>
    /// Refuses an archive of more than <paramref name="maxEntries"/> entries before .NET lists them (listing one costs about
    /// 1.7 KB). The count the end of central directory record gives (its ZIP64 form where ZipArchive would read that one: a
    /// count, offset or disk number at its 16- or 32-bit maximum) must be within the limit, and so must the headers themselves,
    /// counted from the directory's start as ZipArchive reads them (it lists every header it finds, whatever the record says),
    /// stopping at one over the limit. Offsets are absolute, as ZipArchive reads them; the stream's position is restored.
    /// </summary>
    /// <exception cref="InvalidDataException">Too many entries; the message names <see cref="ModelLoadOptions.MaxEntries"/>.</exception>
    private static void CheckEntryCount(Stream zip, int maxEntries)
    {
        long restore = zip.Position;
        try
        {
            long length = zip.Length;
            if (length < EndRecordSize)
            {
                return; // Not a zip: ZipArchive says so.
            }
            // The record sits at the end, before a comment of at most 65,535 bytes: the last one whose signature matches.
            int tail = (int)Math.Min(length, EndRecordSize + ushort.MaxValue);
            byte[] bytes = ReadAt(zip, length - tail, tail);
            int at = -1;
            for (int i = tail - EndRecordSize; i >= 0; i--)
            {
                if (BitConverter.ToUInt32(bytes, i) == EndRecordSignature)
                {
                    at = i;
                    break;
                }
            }
            if (at < 0)
            {
                return; // No end record: ZipArchive refuses the file.
            }
            long recordPosition = length - tail + at;
            long count = BitConverter.ToUInt16(bytes, at + 10);
            long directoryStart = BitConverter.ToUInt32(bytes, at + 16);
            if (BitConverter.ToUInt16(bytes, at + 4) == ushort.MaxValue || count == ushort.MaxValue || directoryStart == uint.MaxValue)
            {
                // ZIP64, as ZipArchive decides it: the locator right before the record points at the ZIP64 end record.
                if (recordPosition >= 20 && ReadAt(zip, recordPosition - 20, 20) is var locator && BitConverter.ToUInt32(locator, 0) == 0x07064b50
                    && BitConverter.ToInt64(locator, 8) is long zip64 && zip64 >= 0 && zip64 <= length - 56
                    && ReadAt(zip, zip64, 56) is var record && BitConverter.ToUInt32(record, 0) == 0x06064b50)
                {
                    count = BitConverter.ToInt64(record, 32);
                    directoryStart = BitConverter.ToInt64(record, 48);
                }
            }
            if (count < 0 || count > maxEntries)
            {
                throw TooManyEntries(count < 0 ? "a negative entry count" : $"{count:N0} entries", maxEntries);
            }
            long headers = 0;
            long position = directoryStart;
            while (position >= 0 && position <= length - CentralHeaderSize)
            {
                byte[] header = ReadAt(zip, position, CentralHeaderSize);
                if (BitConverter.ToUInt32(header, 0) != CentralHeaderSignature)
                {
                    break;
                }
                if (++headers > maxEntries)
                {
                    throw TooManyEntries($"more than {maxEntries:N0} entries in its central directory (its end record says {count:N0})", maxEntries);
                }
                position += CentralHeaderSize + BitConverter.ToUInt16(header, 28) + BitConverter.ToUInt16(header, 30) + BitConverter.ToUInt16(header, 32);
            }
        }
        finally
        {
            zip.Position = restore;
        }
    }

    /// <summary>A central directory header's signature and its size without the name, extra field and comment.</summary>
    private const uint CentralHeaderSignature = 0x02014b50;
    private const int CentralHeaderSize = 46;

    private static byte[] ReadAt(Stream stream, long position, int count)
    {
        byte[] bytes = new byte[count];
        stream.Position = position;
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static InvalidDataException TooManyEntries(string held, int maxEntries)
        => new($"The model file's zip archive holds {held}, more than ModelLoadOptions.MaxEntries ({maxEntries:N0}); ML.NET writes two or three " +
            "per transformer. Raise ModelLoadOptions.MaxEntries if the file is trusted.");

    /// <summary>An entry name with '/' separators: ML.NET reads names written with '\' by older versions as the same entry.</summary>
    public static string Normalize(string name) => name.Replace('\\', '/');

    /// <summary>
    /// Checks every name and the recorded sizes before anything is decompressed: no unknown or duplicate names, each
    /// entry within the compression ratio, all of them within the total.
    /// </summary>
    private static void CheckNamesAndSizes(IReadOnlyList<ZipArchiveEntry> archived, ModelLoadOptions limits)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        foreach (var entry in archived)
        {
            string name = Normalize(entry.FullName);
            if (!EntryName().IsMatch(name))
            {
                throw new InvalidDataException(
                    $"Zip entry '{ModelInfo.Quote(entry.FullName)}' is not part of an ML.NET model: ML.NET names its entries like 'TransformerChain/Transform_000/Model.key'.");
            }
            if (!names.Add(name))
            {
                throw new InvalidDataException($"Zip entry '{name}' appears twice: ML.NET would read only one of them.");
            }
            long allowed = checked(entry.CompressedLength * limits.MaxCompressionRatio + ModelLoadOptions.RatioFreeBytes);
            if (entry.Length > allowed)
            {
                throw new InvalidDataException(
                    $"Zip entry '{name}' expands from {entry.CompressedLength:N0} to {entry.Length:N0} bytes, more than ModelLoadOptions.MaxCompressionRatio " +
                    $"({limits.MaxCompressionRatio}) times its compressed size plus {ModelLoadOptions.RatioFreeBytes:N0} bytes allow: it looks like a zip bomb.");
            }
            total += entry.Length;
            if (total > limits.MaxUncompressedBytes)
            {
                throw new InvalidDataException(
                    $"The model's entries hold more than ModelLoadOptions.MaxUncompressedBytes ({limits.MaxUncompressedBytes:N0}) bytes once decompressed " +
                    $"(at entry '{name}'): raise the limit if you trust the file.");
            }
        }
    }

    /// <summary>
    /// Decompresses <paramref name="entry"/> a buffer at a time, never past the length the archive records, and checks its
    /// length and CRC-32; computes its SHA-256, and keeps the content when <paramref name="keep"/> says so.
    /// </summary>
    private static Entry ReadChecked(ZipArchiveEntry entry, string name, bool keep, byte[] buffer)
    {
        if (keep && entry.Length > Array.MaxLength)
        {
            throw new InvalidDataException($"it records {entry.Length:N0} bytes, more than one array can hold.");
        }
        using var stream = entry.Open();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[]? content = keep ? new byte[entry.Length] : null;
        var crc = new Crc32();
        long length = 0;
        int read;
        while ((read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, entry.Length - length + 1))) > 0)
        {
            if (length + read > entry.Length)
            {
                throw new InvalidDataException($"it holds more than the {entry.Length:N0} bytes the archive records.");
            }
            var chunk = buffer.AsSpan(0, read);
            if (content is not null)
            {
                chunk.CopyTo(content.AsSpan((int)length));
            }
            hash.AppendData(chunk);
            crc.Append(chunk);
            length += read;
        }
        if (length != entry.Length)
        {
            throw new InvalidDataException($"it holds {length:N0} bytes but the archive records {entry.Length:N0}.");
        }
        uint actual = crc.GetCurrentHashAsUInt32();
        if (actual != entry.Crc32)
        {
            throw new InvalidDataException($"its CRC-32 is {actual:x8} but the archive records {entry.Crc32:x8}.");
        }
        return new Entry(name, length, Convert.ToHexStringLower(hash.GetHashAndReset()), content);
    }

    /// <summary>The names ML.NET writes: path segments of letters, digits, '_', '.' and '-', none of them '.' or '..'.</summary>
    [GeneratedRegex(@"^(?!\.\.?(/|$))[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}(/(?!\.\.?(/|$))[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}){0,31}$")]
    private static partial Regex EntryName();


}
