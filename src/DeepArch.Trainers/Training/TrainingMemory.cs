using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Training;

/// <summary>
/// The memory training a network takes, estimated from its layer specs before anything is allocated: every parameter
/// as 4-byte weights, their gradients and the optimizer's state (Adam's two moments, or SGD's momentum), plus a copy
/// for early stopping's best epoch; one batch's activations and their gradients; and the training data on the device.
/// Also recognizes libtorch's own allocation failures, so that they become an <see cref="InsufficientMemoryException"/>
/// instead of a native message with C++ frames.
/// </summary>
/// <remarks>
/// An estimate, not a measurement: libtorch's workspaces, the managed copy of the data and the exported model come on
/// top. Compare it with <see cref="AvailableBytes"/>, which is what the GC says the process may use (a container's
/// limit where there is one): on Linux, where allocations are overcommitted, a network larger than that may be
/// allocated and then get the process killed when its memory is first written.
/// </remarks>
public sealed partial class TrainingMemory
{
    private const int BytesPerValue = sizeof(float);

    private readonly bool _bestWeightsCopy;

    private TrainingMemory(long parameters, int parameterCopies, string optimizerState, bool bestWeightsCopy, long activationBytes, int batchSize, long dataBytes)
    {
        Parameters = parameters;
        ParameterCopies = parameterCopies;
        _bestWeightsCopy = bestWeightsCopy;
        OptimizerState = optimizerState;
        ActivationBytes = activationBytes;
        BatchSize = batchSize;
        DataBytes = dataBytes;
    }

    /// <summary>The network's trainable parameters.</summary>
    public long Parameters { get; }

    /// <summary>How many values training holds per parameter: the weight, its gradient, the optimizer's state and early stopping's copy.</summary>
    public int ParameterCopies { get; }

    /// <summary>The parameters' share: <see cref="Parameters"/> x 4 bytes x <see cref="ParameterCopies"/>.</summary>
    public long ParameterBytes => Saturating(Parameters, (long)BytesPerValue * ParameterCopies);

    /// <summary>One batch's activations and their gradients.</summary>
    public long ActivationBytes { get; }

    /// <summary>The rows per batch the activations were estimated for.</summary>
    public int BatchSize { get; }

    /// <summary>The training (and validation) data copied to the training device.</summary>
    public long DataBytes { get; }

    /// <summary>The whole estimate.</summary>
    public long TotalBytes => Sum(Sum(ParameterBytes, ActivationBytes), DataBytes);

    /// <summary>What the optimizer keeps per parameter, in words (empty for plain SGD).</summary>
    public string OptimizerState { get; }

    /// <summary>The memory the process may use: <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>, which honours container limits.</summary>
    public static long AvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Estimates what training <paramref name="architecture"/> with <paramref name="options"/> takes, without building it.</summary>
    /// <param name="architecture">The network's layers.</param>
    /// <param name="inputShape">The per-sample input shape.</param>
    /// <param name="options">The training options (optimizer, momentum, batch size, early stopping).</param>
    /// <param name="dataValues">The values of the training and validation data that go to the device (features and targets).</param>
    /// <exception cref="ArgumentException">The layers do not fit <paramref name="inputShape"/>.</exception>
    public static TrainingMemory Estimate(LayerSpec architecture, IReadOnlyList<int> inputShape, TrainingOptions options, long dataValues)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(inputShape);
        return Estimate([(architecture, inputShape)], options, dataValues);
    }

    /// <summary>Estimates what training several networks together (a generator and its discriminator) takes, without building them.</summary>
    /// <param name="networks">Each network's layers and per-sample input shape.</param>
    /// <param name="options">The training options (optimizer, momentum, batch size, early stopping).</param>
    /// <param name="dataValues">The values of the training and validation data that go to the device (features and targets).</param>
    public static TrainingMemory Estimate(IReadOnlyList<(LayerSpec Architecture, IReadOnlyList<int> InputShape)> networks, TrainingOptions options, long dataValues)
    {
        ArgumentNullException.ThrowIfNull(networks);
        ArgumentNullException.ThrowIfNull(options);
        var (stateCopies, state) = options.Optimizer switch
        {
            OptimizerKind.Adam => (2, "Adam's two moments"),
            OptimizerKind.Sgd when options.Momentum > 0 => (1, "SGD's momentum"),
            _ => (0, ""),
        };
        bool bestWeightsCopy = options.EarlyStoppingPatience > 0;
        int copies = 2 + stateCopies + (bestWeightsCopy ? 1 : 0);
        // Each activation is kept for the backward pass, which also makes its gradient; the input batch is copied once.
        long perSample = 0, parameters = 0;
        foreach (var (architecture, inputShape) in networks)
        {
            perSample = Sum(perSample, Sum(Saturating(architecture.ActivationValues(inputShape), 2), Shapes.LongSize(inputShape)));
            parameters = Sum(parameters, architecture.ParameterCount(inputShape));
        }
        long activations = Saturating(Saturating(perSample, options.BatchSize), BytesPerValue);
        return new TrainingMemory(parameters, copies, state, bestWeightsCopy, activations, options.BatchSize, Saturating(dataValues, BytesPerValue));
    }

    /// <summary>
    /// The values <paramref name="set"/> puts on the device: its features, and its targets unless they are the features
    /// (<see cref="ReconstructionSet"/>); for a streamed set, only its targets (the shuffle buffer is counted once for the run).
    /// </summary>
    public static long DataValues(TrainingSet? set)
        => set is null ? 0 : (set.Rows is null ? set.Features.LongLength : 0) + (set.TargetsAreFeatures ? 0 : set.Targets.LongLength);

    /// <summary>
    /// The estimate in words: "about 64.0 GB (4,000,000 parameters from ...: 64.0 GB for the weights, their gradients and
    /// Adam's two moments; 1.2 MB of activations for BatchSize 32; 2.0 KB of training data)".
    /// </summary>
    /// <param name="parameterSource">Where the parameters come from, e.g. <c> from Options.HiddenLayers [128, 64] on 64 features</c>; empty for none.</param>
    /// <param name="batchSizeName">What the batch size is called, e.g. <c>Options.BatchSize</c>.</param>
    public string Describe(string parameterSource, string batchSizeName)
    {
        string kept = OptimizerState.Length == 0 ? "the weights and their gradients" : $"the weights, their gradients and {OptimizerState}";
        if (_bestWeightsCopy)
        {
            kept += " (and early stopping's copy of the best weights)";
        }
        return $"about {FormatBytes(TotalBytes)} ({Parameters.ToString("N0", CultureInfo.InvariantCulture)} parameters{parameterSource}: " +
               $"{FormatBytes(ParameterBytes)} for {kept}; {FormatBytes(ActivationBytes)} of activations for {batchSizeName} {BatchSize}; " +
               $"{FormatBytes(DataBytes)} of training data)";
    }

    /// <summary>Bytes in binary units with one decimal: <c>23.4 GB</c>, <c>512.0 KB</c>, <c>12 bytes</c>.</summary>
    public static string FormatBytes(long bytes)
    {
        string[] units = ["KB", "MB", "GB", "TB", "PB", "EB"];
        if (bytes < 1024)
        {
            return $"{bytes.ToString(CultureInfo.InvariantCulture)} bytes";
        }
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return $"{value.ToString("F1", CultureInfo.InvariantCulture)} {units[unit]}";
    }

    /// <summary>
    /// Whether <paramref name="error"/> is libtorch failing to allocate: TorchSharp 0.107 rethrows it as an
    /// <see cref="ExternalException"/> whose message starts "[enforce fail at alloc_cpu.cpp:...] ... DefaultCPUAllocator:
    /// can't allocate memory: you tried to allocate N bytes" (older libtorch: "not enough memory"), or for CUDA
    /// "CUDA out of memory. Tried to allocate ...".
    /// </summary>
    internal static bool IsAllocationFailure(Exception error)
        => error is ExternalException && AllocationFailure().IsMatch(NativeMessage(error));

    /// <summary>The first line of a native error's message (without the C++ frames that follow), and without libtorch's "[enforce fail at file:line] condition." prefix.</summary>
    internal static string NativeMessage(Exception error)
    {
        string first = error.Message.Split('\n', 2)[0].Trim();
        return EnforcePrefix().Replace(first, "");
    }

    [GeneratedRegex(@"can't allocate memory|not enough memory|out of memory|Cannot allocate memory", RegexOptions.IgnoreCase)]
    private static partial Regex AllocationFailure();

    [GeneratedRegex(@"^\[enforce fail at [^\]]*\][^.]*\.\s*")]
    private static partial Regex EnforcePrefix();

    private static long Saturating(long a, long b) => a != 0 && b > long.MaxValue / a ? long.MaxValue : a * b;

    private static long Sum(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
