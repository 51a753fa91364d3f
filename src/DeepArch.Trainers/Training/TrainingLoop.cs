using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// The training loop every DeepArch architecture shares, as a ladder of small steps: <see cref="Fit"/> -> epochs ->
/// shuffled mini-batches -> the objective's step (<see cref="TrainingObjective.TrainStep"/>), and the objective's
/// validation batches after each epoch. One optimizer per parameter group (Adam or SGD), a learning-rate schedule,
/// validation, early stopping that restores the best weights of every network, divergence detection on every named loss,
/// cancellation between batches, callbacks, progress, and one dispose scope per batch so native memory stays flat.
/// </summary>
public sealed class TrainingLoop
{
    /// <summary>Creates the loop with <paramref name="options"/> (validated here).</summary>
    public TrainingLoop(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>The training options.</summary>
    public TrainingOptions Options { get; }

    /// <summary>
    /// Trains <paramref name="objective"/>'s networks in place. Validation uses <paramref name="validation"/> when given,
    /// otherwise <see cref="TrainingOptions.ValidationFraction"/> of <paramref name="train"/>.
    /// </summary>
    /// <returns>The per-epoch history, every named loss included.</returns>
    /// <exception cref="ArgumentException">
    /// The data does not fit the objective or the options, or a network has batch normalization and a training batch could
    /// hold one row (BatchSize 1, or fewer than 2 training rows after the validation split).
    /// </exception>
    /// <exception cref="InsufficientMemoryException">
    /// Training would need more memory than the process may use (estimated before anything is allocated; see
    /// <see cref="TrainingMemory"/>), or libtorch failed to allocate memory.
    /// </exception>
    /// <exception cref="TrainingDivergedException">A training loss or the validation loss became NaN or infinite.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked between batches).</exception>
    public TrainingHistory Fit(TrainingObjective objective, TrainingSet train, TrainingSet? validation = null,
        IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(train);
        objective.CheckData(train, nameof(train));
        if ((train.Weights ?? validation?.Weights) is not null && !objective.ReadsWeights)
        {
            throw new ArgumentException($"{objective.GetType().Name} does not read row weights; give it sets without weights.", train.Weights is null ? nameof(validation) : nameof(train));
        }
        int rows = train.Count, heldOut = 0;
        if (validation is null && Options.ValidationFraction > 0)
        {
            (train, validation) = Split(train, Options.ValidationFraction, Options.Seed);
            heldOut = validation.Count;
        }
        if (validation is not null)
        {
            objective.CheckData(validation, nameof(validation));
            if (validation.Count == 0)
            {
                throw new ArgumentException("The validation set has no rows.", nameof(validation));
            }
        }
        if (train.Count == 0)
        {
            throw new ArgumentException("The training set has no rows.", nameof(train));
        }
        TrainingCheckpoints? checkpoints = null;
        if (Options.CheckpointDirectory is { } checkpointDirectory)
        {
            if (!objective.SupportsCheckpoints)
            {
                throw new ArgumentException($"{objective.GetType().Name} keeps state outside its networks and optimizers, so it cannot be checkpointed yet: set CheckpointDirectory to null.", nameof(objective));
            }
            checkpoints = new TrainingCheckpoints(checkpointDirectory, TrainingCheckpoints.Fingerprint(objective, Options, train, validation));
        }
        if (Options.EarlyStoppingPatience > 0 && validation is null)
        {
            throw new ArgumentException(
                "EarlyStoppingPatience needs validation data: set ValidationFraction above 0 or pass a validation set.", nameof(validation));
        }

        var networks = objective.Networks;
        foreach (var network in networks)
        {
            var kinds = BatchNormalization.LayerKinds(network.Architecture);
            if (BatchNormalization.OneRowBatches(network.Architecture, rows, heldOut, Options.ValidationFraction, Options.BatchSize,
                    $"Batch normalization ({string.Join(", ", kinds)})", optionPrefix: "") is { } oneRow)
            {
                throw new ArgumentException(oneRow, nameof(train));
            }
        }
        var memory = TrainingMemory.Estimate(networks.Select(n => (n.Architecture, n.InputShape)).ToList(), Options,
            TrainingMemory.DataValues(train) + TrainingMemory.DataValues(validation));
        var device = networks[0].Device;
        if (device.type == DeviceType.CPU && memory.TotalBytes > TrainingMemory.AvailableBytes)
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
                objective.Begin(Options);
                using var trainData = new DeviceData(train, objective.Targets, device);
                using var validationData = validation is null ? null : new DeviceData(validation, objective.Targets, device);
                var optimizers = objective.ParameterGroups().Select(CreateOptimizer).ToList();
                try
                {
                    return RunEpochs(objective, optimizers, trainData, validationData, checkpoints, progress, cancellationToken);
                }
                finally
                {
                    foreach (var optimizer in optimizers)
                    {
                        optimizer.Dispose();
                    }
                }
            }
            catch (Exception e) when (TrainingMemory.IsAllocationFailure(e))
            {
                throw new InsufficientMemoryException(
                    $"Training ran out of memory (libtorch: {TrainingMemory.NativeMessage(e)}); it was estimated to need {memory.Describe("", "BatchSize")}. " +
                    "Make the network smaller, lower BatchSize, or train on fewer rows.");
            }
        }
    }

    /// <summary>How many of <paramref name="rows"/> rows <see cref="TrainingOptions.ValidationFraction"/> <paramref name="fraction"/> holds out.</summary>
    internal static int ValidationCount(int rows, double fraction) => (int)Math.Round(rows * fraction);

    /// <summary>The rows <see cref="TrainingOptions.ValidationFraction"/> holds out of <paramref name="rows"/> with <paramref name="seed"/>, in the order the split takes them.</summary>
    internal static int[] ValidationRows(int rows, double fraction, int seed) => SplitOrder(rows, seed)[..ValidationCount(rows, fraction)];

    private optim.Optimizer CreateOptimizer(ParameterGroup group) => Options.Optimizer switch
    {
        OptimizerKind.Adam => new ScalarSafeAdam(group.Parameters, Options.LearningRate, Options.WeightDecay, Options.AdamBeta1, Options.AdamBeta2),
        OptimizerKind.Sgd => new ScalarSafeSgd(group.Parameters, Options.LearningRate, Options.Momentum, Options.WeightDecay),
        _ => throw new InvalidOperationException($"Unknown optimizer {Options.Optimizer}."),
    };

    private TrainingHistory RunEpochs(TrainingObjective objective, IReadOnlyList<optim.Optimizer> optimizers, DeviceData train, DeviceData? validation,
        TrainingCheckpoints? checkpoints, IProgress<EpochReport>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var shuffler = new Random(Options.Seed);
        var scheduler = Options.Schedule.CreateScheduler(Options.LearningRate, Options.Epochs);
        var reports = new List<EpochReport>();
        Notify(callback => callback.OnTrainingBegin(Options));

        List<Dictionary<string, Tensor>>? bestState = null;
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = 0, epochsWithoutImprovement = 0;
        var stopReason = StopReason.Completed;
        int firstEpoch = 1;
        var elapsedBefore = TimeSpan.Zero;
        try
        {
            if (checkpoints?.TryLoad(objective.Networks, optimizers) is { } resumed)
            {
                // Resume: the state as it was after the checkpoint's epoch; the shuffler and the schedule replay the epochs before.
                reports.AddRange(resumed.State.History);
                (bestState, bestLoss, bestEpoch, epochsWithoutImprovement) = (resumed.Best, resumed.State.BestLoss, resumed.State.BestEpoch, resumed.State.EpochsWithoutImprovement);
                stopReason = resumed.State.StopReason;
                firstEpoch = resumed.State.Ended ? int.MaxValue : resumed.State.Epoch + 1;
                elapsedBefore = reports.Count > 0 ? reports[^1].Elapsed : TimeSpan.Zero;
                for (int epoch = 1; epoch <= resumed.State.Epoch; epoch++)
                {
                    scheduler.RateForEpoch(epoch - 1, epoch == 1 ? null : reports[epoch - 2].ValidationLoss ?? reports[epoch - 2].TrainLoss);
                    if (Options.Shuffle)
                    {
                        shuffler.Shuffle(new long[train.Count]);
                    }
                }
            }
            for (int epoch = firstEpoch; epoch <= Options.Epochs; epoch++)
            {
                double rate = scheduler.RateForEpoch(epoch - 1, reports.Count == 0 ? null : reports[^1].ValidationLoss ?? reports[^1].TrainLoss);
                foreach (var group in optimizers.SelectMany(o => o.ParamGroups))
                {
                    group.LearningRate = rate;
                }
                Notify(callback => callback.OnEpochBegin(epoch));

                double[] trainLosses = RunEpoch(objective, optimizers, train, epoch, rate, shuffler, cancellationToken);
                double[]? validationLosses = validation is null ? null : Evaluate(objective, validation);
                if (validationLosses is { } checkedLosses && !double.IsFinite(checkedLosses[0]))
                {
                    // A NaN must not reach the history (nor the model's metadata). Scoring the training rows the same way tells
                    // extreme validation data from weights that diverged in the epoch's last steps.
                    throw new TrainingDivergedException(epoch, checkedLosses[0], trainLosses[0], rate, double.IsFinite(Evaluate(objective, train)[0]));
                }
                var report = new EpochReport(epoch, trainLosses[0], validationLosses?[0], rate, elapsedBefore + stopwatch.Elapsed,
                    Named(objective, trainLosses), validationLosses is null ? null : Named(objective, validationLosses));
                reports.Add(report);
                progress?.Report(report);
                Notify(callback => callback.OnEpochEnd(report));

                if (Options.EarlyStoppingPatience > 0)
                {
                    if (validationLosses![0] < bestLoss - Options.EarlyStoppingMinDelta)
                    {
                        bestLoss = validationLosses[0];
                        bestEpoch = epoch;
                        epochsWithoutImprovement = 0;
                        DisposeState(bestState);
                        bestState = objective.Networks.Select(n => n.CopyState()).ToList();
                    }
                    else if (++epochsWithoutImprovement >= Options.EarlyStoppingPatience)
                    {
                        stopReason = StopReason.EarlyStopped;
                    }
                }
                bool stopping = stopReason == StopReason.EarlyStopped;
                if (checkpoints is not null && (stopping || epoch % Options.CheckpointEvery == 0 || epoch == Options.Epochs))
                {
                    checkpoints.Save(new TrainingCheckpoints.State(1, "", epoch, stopping, stopReason, reports, bestEpoch, bestLoss, epochsWithoutImprovement, bestState is not null),
                        objective.Networks, optimizers, bestState);
                }
                if (stopping)
                {
                    break;
                }
            }
            if (bestState is not null)
            {
                for (int i = 0; i < bestState.Count; i++)
                {
                    objective.Networks[i].RestoreState(bestState[i]);
                }
            }
            else
            {
                bestEpoch = reports.Count;
            }
            objective.End();
        }
        finally
        {
            DisposeState(bestState);
            objective.Release();
            SetTraining(objective, false);
        }

        var history = new TrainingHistory(reports, bestEpoch, stopReason);
        Notify(callback => callback.OnTrainingEnd(history));
        return history;
    }

    /// <summary>One pass over the shuffled training rows; returns each named loss's mean over the rows.</summary>
    private double[] RunEpoch(TrainingObjective objective, IReadOnlyList<optim.Optimizer> optimizers, DeviceData train, int epoch, double learningRate,
        Random shuffler, CancellationToken cancellationToken)
    {
        SetTraining(objective, true);
        long[] order = Enumerable.Range(0, train.Count).Select(i => (long)i).ToArray();
        if (Options.Shuffle)
        {
            shuffler.Shuffle(order);
        }
        var sums = new double[objective.LossNames.Count];
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
            double[] losses;
            using (NewDisposeScope())
            {
                var indices = tensor(order.AsSpan(start, size).ToArray(), device: train.Features.device);
                var features = train.Features.index_select(0, indices);
                var targets = train.Targets?.index_select(0, indices);
                var weights = train.Weights?.index_select(0, indices);
                foreach (var optimizer in optimizers)
                {
                    optimizer.zero_grad();
                }
                losses = objective.TrainStep(new TrainingBatch(features, targets, weights), optimizers);
            }
            for (int i = 0; i < losses.Length; i++)
            {
                if (!double.IsFinite(losses[i]))
                {
                    throw new TrainingDivergedException(epoch, batch, losses[i], learningRate, i == 0 ? null : objective.LossNames[i]);
                }
                sums[i] += losses[i] * size;
            }
            Notify(callback => callback.OnBatchEnd(epoch, batch, losses[0]));
        }
        return sums.Select(s => s / order.Length).ToArray();
    }

    /// <summary>Each named loss's mean over <paramref name="data"/>, in eval mode, without gradients.</summary>
    private double[] Evaluate(TrainingObjective objective, DeviceData data)
    {
        SetTraining(objective, false);
        using var _ = no_grad();
        var sums = new double[objective.LossNames.Count];
        for (int start = 0; start < data.Count; start += Options.BatchSize)
        {
            int size = Math.Min(Options.BatchSize, data.Count - start);
            using var scope = NewDisposeScope();
            double[] losses = objective.EvaluateBatch(new TrainingBatch(data.Features.narrow(0, start, size), data.Targets?.narrow(0, start, size),
                data.Weights?.narrow(0, start, size)));
            for (int i = 0; i < losses.Length; i++)
            {
                // A batch's loss is a float: weighted in float, as the loop always has, so validation losses keep their bits.
                sums[i] += (float)losses[i] * size;
            }
        }
        return sums.Select(s => s / data.Count).ToArray();
    }

    private void Notify(Action<TrainingCallback> call)
    {
        foreach (var callback in Options.Callbacks)
        {
            call(callback);
        }
    }

    private static void SetTraining(TrainingObjective objective, bool training)
    {
        foreach (var network in objective.Networks)
        {
            network.SetTraining(training);
        }
    }

    private static IReadOnlyDictionary<string, double> Named(TrainingObjective objective, double[] losses)
        => objective.LossNames.Select((name, i) => (name, losses[i])).ToDictionary(p => p.name, p => p.Item2);

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

    private static int[] SplitOrder(int rows, int seed)
    {
        int[] order = Enumerable.Range(0, rows).ToArray();
        new Random(seed ^ 0x5EED).Shuffle(order);
        return order;
    }

    private static void DisposeState(List<Dictionary<string, Tensor>>? state)
    {
        foreach (var tensor in state?.SelectMany(s => s.Values) ?? [])
        {
            tensor.Dispose();
        }
    }

    /// <summary>A training set copied once to the training device: features, and targets typed as the objective reads them.</summary>
    private sealed class DeviceData : IDisposable
    {
        public DeviceData(TrainingSet set, TargetKind targets, Device device)
        {
            Count = set.Count;
            long[] shape = [set.Count, .. set.SampleShape.Select(d => (long)d)];
            Features = Copy(tensor(set.Features, shape, device: device));
            Targets = targets switch
            {
                TargetKind.None => null,
                // A reconstruction set (ReconstructionSet): the targets are the features, so they share the features' memory as a
                // [rows, width] view instead of holding a second copy on the device. Neither may be changed in place.
                TargetKind.Values when ReferenceEquals(set.Targets, set.Features) => Features.view(set.Count, set.TargetWidth).DetachFromDisposeScope(),
                TargetKind.Values => Copy(tensor(set.Targets, [set.Count, set.TargetWidth], device: device)),
                TargetKind.Classes => Copy(tensor(set.Targets.Select(t => (long)t).ToArray(), device: device)),
                _ => Copy(tensor(set.Targets.Select(t => (long)t).ToArray(), [set.Count, set.TargetWidth], device: device)),
            };
            Weights = set.Weights is null ? null : Copy(tensor(set.Weights, device: device));
        }

        /// <summary>
        /// On the CPU, the tensor torch.tensor builds from a managed array is only 8-byte aligned, at an offset that varies
        /// from run to run, and some vectorized kernels round differently on 16- and 32-byte-aligned data: copy it into
        /// libtorch's own 64-byte-aligned memory so that validation losses (which read the rows in place) are the same bits in
        /// every run, and release the first tensor at once.
        /// </summary>
        private static Tensor Copy(Tensor wrapped)
        {
            using (wrapped)
            {
                return wrapped.clone().DetachFromDisposeScope();
            }
        }

        public int Count { get; }

        public Tensor Features { get; }

        public Tensor? Targets { get; }

        public Tensor? Weights { get; }

        public void Dispose()
        {
            Features.Dispose();
            Targets?.Dispose();
            Weights?.Dispose();
        }
    }
}
