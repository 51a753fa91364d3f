using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>Saved models as bytes, and the surgery the damaged-model tests do on them.</summary>
public static class ModelFiles
{
    /// <summary>The name ML.NET gives the ONNX entry of the first transformer of a saved network's chain.</summary>
    public const string OnnxEntry = "TransformerChain/Transform_000/OnnxModel";

    /// <summary>A trained network saved with <c>mlContext.Model.Save</c> and a feature-only input schema.</summary>
    public static byte[] Save(MLContext ml, ITransformer model)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = new float[6] } }).Schema, stream);
        return stream.ToArray();
    }

    /// <summary>The entries of a zip, in order.</summary>
    public static List<(string Name, byte[] Content)> Entries(byte[] zip)
    {
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        return archive.Entries.Select(e =>
        {
            using var stream = e.Open();
            using var content = new MemoryStream();
            stream.CopyTo(content);
            return (e.FullName, content.ToArray());
        }).ToList();
    }

    /// <summary>A fresh zip of <paramref name="entries"/>, in order (so sizes and CRCs match the content).</summary>
    public static byte[] Zip(IEnumerable<(string Name, byte[] Content)> entries)
    {
        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                using var stream = archive.CreateEntry(name, CompressionLevel.Fastest).Open();
                stream.Write(content);
            }
        }
        return output.ToArray();
    }

    /// <summary>The ONNX model stored in the entry content ML.NET writes (a 4-byte length, then the bytes).</summary>
    public static byte[] OnnxOf(byte[] entryContent) => entryContent[sizeof(int)..];

    /// <summary>The entry content ML.NET writes for an ONNX model.</summary>
    public static byte[] EntryOf(byte[] onnx) => [.. BitConverter.GetBytes(onnx.Length), .. onnx];

    /// <summary><paramref name="zip"/> rezipped with its ONNX model replaced by <paramref name="change"/>(model).</summary>
    public static byte[] WithOnnx(byte[] zip, Func<byte[], byte[]> change)
        => Zip(Entries(zip).Select(e => e.Name == OnnxEntry ? (e.Name, EntryOf(change(OnnxOf(e.Content)))) : e));

    /// <summary>The offset in <paramref name="zip"/> of the first byte of the ONNX entry's compressed data (from its local header).</summary>
    public static int OnnxDataOffset(byte[] zip)
    {
        byte[] name = Encoding.ASCII.GetBytes(OnnxEntry);
        int nameAt = zip.AsSpan().IndexOf(name);
        int header = nameAt - 30;
        if (nameAt < 30 || BitConverter.ToUInt32(zip, header) != 0x04034b50)
        {
            throw new InvalidOperationException("The ONNX entry's local header was not found.");
        }
        return nameAt + BitConverter.ToUInt16(zip, header + 26) + BitConverter.ToUInt16(zip, header + 28);
    }

    /// <summary>The offset in an ONNX model of the raw weight bytes of its first initializer.</summary>
    public static int FirstWeightOffset(byte[] onnx)
    {
        var graph = DeepArch.Trainers.Onnx.Proto.ModelProto.Parser.ParseFrom(onnx).Graph;
        byte[] weights = graph.Initializer.First(t => t.RawData.Length >= 16).RawData.ToByteArray();
        return onnx.AsSpan().IndexOf(weights.AsSpan(0, 16));
    }
}
