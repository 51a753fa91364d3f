using DeepArch.Trainers;
using Microsoft.ML.OnnxRuntime;

namespace DeepArch.MLNet;

/// <summary>
/// One ONNX Runtime session over an exported network, run a batch at a time. Inputs and outputs are
/// bound straight to managed arrays (no copies), and the session is shared: <see cref="Run(IReadOnlyList{float[]}, int, ScoredBatch, bool)"/> is safe
/// to call from several threads, each with its own buffers.
/// </summary>
internal sealed class OnnxScorer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly byte[] _model;
    private readonly ScoringSettings _settings;
    private readonly InferenceSession?[] _narrowSessions;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly int[] _inputSizes;
    private readonly string[] _outputNames;
    private readonly long[][] _outputShapes;
    private readonly object _gate = new();
    private int _running;
    private bool _disposed;
    private static int s_liveSessions;

    /// <summary>Opens a session on <paramref name="model"/>.</summary>
    /// <param name="model">The ONNX model bytes.</param>
    /// <param name="inputName">The graph input, shaped [batch, <paramref name="inputSize"/>].</param>
    /// <param name="inputSize">Values per row.</param>
    /// <param name="outputs">The graph outputs to compute, with their per-row shapes.</param>
    /// <param name="options">Threads and device.</param>
    public OnnxScorer(byte[] model, string inputName, int inputSize, IReadOnlyList<(string Name, int[] Shape)> outputs, ScoringSettings options)
        : this(model, [(inputName, inputSize)], outputs, options)
    {
    }

    /// <summary>Opens a session on <paramref name="model"/>, whose float inputs are <paramref name="inputs"/>, each shaped [batch, size].</summary>
    /// <param name="model">The ONNX model bytes.</param>
    /// <param name="inputs">The graph's float inputs, each shaped [batch, size].</param>
    /// <param name="outputs">The graph outputs to compute, with their per-row shapes.</param>
    /// <param name="options">Threads and device.</param>
    /// <param name="warn">Told when CUDA is not usable and the session falls back to the CPU; optional.</param>
    /// <exception cref="ExecutionProviderUnavailableException">CUDA was asked for without fallback and is not usable here.</exception>
    public OnnxScorer(byte[] model, IReadOnlyList<(string Name, int Size)> inputs, IReadOnlyList<(string Name, int[] Shape)> outputs, ScoringSettings options,
        Action<string>? warn = null)
    {
        _inputNames = inputs.Select(i => i.Name).ToArray();
        _inputSizes = inputs.Select(i => i.Size).ToArray();
        InputSize = _inputSizes[0];
        _outputNames = outputs.Select(o => o.Name).ToArray();
        _outputShapes = outputs.Select(o => o.Shape.Select(d => (long)d).ToArray()).ToArray();
        OutputWidths = outputs.Select(o => o.Shape.Aggregate(1, (a, d) => a * d)).ToArray();
        Device = options.Device;
        SessionThreads = options.SessionThreads;
        _narrowSessions = new InferenceSession?[SessionThreads + 1];
        _spins = options.Spins ?? SessionSpins;
        _model = model;
        _settings = options;
        InferenceSession? session = null;
        if (options.Device == ComputeDevice.Cuda)
        {
            // A CUDA library of another major already in the process (a CUDA 12 libtorch, say) would serve ONNX Runtime's CUDA 13
            // provider its symbols: refused before the provider loads, naming both.
            string? blocked = CudaLibraries.OtherMajorThan(OnnxRuntimeCudaMajor, CudaLibraries.InThisProcess()) is { } other
                ? $"ONNX Runtime's GPU build needs CUDA {OnnxRuntimeCudaMajor}, but {other}"
                : null;
            Exception? failure = null;
            if (blocked is null)
            {
                try
                {
                    session = OpenSession(model, options, cuda: true, _spins);
                }
                catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
                {
                    // The CPU build of ONNX Runtime has no CUDA provider; the GPU build throws when CUDA, cuDNN or the GPU is missing.
                    failure = e;
                    blocked = e.Message.Trim();
                }
            }
            if (blocked is not null)
            {
                // A graph the CPU cannot open either is not a provider problem: that error is the one to report.
                session = OpenSession(model, options, cuda: false, _spins);
                string cause = $"Device is Cuda but ONNX Runtime's CUDA execution provider is not usable here ({blocked})";
                if (!options.FallbackToCpu)
                {
                    session.Dispose();
                    throw new ExecutionProviderUnavailableException(
                        cause + ". Score with DeepArch's GPU scoring build (-p:DeepArchGpuScoring=true, ONNX Runtime's CUDA 13 build) on a machine " +
                        "with an NVIDIA GPU, CUDA 13 and cuDNN 9; or set FallbackToCpu (or ScoringOverrides.Device = Cpu where the model is loaded) to score on the CPU.", failure);
                }
                warn?.Invoke(cause + "; scoring on the CPU instead (FallbackToCpu).");
                Device = ComputeDevice.Cpu;
            }
        }
        _session = session ?? OpenSession(model, options, cuda: false, _spins);
        Interlocked.Increment(ref s_liveSessions);
    }

    /// <summary>The CUDA major of the ONNX Runtime GPU builds DeepArch scores with (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30 to 1.32).</summary>
    internal const int OnnxRuntimeCudaMajor = 13;

    /// <summary>A session on <paramref name="model"/> with the threads of <paramref name="options"/>, on CUDA or the CPU; on the CPU its idle threads sleep unless <paramref name="spins"/>.</summary>
    private static InferenceSession OpenSession(byte[] model, ScoringSettings options, bool cuda, bool spins)
    {
        using var sessionOptions = new SessionOptions
        {
            // 0 means one thread per core, chosen here: ONNX Runtime's own default (0) picked one thread on the 2-core
            // machines of docs/performance.md, where two scored 1.25x faster. Never more than one per core.
            IntraOpNumThreads = options.SessionThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (!cuda && !spins)
        {
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        }
        if (cuda)
        {
            sessionOptions.AppendExecutionProvider_CUDA(options.GpuDeviceId);
        }
        return new InferenceSession(model, sessionOptions);
    }

    /// <summary>Sessions opened and not yet released, process-wide: a diagnostic that disposal releases them (tests read it).</summary>
    internal static int LiveSessions => Volatile.Read(ref s_liveSessions);

    /// <summary>Values per row of the first input (the features).</summary>
    public int InputSize { get; }

    /// <summary>Values per row of each input.</summary>
    public IReadOnlyList<int> InputSizes => _inputSizes;

    /// <summary>Values per output row, for each output.</summary>
    public int[] OutputWidths { get; }

    /// <summary>The session's intra-op threads (at most one per core).</summary>
    public int SessionThreads { get; }

    /// <summary>
    /// Whether a cursor reading batches of <paramref name="batchSize"/> rows reads the next batch while this session scores the
    /// current one: when the session's threads wait without spinning (<see cref="SessionSpins"/>) and batches hold at least
    /// <see cref="SmallBatchRows"/> rows, when the session leaves a core free (<c>ScoringThreads</c> below the core count) or run on CUDA.
    /// With every core in a session whose idle threads spin, a reader beside it only competes with them: on 2 cores the MLP of
    /// eng/bench scored 0.66x the raw session overlapped against 0.84x in turn (docs/performance.md).
    /// </summary>
    public bool OverlapsReading(int batchSize) => Device == ComputeDevice.Cuda || SessionThreads < Environment.ProcessorCount || (!_spins && batchSize >= SmallBatchRows);

    private readonly bool _spins;

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin while they wait for work (its default), or sleep: they spin on machines of
    /// <see cref="TorchRuntime.PassiveWaitBelowCores"/> cores or more, as libtorch's OpenMP workers do in training, and when the
    /// process starts with <c>DEEPARCH_SCORING_SPIN=1</c>. On fewer cores, a spinning worker takes the core from the thread it
    /// waits for whenever anything else runs, the cursor reading the next batch included. Measured on 2 cores beside another
    /// process's work (load average 3.5 to 4.2, eng/bench <c>scoring --no-ae --batches 256</c>, two runs each): the MLP scored
    /// 0.94x and 0.70x the raw session with spinning threads, reading and scoring in turn, and 1.37x and 1.81x with sleeping
    /// threads, reading the next batch meanwhile (the raw session spins, as ONNX Runtime's default does). Scores are the same bits either way.
    /// </summary>
    internal static bool SessionSpins { get; } =
        Environment.ProcessorCount >= TorchRuntime.PassiveWaitBelowCores || Environment.GetEnvironmentVariable("DEEPARCH_SCORING_SPIN") == "1";

    /// <summary>The device the session runs on after any fallback.</summary>
    public ComputeDevice Device { get; }

    /// <summary>Runs the first <paramref name="rows"/> rows of <paramref name="input"/>, the only input, writing into <paramref name="output"/>.</summary>
    /// <exception cref="ObjectDisposedException">The scorer was disposed (for example a cursor outlived its transformer).</exception>
    public void Run(float[] input, int rows, ScoredBatch output) => Run([input], rows, output);

    /// <summary>Runs the first <paramref name="rows"/> rows of every input (one buffer per input, in order), writing into <paramref name="output"/>.</summary>
    /// <param name="inputs">One buffer per input, in order.</param>
    /// <param name="rows">The rows to score.</param>
    /// <param name="output">Receives the outputs.</param>
    /// <param name="beside">Whether another run of the same cursor is still in flight as this one starts (a cursor reading ahead,
    /// <see cref="OverlapsReading"/>): this run then takes <see cref="BesideThreads"/> threads (half, on the CPU with sleeping threads
    /// and <c>ScoringThreads</c> 0); the run already going keeps what it started with. Runs of fewer than <see cref="SmallBatchRows"/>
    /// rows take one thread either way.</param>
    /// <exception cref="ObjectDisposedException">The scorer was disposed (for example a cursor outlived its transformer).</exception>
    public void Run(IReadOnlyList<float[]> inputs, int rows, ScoredBatch output, bool beside = false)
    {
        // A run on a released session would be a native use-after-free (a segmentation fault, measured),
        // so every run holds the session open and Dispose releases it once the last run has returned.
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _running++;
        }
        try
        {
            RunSession(inputs, rows, output, Session(rows < SmallBatchRows ? 1 : beside ? BesideThreads : SessionThreads));
        }
        finally
        {
            bool release;
            lock (_gate)
            {
                release = --_running == 0 && _disposed;
            }
            if (release)
            {
                Release();
            }
        }
    }

    /// <summary>
    /// Below this many rows a run is too little work to share between threads: where the session's threads sleep
    /// (<see cref="SessionSpins"/>) and it has more than one, such a run (a <c>PredictionEngine</c> row, a batch of
    /// <c>ScoringBatchSize</c> 1) goes to a second session of one thread, opened at the first (a second copy of the weights).
    /// Waking a sleeping worker for one row took <c>PredictionEngine</c> from 22 to 32 µs per row, and a batch of one row read
    /// ahead scored 0.60x the raw session against 1.01x before; 16 rows read ahead scored 0.92x, as before (docs/performance.md).
    /// </summary>
    internal const int SmallBatchRows = 16;

    /// <summary>
    /// The threads of a run that another may run beside (<c>beside</c>, a cursor reading ahead with two batches in flight): half
    /// the session's, at least one, where its threads sleep (<see cref="SessionSpins"/>) and <c>ScoringThreads</c> is left at 0;
    /// else all of them. Two runs of one thread each on the 2 cores of docs/performance.md scored the MLP at batch 256 faster than
    /// two runs sharing two sleeping threads: 514,778 against 392,259 rows/s (the raw session of two threads: 510,711), eng/bench
    /// <c>scoring --no-ae --batches 256</c> with <c>--threads 1</c> and without, one after the other on a quiet machine; with
    /// every read-ahead run on half the threads, the run of 2026-12-05 23:43 UTC of eng/bench/run-all.sh scored it at 0.95x the
    /// raw session (0.77x before). The cursor now asks for it only when the other batch's run is still going, so that a run alone
    /// (the first batch, a data set of one batch, or reading slower than scoring) takes every thread: 0.96x and 0.94x against
    /// 0.91x and 1.01x for always half, alternated pairs (docs/performance.md, "Two runs side by side").
    /// </summary>
    internal int BesideThreads => OpensNarrowSessions && _settings.Threads == 0 ? Math.Max(1, SessionThreads / 2) : SessionThreads;

    /// <summary>Whether runs may take fewer threads than the main session, on sessions of their own: on the CPU, where the threads sleep.</summary>
    private bool OpensNarrowSessions => !_spins && Device == ComputeDevice.Cpu;

    /// <summary>
    /// Whether a session of one thread has been opened beside the main one: for runs of fewer than <see cref="SmallBatchRows"/> rows,
    /// and on 2 or 3 cores for runs beside another (<see cref="BesideThreads"/>); tests read it.
    /// </summary>
    internal bool HasRowSession => HasSession(1);

    /// <summary>Whether a session of <paramref name="threads"/> threads, fewer than the main one's, has been opened; tests read it.</summary>
    internal bool HasSession(int threads) => threads < SessionThreads && Volatile.Read(ref _narrowSessions[threads]) is not null;

    /// <summary>
    /// The session to run with <paramref name="threads"/> intra-op threads: the main one when that is all of its threads (or its
    /// threads spin, or it runs on CUDA), else a CPU session of that many threads, opened at its first run and kept (another
    /// copy of the weights).
    /// </summary>
    private InferenceSession Session(int threads)
    {
        if (threads >= SessionThreads || !OpensNarrowSessions)
        {
            return _session;
        }
        if (Volatile.Read(ref _narrowSessions[threads]) is { } opened)
        {
            return opened; // every run after the first: no lock
        }
        lock (_gate)
        {
            if (_narrowSessions[threads] is null)
            {
                Volatile.Write(ref _narrowSessions[threads], OpenSession(_model, _settings with { Threads = threads }, cuda: false, _spins));
                Interlocked.Increment(ref s_liveSessions);
            }
            return _narrowSessions[threads]!;
        }
    }

    private void RunSession(IReadOnlyList<float[]> inputs, int rows, ScoredBatch output, InferenceSession session)
    {
        var inputValues = new OrtValue[_inputNames.Length];
        var outputValues = new OrtValue[_outputNames.Length];
        try
        {
            for (int i = 0; i < inputValues.Length; i++)
            {
                inputValues[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs[i].AsMemory(0, rows * _inputSizes[i]), [rows, _inputSizes[i]]);
            }
            for (int i = 0; i < outputValues.Length; i++)
            {
                outputValues[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                    output.Outputs[i].AsMemory(0, rows * OutputWidths[i]), [rows, .. _outputShapes[i]]);
            }
            session.Run(_runOptions, _inputNames, inputValues, _outputNames, outputValues);
        }
        finally
        {
            foreach (var value in inputValues.Concat(outputValues))
            {
                value?.Dispose();
            }
        }
    }

    /// <summary>A batch buffer sized for <paramref name="capacity"/> rows of every output.</summary>
    public ScoredBatch CreateBatch(int capacity) => new(capacity, OutputWidths);

    /// <summary>Releases the session now, or when the runs in progress on other threads have returned.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            if (_running > 0)
            {
                return;
            }
        }
        Release();
    }

    private void Release()
    {
        foreach (var narrow in _narrowSessions)
        {
            if (narrow is not null)
            {
                narrow.Dispose();
                Interlocked.Decrement(ref s_liveSessions);
            }
        }
        _session.Dispose();
        _runOptions.Dispose();
        Interlocked.Decrement(ref s_liveSessions);
    }
}

/// <summary>How a network is scored: rows per ONNX Runtime call, intra-op threads and device.</summary>
/// <param name="BatchSize">Rows per ONNX Runtime call.</param>
/// <param name="Threads">ONNX Runtime intra-op threads, at most one per core; 0 means one per core (<see cref="Environment.ProcessorCount"/>).</param>
/// <param name="Device">The execution provider.</param>
/// <param name="FallbackToCpu">When CUDA is not usable: score on the CPU (true) or throw (false).</param>
internal sealed record ScoringSettings(int BatchSize, int Threads, ComputeDevice Device, bool FallbackToCpu)
{
    /// <summary>The CUDA device a CUDA session runs on; 0 (the first GPU, and not written to a model file) unless a load or transform override says otherwise.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int GpuDeviceId { get; init; }

    /// <summary>
    /// Whether the session's idle threads spin (<see cref="OnnxScorer.SessionSpins"/>, the machine's policy, when null); not written
    /// to a model file. Tests set it to compare reading ahead with reading in turn on the same machine.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool? Spins { get; init; }

    /// <summary>The highest CUDA device id a setting may name.</summary>
    public const int MaxGpuDeviceId = 64;

    /// <summary>The most rows per ONNX Runtime call.</summary>
    public const int MaxBatchSize = 65_536;

    /// <summary>The most ONNX Runtime threads a setting may ask for (a session never gets more than one per core).</summary>
    public const int MaxThreads = 256;

    /// <summary>The most values one row of a network's input or of one of its outputs may hold.</summary>
    public const long MaxValuesPerRow = 1L << 28;

    /// <summary>The most values one batch buffer (batch size times values per row) may hold: 2^28 floats, 1 GiB.</summary>
    public const long MaxBatchValues = 1L << 28;

    /// <summary>
    /// The intra-op threads a session gets: the setting, at most one per core; 0 means one per core. More threads than
    /// cores only make ONNX Runtime wait, and a thread count read from a model file must not size a thread pool unchecked.
    /// </summary>
    public int SessionThreads => Threads > 0 ? Math.Min(Threads, Environment.ProcessorCount) : Environment.ProcessorCount;

    /// <summary>Null when batch buffers for rows of <paramref name="inputSize"/> values and outputs of <paramref name="outputShapes"/> fit; else what is too large.</summary>
    public string? CheckBuffers(int inputSize, IEnumerable<int[]> outputShapes)
    {
        long widest = Math.Max(inputSize, outputShapes.Select(s => s.Aggregate(1L, (a, d) => a * d)).DefaultIfEmpty(1).Max());
        long values = BatchSize * widest;
        return values <= MaxBatchValues ? null
            : FormattableString.Invariant($"{BatchSize:N0} rows of {widest:N0} values make a batch buffer of {values:N0} values, more than the {MaxBatchValues:N0} (1 GiB of floats) allowed.");
    }

    /// <summary>Throws the <c>Options.ScoringBatchSize</c> error when the batch buffers do not fit (<see cref="CheckBuffers"/>).</summary>
    public void ThrowIfBuffersTooLarge(int inputSize, IEnumerable<int[]> outputShapes)
    {
        if (CheckBuffers(inputSize, outputShapes) is { } tooLarge)
        {
            throw new ArgumentOutOfRangeException("Options.ScoringBatchSize", BatchSize, $"Options.ScoringBatchSize is too large for this network: {tooLarge}");
        }
    }
}

/// <summary>
/// A network asked to score on CUDA, without fallback, where ONNX Runtime's CUDA execution provider is not usable: the
/// build, the driver or the GPU is missing. The model itself is fine; the message says how to score it.
/// </summary>
public sealed class ExecutionProviderUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception with its message and the ONNX Runtime error behind it.</summary>
    public ExecutionProviderUnavailableException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}
