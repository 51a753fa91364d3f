using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// The options every DeepArch estimator that trains a network shares, whatever its columns: training
/// (optimizer, schedule, validation, early stopping, seed), scoring (batch size, threads) and device.
/// <see cref="NetworkTrainerOptions"/> adds the label and feature columns of the trainers; the
/// autoencoder transforms add their input and output columns.
/// </summary>
/// <remarks>
/// An estimator validates its options when it is created (so that a bad value fails at once) and again at the start of
/// every <c>Fit</c>, which then reads them all at that moment from a copy (<see cref="Snapshot"/>): a change made to the
/// options between creating the estimator and <c>Fit</c> applies in full and is validated, and a change made while a
/// <c>Fit</c> runs waits for the next one.
/// </remarks>
public abstract class NetworkOptions
{
    /// <summary>Passes over the training data; at least 1. Default 30, unless an estimator's options set their own (sequence-to-sequence 10; the convolutional network 20; the autoencoders and detectors 50; the stacked autoencoder and the forecasters 60; the GAN 200).</summary>
    public int Epochs { get; set; } = 30;

    /// <summary>Rows per training mini-batch; at least 1.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>The optimizer's initial learning rate; positive.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>L2 weight decay; at least 0.</summary>
    public double WeightDecay { get; set; }

    /// <summary>The optimizer: Adam (default) or SGD with momentum.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;

    /// <summary>SGD momentum, in [0, 1); ignored by Adam.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>The learning-rate schedule: constant (default), <see cref="StepDecay"/>, <see cref="CosineAnnealing"/> or <see cref="ReduceOnPlateau"/>.</summary>
    public LearningRateSchedule Schedule { get; set; } = new ConstantLearningRate();

    /// <summary>The fraction of training rows held out for validation when <c>Fit</c> gets no validation data, in [0, 1).</summary>
    public double ValidationFraction { get; set; }

    /// <summary>Stop after this many epochs without a validation-loss improvement and keep the best weights; 0 (default) turns it off.</summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>The seed of initialization, shuffling and dropout; null (default) draws it from the MLContext's seed.</summary>
    public int? Seed { get; set; }

    /// <summary>Whether rows are reshuffled every epoch.</summary>
    public bool Shuffle { get; set; } = true;

    /// <summary>
    /// The largest global L2 norm of the gradients per step (PyTorch's <c>clip_grad_norm_</c>), which keeps exploding gradients
    /// from wrecking a step; finite, at least 0; 0 turns clipping off. 0 by default; 5 for the recurrent networks, whose
    /// gradients are the ones that explode, and 1 for the sequence-to-sequence encoder–decoder (<c>MapSequenceToSequence</c>).
    /// </summary>
    public double GradientClipNorm { get; set; }

    /// <summary>
    /// TorchSharp (libtorch) threads for training, in [0, 256]; 1 by default; 0 means one per core. With 2 or more, on the CPU,
    /// <c>Fit</c> trains each batch's two halves at once on two threads (of <c>TrainingThreads / 2</c> libtorch threads each),
    /// adds their gradients and splits the optimizer's step between the two threads. Measured on 2 cores (eng/bench
    /// <c>training-threads</c>, docs/performance.md), 2 threads made <c>Fit</c> 1.23x to 1.53x as fast as 1 for the MLP, 1.50x to
    /// 1.71x for LeNet-5 and 1.68x to 1.76x for the LSTM, over five runs (1.53x, 1.67x and 1.70x in the latest). That needs a network whose rows train independently (no batch normalization, no dropout) and a loss that is a
    /// mean over rows (or target tokens) without random draws: the classifiers', regressors', plain autoencoders' and
    /// encoder–decoders' (not the denoising, sparse or variational autoencoders' or the GAN's). Otherwise the threads share each operation
    /// (libtorch's intra-op threads), which on 2 cores trained slower than one thread; <c>mlContext.Log</c> says which way a
    /// <c>Fit</c> trains and why. Two threads train the same model on every run, which differs from one thread's in the last
    /// bits. One thread stays the default: it trains the same bits whatever the machine's core count, and the figures of
    /// docs/quality.md were measured with it. Intra-op threads, measured on 2 cores (eng/bench <c>wait-policy</c>: MLP, LeNet-5,
    /// autoencoder and LSTM, quiet and beside two busy loops): libgomp's spinning workers beat one thread only on the quiet
    /// machine and lost about 2-fold beside the busy loops. On a 16-core machine under passive waiting, one thread was within
    /// 7 % of sixteen (issue 22). On Linux, DeepArch makes libtorch's OpenMP workers wait passively
    /// (<c>OMP_WAIT_POLICY=PASSIVE</c>) on machines with fewer than 8 cores and leaves libgomp's spinning, which lets threads
    /// scale, on larger ones; a value the process started with wins (<c>Environment.SetEnvironmentVariable</c> does not reach
    /// libgomp). README "Threads" has the figures.
    /// </summary>
    public int TrainingThreads { get; set; } = 1;

    /// <summary>
    /// Rows per ONNX Runtime call when scoring, in [1, 65,536]; the batch buffer (this times the network's widest row) may
    /// hold at most 2^28 values (1 GiB), checked at <c>Fit</c>. The default, 256, measured as fast as 1024 (eng/bench) with a quarter of the buffer.
    /// </summary>
    public int ScoringBatchSize { get; set; } = 256;

    /// <summary>
    /// ONNX Runtime intra-op threads when scoring, in [0, 256]; 0 (default) means one per core (<see cref="Environment.ProcessorCount"/>),
    /// and a session never gets more than one per core, whatever this says (so that a model file cannot size a thread pool).
    /// DeepArch sets the count itself because ONNX Runtime's own default chose one thread on the 2-core machines of
    /// docs/performance.md, where two scored 1.25x faster. On a machine shared with other busy processes, 1 can be faster. With
    /// fewer threads than cores, a cursor reads the next batch of rows on the free core while ONNX Runtime scores the current
    /// one, and the next batch's run may start beside it: two batches in flight. On machines of fewer than 8 cores the session's
    /// idle threads sleep instead of spinning, and the cursor reads ahead with every core in the session too: beside another
    /// process's work, a spinning session reading in turn scored 0.70x to 0.94x the raw session, a sleeping one reading ahead 1.37x
    /// to 1.81x (2 cores; DEEPARCH_SCORING_SPIN=1 in the process environment keeps ONNX Runtime's spinning). There, with 0, a batch whose run starts
    /// while the other batch's is still going runs on half the threads (one on 2 cores, in a second session opened then); a run
    /// alone takes them all. Two one-thread runs side by side scored the MLP of eng/bench faster than two runs sharing two threads
    /// (0.95x the raw session against 0.77x, docs/performance.md). A count set here is used for every batch of 16 rows or more
    /// (smaller runs take one thread).
    /// </summary>
    public int ScoringThreads { get; set; }

    /// <summary>Where to train and score: the CPU (default) or CUDA.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Cpu;

    /// <summary>When <see cref="Device"/> is CUDA and no GPU is usable: use the CPU (true) or throw (false, default).</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>Receives one report per epoch (losses, learning rate, elapsed time); optional.</summary>
    public IProgress<EpochReport>? Progress { get; set; }

    /// <summary>Cancels <c>Fit</c>; checked between batches.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// A file that <c>Fit</c> writes the training history to as CSV, one row per epoch as it ends (epoch, train and validation
    /// loss, learning rate, elapsed seconds, and every named loss of the objective); null (default) writes none.
    /// <see cref="CsvHistoryWriter"/> has the format.
    /// </summary>
    public string? HistoryCsvPath { get; set; }

    /// <summary>
    /// A folder that <c>Fit</c> writes TensorBoard event files to (each loss per epoch, the learning rate); one folder per run, and
    /// <c>tensorboard --logdir</c> on their parent compares runs. Null (default) writes none. <see cref="TensorBoardWriter"/> has the tags.
    /// </summary>
    public string? TensorBoardDirectory { get; set; }

    /// <summary>
    /// A folder that <c>Fit</c> writes its training state to after every <see cref="CheckpointEvery"/> epochs (the networks, the
    /// optimizer's state, the random state, the history, early stopping's best weights), atomically, and resumes from: a <c>Fit</c>
    /// with the same options and data continues after the last checkpoint (after a crash or a cancellation) and ends with exactly
    /// the model an uninterrupted run gives; with more <see cref="Epochs"/> it trains on. A checkpoint of another run, or a damaged
    /// one, is an error. Needs <see cref="Seed"/>. Null (default): no checkpoints.
    /// </summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Epochs between checkpoints (the last epoch and an early stop always write one); at least 1.</summary>
    public int CheckpointEvery { get; set; } = 1;

    /// <summary>
    /// Whether <c>Fit</c> holds the training rows' features in memory or streams them: reads them again from the <c>IDataView</c> at
    /// every epoch, shuffled through a buffer of <see cref="ShuffleBufferRows"/> rows, so that training memory no longer grows with
    /// the features (a few bytes per row are held either way: the labels, weights, a fingerprint and an index). <see cref="TrainingDataMode.Auto"/>
    /// (default) streams when the feature column would take more than <see cref="TrainingDataMemoryBudget"/> in memory. A
    /// <c>Fit(train, validation)</c> validation set is streamed when the training rows are, or when it passes the budget itself. Streaming reads the data once more per epoch
    /// (and once for the validation rows), which costs what reading the <c>IDataView</c> costs: the README's "Training on data larger
    /// than memory" has the figures. The perceptron, convolutional and recurrent trainers, the autoencoder anomaly detector and the
    /// autoencoder transforms stream; the others (the stacked autoencoder, GANs, sequence-to-sequence, the forecasters and the
    /// encoder-decoder detector) hold their rows in memory and refuse <see cref="TrainingDataMode.Streamed"/> by name. A
    /// checkpoint (<see cref="CheckpointDirectory"/>) resumes only a run that holds its rows the same way: with checkpoints on
    /// machines of different memory, set this to InMemory or Streamed rather than Auto.
    /// </summary>
    public TrainingDataMode TrainingData { get; set; } = TrainingDataMode.Auto;

    /// <summary>
    /// With <see cref="TrainingData"/> <see cref="TrainingDataMode.Auto"/>: the most bytes the training features (rows x values x 4)
    /// may take in memory before <c>Fit</c> streams them instead. 0 (default): one eighth of the memory the process may use (the GC's
    /// <c>TotalAvailableMemoryBytes</c>, a container's limit where there is one). Training in memory holds about 3.3-3.8 bytes per byte of
    /// features at its peak (the features, libtorch's copy, their shuffled batches; eng/bench's memory step), so the default keeps an
    /// in-memory <c>Fit</c> under about half of that memory and streams beyond.
    /// </summary>
    public long TrainingDataMemoryBudget { get; set; }

    /// <summary>
    /// For streamed training (<see cref="TrainingData"/>): how many rows the shuffle buffer holds. Each epoch reads the rows in their
    /// order into the buffer, shuffles what it holds and trains on it batch by batch, so a row is only mixed with rows near it in the
    /// data: shuffle data sorted by class or by time first (for example <c>mlContext.Data.ShuffleRows</c> with a seed, saved to a
    /// binary file). 0 (default): as many rows as 64 MiB hold, and at least 8 batches; otherwise at least 2 x <see cref="BatchSize"/>.
    /// When the buffer holds every row, streamed training is exactly in-memory training.
    /// </summary>
    public int ShuffleBufferRows { get; set; }

    /// <summary>Checks every option, naming the first one out of range ("Options.BatchSize must be positive; got 0.").</summary>
    internal virtual void Validate()
    {
        Check(Enum.IsDefined(TrainingData), nameof(TrainingData), TrainingData, "must be Auto, InMemory or Streamed");
        Check(TrainingDataMemoryBudget >= 0, nameof(TrainingDataMemoryBudget), TrainingDataMemoryBudget, "must be at least 0 (0 = one eighth of the memory available)");
        Check(CheckpointDirectory is null || Seed is not null, nameof(Seed), "null",
            "must be set when CheckpointDirectory is: a resumed Fit must draw the same random numbers as the run it continues");
        Check(ScoringBatchSize >= 1 && ScoringBatchSize <= ScoringSettings.MaxBatchSize, nameof(ScoringBatchSize), ScoringBatchSize, $"must be in [1, {ScoringSettings.MaxBatchSize}]");
        Check(ScoringThreads >= 0 && ScoringThreads <= ScoringSettings.MaxThreads, nameof(ScoringThreads), ScoringThreads, $"must be in [0, {ScoringSettings.MaxThreads}] (0 = one per core)");
        // Checked here because the training loop calls it Threads, a name these options do not have.
        Check(TrainingThreads >= 0 && TrainingThreads <= ScoringSettings.MaxThreads, nameof(TrainingThreads), TrainingThreads, $"must be in [0, {ScoringSettings.MaxThreads}] (0 = one per core)");
        Check(HistoryCsvPath is null || !string.IsNullOrWhiteSpace(HistoryCsvPath), nameof(HistoryCsvPath), $"'{HistoryCsvPath}'", "must be null or a file path");
        Check(TensorBoardDirectory is null || !string.IsNullOrWhiteSpace(TensorBoardDirectory), nameof(TensorBoardDirectory), $"'{TensorBoardDirectory}'", "must be null or a folder path");
        LoopOptions(0).Validate("Options");
    }

    /// <summary>
    /// A copy of <paramref name="options"/> as they are now, their lists copied too, validated: what one <c>Fit</c> reads from start to end.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of its range (the message of <see cref="Validate"/>).</exception>
    internal static T Snapshot<T>(T options) where T : NetworkOptions
    {
        var copy = (T)options.MemberwiseClone();
        copy.CopyLists();
        copy.Validate();
        return copy;
    }

    /// <summary>Replaces every list-valued option of this copy (made by <see cref="Snapshot"/>) by a copy of its own, so that changing the original list cannot reach it.</summary>
    private protected virtual void CopyLists()
    {
    }

    /// <summary>
    /// Throws when <see cref="BatchSize"/> is 1 and <paramref name="network"/> (the options' network, built for any input size)
    /// has batch normalization, which every batch of one row would make NaN.
    /// </summary>
    /// <param name="network">The layers these options make.</param>
    /// <param name="batchNorm">The option that adds the batch normalization, e.g. <c>Options.BatchNorm</c>.</param>
    private protected void CheckBatchSizeForBatchNorm(LayerSpec network, string batchNorm)
        => Check(BatchSize >= 2 || BatchNormalization.LayerKinds(network).Count == 0, nameof(BatchSize), BatchSize,
            $"must be at least 2 with {batchNorm} (batch normalization needs two rows per batch: on one row its statistics are NaN)");

    /// <summary>The training-loop options these options describe, with the run logs' callbacks.</summary>
    internal TrainingOptions ToTrainingOptions(int seed)
    {
        var options = LoopOptions(seed);
        if (HistoryCsvPath is not null)
        {
            options.Callbacks.Add(new CsvHistoryWriter(HistoryCsvPath));
        }
        if (TensorBoardDirectory is not null)
        {
            options.Callbacks.Add(new TensorBoardWriter(TensorBoardDirectory));
        }
        return options;
    }

    /// <summary>The budget <see cref="TrainingDataMemoryBudget"/> sets, in bytes.</summary>
    internal long MemoryBudgetBytes => TrainingDataMemoryBudget > 0 ? TrainingDataMemoryBudget : TrainingMemory.AvailableBytes / 8;

    private TrainingOptions LoopOptions(int seed) => new()
    {
        ShuffleBufferRows = ShuffleBufferRows,
        Epochs = Epochs,
        BatchSize = BatchSize,
        LearningRate = LearningRate,
        WeightDecay = WeightDecay,
        Optimizer = Optimizer,
        Momentum = Momentum,
        Schedule = Schedule,
        ValidationFraction = ValidationFraction,
        EarlyStoppingPatience = EarlyStoppingPatience,
        GradientClipNorm = GradientClipNorm,
        Seed = seed,
        Shuffle = Shuffle,
        Threads = TrainingThreads,
        Device = Device,
        FallbackToCpu = FallbackToCpu,
        CheckpointDirectory = CheckpointDirectory,
        CheckpointEvery = CheckpointEvery,
    };

    /// <summary>
    /// Throws when early stopping is on but <c>Fit</c> got no validation data and <see cref="ValidationFraction"/> holds none out.
    /// Not an Options check: with <c>Fit(train, validation)</c> the same options are right.
    /// </summary>
    internal void CheckEarlyStoppingHasValidation(bool validationGiven)
    {
        if (!validationGiven && EarlyStoppingPatience > 0 && ValidationFraction == 0)
        {
            throw new InvalidOperationException(
                $"Options.EarlyStoppingPatience is {EarlyStoppingPatience} but there is no validation data: " +
                "set Options.ValidationFraction above 0, call Fit(trainData, validationData), or set EarlyStoppingPatience to 0.");
        }
    }

    /// <summary>Checks the threshold and missing-value options both anomaly detectors have.</summary>
    private protected static void CheckAnomalyThreshold(AnomalyThresholdSource source, double contamination, float? threshold, double falsePositiveRate, MissingValuePolicy missingValues)
    {
        Check(Enum.IsDefined(source), "ThresholdSource", source, "must be a defined AnomalyThresholdSource");
        Check(Enum.IsDefined(missingValues), "MissingValues", missingValues, "must be FlagAsAnomaly or Throw");
        Check(contamination > 0 && contamination <= 0.5, "Contamination", contamination, "must be in (0, 0.5]");
        Check(source != AnomalyThresholdSource.Explicit || threshold is { } t && float.IsFinite(t), "Threshold",
            threshold is null ? "null" : threshold.Value, "must be a finite number when ThresholdSource is Explicit");
        Check(falsePositiveRate > 0 && falsePositiveRate <= 0.5, "FalsePositiveRate", falsePositiveRate, "must be in (0, 0.5]");
    }

    /// <summary>Throws the standard out-of-range error unless <paramref name="value"/>, the value of option <paramref name="name"/>, names a column.</summary>
    private protected static void CheckColumnName(string name, string? value)
        => Check(!string.IsNullOrWhiteSpace(value), name, value is null ? "null" : $"'{value}'", "must name a column");

    /// <summary>Throws the standard out-of-range error for option <paramref name="name"/>.</summary>
    private protected static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException($"Options.{name}", value, $"Options.{name} {rule}; got {TrainingOptions.Format(value)}.");
        }
    }

    /// <summary>How the fitted transformer scores: rows per call, threads and device.</summary>
    internal ScoringSettings ToScoringSettings() => new(ScoringBatchSize, ScoringThreads, Device, FallbackToCpu);
}
