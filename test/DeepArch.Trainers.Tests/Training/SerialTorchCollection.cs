using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// Tests that must not overlap with any other test: bit-for-bit determinism (other tests may use
/// torch's process-global generator and thread count outside DeepArch's training lock) and native
/// memory measurements (other tests' allocations would show up in the working set). xunit runs
/// this collection after all parallel collections, one test at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTorchCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Torch process-global state (serial)";
}
