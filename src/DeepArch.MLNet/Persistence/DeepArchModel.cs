using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;

namespace DeepArch.MLNet;

/// <summary>
/// Saving and loading models that contain DeepArch transformers, with a model file treated as untrusted input.
/// </summary>
/// <remarks>
/// <para>To save, <c>mlContext.Model.Save</c> works as for any ML.NET model; <see cref="Save(MLContext, ITransformer, DataViewSchema, Stream, ModelSaveOptions?)"/>
/// also writes a manifest that binds every part of the model to the others, signed when given a key. To load:</para>
/// <list type="bullet">
/// <item><description><see cref="Load(MLContext, string, out DataViewSchema)"/> (recommended) checks the whole file before ML.NET or
/// ONNX Runtime parse any of it, and returns the pipeline with every DeepArch network restored as a batched
/// <see cref="NetworkTransformer"/> (fast scoring, history, summary).</description></item>
/// <item><description>Plain <c>mlContext.Model.Load</c> works after <see cref="Register"/>; networks then score through ML.NET's
/// <c>OnnxTransformer</c>, one row per ONNX Runtime call, with the same values. ML.NET opens every ONNX model of the file
/// with ONNX Runtime itself, so none of DeepArch's checks run on that path; <see cref="Register"/> only makes ML.NET's
/// temporary copies private.</description></item>
/// </list>
/// README's security note says what the checks promise and what they do not.
/// </remarks>
public static class DeepArchModel
{
    /// <summary>
    /// Registers DeepArch's column conversions with <paramref name="mlContext"/>, so that plain <c>mlContext.Model.Load</c>
    /// can load models that contain DeepArch transformers, and points the context's <see cref="MLContext.TempFilePath"/> at
    /// a private folder of its own: ML.NET writes each ONNX model it loads there, and ONNX Runtime resolves a model's
    /// external data beside it, so a crafted model could otherwise read the files around it in a shared temporary folder.
    /// </summary>
    public static void Register(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(DeepArchModel).Assembly);
        PrivateTempFolder.Apply(mlContext);
    }

    /// <summary>Saves <paramref name="model"/> as <c>mlContext.Model.Save</c> does, plus a manifest of every entry (signed when <paramref name="options"/> give a key).</summary>
    /// <remarks>The file is an ordinary ML.NET model: <c>mlContext.Model.Load</c> reads it, and <see cref="Load(MLContext, Stream, out DataViewSchema, ModelLoadOptions)"/> checks the manifest.</remarks>
    public static void Save(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, string path, ModelSaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.Create(path);
        Save(mlContext, model, inputSchema, stream, options);
    }

    /// <summary>Saves <paramref name="model"/> to <paramref name="stream"/> as <c>mlContext.Model.Save</c> does, plus a manifest of every entry (signed when <paramref name="options"/> give a key).</summary>
    public static void Save(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, Stream stream, ModelSaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new ModelSaveOptions();
        options.Validate();
        if (inputSchema is not null)
        {
            // Load checks that the model reads the schema saved with it; a file that saves and then never loads is caught here instead.
            try
            {
                model.GetOutputSchema(inputSchema);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                throw new ArgumentException(
                    $"The model cannot read inputSchema, so the file could not be loaded: {Describe(e)} Pass the schema of the data the model transforms " +
                    "(for a generator of GenerateByAdversarialNetwork, the noise rows' schema, not its training data's), or null.", nameof(inputSchema), e);
            }
        }
        using var saved = new MemoryStream();
        mlContext.Model.Save(model, inputSchema, saved);
        saved.Position = 0;
        var unlimited = new ModelLoadOptions { MaxUncompressedBytes = long.MaxValue, MaxCompressionRatio = int.MaxValue / 2, MaxEntries = int.MaxValue };
        byte[] manifest = ModelManifest.Create(ModelArchive.Read(saved, unlimited, _ => false), options.SigningKey);
        using (var archive = new System.IO.Compression.ZipArchive(saved, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            using var entry = archive.CreateEntry(ModelManifest.EntryName, System.IO.Compression.CompressionLevel.Optimal).Open();
            entry.Write(manifest);
        }
        saved.Position = 0;
        saved.CopyTo(stream);
    }

    /// <summary>Loads a model saved with <c>mlContext.Model.Save</c>, restoring DeepArch networks as batched transformers.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable ML.NET model, or something in it is damaged or refused; the message says what.</exception>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
        => Load(mlContext, path, out inputSchema, new ModelLoadOptions());

    /// <summary>Loads a model with <paramref name="options"/>' signing key and limits.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable ML.NET model, or something in it is damaged or refused; the message says what.</exception>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Load(mlContext, stream, out inputSchema, options);
    }

    /// <summary>Loads a model saved with <c>mlContext.Model.Save</c> from a stream.</summary>
    /// <exception cref="InvalidDataException">The stream is not a readable ML.NET model, or something in it is damaged or refused; the message says what.</exception>
    public static ITransformer Load(MLContext mlContext, Stream stream, out DataViewSchema inputSchema)
        => Load(mlContext, stream, out inputSchema, new ModelLoadOptions());

    /// <summary>Loads a model from a stream with <paramref name="options"/>' signing key and limits.</summary>
    /// <remarks>
    /// Before ML.NET or ONNX Runtime parse anything: every zip entry's name must be one ML.NET writes and appear once, its
    /// size within the limits of <paramref name="options"/> (checked on the sizes the archive records, then while
    /// decompressing), and its content must match the archive's size and CRC-32; the manifest, when the file has one (or a
    /// key is given), must list every entry with its SHA-256 and carry the key's signature; every ONNX model must be a
    /// DeepArch network that passes its integrity seal, a structural check (no external data, only the operators DeepArch
    /// exports, shapes that match their data) and bounds on every value of its metadata. Then ML.NET loads the pipeline
    /// (its temporary files in a private folder), each network's saved chain must be the one written for that network,
    /// and the pipeline must accept the input schema saved with it.
    /// </remarks>
    /// <exception cref="InvalidDataException">The stream is not a readable ML.NET model, or something in it is damaged or refused; the message says what.</exception>
    public static ITransformer Load(MLContext mlContext, Stream stream, out DataViewSchema inputSchema, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Register(mlContext);
        using var source = ReadableCopy(stream, options.MaxUncompressedBytes);
        long start = source.Position;
        var entries = ModelArchive.Read(source, options, name => IsOnnxEntry(name) || name == ModelManifest.EntryName);
        ModelManifest.Verify(entries, options.SigningKey);
        var networks = new Dictionary<string, (byte[] Onnx, ModelInfo Info)>(StringComparer.Ordinal);
        foreach (var entry in entries.Where(e => IsOnnxEntry(e.Name)))
        {
            byte[] onnx = OnnxOf(entry);
            networks[entry.Name[..^"/OnnxModel".Length]] = (onnx, NetworkFile.Open(onnx, null, $"The ONNX model in zip entry '{entry.Name}'"));
        }
        ITransformer model;
        try
        {
            source.Position = start;
            model = mlContext.Model.Load(source, out inputSchema);
        }
        catch (Exception e)
        {
            // OutOfMemoryException included: ML.NET sizes arrays from counts in its entries, and one that cannot be allocated is damage.
            throw new InvalidDataException($"The model could not be loaded: {Describe(e)}", e);
        }
        var created = new List<NetworkTransformer>();
        ITransformer? restored = null;
        try
        {
            using var log = ((Microsoft.ML.Runtime.IHostEnvironment)mlContext).Start(nameof(DeepArchModel));
            restored = Restore(model, RootDirectory, networks, created, info => info with { Scoring = options.ScoringFor(info.Scoring) },
                message => log.Warning(Microsoft.ML.Runtime.MessageSensitivity.None, message));
            CheckInputSchema(restored, inputSchema);
            return restored;
        }
        catch
        {
            foreach (var network in created)
            {
                network.Dispose();
            }
            (restored as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>Loads a standalone ONNX file written by <see cref="NetworkTransformer.SaveOnnx(string)"/> back into a transformer.</summary>
    /// <remarks>The file is checked before ONNX Runtime parses it: its integrity seal, its structure and its metadata, as by <see cref="Load(MLContext, Stream, out DataViewSchema, ModelLoadOptions)"/>.</remarks>
    /// <exception cref="InvalidDataException">The file is not an ONNX model written by DeepArch, or it is damaged or refused.</exception>
    public static NetworkTransformer LoadOnnx(string path) => LoadOnnx(path, new ModelLoadOptions());

    /// <summary>Loads a standalone ONNX file with <paramref name="options"/>' signing key (see <see cref="NetworkTransformer.SaveOnnx(Stream, byte[])"/>), size limit and scoring overrides.</summary>
    /// <remarks>A fallback from CUDA to the CPU is silent here (<see cref="NetworkTransformer.ScoringDevice"/> says where it scores); <see cref="LoadOnnx(MLContext, string, ModelLoadOptions?)"/> writes it to <c>mlContext.Log</c>.</remarks>
    /// <exception cref="InvalidDataException">The file is not an ONNX model written by DeepArch, is damaged, refused, larger than the limit, or not signed with the key.</exception>
    public static NetworkTransformer LoadOnnx(string path, ModelLoadOptions options) => LoadOnnx(path, options, warn: null);

    /// <summary>Loads a standalone ONNX file as <see cref="LoadOnnx(string, ModelLoadOptions)"/> does, writing a fallback from CUDA to the CPU to <c>mlContext.Log</c> as a warning.</summary>
    /// <exception cref="InvalidDataException">The file is not an ONNX model written by DeepArch, is damaged, refused, larger than the limit, or not signed with the key.</exception>
    public static NetworkTransformer LoadOnnx(MLContext mlContext, string path, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        using var log = ((Microsoft.ML.Runtime.IHostEnvironment)mlContext).Start(nameof(DeepArchModel));
        return LoadOnnx(path, options ?? new ModelLoadOptions(), message => log.Warning(Microsoft.ML.Runtime.MessageSensitivity.None, message));
    }

    private static NetworkTransformer LoadOnnx(string path, ModelLoadOptions options, Action<string>? warn)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var stream = File.OpenRead(path);
        return FromOnnx(ReadBounded(stream, options.MaxUncompressedBytes), options.SigningKey, options, warn);
    }

    /// <summary>The transformer for an ONNX model written by DeepArch, checked first (<see cref="NetworkFile"/>), scored as <paramref name="options"/> say (by default: as the file says, falling back to the CPU where CUDA is not usable).</summary>
    internal static NetworkTransformer FromOnnx(byte[] onnx, byte[]? signingKey = null, ModelLoadOptions? options = null, Action<string>? warn = null)
    {
        var info = NetworkFile.Open(onnx, signingKey, "The ONNX model");
        info = info with { Scoring = (options ?? new ModelLoadOptions()).ScoringFor(info.Scoring) };
        try
        {
            return new NetworkTransformer(onnx, info, warn);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not InvalidDataException and not ExecutionProviderUnavailableException)
        {
            throw new InvalidDataException($"The DeepArch network in the model is damaged: {Describe(e)}", e);
        }
    }

    /// <summary>
    /// Writes the DeepArch network of <paramref name="model"/> (a <see cref="NetworkTransformer"/>, or a pipeline holding exactly
    /// one) as a serving bundle into <paramref name="modelDirectory"/>: see <see cref="NetworkTransformer.SaveForServing(string)"/>.
    /// The bundle's README names the pipeline's transforms before the network, which a client of the bundle applies itself.
    /// </summary>
    /// <exception cref="ArgumentException">The model holds no DeepArch network or more than one, or the directory's name cannot be a Triton model name.</exception>
    public static void SaveForServing(ITransformer model, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(model);
        var parts = Flatten(model).ToList();
        var networks = parts.OfType<NetworkTransformer>().ToList();
        if (networks.Count != 1)
        {
            throw new ArgumentException(
                $"SaveForServing writes one network; the model holds {networks.Count} DeepArch networks. Pass the NetworkTransformer to serve " +
                "(for example from the chain's LastTransformer)" +
                (networks.Count == 0 ? "; a model loaded with a plain mlContext.Model.Load holds its networks as OnnxTransformers: load it with DeepArchModel.Load." : "."),
                nameof(model));
        }
        var upstream = parts.TakeWhile(p => p is not NetworkTransformer).Select(p => p.GetType().Name).ToList();
        ServingBundle.Write(networks[0], modelDirectory, upstream);
    }

    /// <summary>The transformers of <paramref name="model"/> in order, chains opened.</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer model)
        => model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [model];

    /// <summary>The directory ML.NET saves a model's root transformer in.</summary>
    private const string RootDirectory = "TransformerChain";

    private static bool IsOnnxEntry(string name) => name == "OnnxModel" || name.EndsWith("/OnnxModel", StringComparison.Ordinal);

    /// <summary>The ONNX model stored in an <c>OnnxModel</c> entry (ML.NET writes a 4-byte length, then the bytes).</summary>
    private static byte[] OnnxOf(ModelArchive.Entry entry)
    {
        byte[] content = entry.Content!;
        int length = content.Length >= sizeof(int) ? BitConverter.ToInt32(content, 0) : -1;
        if (length < 0 || length != content.Length - sizeof(int))
        {
            throw new InvalidDataException($"Zip entry '{entry.Name}' declares {length} bytes of ONNX model but holds {content.Length - sizeof(int)}.");
        }
        return content[sizeof(int)..];
    }

    /// <summary>
    /// A seekable stream over <paramref name="stream"/>'s bytes: a copy in memory (so that nothing changes them between the
    /// checks and the loading), read at most <paramref name="limit"/> bytes far, so that a stream without end cannot exhaust memory.
    /// </summary>
    private static MemoryStream ReadableCopy(Stream stream, long limit)
    {
        if (stream.CanSeek)
        {
            return new(ReadBounded(stream, limit), writable: false);
        }
        // Read-only over the grown buffer itself: no second copy of the model.
        var grown = ReadGrowing(stream, limit);
        return grown.TryGetBuffer(out var bytes) ? new(bytes.Array!, bytes.Offset, bytes.Count, writable: false) : new(grown.ToArray(), writable: false);
    }

    /// <summary>
    /// <paramref name="stream"/>'s bytes from its position, at most <paramref name="limit"/> of them and never more than one array
    /// holds. A seekable stream is read into one array of its length (no growing copy, which took twice the file's size at its peak).
    /// </summary>
    private static byte[] ReadBounded(Stream stream, long limit)
    {
        if (stream.CanSeek)
        {
            long length = stream.Length - stream.Position;
            CheckLength(length, limit, "file");
            byte[] bytes = new byte[length];
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"The model file ended before the {length:N0} bytes it measured when loading began: it changed while it was read.", e);
            }
            return bytes;
        }
        return ReadGrowing(stream, limit).ToArray();
    }

    /// <summary><paramref name="stream"/>'s bytes from its position into a buffer that grows, for a stream that cannot say its length.</summary>
    private static MemoryStream ReadGrowing(Stream stream, long limit)
    {
        var copy = new MemoryStream();
        byte[] buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            CheckLength(copy.Length + read, limit, "stream");
            copy.Write(buffer, 0, read);
        }
        return copy;
    }

    private static void CheckLength(long length, long limit, string what)
    {
        if (length > limit)
        {
            throw new InvalidDataException(what == "file"
                ? $"The model file holds {length:N0} bytes, more than ModelLoadOptions.MaxUncompressedBytes ({limit:N0}): raise the limit if you trust the file."
                : $"The model stream holds more than ModelLoadOptions.MaxUncompressedBytes ({limit:N0}) bytes: raise the limit if you trust it.");
        }
        if (length > Array.MaxLength)
        {
            throw new InvalidDataException(
                $"The model {what} holds more than one array can ({Array.MaxLength:N0} bytes): a model of 2 GiB or more cannot be read, whatever ModelLoadOptions.MaxUncompressedBytes allows.");
        }
    }

    /// <summary>
    /// Walks the loaded pipeline, knowing the directory ML.NET saved each transformer in (a chain's i-th transformer in
    /// <c>Transform_{i:000}</c> under the chain's). A chain whose first transformer is an <c>OnnxTransformer</c> over a
    /// checked DeepArch network is that network's saved stand-in: it must be bound to that network, and is replaced by the
    /// batched transformer.
    /// </summary>
    private static ITransformer Restore(ITransformer transformer, string directory,
        IReadOnlyDictionary<string, (byte[] Onnx, ModelInfo Info)> networks, List<NetworkTransformer> created,
        Func<ModelInfo, ModelInfo> placed, Action<string> warn)
    {
        if (transformer is not TransformerChain<ITransformer> chain)
        {
            return transformer;
        }
        var parts = chain.ToList();
        int onnx = parts.FindIndex(p => p is OnnxTransformer);
        if (onnx >= 0 && networks.TryGetValue($"{directory}/Transform_{onnx:000}", out var network) && onnx == PersistedChain.HeadLength(network.Info))
        {
            PersistedChain.CheckBinding(chain, network.Onnx, network.Info, $"{directory}/Transform_{onnx:000}/OnnxModel");
            // The network as exported: without the flat output copies the saved chain reads (OnnxFlatOutputs).
            var restoredNetwork = new NetworkTransformer(DeepArch.Trainers.Onnx.OnnxFlatOutputs.Remove(network.Onnx), placed(network.Info), warn);
            created.Add(restoredNetwork);
            chain.Dispose(); // the OnnxTransformer's session is not needed any more
            return restoredNetwork;
        }
        var restored = new ITransformer[parts.Count];
        for (int i = 0; i < parts.Count; i++)
        {
            restored[i] = Restore(parts[i], $"{directory}/Transform_{i:000}", networks, created, placed, warn);
        }
        return new TransformerChain<ITransformer>(restored);
    }

    /// <summary>The loaded pipeline must accept the input schema it was saved with.</summary>
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
            throw new InvalidDataException(
                $"The model does not accept the input schema saved with it: {Describe(e)} It was saved with the schema of other data than it transforms " +
                "(mlContext.Model.Save does not check; for a GAN generator, save it with the noise rows' schema or null).", e);
        }
    }

    /// <summary>The messages of <paramref name="e"/> and its inner exceptions, without reflection's wrapper messages.</summary>
    internal static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (Exception? current = e; current is not null && messages.Count < 4; current = current.InnerException)
        {
            string message = FirstLine(current.Message);
            if (current is not System.Reflection.TargetInvocationException && !messages.Contains(message))
            {
                messages.Add(message);
            }
        }
        return string.Join(": ", messages) + ".";
    }

    /// <summary>
    /// The first line of an exception message, without exception type names and cut to 500 characters. ML.NET's
    /// OnnxTransformer puts a whole ONNX Runtime exception in its message ("Error initializing model :" + the exception's
    /// ToString()), stack trace included, and a file's own strings can make a message of any length.
    /// </summary>
    private static string FirstLine(string message)
    {
        int end = message.IndexOfAny(['\r', '\n']);
        string line = System.Text.RegularExpressions.Regex.Replace(end < 0 ? message : message[..end], @"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)+[A-Za-z_]*Exception: ", "").Trim();
        line = line.TrimEnd('.');
        return line.Length > 500 ? line[..500] + " (cut)" : line;
    }
}
