using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.MLNet;

/// <summary>Which options set a network's sizes and layers, as the errors of <see cref="TrainingGuard"/> name them.</summary>
/// <param name="Sizes">The options that set the sizes, with their values and the input, e.g. <c>Options.HiddenLayers [128, 64] on 64 features</c>.</param>
/// <param name="Reduce">What to reduce when the network does not fit in memory, e.g. <c>Options.HiddenLayers</c>.</param>
/// <param name="BatchNorm">What adds batch normalization, e.g. <c>Options.BatchNorm</c>; null where no option can.</param>
/// <param name="Activations">What to reduce when the activations of a batch do not fit: <c>Options.BatchSize</c>, and the sequence lengths where they size them.</param>
internal sealed record NetworkOptionNames(string Sizes, string Reduce, string? BatchNorm = null, string Activations = "Options.BatchSize");

/// <summary>
/// How every DeepArch estimator builds and trains its network, so that each of them fails the same way, naming its own options:
/// batch normalization that a batch of one row would make NaN is rejected first; training that would need more memory than the
/// process may use is refused before the network is allocated (<see cref="TrainingMemory"/>); and running out of memory while
/// building or training — libtorch's allocation failures, or the trainer's own estimate for a network it builds inside (the
/// stacked autoencoder's levels) — becomes an <see cref="InsufficientMemoryException"/> naming the options that size the network.
/// </summary>
internal static class TrainingGuard
{
    /// <summary>Checks, builds and trains the networks; returns them trained (the caller disposes them) with the history.</summary>
    /// <param name="networks">Each network's layers and per-sample input shape; the first is the one the errors name (a GAN's generator).</param>
    /// <param name="seed">The seed of the first network's parameter initialization; the next networks take the seeds after it.</param>
    /// <param name="device">The training device.</param>
    /// <param name="training">The training-loop options (batch size, optimizer, validation fraction).</param>
    /// <param name="train">The training rows.</param>
    /// <param name="validation">The validation rows, or null (then <paramref name="training"/>'s ValidationFraction may hold some out).</param>
    /// <param name="names">The options the errors name.</param>
    /// <param name="scoring">How the fitted transformers will score: their batch buffers must fit (<see cref="ScoringSettings.ThrowIfBuffersTooLarge"/>), checked before training.</param>
    /// <param name="fit">Trains the built networks and returns the history.</param>
    /// <param name="cancellationToken">Cancels the wait for the training lock (another Fit training) as well as training.</param>
    /// <param name="oneDnnOff">Receives why libtorch's oneDNN kernels are off for these networks (<see cref="TorchRuntime.UseOneDnnFor"/>), before they train.</param>
    /// <exception cref="InvalidOperationException">A network has batch normalization and fewer than 2 training rows.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A network has batch normalization and BatchSize is 1, or ScoringBatchSize makes a batch buffer too large.</exception>
    /// <exception cref="InsufficientMemoryException">Training needs, or took, more memory than the process may use.</exception>
    public static (IReadOnlyList<Network> Networks, TrainingHistory History) Train(IReadOnlyList<(LayerSpec Architecture, int[] InputShape)> networks, int seed,
        Device device, TrainingOptions training, TrainingSet train, TrainingSet? validation, NetworkOptionNames names, ScoringSettings scoring,
        Func<IReadOnlyList<Network>, TrainingHistory> fit, CancellationToken cancellationToken = default, Action<string>? oneDnnOff = null)
    {
        foreach (var (architecture, inputShape) in networks)
        {
            CheckBatchNormalization(architecture, training, train, validation, names);
            scoring.ThrowIfBuffersTooLarge(inputShape.Aggregate(1, (a, d) => checked(a * d)), [architecture.OutputShape(inputShape)]);
        }
        var memory = TrainingMemory.Estimate(networks.Select(n => (n.Architecture, (IReadOnlyList<int>)n.InputShape)).ToList(), training,
            TrainingMemory.DataValues(train) + TrainingMemory.DataValues(validation));
        long available = TrainingMemory.AvailableBytes;
        if (device.type == DeviceType.CPU && memory.TotalBytes > available)
        {
            throw new InsufficientMemoryException(
                $"Training needs {memory.Describe($" from {names.Sizes}", "Options.BatchSize")} but {TrainingMemory.FormatBytes(available)} " +
                $"is available to this process: reduce {Remedies(memory, names)}.");
        }

        var built = new List<Network>();
        // The whole build and training under the training lock, taken so that cancelling a Fit queued behind another one
        // takes effect at once (the lock statements inside re-enter it).
        using var trainingLock = TorchRuntime.EnterTraining(cancellationToken);
        try
        {
            foreach (var (architecture, inputShape) in networks)
            {
                built.Add(new Network(architecture, inputShape, seed + built.Count, device));
            }
            // oneDNN on or off for all of these networks' layers (a GAN's two), for everything fit runs with libtorch.
            using var oneDnn = TorchRuntime.UseOneDnnFor(built);
            if (oneDnn.OffReason is { } reason)
            {
                oneDnnOff?.Invoke(reason);
            }
            return (built, fit(built));
        }
        catch (Exception e) when (e is InsufficientMemoryException || TrainingMemory.IsAllocationFailure(e))
        {
            built.ForEach(n => n.Dispose());
            throw RanOutOfMemory(e, names);
        }
        catch
        {
            built.ForEach(n => n.Dispose());
            throw;
        }
    }

    /// <summary>Checks, builds and trains one network (see the overload for several).</summary>
    public static (Network Network, TrainingHistory History) Train(LayerSpec architecture, IReadOnlyList<int> inputShape, int seed, Device device,
        TrainingOptions training, TrainingSet train, TrainingSet? validation, NetworkOptionNames names, ScoringSettings scoring, Func<Network, TrainingHistory> fit)
    {
        var (networks, history) = Train([(architecture, inputShape.ToArray())], seed, device, training, train, validation, names, scoring, built => fit(built[0]));
        return (networks[0], history);
    }

    private static void CheckBatchNormalization(LayerSpec architecture, TrainingOptions training, TrainingSet train, TrainingSet? validation, NetworkOptionNames names)
    {
        int heldOut = validation is null && training.ValidationFraction > 0 ? TrainingLoop.ValidationCount(train.Count, training.ValidationFraction) : 0;
        if (heldOut >= train.Count)
        {
            return; // the trainer's own error says the fraction leaves no training rows
        }
        string subject = names.BatchNorm ?? $"Batch normalization ({string.Join(", ", BatchNormalization.LayerKinds(architecture))})";
        if (BatchNormalization.OneRowBatches(architecture, train.Count, heldOut, training.ValidationFraction, training.BatchSize, subject, "Options.") is { } problem)
        {
            throw training.BatchSize < 2
                ? new ArgumentOutOfRangeException("Options.BatchSize", training.BatchSize, problem)
                : new InvalidOperationException(problem);
        }
    }

    /// <summary>What to reduce, the largest share of the estimate first: the options that size the network, the batch (activations), the data.</summary>
    private static string Remedies(TrainingMemory memory, NetworkOptionNames names)
    {
        (long Bytes, string Remedy)[] shares =
        [
            (memory.ParameterBytes, names.Reduce),
            (memory.ActivationBytes, names.Activations),
            (memory.DataBytes, "the training rows"),
        ];
        var remedies = shares.Where(s => s.Bytes >= memory.TotalBytes / 10).OrderByDescending(s => s.Bytes).Select(s => s.Remedy).ToList();
        return string.Join(", or ", remedies.Count > 0 ? remedies : [names.Reduce]);
    }

    private static InsufficientMemoryException RanOutOfMemory(Exception error, NetworkOptionNames names)
    {
        string what = error is InsufficientMemoryException ? error.Message : $"libtorch: {TrainingMemory.NativeMessage(error)}.";
        return new InsufficientMemoryException(
            $"Training ran out of memory with the network of {names.Sizes}, {TrainingMemory.FormatBytes(TrainingMemory.AvailableBytes)} being available " +
            $"to this process: reduce {names.Reduce}, or Options.BatchSize. {what}",
            error is InsufficientMemoryException ? error : null);
    }
}
