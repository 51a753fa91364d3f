using System.IO.Compression;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers.Onnx.Proto;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace DeepArch.MLNet.Persistence;

/// <summary>
/// Loading models that contain DeepArch transformers.
/// </summary>
/// <remarks>
/// <para><c>mlContext.Model.Save</c> works as for any ML.NET model. To load:</para>
/// <list type="bullet">
/// <item><description><see cref="Load(MLContext, string, out DataViewSchema)"/> (recommended) returns the pipeline with
/// every DeepArch network restored as a batched <see cref="NetworkTransformer"/> (fast scoring, history, summary).</description></item>
/// <item><description>Plain <c>mlContext.Model.Load</c> works after <see cref="Register"/>; networks then score
/// through ML.NET's <c>OnnxTransformer</c>, one row per ONNX Runtime call, with the same values.</description></item>
/// </list>
/// Loading runs no code from the file: a saved DeepArch network is an ONNX graph plus JSON metadata.
/// </remarks>
public static class DeepArchModel
{
    /// <summary>
    /// Registers DeepArch's column conversions with <paramref name="mlContext"/>, so that plain
    /// <c>mlContext.Model.Load</c> can load models that contain DeepArch transformers.
    /// </summary>
    public static void Register(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(DeepArchModel).Assembly);
    }

    /// <summary>Loads a model saved with <c>mlContext.Model.Save</c>, restoring DeepArch networks as batched transformers.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable ML.NET model, or a network in it is damaged.</exception>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Load(mlContext, stream, out inputSchema);
    }

    /// <summary>Loads a model saved with <c>mlContext.Model.Save</c> from a stream.</summary>
    /// <exception cref="InvalidDataException">The stream is not a readable ML.NET model, or a network in it is damaged.</exception>
    public static ITransformer Load(MLContext mlContext, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(stream);
        Register(mlContext);
        var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        ITransformer model;
        List<byte[]> onnxModels;
        try
        {
            bytes.Position = 0;
            model = mlContext.Model.Load(bytes, out inputSchema);
            onnxModels = ReadOnnxEntries(bytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"The model could not be loaded: {e.Message}", e);
        }
        int next = 0;
        return Restore(model, onnxModels, ref next);
    }

    /// <summary>Loads a standalone ONNX file written by <see cref="NetworkTransformer.SaveOnnx(string)"/> back into a transformer.</summary>
    /// <exception cref="InvalidDataException">The file is not an ONNX model written by DeepArch.</exception>
    public static NetworkTransformer LoadOnnx(string path)
        => FromOnnx(File.ReadAllBytes(path)) ?? throw new InvalidDataException($"'{path}' is not an ONNX model written by DeepArch (it has no '{ModelInfo.MetadataKey}' metadata).");

    /// <summary>The transformer for an ONNX model written by DeepArch, or null when the model carries no DeepArch metadata.</summary>
    internal static NetworkTransformer? FromOnnx(byte[] onnx)
    {
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or InvalidOperationException)
        {
            throw new InvalidDataException($"The ONNX model is damaged: {e.Message}", e);
        }
        var entry = proto.MetadataProps.FirstOrDefault(p => p.Key == ModelInfo.MetadataKey);
        if (entry is null)
        {
            return null;
        }
        try
        {
            return new NetworkTransformer(onnx, ModelInfo.FromJson(entry.Value));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"The DeepArch network in the model is damaged: {e.Message}", e);
        }
    }

    /// <summary>
    /// Walks the loaded pipeline in save order. Each <c>OnnxTransformer</c> met is paired with the next
    /// ONNX entry of the zip (entries sort in save order); a chain that starts with one whose model
    /// carries DeepArch metadata is replaced by the batched transformer.
    /// </summary>
    private static ITransformer Restore(ITransformer transformer, List<byte[]> onnxModels, ref int next)
    {
        if (transformer is OnnxTransformer)
        {
            next++;
            return transformer;
        }
        if (transformer is not TransformerChain<ITransformer> chain)
        {
            return transformer;
        }
        var parts = chain.ToList();
        if (parts.Count > 0 && parts[0] is OnnxTransformer && next < onnxModels.Count && FromOnnx(onnxModels[next]) is { } network)
        {
            next++;
            return network;
        }
        var restored = new ITransformer[parts.Count];
        for (int i = 0; i < parts.Count; i++)
        {
            restored[i] = Restore(parts[i], onnxModels, ref next);
        }
        return new TransformerChain<ITransformer>(restored);
    }

    /// <summary>The ONNX models stored by OnnxTransformers, in save order (each entry is a length-prefixed byte array).</summary>
    private static List<byte[]> ReadOnnxEntries(Stream zipStream)
    {
        zipStream.Position = 0;
        using var zip = new ZipArchive(zipStream, ZipArchiveMode.Read, leaveOpen: true);
        var models = new List<byte[]>();
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel").OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            using var reader = new BinaryReader(entry.Open());
            int length = reader.ReadInt32();
            if (length < 0 || length != entry.Length - sizeof(int))
            {
                throw new InvalidDataException($"Zip entry '{entry.FullName}' declares {length} bytes but holds {entry.Length - sizeof(int)}.");
            }
            models.Add(reader.ReadBytes(length));
        }
        return models;
    }
}
