using System.Security.Cryptography;
using System.Text.Json;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// The training state a <see cref="TrainingLoop"/> writes to <see cref="TrainingOptions.CheckpointDirectory"/> after every
/// <see cref="TrainingOptions.CheckpointEvery"/> epochs, and resumes from: every network's parameters and buffers, every optimizer's
/// state (Adam's moments and step counts, SGD's momentum), libtorch's random state (dropout), the history, early stopping's best
/// weights and counters, and whether training has ended. The shuffling and the learning-rate schedule are replayed from the
/// history, so a resumed run ends with exactly the model an uninterrupted one gives (bit-identical on the CPU).
/// </summary>
/// <remarks>
/// <para>
/// Layout: one folder per checkpoint, <c>epoch-00005</c>, written under a temporary name and renamed when complete, and a file
/// <c>latest</c> naming the current one, replaced atomically; older folders are deleted after. A crash while writing leaves the
/// previous checkpoint in force.
/// </para>
/// <para>
/// A checkpoint records a fingerprint of what it trained: the objective, the networks' architectures and input shapes, the
/// weights they started from (a warm start's initial model), the options that shape the run (seed, batch size, optimizer, learning rate, schedule, shuffling, validation, early stopping) and a
/// SHA-256 of the training and validation rows. Resuming with anything else, or from a damaged checkpoint, is an error that names
/// the folder; it never restarts silently. <see cref="TrainingOptions.Epochs"/> may grow between runs: the resumed run trains on
/// (except under <see cref="CosineAnnealing"/>, whose rates depend on the run's length: there Epochs is part of the fingerprint);
/// fewer epochs than the checkpoint holds give the checkpoint's model, with a warning.
/// </para>
/// </remarks>
internal sealed class TrainingCheckpoints
{
    /// <summary>The format of the state file this DeepArch writes and reads.</summary>
    /// <remarks>2: the state records each file's SHA-256 (format 1's checkpoints resumed from a flipped weight silently).</remarks>
    private const int Format = 2;
    private const string LatestFile = "latest", StateFile = "state.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals, // the best loss starts at +infinity
    };

    private readonly string _directory;
    private readonly string _fingerprint;

    public TrainingCheckpoints(string directory, string fingerprint)
    {
        _directory = Path.GetFullPath(directory);
        _fingerprint = fingerprint;
    }

    /// <summary>What a checkpoint holds besides the tensors.</summary>
    internal sealed record State(int Format, string Fingerprint, int Epoch, bool Ended, StopReason StopReason, List<EpochReport> History,
        int BestEpoch, double BestLoss, int EpochsWithoutImprovement, bool HasBest, Dictionary<string, string>? Files = null);

    /// <summary>
    /// Creates the folder and writes and deletes a file in it, before the first epoch: a folder that cannot hold checkpoints (a path
    /// naming a file, a read-only or virtual file system) failed at the first save, after an epoch of training, with the file
    /// system's own error.
    /// </summary>
    /// <exception cref="ArgumentException">The folder cannot be created or written; the message names it and CheckpointDirectory.</exception>
    public void CheckWritable()
    {
        try
        {
            Directory.CreateDirectory(_directory);
            string probe = Path.Combine(_directory, $".probe-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ArgumentException($"The checkpoint folder '{_directory}' (CheckpointDirectory) cannot be written: {e.Message}", "CheckpointDirectory", e);
        }
    }

    /// <summary>
    /// The fingerprint of a run: the objective, its networks and the weights they start from, the options that shape training,
    /// and the data's SHA-256.
    /// </summary>
    public static string Fingerprint(TrainingObjective objective, TrainingOptions options, TrainingSet train, TrainingSet? validation)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text) => sha.AppendData(System.Text.Encoding.UTF8.GetBytes(text + "\n"));
        void AddSet(TrainingSet? set)
        {
            if (set is null)
            {
                Add("none");
                return;
            }
            Add($"{set.Count} {Shapes.Format(set.SampleShape)} {set.TargetWidth}");
            if (set.Rows is { } rows)
            {
                // A streamed set: its rows' fingerprints, which of them it takes, and the shuffle buffer (its size sets the draws).
                Add($"streamed, buffer {BatchSource.ShuffleBuffer.RowsFor(options.ShuffleBufferRows, rows.RowSize, options.BatchSize, set.Count)}");
                sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.Fingerprints.ToArray().AsSpan()));
                sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes((set.Positions ?? Enumerable.Range(0, set.Count)).ToArray().AsSpan()));
            }
            else
            {
                sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(set.Features.AsSpan()));
            }
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(set.Targets.AsSpan()));
            if (set.Weights is { } weights)
            {
                sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan()));
            }
        }
        Add(objective.GetType().FullName!);
        foreach (var network in objective.Networks)
        {
            Add(JsonSerializer.Serialize(network.Architecture, LayerSpecJson.Options) + Shapes.Format(network.InputShape));
        }
        // A run that continues a fitted model (warm start) starts from that model's weights, which the seed and the architecture
        // do not determine: without them, a folder holding a finished run of other starting weights handed back that run as if it
        // were this one. (A fresh run's starting weights follow from the seed; a retried run's networks may hold a cancelled
        // run's weights, which the checkpoint then replaces.)
        Add($"starting from {options.StartingState ?? "the seed"}");
        Add(string.Join(" ", options.Seed, options.BatchSize, options.Optimizer, TrainingOptions.Format(options.LearningRate), TrainingOptions.Format(options.WeightDecay),
            TrainingOptions.Format(options.AdamBeta1), TrainingOptions.Format(options.AdamBeta2), TrainingOptions.Format(options.Momentum), options.Shuffle,
            TrainingOptions.Format(options.ValidationFraction), options.EarlyStoppingPatience, TrainingOptions.Format(options.EarlyStoppingMinDelta),
            TrainingOptions.Format(options.GradientClipNorm), options.Schedule.GetType().Name, JsonSerializer.Serialize(options.Schedule, options.Schedule.GetType())));
        if (options.Schedule is CosineAnnealing)
        {
            // Its rate at every epoch depends on the run's length: resumed with other Epochs, the rates would jump midway.
            Add($"epochs {options.Epochs}");
        }
        AddSet(train);
        AddSet(validation);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Writes the state after <paramref name="state"/>.Epoch (stamped with this format and the run's fingerprint), then makes it the
    /// latest checkpoint and deletes the older ones.
    /// </summary>
    public void Save(State state, IReadOnlyList<Network> networks, IReadOnlyList<optim.Optimizer> optimizers, List<Dictionary<string, Tensor>>? best)
    {
        Directory.CreateDirectory(_directory);
        string name = $"epoch-{state.Epoch:D5}";
        string temporary = Path.Combine(_directory, $".writing-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        try
        {
            for (int i = 0; i < networks.Count; i++)
            {
                WriteTensors(Path.Combine(temporary, $"network-{i}.bin"), networks[i].Module.state_dict());
                if (best is not null)
                {
                    WriteTensors(Path.Combine(temporary, $"best-{i}.bin"), best[i]);
                }
            }
            for (int i = 0; i < optimizers.Count; i++)
            {
                using var stream = File.Create(Path.Combine(temporary, $"optimizer-{i}.bin"));
                using var writer = new BinaryWriter(stream);
                Helper(optimizers[i]).save_state_dict(writer);
            }
            using (var rng = torch.get_rng_state())
            {
                File.WriteAllBytes(Path.Combine(temporary, "rng.bin"), rng.data<byte>().ToArray());
            }
            // Each file's SHA-256 in the state: a byte changed in a weight file is damage, not a checkpoint to resume from.
            var files = Directory.EnumerateFiles(temporary).ToDictionary(f => Path.GetFileName(f), f => Sha256(f), StringComparer.Ordinal);
            File.WriteAllText(Path.Combine(temporary, StateFile), JsonSerializer.Serialize(state with { Format = Format, Fingerprint = _fingerprint, Files = files }, Json));
            string target = Path.Combine(_directory, name);
            if (Directory.Exists(target))
            {
                Directory.Delete(target, recursive: true);
            }
            Directory.Move(temporary, target);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        string pointer = Path.Combine(_directory, $".latest-{Guid.NewGuid():N}");
        File.WriteAllText(pointer, name);
        File.Move(pointer, Path.Combine(_directory, LatestFile), overwrite: true);
        foreach (string old in Directory.EnumerateDirectories(_directory, "epoch-*").Where(d => Path.GetFileName(d) != name))
        {
            TryDelete(old);
        }
    }

    /// <summary>
    /// Restores the latest checkpoint into <paramref name="networks"/> and <paramref name="optimizers"/> and libtorch's random state;
    /// returns its state and its best weights (when early stopping kept some), or null when the folder holds no checkpoint.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint is damaged, or was written for another run (its fingerprint differs).</exception>
    public (State State, List<Dictionary<string, Tensor>>? Best)? TryLoad(IReadOnlyList<Network> networks, IReadOnlyList<optim.Optimizer> optimizers)
    {
        string pointer = Path.Combine(_directory, LatestFile);
        if (Directory.Exists(pointer))
        {
            throw Damaged(_directory, new InvalidDataException($"'{LatestFile}' is a folder, not the file naming the latest checkpoint."));
        }
        if (!File.Exists(pointer))
        {
            return null;
        }
        string name = File.ReadAllText(pointer).Trim();
        string folder = Path.Combine(_directory, name);
        State state;
        try
        {
            if (!name.StartsWith("epoch-", StringComparison.Ordinal) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || !Directory.Exists(folder))
            {
                throw new InvalidDataException($"'latest' names '{name}', which is not a checkpoint folder here.");
            }
            state = JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(folder, StateFile)), Json)
                ?? throw new InvalidDataException("its state file is empty.");
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or InvalidDataException)
        {
            throw Damaged(folder, e);
        }
        if (state.Format != Format)
        {
            throw new InvalidDataException($"The checkpoint in '{folder}' has format {state.Format}; this DeepArch reads format {Format}: " +
                "resume it with the DeepArch that wrote it, or point CheckpointDirectory at an empty folder to start over.");
        }
        if (state.Fingerprint != _fingerprint)
        {
            throw new InvalidDataException(
                $"The checkpoint in '{folder}' was written for another run (other networks or starting weights, such as another initial model, options that shape training " +
                "(under a cosine schedule, Epochs too), or other rows): " +
                "resume with the options and data that wrote it, or point CheckpointDirectory at an empty folder to start over.");
        }
        try
        {
            CheckState(state, networks.Count, optimizers.Count);
            foreach (var (file, sha) in state.Files!)
            {
                if (Sha256(Path.Combine(folder, file)) != sha)
                {
                    throw new InvalidDataException($"its file '{file}' does not match the SHA-256 its state records.");
                }
            }
            List<Dictionary<string, Tensor>>? best = state.HasBest ? [] : null;
            for (int i = 0; i < networks.Count; i++)
            {
                var current = networks[i].Module.state_dict();
                ReadTensors(Path.Combine(folder, $"network-{i}.bin"), current);
                if (best is not null)
                {
                    var copy = current.ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());
                    ReadTensors(Path.Combine(folder, $"best-{i}.bin"), copy);
                    best.Add(copy);
                }
            }
            for (int i = 0; i < optimizers.Count; i++)
            {
                using var stream = File.OpenRead(Path.Combine(folder, $"optimizer-{i}.bin"));
                using var reader = new BinaryReader(stream);
                Helper(optimizers[i]).load_state_dict(reader);
            }
            byte[] rng = File.ReadAllBytes(Path.Combine(folder, "rng.bin"));
            using (var current = torch.get_rng_state())
            {
                if (rng.Length != current.numel())
                {
                    throw new InvalidDataException($"its random state holds {rng.Length} bytes, not {current.numel()}.");
                }
            }
            using (var restored = torch.tensor(rng, dtype: ScalarType.Byte))
            {
                torch.set_rng_state(restored);
            }
            return (state, best);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or EndOfStreamException or FormatException
            or UnauthorizedAccessException)
        {
            throw Damaged(folder, e);
        }
    }

    /// <summary>The state's fields within their bounds, and every file the restore reads recorded with its SHA-256.</summary>
    private static void CheckState(State state, int networks, int optimizers)
    {
        if (state.History is null || state.History.Any(r => r is null) || state.Epoch < 1 || state.History.Count != state.Epoch
            || state.BestEpoch < 0 || state.BestEpoch > state.Epoch || state.EpochsWithoutImprovement < 0 || state.EpochsWithoutImprovement > state.Epoch
            || !Enum.IsDefined(state.StopReason))
        {
            throw new InvalidDataException($"its state is inconsistent (epoch {state.Epoch}, {state.History?.Count.ToString() ?? "no"} history entries, best epoch {state.BestEpoch}).");
        }
        var expected = Enumerable.Range(0, networks).Select(i => $"network-{i}.bin")
            .Concat(state.HasBest ? Enumerable.Range(0, networks).Select(i => $"best-{i}.bin") : [])
            .Concat(Enumerable.Range(0, optimizers).Select(i => $"optimizer-{i}.bin"))
            .Append("rng.bin");
        if (state.Files is null || expected.Any(f => !state.Files.ContainsKey(f))
            || state.Files.Keys.Any(f => f.Length == 0 || f != Path.GetFileName(f) || f is "." or ".." || f == StateFile))
        {
            throw new InvalidDataException("its state does not record the SHA-256 of every file it restores.");
        }
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    /// <summary>DeepArch's optimizers (Adam and SGD) keep their state in TorchSharp's <c>OptimizerHelper</c>, which saves and loads it.</summary>
    private static TorchSharp.Modules.OptimizerHelper Helper(optim.Optimizer optimizer)
        => optimizer as TorchSharp.Modules.OptimizerHelper ?? throw new InvalidOperationException($"{optimizer.GetType().Name} cannot save its state.");

    private static InvalidDataException Damaged(string folder, Exception e)
        => new($"The checkpoint in '{folder}' is damaged ({e.Message.TrimEnd('.')}): delete the folder to start over, or restore it.", e);

    /// <summary>Writes the tensors by name: a count, then each name and tensor (TorchSharp's tensor format).</summary>
    private static void WriteTensors(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(tensors.Count);
        foreach (var (name, value) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.Write(name);
            using var cpu = value.detach().cpu();
            cpu.Save(writer);
        }
    }

    /// <summary>Reads tensors written by <see cref="WriteTensors"/> into <paramref name="into"/> (same names and shapes), copying each in place.</summary>
    private static void ReadTensors(string path, IReadOnlyDictionary<string, Tensor> into)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        int count = reader.ReadInt32();
        if (count != into.Count)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} holds {count} tensors, not {into.Count}.");
        }
        using var _ = no_grad();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (!into.TryGetValue(name, out var target))
            {
                throw new InvalidDataException($"{Path.GetFileName(path)} holds '{name}', which the network does not have.");
            }
            using var loaded = zeros_like(target, device: CPU);
            loaded.Load(reader);
            target.copy_(loaded);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
