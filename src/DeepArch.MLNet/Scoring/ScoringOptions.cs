using DeepArch.Trainers;

namespace DeepArch.MLNet;

/// <summary>
/// How a transform that only scores a network trained earlier (an autoencoder's decoder, a GAN's discriminator) runs it:
/// rows per ONNX Runtime call, threads and device.
/// </summary>
public abstract class ScoringOptions
{
    /// <summary>Rows per ONNX Runtime call, in [1, 65,536].</summary>
    public int ScoringBatchSize { get; set; } = 256;

    /// <summary>
    /// ONNX Runtime intra-op threads, in [0, 256]; 0 (default) means one per core, and a session never gets more than one per core.
    /// With 0, on the CPU below 8 cores (where the threads sleep unless <c>DEEPARCH_SCORING_SPIN=1</c>), a cursor's batch whose run
    /// starts while another batch's is still going runs on half the threads.
    /// </summary>
    public int ScoringThreads { get; set; }

    /// <summary>Where to score: the CPU (default) or CUDA.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Cpu;

    /// <summary>When <see cref="Device"/> is CUDA and no GPU is usable: use the CPU (true) or throw (false, default).</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>The settings these options give.</summary>
    internal ScoringSettings ToScoringSettings() => new(ScoringBatchSize, ScoringThreads, Device, FallbackToCpu);

    /// <summary>A copy of these options as they are now, validated: what one <c>Fit</c> reads.</summary>
    internal ScoringOptions Snapshot()
    {
        var copy = (ScoringOptions)MemberwiseClone();
        copy.Validate();
        return copy;
    }

    /// <summary>Checks every option, naming the first one out of range.</summary>
    internal virtual void Validate()
    {
        Check(ScoringBatchSize >= 1 && ScoringBatchSize <= ScoringSettings.MaxBatchSize, nameof(ScoringBatchSize), ScoringBatchSize, $"must be in [1, {ScoringSettings.MaxBatchSize}]");
        Check(ScoringThreads >= 0 && ScoringThreads <= ScoringSettings.MaxThreads, nameof(ScoringThreads), ScoringThreads, $"must be in [0, {ScoringSettings.MaxThreads}] (0 = one per core)");
        Check(Enum.IsDefined(Device), nameof(Device), Device, "must be Cpu or Cuda");
    }

    /// <summary>Throws the standard out-of-range error for option <paramref name="name"/>.</summary>
    private protected static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException($"Options.{name}", value, $"Options.{name} {rule}; got {value}.");
        }
    }
}
