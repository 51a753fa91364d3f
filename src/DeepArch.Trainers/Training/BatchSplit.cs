using System.Runtime.ExceptionServices;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Training on two threads by splitting each batch: the batch's two halves run forward and backward at once, the first on the
/// training's thread and the second on the process's helper thread (<see cref="Helper"/>), each with <see cref="ThreadsPerPart"/> libtorch
/// intra-op threads; their gradients add up in the shared parameters, and the optimizer steps once both are in.
/// </summary>
/// <remarks>
/// <para>
/// Why: libtorch's intra-op threads split each operation, and the operations of these networks at batch 128 are too small for
/// that to pay on 2 cores (two such threads trained 0.77x to 0.86x as fast as one in eng/bench). Two halves running whole passes at
/// once did 1.65x for LeNet-5 and the LSTM (docs/performance.md). A helper thread that lives on matters: a new thread per batch
/// gave the MLP nothing (1.01x), because each new thread pays libtorch's and its BLAS's per-thread set-up again, and a new thread
/// per training slowed a process's first few trainings.
/// </para>
/// <para>
/// What it needs, checked by <see cref="Start"/>: an objective whose loss is a mean (or weighted mean) over rows, or over target
/// tokens, and whose step draws no random numbers (<see cref="TrainingObjective.SplitsBatches"/>), and networks whose rows train
/// independently (<see cref="Layers.LayerSpec.RowsIndependentInTraining"/>: no batch normalization, no dropout), on the CPU. The
/// same batch then gives the same loss and gradient up to float rounding: each half's loss is weighted by its share of the batch
/// (<see cref="TrainingObjective.PartWeight"/>: rows, weights or target tokens).
/// The result is deterministic: each parameter's gradient is the sum of exactly two contributions, and a + b has the bits of b + a,
/// whichever thread finishes first. It differs in the last bits from one thread's, as two intra-op threads' does.
/// </para>
/// </remarks>
internal sealed class BatchSplit : IDisposable
{
    private readonly TrainingObjective _objective;
    private readonly int _threads;

    private BatchSplit(TrainingObjective objective, int threads)
    {
        _objective = objective;
        _threads = threads;
        ThreadsPerPart = PerPart(threads);
        int perPart = ThreadsPerPart;
        RunOnBoth(() => { }, () => set_num_threads(perPart));
    }

    /// <summary>libtorch intra-op threads on each of the two threads: half the training's threads (rounded down), at least one.</summary>
    public int ThreadsPerPart { get; }

    private static int PerPart(int threads) => Math.Max(1, threads / 2);

    /// <summary>
    /// Sets up the split when a training of <paramref name="objective"/> with <paramref name="threads"/> libtorch threads
    /// (0: one per core) on <paramref name="device"/> can split its batches (the helper thread takes <see cref="ThreadsPerPart"/>
    /// libtorch threads), and returns null otherwise. Call it holding <see cref="TorchRuntime.TrainingLock"/>: one training at a
    /// time uses the helper. <paramref name="note"/> receives, when two or more threads were asked for, whether batches are split
    /// and, if not, why.
    /// </summary>
    public static BatchSplit? Start(TrainingObjective objective, int threads, Device device, Action<string> note)
    {
        int wanted = threads > 0 ? threads : Environment.ProcessorCount;
        if (wanted < 2 || device.type != DeviceType.CPU)
        {
            return null;
        }
        string? whyNot = !objective.SplitsBatches
            ? $"{objective.GetType().Name} trains whole batches (a step that takes something of the whole batch or draws random numbers, or only some layers trained)"
            : objective.Networks.FirstOrDefault(n => !n.Architecture.RowsIndependentInTraining) is { } network
                ? $"the network {network.Architecture.Describe()} has batch normalization or dropout, whose batch statistics or random draws two threads would not share"
                : null;
        if (whyNot is not null)
        {
            note($"training on {wanted} libtorch intra-op threads per operation, not on two halves of each batch at once: {whyNot}.");
            return null;
        }
        note($"training each batch's two halves at once on two threads of {PerPart(wanted)} libtorch thread(s) each ({wanted} threads asked for).");
        return new BatchSplit(objective, wanted);
    }

    /// <summary>
    /// One training step on <paramref name="batch"/> (the optimizers' gradients zeroed): both halves' forward and backward passes
    /// at once, then the objective's clipping and optimizer steps. A batch of one row runs whole.
    /// </summary>
    /// <returns>The step's losses: the halves' losses weighted by their shares, in <see cref="TrainingObjective.LossNames"/> order.</returns>
    public double[] Step(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
    {
        long rows = batch.Features.shape[0];
        if (rows < 2)
        {
            return _objective.TrainStep(batch, optimizers);
        }
        long firstRows = rows / 2;
        var first = Part(batch, 0, firstRows);
        var second = Part(batch, firstRows, rows - firstRows);
        (float firstShare, float secondShare) = Shares(_objective.PartWeight(first), _objective.PartWeight(second));

        double[] firstLosses = [], secondLosses = [];
        RunOnBoth(() => firstLosses = _objective.BackwardPart(first, firstShare), () => secondLosses = _objective.BackwardPart(second, secondShare));
        _objective.StepParts(optimizers);
        return firstLosses.Select((loss, i) => firstShare * loss + secondShare * secondLosses[i]).ToArray();
    }

    /// <summary>
    /// Lets each optimizer that can (<see cref="IStepsInParts"/>) update half of every parameter on each of the two threads: on the
    /// MLP of eng/bench, Adam's step took a quarter of a batch's time on one thread.
    /// </summary>
    public void Attach(IEnumerable<optim.Optimizer> optimizers)
    {
        foreach (var optimizer in optimizers.OfType<IStepsInParts>())
        {
            optimizer.InParts = part => RunOnBoth(() => part(0), () => part(1));
        }
    }

    /// <summary>
    /// Runs <paramref name="second"/> on the helper thread while <paramref name="first"/> runs on this one, and returns once both
    /// have finished; an exception of either is thrown here, <paramref name="first"/>'s first.
    /// </summary>
    private static void RunOnBoth(Action first, Action second)
    {
        var helper = Helper.Instance;
        helper.Begin(second);
        ExceptionDispatchInfo? helperError;
        try
        {
            first();
        }
        finally
        {
            // The helper reads this thread's tensors (the batch): never leave, and let them be disposed, while it runs.
            helperError = helper.End();
        }
        helperError?.Throw();
    }

    /// <summary>Each half's share of the batch from their weights (<see cref="TrainingObjective.PartWeight"/>); 0 and 0 when both weigh 0.</summary>
    private static (float First, float Second) Shares(double firstWeight, double secondWeight)
    {
        double total = firstWeight + secondWeight;
        return total > 0 ? ((float)(firstWeight / total), (float)(secondWeight / total)) : (0, 0);
    }

    private static TrainingBatch Part(TrainingBatch batch, long start, long length)
        => new(batch.Features.narrow(0, start, length), batch.Targets?.narrow(0, start, length), batch.Weights?.narrow(0, start, length));

    /// <summary>
    /// The thread that runs the second half of every split training's batches, one for the process (trainings run one at a time,
    /// under <see cref="TorchRuntime.TrainingLock"/>). It lives as long as the process, idle between trainings: a thread started
    /// for each <c>Fit</c> made the MLP's first few fits in a process train no faster than one thread (1.17 s and 1.03 s against
    /// about 0.65 s for the later ones, 10,000 rows x 2 epochs), each new thread paying its memory arena's and its BLAS's warm-up.
    /// </summary>
    private sealed class Helper
    {
        private static readonly Lazy<Helper> s_instance = new(() => new Helper());
        private readonly SemaphoreSlim _start = new(0);
        private readonly SemaphoreSlim _done = new(0);
        private Action? _job;
        private ExceptionDispatchInfo? _error;

        private Helper()
        {
            // The main thread's stack size: libtorch's and its BLAS's kernels run on this thread as on the training's.
            new Thread(Run, maxStackSize: 8 << 20) { IsBackground = true, Name = "DeepArch training, second half of each batch" }.Start();
        }

        public static Helper Instance => s_instance.Value;

        /// <summary>Starts <paramref name="job"/> on the helper thread.</summary>
        public void Begin(Action job)
        {
            _job = job;
            _start.Release();
        }

        /// <summary>Waits for the job to finish; returns its exception, if it threw.</summary>
        public ExceptionDispatchInfo? End()
        {
            _done.Wait();
            return Interlocked.Exchange(ref _error, null);
        }

        private void Run()
        {
            TorchRuntime.MarkTrainingWorker();
            while (true)
            {
                _start.Wait();
                try
                {
                    using var scope = NewDisposeScope();
                    _job!();
                }
                catch (Exception e)
                {
                    _error = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    _job = null;
                    _done.Release();
                }
            }
        }
    }

    /// <summary>This thread's libtorch threads go back to the training's count, as after a training that does not split; the helper thread waits for the next training.</summary>
    public void Dispose() => TorchRuntime.SetThreads(_threads);
}
