using DeepArch.Trainers;

namespace DeepArch.MLNet;

/// <summary>
/// Where and how a model scores on the machine that serves it, overriding what its file says: the device, the GPU, the
/// fallback, rows per ONNX Runtime call and threads. A property left null keeps the file's value (the options it was
/// trained with), except <see cref="FallbackToCpu"/>, which defaults to true when a model is loaded.
/// </summary>
/// <remarks>
/// Give them to <see cref="DeepArchModel"/>'s load methods through <see cref="ModelLoadOptions.Scoring"/>
/// (every network of the loaded pipeline), or to <see cref="NetworkTransformer.WithScoring(ScoringOverrides)"/> for one
/// transformer. They change how this process scores, never the model: a model saved again keeps the settings it was trained with.
/// </remarks>
/// <example>
/// <code>
/// // A model trained on a GPU, served on a CPU-only machine with 4 threads:
/// var model = DeepArchModel.Load(mlContext, "model.zip", out var schema,
///     new ModelLoadOptions { Scoring = new ScoringOverrides { Device = ComputeDevice.Cpu, ScoringThreads = 4 } });
/// </code>
/// </example>
public sealed class ScoringOverrides
{
    /// <summary>Where to score: the CPU or CUDA; null keeps the device the model was trained for.</summary>
    public ComputeDevice? Device { get; set; }

    /// <summary>The CUDA device to score on when <see cref="Device"/> is CUDA, in [0, 64]; null keeps the file's (0 unless set).</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>
    /// When the device is CUDA and ONNX Runtime's CUDA provider is not usable here: score on the CPU (true) or throw (false).
    /// Null means true when loading (the fallback is written to <c>mlContext.Log</c> as a warning, and
    /// <see cref="NetworkTransformer.ScoringDevice"/> says where the model scores), and in
    /// <see cref="NetworkTransformer.WithScoring(ScoringOverrides)"/> the transformer's own: the training options' for a model
    /// just fitted, true for a loaded one unless the load options said otherwise. Set it to false to be told, by an
    /// <see cref="ExecutionProviderUnavailableException"/>, that CUDA is not usable.
    /// </summary>
    public bool? FallbackToCpu { get; set; }

    /// <summary>Rows per ONNX Runtime call, in [1, 65,536]; null keeps the file's.</summary>
    public int? ScoringBatchSize { get; set; }

    /// <summary>ONNX Runtime intra-op threads, in [0, 256] (0 = one per core, never more than one per core); null keeps the file's.</summary>
    public int? ScoringThreads { get; set; }

    /// <summary>The settings <paramref name="saved"/> become with these overrides; <paramref name="fallbackByDefault"/> is the fallback when <see cref="FallbackToCpu"/> is null.</summary>
    internal ScoringSettings Apply(ScoringSettings saved, bool? fallbackByDefault) => saved with
    {
        Device = Device ?? saved.Device,
        GpuDeviceId = GpuDeviceId ?? saved.GpuDeviceId,
        FallbackToCpu = FallbackToCpu ?? fallbackByDefault ?? saved.FallbackToCpu,
        BatchSize = ScoringBatchSize ?? saved.BatchSize,
        Threads = ScoringThreads ?? saved.Threads,
    };

    /// <summary>Checks every override that is set, naming the first one out of range as <c>{prefix}.{name}</c>.</summary>
    internal void Validate(string prefix)
    {
        if (Device is { } device && !Enum.IsDefined(device))
        {
            throw Out(prefix, nameof(Device), device, "must be Cpu or Cuda");
        }
        if (GpuDeviceId is { } gpu && (gpu < 0 || gpu > ScoringSettings.MaxGpuDeviceId))
        {
            throw Out(prefix, nameof(GpuDeviceId), gpu, $"must be in [0, {ScoringSettings.MaxGpuDeviceId}]");
        }
        if (ScoringBatchSize is { } batch && (batch < 1 || batch > ScoringSettings.MaxBatchSize))
        {
            throw Out(prefix, nameof(ScoringBatchSize), batch, $"must be in [1, {ScoringSettings.MaxBatchSize}]");
        }
        if (ScoringThreads is { } threads && (threads < 0 || threads > ScoringSettings.MaxThreads))
        {
            throw Out(prefix, nameof(ScoringThreads), threads, $"must be in [0, {ScoringSettings.MaxThreads}] (0 = one per core)");
        }
    }

    private static ArgumentOutOfRangeException Out(string prefix, string name, object value, string rule)
        => new($"{prefix}.{name}", value, $"{prefix}.{name} {rule}; got {value}.");
}
