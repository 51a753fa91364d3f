using Xunit;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Tests that measure the whole process and must not overlap with any other test: native memory over
/// many fit/score/dispose cycles, and the live TorchSharp tensor count around a cancelled fit. xunit runs
/// this collection after the parallel ones, one test at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialReliabilityCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Reliability measurements (serial)";
}
