namespace DeepArch.Trainers.Training;

/// <summary>The loss minimized during training.</summary>
public enum LossFunction
{
    /// <summary>Mean squared error between output and target (regression, reconstruction).</summary>
    MeanSquaredError,
    /// <summary>Softmax cross-entropy between logits and a class index (multiclass classification).</summary>
    CrossEntropy,
    /// <summary>Logistic loss between one logit and a 0/1 target (binary classification).</summary>
    BinaryCrossEntropyWithLogits,
}

/// <summary>How a network is trained. Every property has a default; <see cref="Validate"/> checks the ranges.</summary>
public sealed class TrainingOptions
{
    /// <summary>The number of passes over the training data; at least 1.</summary>
    public int Epochs { get; set; } = 20;

    /// <summary>
    /// Rows per mini-batch; at least 1, and at least 2 for a network with batch normalization (<see cref="TrainingLoop.Fit"/> rejects 1 there).
    /// A last batch of a single row joins the batch before it (batch normalization needs two rows).
    /// </summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>The optimizer's (initial) learning rate; positive and finite.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>L2 weight decay; at least 0.</summary>
    public double WeightDecay { get; set; }

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;

    /// <summary>Adam's decay rate of the gradient's running mean (PyTorch's <c>betas[0]</c>), in [0, 1); ignored by SGD. GANs use 0.5.</summary>
    public double AdamBeta1 { get; set; } = 0.9;

    /// <summary>Adam's decay rate of the squared gradient's running mean (PyTorch's <c>betas[1]</c>), in [0, 1); ignored by SGD.</summary>
    public double AdamBeta2 { get; set; } = 0.999;

    /// <summary>SGD momentum, in [0, 1); ignored by Adam.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>The learning-rate schedule; <see cref="ConstantLearningRate"/> by default.</summary>
    public LearningRateSchedule Schedule { get; set; } = new ConstantLearningRate();

    /// <summary>The seed of parameter initialization, shuffling and dropout; the same seed and data give the same model on the CPU.</summary>
    public int Seed { get; set; }

    /// <summary>Whether the rows are reshuffled before every epoch.</summary>
    public bool Shuffle { get; set; } = true;

    /// <summary>The fraction of the training rows held out for validation when no validation set is given, in [0, 1).</summary>
    public double ValidationFraction { get; set; }

    /// <summary>
    /// Stop after this many epochs without a validation-loss improvement and restore the best weights;
    /// 0 turns early stopping off. Needs validation data.
    /// </summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>The smallest decrease of the validation loss that counts as an improvement; at least 0.</summary>
    public double EarlyStoppingMinDelta { get; set; }

    /// <summary>
    /// The largest global L2 norm of the gradients (all parameters together) per step: above it, every gradient is
    /// scaled down so that the norm equals the limit (PyTorch's <c>clip_grad_norm_</c>), which keeps the exploding
    /// gradients of recurrent networks from wrecking a step. Finite and at least 0; 0 (the default) turns clipping off.
    /// </summary>
    public double GradientClipNorm { get; set; }

    /// <summary>
    /// libtorch threads; 1 by default (the same model from the same seed on any machine); 0 means one per core. With 2 or more on
    /// the CPU, an objective and networks that allow it train each batch's two halves at once on two threads of <c>Threads / 2</c>
    /// libtorch threads each (<see cref="TrainingObjective.SplitsBatches"/>; 1.3x to 1.8x one thread on 2 cores, docs/performance.md);
    /// otherwise the threads are libtorch's intra-op threads, which trained slower than one thread on 2 cores.
    /// </summary>
    public int Threads { get; set; } = 1;

    /// <summary>The device to train on.</summary>
    public ComputeDevice Device { get; set; } = ComputeDevice.Cpu;

    /// <summary>When <see cref="Device"/> is CUDA and no GPU is usable: train on the CPU (true) or throw (false).</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>
    /// A folder to write the training state to (<see cref="CheckpointEvery"/>) and to resume from: when it holds a checkpoint of
    /// the same run (networks, <see cref="StartingState"/>, options that shape training, data; under <see cref="CosineAnnealing"/>
    /// also <see cref="Epochs"/>), <c>Fit</c> continues after its epoch and ends with exactly the model an uninterrupted run gives;
    /// a checkpoint of another run, or a damaged one, is an error. Null (default): no checkpoints.
    /// </summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>
    /// For a run that starts from weights the seed does not give (a warm start's initial model), their SHA-256: part of the
    /// checkpoint fingerprint, so that a checkpoint of a run from other starting weights is another run's. Null: the seed's.
    /// </summary>
    public string? StartingState { get; set; }

    /// <summary>Epochs between checkpoints (the last epoch, and an early stop, always write one); at least 1.</summary>
    public int CheckpointEvery { get; set; } = 1;

    /// <summary>
    /// For a streamed training set (<see cref="TrainingSet.Streamed"/>): how many rows the shuffle buffer holds. Each pass reads
    /// the rows in their order into the buffer, shuffles what it holds and trains on it batch by batch, so a row is mixed with
    /// the rows near it in the source: shuffle rows sorted by class (or by time) before training. 0 (default): as many rows as
    /// 64 MiB hold, at least 8 batches; otherwise at least two batches. When the buffer holds every row, training is exactly what it is on the same rows in memory.
    /// </summary>
    public int ShuffleBufferRows { get; set; }

    /// <summary>Hooks called at the start and end of training, epochs and batches.</summary>
    public IList<TrainingCallback> Callbacks { get; private set; } = new List<TrainingCallback>();

    /// <summary>A copy of these options, sharing their callbacks and schedule (which a run does not change).</summary>
    internal TrainingOptions Copy() => (TrainingOptions)MemberwiseClone();

    /// <summary>A copy of these options with <paramref name="callbacks"/> instead of theirs.</summary>
    internal TrainingOptions Copy(IEnumerable<TrainingCallback> callbacks)
    {
        var copy = Copy();
        copy.Callbacks = callbacks.ToList();
        return copy;
    }

    /// <summary>Checks every option, naming the first one out of range.</summary>
    /// <param name="owner">How the options are named in messages, e.g. <c>Options</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of its range.</exception>
    public void Validate(string owner = nameof(TrainingOptions))
    {
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be positive");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive and finite");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be finite and at least 0");
        Check(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer, "must be Adam or Sgd");
        Check(AdamBeta1 >= 0 && AdamBeta1 < 1, nameof(AdamBeta1), AdamBeta1, "must be in [0, 1)");
        Check(AdamBeta2 >= 0 && AdamBeta2 < 1, nameof(AdamBeta2), AdamBeta2, "must be in [0, 1)");
        Check(Momentum >= 0 && Momentum < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Check(Schedule is not null, nameof(Schedule), "null", "must not be null");
        Check(ValidationFraction >= 0 && ValidationFraction < 1, nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        Check(EarlyStoppingPatience >= 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be at least 0");
        Check(EarlyStoppingMinDelta >= 0 && double.IsFinite(EarlyStoppingMinDelta), nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, "must be finite and at least 0");
        Check(GradientClipNorm >= 0 && double.IsFinite(GradientClipNorm), nameof(GradientClipNorm), GradientClipNorm, "must be finite and at least 0 (0 = no clipping)");
        Check(Threads >= 0, nameof(Threads), Threads, "must be at least 0 (0 = one per core)");
        Check(Enum.IsDefined(Device), nameof(Device), Device, "must be Cpu or Cuda");
        Check(CheckpointDirectory is null || !string.IsNullOrWhiteSpace(CheckpointDirectory), nameof(CheckpointDirectory), $"'{CheckpointDirectory}'",
            "must name a folder, or be null for no checkpoints");
        Check(ShuffleBufferRows == 0 || ShuffleBufferRows >= 2L * BatchSize, nameof(ShuffleBufferRows), ShuffleBufferRows,
            $"must be 0 (as many rows as 64 MiB hold) or at least two batches ({2L * BatchSize} rows for BatchSize {BatchSize})");
        Check(CheckpointEvery >= 1, nameof(CheckpointEvery), CheckpointEvery, "must be at least 1");
        Schedule!.Validate($"{owner}.{nameof(Schedule)}");
        if (Schedule is CosineAnnealing cosine && cosine.MinimumRate > LearningRate)
        {
            // The "annealing" would raise the rate from LearningRate to MinimumRate over the run.
            string name = $"{owner}.{nameof(Schedule)}.{nameof(CosineAnnealing.MinimumRate)}";
            throw new ArgumentOutOfRangeException(name, cosine.MinimumRate,
                $"{name} must not exceed {owner}.{nameof(LearningRate)} ({Format(LearningRate)}), or the rate rises over the run; got {Format(cosine.MinimumRate)}.");
        }

        void Check(bool ok, string name, object value, string rule)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException($"{owner}.{name}", value, $"{owner}.{name} {rule}; got {Format(value)}.");
            }
        }
    }

    internal static string Format(object value) => value switch
    {
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "null",
    };
}
