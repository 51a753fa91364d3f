
namespace DeepArch.MLNet;

/// <summary>
/// How <see cref="DeepArchModel"/> loads a model file it may not trust: the key it must be signed with, and the limits
/// that keep a hostile file from exhausting memory. The defaults load every model DeepArch itself writes up to 2 GiB.
/// </summary>
public sealed class ModelLoadOptions
{
    /// <summary>The default of <see cref="MaxUncompressedBytes"/>: 2 GiB.</summary>
    public const long DefaultMaxUncompressedBytes = 2L << 30;

    /// <summary>The default of <see cref="MaxCompressionRatio"/>.</summary>
    public const int DefaultMaxCompressionRatio = 100;

    /// <summary>The default of <see cref="MaxEntries"/>.</summary>
    public const int DefaultMaxEntries = 10_000;

    /// <summary>The size up to which a zip entry may expand without the ratio limit (small entries compress well): 1 MiB.</summary>
    public const long RatioFreeBytes = 1L << 20;

    /// <summary>The shortest signing key accepted: 16 bytes (128 bits).</summary>
    public const int MinSigningKeyBytes = 16;

    /// <summary>
    /// The key the model must be signed with, or null (default) to accept unsigned models. With a key, a model saved by
    /// <see cref="DeepArchModel.Save(Microsoft.ML.MLContext, Microsoft.ML.ITransformer, Microsoft.ML.DataViewSchema, Stream, ModelSaveOptions?)"/>
    /// (or a standalone ONNX file written by <see cref="NetworkTransformer.SaveOnnx(Stream, byte[])"/>) with the same key loads,
    /// and anything else (unsigned, another key, any byte changed) is an <see cref="InvalidDataException"/>. At least
    /// <see cref="MinSigningKeyBytes"/> bytes.
    /// </summary>
    public byte[]? SigningKey { get; set; }

    /// <summary>
    /// The most bytes a model may hold once decompressed, all its zip entries together (for a stream or a standalone ONNX file:
    /// its length); at least 1. Checked against the sizes the zip records before anything is decompressed, and again while
    /// decompressing. Default <see cref="DefaultMaxUncompressedBytes"/>.
    /// </summary>
    public long MaxUncompressedBytes { get; set; } = DefaultMaxUncompressedBytes;

    /// <summary>
    /// The most a zip entry may expand over its compressed size, beyond the first <see cref="RatioFreeBytes"/>; at least 1.
    /// A zip bomb expands about 1,000 times; DeepArch's networks (float weights) about 1.1 times and ML.NET's own entries a
    /// few times. Default <see cref="DefaultMaxCompressionRatio"/>.
    /// </summary>
    public int MaxCompressionRatio { get; set; } = DefaultMaxCompressionRatio;

    /// <summary>
    /// The most entries the model's zip archive may hold; at least 1. Checked from the archive's end records before .NET
    /// reads its central directory: each entry costs about 1.7 KB of memory to list, so a file of a few hundred megabytes
    /// of empty entries would otherwise take gigabytes. ML.NET writes two or three entries per transformer (a pipeline of
    /// 40 transformers, about 100). Default <see cref="DefaultMaxEntries"/>.
    /// </summary>
    public int MaxEntries { get; set; } = DefaultMaxEntries;

    /// <summary>
    /// Where and how the loaded networks score on this machine (device, GPU, fallback, rows per call, threads), overriding
    /// what the file says; null (default) keeps the file's settings. Either way a model whose file asks for CUDA loads where
    /// CUDA is not usable: it scores on the CPU, with a warning in <c>mlContext.Log</c>, unless
    /// <see cref="DeepArch.MLNet.ScoringOverrides.FallbackToCpu"/> is set to false.
    /// </summary>
    public ScoringOverrides? Scoring { get; set; }

    /// <summary>The scoring settings a network saved with <paramref name="saved"/> gets when loaded with these options.</summary>
    internal ScoringSettings ScoringFor(ScoringSettings saved)
        => (Scoring ?? new ScoringOverrides()).Apply(saved, fallbackByDefault: true);

    /// <summary>Checks the options, naming the first one out of range.</summary>
    internal void Validate()
    {
        Scoring?.Validate($"Options.{nameof(Scoring)}");
        if (SigningKey is not null && SigningKey.Length < MinSigningKeyBytes)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(SigningKey)}", SigningKey.Length,
                $"Options.{nameof(SigningKey)} must hold at least {MinSigningKeyBytes} bytes; got {SigningKey.Length}.");
        }
        if (MaxUncompressedBytes < 1)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(MaxUncompressedBytes)}", MaxUncompressedBytes,
                $"Options.{nameof(MaxUncompressedBytes)} must be positive; got {MaxUncompressedBytes}.");
        }
        if (MaxEntries < 1)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(MaxEntries)}", MaxEntries,
                $"Options.{nameof(MaxEntries)} must be at least 1; got {MaxEntries}.");
        }
        if (MaxCompressionRatio < 1)
        {
            throw new ArgumentOutOfRangeException($"Options.{nameof(MaxCompressionRatio)}", MaxCompressionRatio,
                $"Options.{nameof(MaxCompressionRatio)} must be at least 1; got {MaxCompressionRatio}.");
        }
    }
}
