using DeepArch.MLNet.Scoring;
using DeepArch.Trainers.Networks;
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
/// <see cref="Load(MLContext, Stream, out DataViewSchema)"/> and <see cref="LoadOnnx"/> also check the file's integrity
/// before ONNX Runtime parses it; plain <c>mlContext.Model.Load</c> does not.
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
    /// <remarks>
    /// Before ML.NET or ONNX Runtime parse anything, every zip entry is checked against its recorded size
    /// and CRC-32, and every ONNX model written by DeepArch against its SHA-256 (<see cref="MetadataKeys.Integrity"/>);
    /// after loading, the pipeline must accept the input schema saved with it.
    /// </remarks>
    /// <exception cref="InvalidDataException">The stream is not a readable ML.NET model, or a network in it is damaged.</exception>
    public static ITransformer Load(MLContext mlContext, Stream stream, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(stream);
        Register(mlContext);
        var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        bytes.Position = 0;
        var onnxModels = ReadOnnxEntries(ModelArchive.Read(bytes));
        ITransformer model;
        try
        {
            bytes.Position = 0;
            model = mlContext.Model.Load(bytes, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"The model could not be loaded: {Describe(e)}", e);
        }
        ITransformer? restored = null;
        try
        {
            int next = 0;
            restored = Restore(model, onnxModels, ref next);
            CheckInputSchema(restored, inputSchema);
            return restored;
        }
        catch
        {
            (restored as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Loads a standalone ONNX file written by <see cref="NetworkTransformer.SaveOnnx(string)"/> back into a transformer.</summary>
    /// <remarks>The file's SHA-256 (<see cref="MetadataKeys.Integrity"/>) is verified before ONNX Runtime parses it.</remarks>
    /// <exception cref="InvalidDataException">The file is not an ONNX model written by DeepArch, or it is damaged.</exception>
    public static NetworkTransformer LoadOnnx(string path)
        => FromOnnx(File.ReadAllBytes(path)) ?? throw new InvalidDataException($"'{path}' is not an ONNX model written by DeepArch (it has no '{ModelInfo.MetadataKey}' metadata).");

    /// <summary>
    /// The transformer for an ONNX model written by DeepArch, or null when the model carries no DeepArch
    /// metadata. A model that claims to be DeepArch's must pass its integrity check first.
    /// </summary>
    internal static NetworkTransformer? FromOnnx(byte[] onnx)
    {
        var proto = ParseVerified(onnx, "The ONNX model");
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
            throw new InvalidDataException($"The DeepArch network in the model is damaged: {Describe(e)}", e);
        }
    }

    /// <summary>Parses <paramref name="onnx"/> and, when it claims to be written by DeepArch, verifies its integrity entry.</summary>
    private static ModelProto ParseVerified(byte[] onnx, string what)
    {
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or InvalidOperationException)
        {
            throw new InvalidDataException($"{what} is damaged: {e.Message}", e);
        }
        if (OnnxIntegrity.ClaimsDeepArch(proto))
        {
            try
            {
                OnnxIntegrity.Verify(onnx);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{what} was written by DeepArch but is damaged: {e.Message}", e);
            }
        }
        return proto;
    }

    /// <summary>The loaded pipeline must accept the input schema it was saved with (a network swapped for another one would not).</summary>
    private static void CheckInputSchema(ITransformer model, DataViewSchema? inputSchema)
    {
        if (inputSchema is null)
        {
            return;
        }
        try
        {
            model.GetOutputSchema(inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"The model does not accept the input schema saved with it: {Describe(e)}", e);
        }
    }

    /// <summary>The messages of <paramref name="e"/> and its inner exceptions, without reflection's wrapper messages.</summary>
    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (Exception? current = e; current is not null && messages.Count < 4; current = current.InnerException)
        {
            if (current is not System.Reflection.TargetInvocationException && !messages.Contains(current.Message))
            {
                messages.Add(current.Message.TrimEnd('.'));
            }
        }
        return string.Join(": ", messages) + ".";
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
            chain.Dispose(); // the OnnxTransformer's session is not needed any more
            return network;
        }
        var restored = new ITransformer[parts.Count];
        for (int i = 0; i < parts.Count; i++)
        {
            restored[i] = Restore(parts[i], onnxModels, ref next);
        }
        return new TransformerChain<ITransformer>(restored);
    }

    /// <summary>
    /// The ONNX models stored by OnnxTransformers, in save order (each entry is a length-prefixed byte
    /// array), each parsed and, when written by DeepArch, verified. Any entry whose name ends with
    /// <c>OnnxModel</c> is checked, so a damaged name cannot let a damaged model through unchecked.
    /// </summary>
    private static List<byte[]> ReadOnnxEntries(IReadOnlyList<ModelArchive.Entry> entries)
    {
        var models = new List<(string Name, byte[] Model)>();
        foreach (var entry in entries.Where(e => e.FullName.EndsWith("OnnxModel", StringComparison.Ordinal)))
        {
            byte[] content = entry.Content;
            int length = content.Length >= sizeof(int) ? BitConverter.ToInt32(content, 0) : -1;
            if (length < 0 || length != content.Length - sizeof(int))
            {
                throw new InvalidDataException($"Zip entry '{entry.FullName}' declares {length} bytes of ONNX model but holds {content.Length - sizeof(int)}.");
            }
            byte[] model = content[sizeof(int)..];
            ParseVerified(model, $"The ONNX model in zip entry '{entry.FullName}'");
            if (entry.FullName.Split('/', '\\')[^1] == "OnnxModel")
            {
                models.Add((entry.FullName, model));
            }
        }
        return models.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m => m.Model).ToList();
    }
}
