using System.Diagnostics;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// The training loop, as a ladder of small steps that a subclass can override one at a time:
/// <see cref="Fit"/> -> <see cref="RunEpoch"/> -> <see cref="TrainStep"/> -> <see cref="ComputeLoss"/>,
/// and <see cref="EvaluateLoss"/> for validation. Shuffled mini-batches, Adam or SGD, a learning-rate
/// schedule, validation, early stopping that restores the best weights, divergence detection,
/// cancellation between batches, and one dispose scope per batch so native memory stays flat.
/// </summary>
public class NetworkTrainer
{
    /// <summary>Creates a trainer minimizing <paramref name="loss"/> with <paramref name="options"/> (validated here).</summary>
    public NetworkTrainer(TrainingOptions options, LossFunction loss)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!Enum.IsDefined(loss))
        {
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown loss function.");
        }
        Options = options;
        Loss = loss;
    }

    /// <summary>The training options.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The loss being minimized.</summary>
    public LossFunction Loss { get; }

    /// <summary>
    /// Trains <paramref name="network"/> in place. Validation uses <paramref name="validation"/> when given,
    /// otherwise <see cref="TrainingOptions.ValidationFraction"/> of <paramref name="train"/>.
    /// </summary>
    /// <returns>The per-epoch history.</returns>
    /// <exception cref="ArgumentException">
    /// The data does not fit the network or the options, or the network has batch normalization and a training batch could
    /// hold one row (BatchSize 1, or fewer than 2 training rows after the validation split).
    /// </exception>
    /// <exception cref="InsufficientMemoryException">
    /// Training would need more memory than the process may use (estimated before anything is allocated; see
    /// <see cref="TrainingMemory"/>), or libtorch failed to allocate memory.
    /// </exception>
    /// <exception cref="TrainingDivergedException">The training loss or the validation loss became NaN or infinite.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked between batches).</exception>
    public TrainingHistory Fit(Network network, TrainingSet train, TrainingSet? validation = null,
        IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        CheckShapes(network, train, nameof(train));
        CheckTargets(network, train, nameof(train));
        int rows = train.Count, heldOut = 0;
        if (validation is null && Options.ValidationFraction > 0)
        {
            (train, validation) = Split(train, Options.ValidationFraction, Options.Seed);
            heldOut = validation.Count;
        }
        if (validation is not null)
        {
            CheckShapes(network, validation, nameof(validation));
            CheckTargets(network, validation, nameof(validation));
            if (validation.Count == 0)
            {
                throw new ArgumentException("The validation set has no rows.", nameof(validation));
            }
        }
        if (train.Count == 0)
        {
            throw new ArgumentException("The training set has no rows.", nameof(train));
        }
        if (Options.EarlyStoppingPatience > 0 && (validation is null || validation.Count == 0))
        {
            throw new ArgumentException(
                "EarlyStoppingPatience needs validation data: set ValidationFraction above 0 or pass a validation set.", nameof(validation));
        }

        var kinds = BatchNormalization.LayerKinds(network.Architecture);
        if (BatchNormalization.OneRowBatches(network.Architecture, rows, heldOut, Options.ValidationFraction, Options.BatchSize,
                $"Batch normalization ({string.Join(", ", kinds)})", optionPrefix: "") is { } oneRow)
        {
            throw new ArgumentException(oneRow, nameof(train));
        }
        var memory = TrainingMemory.Estimate(network.Architecture, network.InputShape, Options,
            TrainingMemory.DataValues(train) + TrainingMemory.DataValues(validation));
        if (network.Device.type == DeviceType.CPU && memory.TotalBytes > TrainingMemory.AvailableBytes)
        {
            throw new InsufficientMemoryException(
                $"Training needs {memory.Describe("", "BatchSize")} but {TrainingMemory.FormatBytes(TrainingMemory.AvailableBytes)} is available " +
                "to this process: make the network smaller, lower BatchSize, or train on fewer rows.");
        }

        TorchRuntime.EnsureInitialized();
        lock (TorchRuntime.TrainingLock)
        {
            try
            {
                TorchRuntime.SetThreads(Options.Threads);
                random.manual_seed(Options.Seed);
                using var trainData = new DeviceData(train, Loss, network.Device);
                using var validationData = validation is null ? null : new DeviceData(validation, Loss, network.Device);
                using var optimizer = CreateOptimizer(network);
                return RunEpochs(network, optimizer, trainData, validationData, progress, cancellationToken);
            }
            catch (Exception e) when (TrainingMemory.IsAllocationFailure(e))
            {
                throw new InsufficientMemoryException(
                    $"Training ran out of memory (libtorch: {TrainingMemory.NativeMessage(e)}); it was estimated to need {memory.Describe("", "BatchSize")}. " +
                    "Make the network smaller, lower BatchSize, or train on fewer rows.");
            }
        }
    }

    /// <summary>Creates the optimizer over the network's parameters.</summary>
    protected virtual optim.Optimizer CreateOptimizer(Network network) => Options.Optimizer switch
    {
        OptimizerKind.Adam => new ScalarSafeAdam(network.Module.parameters(), Options.LearningRate, Options.WeightDecay),
        OptimizerKind.Sgd => new ScalarSafeSgd(network.Module.parameters(), Options.LearningRate, Options.Momentum, Options.WeightDecay),
        _ => throw new InvalidOperationException($"Unknown optimizer {Options.Optimizer}."),
    };

    private TrainingHistory RunEpochs(Network network, optim.Optimizer optimizer, DeviceData train, DeviceData? validation,
        IProgress<EpochReport>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var shuffler = new Random(Options.Seed);
        var scheduler = Options.Schedule.CreateScheduler(Options.LearningRate, Options.Epochs);
        var reports = new List<EpochReport>();
        foreach (var callback in Options.Callbacks)
        {
            callback.OnTrainingBegin(Options);
        }

        Dictionary<string, Tensor>? bestState = null;
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = 0, epochsWithoutImprovement = 0;
        var stopReason = StopReason.Completed;
        try
        {
            for (int epoch = 1; epoch <= Options.Epochs; epoch++)
            {
                double rate = scheduler.RateForEpoch(epoch - 1, reports.Count == 0 ? null : reports[^1].ValidationLoss ?? reports[^1].TrainLoss);
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = rate;
                }
                foreach (var callback in Options.Callbacks)
                {
                    callback.OnEpochBegin(epoch);
                }

                double trainLoss = RunEpoch(network, optimizer, train, epoch, rate, shuffler, cancellationToken);
                double? validationLoss = validation is null ? null : EvaluateLoss(network, validation);
                if (validationLoss is { } loss && !double.IsFinite(loss))
                {
                    // Every override of EvaluateLoss comes through here: a NaN must not reach the history (nor the model's metadata).
                    // Scoring the training rows the same way tells extreme validation data from weights that diverged in the last steps.
                    throw new TrainingDivergedException(epoch, loss, trainLoss, rate, double.IsFinite(EvaluateLoss(network, train)));
                }
                var report = new EpochReport(epoch, trainLoss, validationLoss, rate, stopwatch.Elapsed);
                reports.Add(report);
                progress?.Report(report);
                foreach (var callback in Options.Callbacks)
                {
                    callback.OnEpochEnd(report);
                }

                if (Options.EarlyStoppingPatience > 0)
                {
                    if (validationLoss!.Value < bestLoss - Options.EarlyStoppingMinDelta)
                    {
                        bestLoss = validationLoss.Value;
                        bestEpoch = epoch;
                        epochsWithoutImprovement = 0;
                        DisposeState(bestState);
                        bestState = CopyState(network);
                    }
                    else if (++epochsWithoutImprovement >= Options.EarlyStoppingPatience)
                    {
                        stopReason = StopReason.EarlyStopped;
                        break;
                    }
                }
            }
            if (bestState is not null)
            {
                RestoreState(network, bestState);
            }
            else
            {
                bestEpoch = reports.Count;
            }
        }
        finally
        {
            DisposeState(bestState);
            network.Module.eval();
        }

        var history = new TrainingHistory(reports, bestEpoch, stopReason);
        foreach (var callback in Options.Callbacks)
        {
            callback.OnTrainingEnd(history);
        }
        return history;
    }

    /// <summary>One pass over the shuffled training rows; returns the mean training loss.</summary>
    protected virtual double RunEpoch(Network network, optim.Optimizer optimizer, DeviceData train, int epoch, double learningRate,
        Random shuffler, CancellationToken cancellationToken)
    {
        network.Module.train();
        long[] order = Enumerable.Range(0, train.Count).Select(i => (long)i).ToArray();
        if (Options.Shuffle)
        {
            shuffler.Shuffle(order);
        }
        double lossSum = 0;
        int batch = 0;
        for (int start = 0, size; start < order.Length; start += size)
        {
            cancellationToken.ThrowIfCancellationRequested();
            batch++;
            size = Math.Min(Options.BatchSize, order.Length - start);
            if (Options.BatchSize > 1 && order.Length - start - size == 1)
            {
                // A last batch of one row joins this one: batch normalization's running variance
                // (unbiased, n - 1 in the denominator) would become NaN on a single row.
                size++;
            }
            double loss;
            using (NewDisposeScope())
            {
                var indices = tensor(order.AsSpan(start, size).ToArray(), device: network.Device);
                var x = train.Features.index_select(0, indices);
                var y = train.Targets.index_select(0, indices);
                optimizer.zero_grad();
                loss = TrainStep(network, optimizer, x, y);
            }
            if (!double.IsFinite(loss))
            {
                throw new TrainingDivergedException(epoch, batch, loss, learningRate);
            }
            lossSum += loss * size;
            foreach (var callback in Options.Callbacks)
            {
                callback.OnBatchEnd(epoch, batch, loss);
            }
        }
        return lossSum / order.Length;
    }

    /// <summary>Forward, loss, backward, gradient clipping and optimizer step on one batch; returns the batch's loss.</summary>
    protected virtual double TrainStep(Network network, optim.Optimizer optimizer, Tensor features, Tensor targets)
    {
        var output = network.Module.call(features);
        var loss = ComputeLoss(output, targets);
        loss.backward();
        ClipGradients(network);
        optimizer.step();
        return loss.item<float>();
    }

    /// <summary>
    /// Scales the gradients of all of <paramref name="network"/>'s parameters down so that their global L2 norm is at
    /// most <see cref="TrainingOptions.GradientClipNorm"/>; does nothing when that is 0. Call it between
    /// <c>backward()</c> and <c>optimizer.step()</c> in every <see cref="TrainStep"/> override.
    /// </summary>
    protected void ClipGradients(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (Options.GradientClipNorm > 0)
        {
            nn.utils.clip_grad_norm_(network.Module.parameters(), Options.GradientClipNorm);
        }
    }

    /// <summary>The mean loss of a batch's <paramref name="output"/> against its <paramref name="targets"/>.</summary>
    protected virtual Tensor ComputeLoss(Tensor output, Tensor targets) => Loss switch
    {
        LossFunction.MeanSquaredError => nn.functional.mse_loss(output, targets),
        LossFunction.CrossEntropy => nn.functional.cross_entropy(output, targets),
        LossFunction.BinaryCrossEntropyWithLogits => nn.functional.binary_cross_entropy_with_logits(output, targets),
        _ => throw new InvalidOperationException($"Unknown loss {Loss}."),
    };

    /// <summary>The mean loss over <paramref name="data"/> in eval mode, without gradients.</summary>
    protected virtual double EvaluateLoss(Network network, DeviceData data)
    {
        network.Module.eval();
        using var _ = no_grad();
        double sum = 0;
        for (int start = 0; start < data.Count; start += Options.BatchSize)
        {
            int size = Math.Min(Options.BatchSize, data.Count - start);
            using var scope = NewDisposeScope();
            var output = network.Module.call(data.Features.narrow(0, start, size));
            sum += ComputeLoss(output, data.Targets.narrow(0, start, size)).item<float>() * size;
        }
        return sum / data.Count;
    }

    private static void CheckShapes(Network network, TrainingSet set, string name)
    {
        if (!set.SampleShape.SequenceEqual(network.InputShape))
        {
            throw new ArgumentException(
                $"The {name} samples have shape {Layers.Shapes.Format(set.SampleShape)} but the network takes {Layers.Shapes.Format(network.InputShape)}.", name);
        }
    }

    /// <summary>
    /// Checks that the targets fit the loss and the network's output: without this, mean squared error
    /// would broadcast a [rows, 1] target against [rows, n] outputs and train a wrong model silently,
    /// and the other losses would fail deep inside libtorch.
    /// </summary>
    private void CheckTargets(Network network, TrainingSet set, string name)
    {
        int outputs = Layers.Shapes.Size(network.OutputShape);
        if (Loss != LossFunction.CrossEntropy)
        {
            if (set.TargetWidth != outputs)
            {
                throw new ArgumentException(
                    $"{Loss} needs one target per network output: the {name} set has {set.TargetWidth} targets per row but the network has {outputs} outputs.", name);
            }
            return;
        }
        if (set.TargetWidth != 1)
        {
            throw new ArgumentException($"CrossEntropy needs one class index per row; the {name} set has {set.TargetWidth} targets per row.", name);
        }
        int classes = network.OutputShape[^1];
        for (int row = 0; row < set.Count; row++)
        {
            float target = set.Targets[row];
            if (!(target >= 0 && target < classes && target == MathF.Floor(target)))
            {
                throw new ArgumentException(
                    $"CrossEntropy targets are class indices in [0, {classes}) for a network with {classes} outputs; row {row} of the {name} set has {TrainingOptions.Format(target)}.", name);
            }
        }
    }

    private static (TrainingSet Train, TrainingSet Validation) Split(TrainingSet set, double fraction, int seed)
    {
        int[] order = SplitOrder(set.Count, seed);
        int validationCount = ValidationCount(set.Count, fraction);
        if (validationCount == 0 || validationCount == set.Count)
        {
            throw new ArgumentException(
                $"ValidationFraction {fraction} of {set.Count} rows leaves {(validationCount == 0 ? "no validation" : "no training")} rows.");
        }
        return (set.Subset(order[validationCount..]), set.Subset(order[..validationCount]));
    }

    /// <summary>How many of <paramref name="rows"/> rows <see cref="TrainingOptions.ValidationFraction"/> <paramref name="fraction"/> holds out.</summary>
    internal static int ValidationCount(int rows, double fraction) => (int)Math.Round(rows * fraction);

    /// <summary>The rows <see cref="TrainingOptions.ValidationFraction"/> holds out of <paramref name="rows"/> with <paramref name="seed"/>, in the order the split takes them.</summary>
    internal static int[] ValidationRows(int rows, double fraction, int seed) => SplitOrder(rows, seed)[..ValidationCount(rows, fraction)];

    private static int[] SplitOrder(int rows, int seed)
    {
        int[] order = Enumerable.Range(0, rows).ToArray();
        new Random(seed ^ 0x5EED).Shuffle(order);
        return order;
    }

    private static Dictionary<string, Tensor> CopyState(Network network)
        => network.Module.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());

    private static void RestoreState(Network network, Dictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (name, value) in network.Module.state_dict())
        {
            value.copy_(state[name]);
        }
    }

    private static void DisposeState(Dictionary<string, Tensor>? state)
    {
        foreach (var tensor in state?.Values ?? Enumerable.Empty<Tensor>())
        {
            tensor.Dispose();
        }
    }

    /// <summary>A training set copied once to the training device: features, and targets typed for the loss.</summary>
    protected sealed class DeviceData : IDisposable
    {
        internal DeviceData(TrainingSet set, LossFunction loss, Device device)
        {
            Count = set.Count;
            long[] shape = [set.Count, .. set.SampleShape.Select(d => (long)d)];
            Features = Copy(tensor(set.Features, shape, device: device));
            if (loss != LossFunction.CrossEntropy && ReferenceEquals(set.Targets, set.Features))
            {
                // A reconstruction set (ReconstructionSet): the targets are the features, so they share the features'
                // memory as a [rows, width] view instead of holding a second copy on the device.
                Targets = Features.view(set.Count, set.TargetWidth).DetachFromDisposeScope();
            }
            else
            {
                Targets = loss == LossFunction.CrossEntropy
                    ? Copy(tensor(set.Targets.Select(t => (long)t).ToArray(), device: device))
                    : Copy(tensor(set.Targets, [set.Count, set.TargetWidth], device: device));
            }
        }

        /// <summary>
        /// On the CPU, the tensor torch.tensor builds from a managed array is only 8-byte aligned, at an offset
        /// that varies from run to run, and some vectorized kernels round differently on 16- and 32-byte-aligned
        /// data: copy it into libtorch's own 64-byte-aligned memory so that validation losses (which read the
        /// rows in place) are the same bits in every run, and release the first tensor at once.
        /// </summary>
        private static Tensor Copy(Tensor wrapped)
        {
            using (wrapped)
            {
                return wrapped.clone().DetachFromDisposeScope();
            }
        }

        /// <summary>The number of rows.</summary>
        public int Count { get; }

        /// <summary>The features, [rows, ..sample shape].</summary>
        public Tensor Features { get; }

        /// <summary>The targets: [rows] class indices for cross-entropy, else [rows, width].</summary>
        /// <remarks>For a reconstruction set this is a view of <see cref="Features"/> (the same memory): neither may be changed in place.</remarks>
        public Tensor Targets { get; }

        /// <inheritdoc/>
        public void Dispose()
        {
            Features.Dispose();
            Targets.Dispose();
        }
    }
}
