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
            if (validation.Weights is { } heldOutWeights && !heldOutWeights.Any(w => w > 0))
            {
                throw new ArgumentException(
                    $"Every one of the {heldOut} rows ValidationFraction held out has weight 0: the validation loss would be 0 at every epoch. " +
                    "Give weight to some of them, choose another fraction, or give validation data instead.", "ValidationFraction");
            }
            if (train.Weights is { } weights && !weights.Any(w => w > 0))
            {
                throw new ArgumentException(
                    $"Every training row left after ValidationFraction held out {heldOut} rows has weight 0: nothing would be learned. " +
                    "Give weight to some of the rows that train, or give validation data instead.", "ValidationFraction");
            }
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
            checkpoints.CheckWritable();
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
        // The shuffle buffer of streamed sets, one for both (allocated after the memory check).
        var streamed = train.Rows ?? validation?.Rows;
        int bufferRows = streamed is null ? 0 : BatchSource.ShuffleBuffer.CheckedRowsFor(Options.ShuffleBufferRows, streamed.RowSize, Options.BatchSize,
            Math.Max(train.Rows is null ? 0 : train.Count, validation?.Rows is null ? 0 : validation.Count));
        var memory = TrainingMemory.Estimate(networks.Select(n => (n.Architecture, n.InputShape)).ToList(), Options,
            TrainingMemory.DataValues(train) + TrainingMemory.DataValues(validation) + (long)bufferRows * (streamed?.RowSize ?? 0));
        var device = networks[0].Device;
        if (device.type == DeviceType.CPU && memory.TotalBytes > TrainingMemory.AvailableBytes)
        {
            throw new InsufficientMemoryException(
                $"Training needs {memory.Describe("", "BatchSize")} but {TrainingMemory.FormatBytes(TrainingMemory.AvailableBytes)} is available " +
                "to this process: make the network smaller, lower BatchSize, or train on fewer rows.");
        }

        var buffer = streamed is null ? null : new BatchSource.ShuffleBuffer(bufferRows, streamed.RowSize);
        TorchRuntime.EnsureInitialized();
        using (TorchRuntime.EnterTraining(cancellationToken))
        {
            try
            {
                // oneDNN on or off for these networks' layers, for every pass below (validation included).
                using var oneDnn = TorchRuntime.UseOneDnnFor(networks);
                // With two or more threads, each batch's halves train at once on two threads where the objective and the networks allow.
                using var split = BatchSplit.Start(objective, Options.Threads, device, note => Notify(callback => callback.OnInfo(note)));
                TorchRuntime.SetThreads(split?.ThreadsPerPart ?? Options.Threads);
                random.manual_seed(Options.Seed);
                objective.Begin(Options);
                using var trainData = BatchSource.Create(train, objective.Targets, device, buffer);
                using var validationData = validation is null ? null : BatchSource.Create(validation, objective.Targets, device, buffer);
                var optimizers = objective.ParameterGroups().Select(CreateOptimizer).ToList();
                split?.Attach(optimizers);
                try
                {
                    return RunEpochs(objective, optimizers, trainData, validationData, split, checkpoints, progress, cancellationToken);
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

    private TrainingHistory RunEpochs(TrainingObjective objective, IReadOnlyList<optim.Optimizer> optimizers, BatchSource train, BatchSource? validation,
        BatchSplit? split, TrainingCheckpoints? checkpoints, IProgress<EpochReport>? progress, CancellationToken cancellationToken)
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
                if (resumed.State.Epoch > Options.Epochs)
                {
                    Notify(callback => callback.OnWarning(
                        $"the checkpoint in CheckpointDirectory holds {resumed.State.Epoch} epochs, more than the {Options.Epochs} asked for: the model is the checkpoint's. " +
                        "Point CheckpointDirectory at an empty folder to train fewer epochs."));
                }
                (bestState, bestLoss, bestEpoch, epochsWithoutImprovement) = (resumed.Best, resumed.State.BestLoss, resumed.State.BestEpoch, resumed.State.EpochsWithoutImprovement);
                stopReason = resumed.State.StopReason;
                firstEpoch = resumed.State.Ended ? int.MaxValue : resumed.State.Epoch + 1;
                elapsedBefore = reports.Count > 0 ? reports[^1].Elapsed : TimeSpan.Zero;
                for (int epoch = 1; epoch <= resumed.State.Epoch; epoch++)
                {
                    scheduler.RateForEpoch(epoch - 1, epoch == 1 ? null : reports[epoch - 2].ValidationLoss ?? reports[epoch - 2].TrainLoss);
                    if (Options.Shuffle)
                    {
                        train.ReplayShuffle(shuffler, Options.BatchSize);
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

                double[] trainLosses = RunEpoch(objective, optimizers, train, split, epoch, rate, shuffler, cancellationToken);
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
    private double[] RunEpoch(TrainingObjective objective, IReadOnlyList<optim.Optimizer> optimizers, BatchSource train, BatchSplit? split, int epoch, double learningRate,
        Random shuffler, CancellationToken cancellationToken)
    {
        SetTraining(objective, true);
        var sums = new double[objective.LossNames.Count];
        double total = 0;
        using var batches = train.Shuffled(shuffler, Options.Shuffle, Options.BatchSize).GetEnumerator();
        for (int batch = 1; ; batch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double[] losses;
            double size;
            using (NewDisposeScope())
            {
                if (!batches.MoveNext())
                {
                    break;
                }
                var rows = batches.Current;
                // A weighted batch's losses are means weighted within it: the epoch's mean weighs each batch by its weight sum, so
                // that it is sum(w * loss) / sum(w) over the rows (a weight of 2 counts as the row twice), not a mean of batch means.
                size = rows.Weights is { } w ? w.sum().item<float>() : rows.Features.shape[0];
                foreach (var optimizer in optimizers)
                {
                    optimizer.zero_grad();
                }
                losses = split is null ? objective.TrainStep(rows, optimizers) : split.Step(rows, optimizers);
            }
            for (int i = 0; i < losses.Length; i++)
            {
                if (!double.IsFinite(losses[i]))
                {
                    throw new TrainingDivergedException(epoch, batch, losses[i], learningRate, i == 0 ? null : objective.LossNames[i]);
                }
                sums[i] += losses[i] * size;
            }
            total += size;
            Notify(callback => callback.OnBatchEnd(epoch, batch, losses[0]));
        }
        return sums.Select(s => total > 0 ? s / total : 0).ToArray();
    }

    /// <summary>Each named loss's mean over <paramref name="data"/>, in eval mode, without gradients.</summary>
    private double[] Evaluate(TrainingObjective objective, BatchSource data)
    {
        SetTraining(objective, false);
        using var _ = no_grad();
        var sums = new double[objective.LossNames.Count];
        double total = 0;
        using var batches = data.InOrder(Options.BatchSize).GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope();
            if (!batches.MoveNext())
            {
                break;
            }
            // Weighted as the training epoch's mean (RunEpoch): each batch by its weight sum.
            long rows = batches.Current.Features.shape[0];
            float? weight = batches.Current.Weights is { } w ? w.sum().item<float>() : null;
            total += weight ?? rows;
            double[] losses = objective.EvaluateBatch(batches.Current);
            for (int i = 0; i < losses.Length; i++)
            {
                // A batch's loss is a float: weighted in float, as the loop always has, so validation losses keep their bits.
                sums[i] += weight is { } batchWeight ? (float)losses[i] * (double)batchWeight : (float)losses[i] * rows;
            }
        }
        return sums.Select(s => total > 0 ? s / total : 0).ToArray();
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
                $"ValidationFraction {fraction} of {set.Count} rows leaves {(validationCount == 0 ? "no validation" : "no training")} rows: " +
                "choose another fraction, train on more rows, or give validation data instead.", "ValidationFraction");
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
}
