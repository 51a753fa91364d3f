using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace DeepArch.Trainers;

/// <summary>Where a network trains: the CPU, or a CUDA GPU.</summary>
public enum ComputeDevice
{
    /// <summary>The CPU (the default, and the only device CI can test).</summary>
    Cpu,
    /// <summary>The first CUDA GPU. Needs a CUDA build of libtorch (see the README's GPU section).</summary>
    Cuda,
}

/// <summary>
/// Process-wide TorchSharp settings that DeepArch applies once: the glibc allocator tuning libtorch
/// needs on Linux, the global lock that makes seeded training reproducible, and device selection.
/// </summary>
internal static class TorchRuntime
{
    private static readonly object InitLock = new();
    private static bool s_initialized;
    private static string? s_oneDnnOffReason;

    /// <summary>
    /// Held while a network is created or trained. libtorch's random generator and thread count are
    /// process-global, so two trainings at once would interleave their random draws; holding this
    /// lock keeps "same seed, same data, same model" true in a multi-threaded host.
    /// </summary>
    public static readonly object TrainingLock = new();

    /// <summary>
    /// Takes <see cref="TrainingLock"/> (reentrant), waiting no longer than <paramref name="cancellationToken"/> allows: a
    /// training queued behind another one's hours of epochs is cancelled within milliseconds, as a running one is. Dispose the
    /// result to release the lock.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the lock was free.</exception>
    public static TrainingLockScope EnterTraining(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!cancellationToken.CanBeCanceled)
        {
            Monitor.Enter(TrainingLock);
            return default;
        }
        if (Monitor.TryEnter(TrainingLock))
        {
            return default;
        }
        Interlocked.Increment(ref s_waiters);
        try
        {
            while (!Monitor.TryEnter(TrainingLock, millisecondsTimeout: 20))
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            Interlocked.Decrement(ref s_waiters);
        }
        return default;
    }

    private static int s_waiters;

    [ThreadStatic]
    private static bool t_trainingWorker;

    /// <summary>
    /// Whether the calling thread runs inside a training: it holds <see cref="TrainingLock"/>, or it is a training's helper
    /// thread (<see cref="Training.BatchSplit"/>), which runs while the training that started it holds the lock. Passes on
    /// such a thread run on the kernels the training chose.
    /// </summary>
    internal static bool InTraining => t_trainingWorker || Monitor.IsEntered(TrainingLock);

    /// <summary>Marks the calling thread as a training's helper thread for its whole life (<see cref="InTraining"/>).</summary>
    internal static void MarkTrainingWorker() => t_trainingWorker = true;

    /// <summary>Trainings waiting in <see cref="EnterTraining"/> with a token they may cancel (tests read it).</summary>
    internal static int TrainingWaiters => Volatile.Read(ref s_waiters);

    /// <summary>Holds <see cref="TrainingLock"/> until disposed (<see cref="EnterTraining"/>).</summary>
    public readonly struct TrainingLockScope : IDisposable
    {
        /// <summary>Releases the lock.</summary>
        public void Dispose() => Monitor.Exit(TrainingLock);
    }

    /// <summary>Below this many cores, DeepArch makes libtorch's OpenMP workers wait passively (<see cref="PrepareNativeEnvironment"/>).</summary>
    internal const int PassiveWaitBelowCores = 8;

    /// <summary>
    /// Runs when DeepArch.Trainers is first used, before any DeepArch code touches TorchSharp (whose static constructor
    /// loads libtorch and with it libgomp, which reads its environment once, when it loads). On a machine with fewer than
    /// <see cref="PassiveWaitBelowCores"/> cores it sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment unless the
    /// variable is already set. With libgomp's default, an idle OpenMP worker spins about 3 ms before it sleeps; on a
    /// 2-core machine whose cores other processes keep busy, the spinning workers take CPU from the very threads they wait
    /// for, and training with one thread per core ran up to 1.9 times slower than with passive waiting (5.9 times for LeNet-5 on
    /// ATen's convolution kernels; docs/performance.md, the "wait-policy" step). On a 16-core machine, passive waiting kept training from scaling with threads at all, and
    /// spinning let it (issue 22's measurements: 1.6x to 2.0x from 1 to 16 threads), so larger machines keep libgomp's
    /// default; 8 is a boundary between the two core counts measured, not a measurement. Training uses one thread unless
    /// <c>TrainingThreads</c> asks for more, and one thread does not wait for workers, so this only matters to callers who
    /// ask. To choose yourself, start the process with <c>OMP_WAIT_POLICY</c> (or <c>GOMP_SPINCOUNT</c>) set; a process
    /// that loaded TorchSharp before DeepArch keeps whatever libgomp read then.
    /// </summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries",
        Justification = "The variable must be in the native environment before libgomp loads, and any DeepArch entry point may be the first to load it.")]
    internal static void PrepareNativeEnvironment()
    {
        if (OperatingSystem.IsLinux() && Environment.ProcessorCount < PassiveWaitBelowCores)
        {
            try
            {
                _ = setenv("OMP_WAIT_POLICY", "PASSIVE", overwrite: 0); // 0: an existing value wins
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // No libc setenv: libgomp keeps its default.
            }
        }
    }

    /// <summary>Applies the process-wide settings once.</summary>
    public static void EnsureInitialized()
    {
        lock (InitLock)
        {
            if (s_initialized)
            {
                return;
            }
            RequireTorchSharp();
            if (OperatingSystem.IsLinux())
            {
                // libtorch allocates through glibc malloc. With glibc's defaults, buffers of a few hundred
                // KB are mmap'ed and trimmed back to the OS on free, so every batch page-faults them in
                // again (measured up to 2.5x slower training). These are the values of
                // MALLOC_MMAP_THRESHOLD_=32 MiB and MALLOC_TRIM_THRESHOLD_=1 GiB; an explicit environment
                // setting wins.
                TryMallopt("MALLOC_MMAP_THRESHOLD_", MallocMmapThreshold, 32 << 20);
                TryMallopt("MALLOC_TRIM_THRESHOLD_", MallocTrimThreshold, 1 << 30);
                ApplyOneDnnChoice();
            }
            s_initialized = true;
        }
    }

    /// <summary>Resolves the device to train on, falling back to the CPU or throwing as the caller chose.</summary>
    public static Device ResolveDevice(ComputeDevice requested, bool fallbackToCpu, string optionName)
    {
        RequireTorchSharp();
        if (requested == ComputeDevice.Cpu)
        {
            return CPU;
        }
        bool available;
        try
        {
            available = cuda.is_available();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException)
        {
            available = false;
        }
        if (available && CudaLibraries.MixedMajors(CudaLibraries.InThisProcess()) is { } mixed)
        {
            // libtorch's CUDA beside another major already in the process (ONNX Runtime's GPU build is CUDA 13): one of the two
            // would run on the other's libraries.
            throw new InvalidOperationException(
                $"{optionName} is Cuda but {mixed}. Use a libtorch built for the CUDA major of ONNX Runtime's GPU build (CUDA 13; README, section GPU).");
        }
        if (available)
        {
            return CUDA;
        }
        if (fallbackToCpu)
        {
            return CPU;
        }
        throw new InvalidOperationException(
            $"{optionName} is Cuda but TorchSharp reports no usable CUDA device (torch.cuda.is_available() is false). " +
            "Training on a GPU needs a CUDA build of libtorch: build with -p:DeepArchSystemLibTorch=true and start the process with that libtorch's lib " +
            "folder on LD_LIBRARY_PATH, on a machine with an NVIDIA GPU and driver (README, section GPU); or set FallbackToCpu = true to train on the CPU.");
    }

    /// <summary>Sets libtorch's intra-op thread count; 0 means one per core.</summary>
    /// <summary>
    /// Loads TorchSharp (its static constructor loads the native libraries) and, when that fails, throws an error that names the
    /// cause and the fix instead of TorchSharp's own message, which blames a missing package reference.
    /// </summary>
    /// <exception cref="InvalidOperationException">TorchSharp's native libraries do not load here.</exception>
    internal static void RequireTorchSharp()
    {
        try
        {
            System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(TorchSharp.torch).TypeHandle);
        }
        catch (TypeInitializationException e)
        {
            throw new InvalidOperationException(DescribeLoadFailure(AppContext.BaseDirectory, SystemLibStdCxx()), e);
        }
    }

    /// <summary>The libtorch release TorchSharp 0.107's glue is built against; a system libtorch must match it (README, section GPU).</summary>
    internal const string TorchSharpLibTorchVersion = "2.10";

    /// <summary>The symbol version TorchSharp 0.107's native glue asks of libstdc++ (eng/TorchSharpNativeFix/README.md).</summary>
    private const string GlibcxxVersion = "GLIBCXX_3.4.32";

    /// <summary>
    /// Why TorchSharp's native libraries did not load in an application whose output is <paramref name="applicationDirectory"/>, given
    /// the system's libstdc++ at <paramref name="libStdCxx"/> (null when none was found).
    /// </summary>
    internal static string DescribeLoadFailure(string applicationDirectory, string? libStdCxx)
    {
        string? glue = new[] { Path.Combine(applicationDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Path.Combine(applicationDirectory, "libLibTorchSharp.so") }
            .FirstOrDefault(File.Exists);
        if (glue is null)
        {
            return OperatingSystem.IsLinux() || !OperatingSystem.IsWindows()
                ? $"TorchSharp's native libraries did not load: the application's output ({applicationDirectory}) holds no libLibTorchSharp.so. Reference the " +
                  "DeepArch.Trainers package (or TorchSharp and libtorch-cpu-linux-x64) from the application project, so that their native files are copied to its output."
                : "TorchSharp's native libraries did not load; the inner exception says why.";
        }
        if (!File.Exists(Path.Combine(Path.GetDirectoryName(glue)!, "libtorch.so")) && !File.Exists(Path.Combine(applicationDirectory, "libtorch.so")))
        {
            return $"TorchSharp's native libraries did not load: the application's output ({applicationDirectory}) holds TorchSharp's glue but no libtorch, " +
                "as a build with -p:DeepArchSystemLibTorch=true leaves it, to use a libtorch installed on the machine. Start the process with the lib folder " +
                $"of a libtorch {TorchSharpLibTorchVersion} build (for example a CUDA 13 build, or Python's torch/lib of the same version) on LD_LIBRARY_PATH " +
                "(README, section GPU), or build without that switch to ship libtorch's CPU build.";
        }
        bool needsNewLibStdCxx = libStdCxx is not null && Contains(glue, GlibcxxVersion) && !Contains(libStdCxx, GlibcxxVersion);
        if (needsNewLibStdCxx)
        {
            return $"TorchSharp's native library {glue} requires {GlibcxxVersion}, which this system's libstdc++ ({libStdCxx}) lacks (it is older than GCC 13, " +
                "as on Debian 12). DeepArch's build step patches the copy in the build output so that it loads: it runs for projects that reference the " +
                "DeepArch.Trainers or DeepArch.MLNet package and for projects inside the DeepArch repository, but not for a project outside the repository " +
                "that references DeepArch with a ProjectReference. Add <Import Project=\"path/to/DeepArch/eng/TorchSharpNativeFix/TorchSharpNativeFix.targets\" " +
                "Condition=\"'$(_DeepArchNativeFixImported)' != 'true'\" /> to that project (eng/TorchSharpNativeFix/README.md), or reference the package, and build again.";
        }
        return $"TorchSharp's native libraries did not load from {Path.GetDirectoryName(glue)}; the inner exception says why (a missing libtorch file, or a " +
            "system library older than libtorch needs).";
    }

    /// <summary>The system's libstdc++.so.6, where the dynamic loader looks for it first; null when none is found.</summary>
    private static string? SystemLibStdCxx()
        => new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64" }
            .Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);

    /// <summary>Whether the file holds the ASCII string <paramref name="text"/> (a version name in an ELF string table).</summary>
    private static bool Contains(string path, string text)
    {
        try
        {
            return File.ReadAllBytes(path).AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(text)) >= 0;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static void SetThreads(int threads)
    {
        int wanted = threads > 0 ? threads : Environment.ProcessorCount;
        if (get_num_threads() != wanted)
        {
            set_num_threads(wanted);
        }
    }

    private const int MallocTrimThreshold = -1;
    private const int MallocMmapThreshold = -3;

    private static void TryMallopt(string environmentVariable, int parameter, int value)
    {
        if (Environment.GetEnvironmentVariable(environmentVariable) is not null)
        {
            return;
        }
        try
        {
            _ = mallopt(parameter, value);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl, for instance): nothing to tune.
        }
    }

    /// <summary>
    /// How the process starts with libtorch's oneDNN backend (convolutions and LSTMs), before any training chooses for its own
    /// layers (<see cref="UseOneDnnFor"/>). <c>DEEPARCH_ONEDNN=0</c> in the process environment turns it off for good
    /// (<c>torch.backends.mkldnn.enabled = False</c>: convolutions and LSTMs run on ATen's own kernels); <c>DEEPARCH_ONEDNN=1</c> keeps
    /// it on for good, unchecked. Otherwise oneDNN rests on where its kernels agree with ATen's on this CPU for the two layers where
    /// a disagreement was seen first (<see cref="OneDnnCheck.ProcessDisagreement"/>; <see cref="OneDnnOffReason"/> says why not), and
    /// each training, and <see cref="Networks.Network.Forward"/> outside one, then turns it on or off for the layers it runs
    /// (<see cref="UseOneDnnFor"/>). History: DeepArch turned it off from 2026-11-23 to 2026-12-05, after oneDNN's jit:avx512_core kernels were seen to change a small
    /// convolution's input gradient and a dilated transposed convolution's output from run to run with 2 threads. That was not
    /// reproduced on 2026-12-05 with the same libtorch 2.10 on the same kind of 2-core AVX-512 machine (ConvolutionDeterminismTests
    /// keeps the checks), and ATen's kernels were the slow ones: LeNet-5 trained 1.62 times as fast with oneDNN at one thread and
    /// 2.26 times as fast at two, the LSTM 1.14 and 1.54 times (eng/bench <c>onednn</c>). On the AMD EPYC of <see cref="OneDnnCheck"/>
    /// oneDNN is wrong for some layer configurations and right for others, hence the choice per training.
    /// </summary>
    private static void ApplyOneDnnChoice()
    {
        try
        {
            _ = get_num_threads(); // loads libtorch
            s_oneDnnMode = Environment.GetEnvironmentVariable("DEEPARCH_ONEDNN");
            if (s_oneDnnMode == "1")
            {
                SetOneDnn(true);
            }
            else if (s_oneDnnMode == "0")
            {
                SetOneDnn(false);
            }
            else
            {
                s_oneDnnOffReason = WithoutNnpack(() => OneDnnCheck.ProcessDisagreement(SetOneDnn));
                SetOneDnn(s_oneDnnOffReason is null);
            }
            s_oneDnnSwitchable = true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not the Itanium C++ ABI of Linux builds: leave the backend as it is.
        }
    }

    /// <summary>
    /// Runs checks of oneDNN against ATen with NNPACK off, and leaves NNPACK off for the process when one disagreed. Without oneDNN,
    /// ATen tries NNPACK for convolutions without gradient (a check's inference pass), which on the CPU where oneDNN disagreed (the AMD
    /// EPYC of <see cref="OneDnnCheck"/>) prints "Could not initialize NNPACK! Reason: Unsupported hardware" on stderr and falls back
    /// to ATen's im2col kernels: those, without the message. Asked for by <c>DEEPARCH_ONEDNN=0</c>, NNPACK stays (it trained the DCGAN
    /// 1.19x as fast where it works).
    /// </summary>
    private static string? WithoutNnpack(Func<string?> check)
    {
        var context = GlobalContext();
        bool nnpack = UserEnabledNnpack(context);
        SetUserEnabledNnpack(context, false);
        string? disagreement = check();
        // Once a check disagreed NNPACK stays off, so what it was before this check says it for every later one.
        SetUserEnabledNnpack(context, nnpack && disagreement is null);
        return disagreement;
    }

    private static string? s_oneDnnMode;
    private static bool s_oneDnnSwitchable;

    [ThreadStatic]
    private static bool? t_lastTrainingOneDnn;

    /// <summary>
    /// Why oneDNN rests off in this process although nothing asked it to: its kernels disagreed with ATen's on this CPU for the
    /// layers of <see cref="OneDnnCheck.ProcessDisagreement"/>; null when they agreed, or when <c>DEEPARCH_ONEDNN</c> decided. A
    /// training's own choice is <see cref="UseOneDnnFor"/>'s.
    /// </summary>
    internal static string? OneDnnOffReason
    {
        get
        {
            EnsureInitialized();
            return s_oneDnnOffReason;
        }
    }

    /// <summary>
    /// Whether oneDNN was on for the last training or prediction this thread ran (<see cref="UseOneDnnFor"/>); null before the
    /// first. Tests read it to know which kernels a Fit's results came from.
    /// </summary>
    internal static bool? OneDnnInLastTraining => t_lastTrainingOneDnn;

    /// <summary>
    /// Turns oneDNN on for what follows exactly when libtorch's oneDNN kernels agree with ATen's on this CPU for every convolution
    /// and LSTM configuration of <paramref name="networks"/> (<see cref="OneDnnCheck"/>: each configuration checked the first time
    /// a training needs it, and the verdict kept for the process), and off otherwise, until the result is disposed, which restores
    /// the state before. oneDNN's switch is global to the process, so call it holding <see cref="TrainingLock"/> (every training
    /// does) and keep holding it until the result is disposed. Networks with neither convolutions nor LSTMs run no kernel the switch
    /// changes: they keep the state the process rests in. <c>DEEPARCH_ONEDNN=0</c> or <c>1</c> decides for every training.
    /// </summary>
    /// <param name="networks">Every network the training runs; the first is the one that reads the data (a GAN's generator).</param>
    public static OneDnnChoice UseOneDnnFor(IReadOnlyList<Networks.Network> networks)
    {
        EnsureInitialized();
        return UseOneDnnForLayers(s_oneDnnMode is "0" or "1" ? [] : OneDnnCheck.Layers(networks));
    }

    /// <summary>As <see cref="UseOneDnnFor"/>, for layer configurations already found (<see cref="OneDnnCheck.Layers"/>).</summary>
    internal static OneDnnChoice UseOneDnnForLayers(IReadOnlyList<OneDnnCheck.Layer> layers)
    {
        EnsureInitialized();
        if (!s_oneDnnSwitchable)
        {
            return new OneDnnChoice(null, null);
        }
        bool previous = UserEnabledMkldnn(GlobalContext());
        bool enabled = previous;
        string? offReason = null;
        if (s_oneDnnMode is not ("0" or "1") && layers.Count > 0)
        {
            // NNPACK is switched off only around a check that runs: a known verdict needs nothing of libtorch.
            var disagreements = layers.Select(l => OneDnnCheck.TryGetVerdict(l, out string? known) ? known
                : WithoutNnpack(() => OneDnnCheck.Disagreement(l, SetOneDnn))).OfType<string>().ToList();
            enabled = disagreements.Count == 0;
            if (!enabled)
            {
                offReason = $"libtorch's oneDNN kernels disagree with ATen's on this CPU for {disagreements.Count} of the {layers.Count} convolution " +
                    $"and LSTM configurations trained here ({string.Join("; ", disagreements)}; agreeing is within " +
                    $"{OneDnnCheck.Tolerance.ToString("G1", System.Globalization.CultureInfo.InvariantCulture)} of the largest value), " +
                    "so this training runs on ATen's kernels (slower for convolutions and LSTMs; DEEPARCH_ONEDNN=1 in the process environment " +
                    "keeps oneDNN on regardless).";
            }
        }
        SetOneDnn(enabled);
        t_lastTrainingOneDnn = enabled;
        return new OneDnnChoice(previous, offReason);
    }

    /// <summary>The oneDNN state a training chose (<see cref="UseOneDnnFor"/>); disposing it restores the state before.</summary>
    internal sealed class OneDnnChoice(bool? previous, string? offReason) : IDisposable
    {
        /// <summary>Why oneDNN is off for this training (the layers whose kernels disagree, and by how much); null when it is on, or was not chosen.</summary>
        public string? OffReason { get; } = offReason;

        /// <summary>Restores oneDNN's state before the choice.</summary>
        public void Dispose()
        {
            if (previous is { } state)
            {
                SetOneDnn(state);
            }
        }
    }

    /// <summary>Turns libtorch's oneDNN backend on or off for the process (<c>at::Context::setUserEnabledMkldnn</c>).</summary>
    internal static void SetOneDnn(bool enabled) => SetUserEnabledMkldnn(GlobalContext(), enabled);

    /// <summary>Whether libtorch's oneDNN convolutions are on in this process (<c>at::Context::userEnabledMkldnn()</c>).</summary>
    internal static bool OneDnnEnabled
    {
        get
        {
            EnsureInitialized();
            return UserEnabledMkldnn(GlobalContext());
        }
    }

    /// <summary><c>at::Context::userEnabledMkldnn() const</c>; the context is the implicit first argument.</summary>
    [DllImport("torch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    /// <summary><c>at::globalContext()</c>.</summary>
    [DllImport("torch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    /// <summary><c>at::Context::setUserEnabledMkldnn(bool)</c>; the context is the implicit first argument.</summary>
    [DllImport("torch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    /// <summary><c>at::Context::userEnabledNNPACK() const</c>.</summary>
    [DllImport("torch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledNnpack(IntPtr context);

    /// <summary><c>at::Context::setUserEnabledNNPACK(bool)</c>.</summary>
    [DllImport("torch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
