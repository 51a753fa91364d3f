using System.Diagnostics;
using System.Runtime.InteropServices;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// Training that cannot fit in memory fails at once with an <see cref="InsufficientMemoryException"/> that says how much it
/// needs and why, before anything large is allocated; libtorch's own allocation failures become the same exception, with
/// the native message's first line and no C++ frames; and the process goes on.
/// </summary>
public class TrainingMemoryTests
{
    [Theory]
    [InlineData(OptimizerKind.Adam, 0.9, 0, 4)] // weights, gradients, two moments
    [InlineData(OptimizerKind.Sgd, 0.9, 0, 3)] // weights, gradients, momentum
    [InlineData(OptimizerKind.Sgd, 0.0, 0, 2)] // weights, gradients
    [InlineData(OptimizerKind.Adam, 0.9, 3, 5)] // and early stopping's copy of the best weights
    public void The_estimate_counts_every_copy_of_the_parameters_training_keeps(OptimizerKind optimizer, double momentum, int patience, int copies)
    {
        var spec = MultilayerPerceptron.Create([16, 8], 3);
        var options = new TrainingOptions { Optimizer = optimizer, Momentum = momentum, EarlyStoppingPatience = patience, BatchSize = 10 };
        using var network = new Network(spec, [5], seed: 1);

        var estimate = TrainingMemory.Estimate(spec, [5], options, dataValues: 1000);

        Assert.Equal(network.ParameterCount, estimate.Parameters);
        Assert.Equal(copies, estimate.ParameterCopies);
        Assert.Equal(network.ParameterCount * 4 * copies, estimate.ParameterBytes);
        Assert.Equal(4000, estimate.DataBytes);
        // Per sample: the input (5) and, twice (values and gradients), each layer's output: 16 + 16 + 8 + 8 + 3.
        Assert.Equal(10 * 4 * (5 + 2 * (16 + 16 + 8 + 8 + 3)), estimate.ActivationBytes);
        Assert.Equal(estimate.ParameterBytes + estimate.ActivationBytes + estimate.DataBytes, estimate.TotalBytes);
    }

    [Fact]
    public void Training_whose_activations_cannot_fit_fails_before_allocating_them()
    {
        // 3,073 parameters, but each sample's 1024 feature maps of 2048 x 2048 take 16 GB (and as much again for their
        // gradients), so a batch of 32 needs about a terabyte: refused before the first batch is even cut.
        const int Side = 2048;
        var spec = new Sequential(new Reshape(1, Side, Side), new Conv2d(1024, 1), new GlobalAveragePool(), new Dense(1));
        var data = new TrainingSet(new float[2 * Side * Side], [Side * Side], [0f, 1f], 1);
        using var network = new Network(spec, [Side * Side], seed: 1);
        var clock = Stopwatch.StartNew();

        var error = Assert.Throws<InsufficientMemoryException>(() =>
            new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 32 }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), data));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Matches(@"^Training needs about [0-9.]+ TB \(3,073 parameters: [0-9.]+ KB for the weights, their gradients and Adam's two moments; " +
                       @"[0-9.]+ TB of activations for BatchSize 32; 32\.0 MB of training data\) but [0-9.]+ [GT]B is available to this process: " +
                       "make the network smaller, lower BatchSize, or train on fewer rows\\.$", error.Message);
    }

    [Fact]
    public void A_native_allocation_failure_is_recognized_and_reduced_to_its_first_line()
    {
        // 2^60 bytes: more than any address space, so malloc refuses it whatever the overcommit policy.
        var error = Assert.ThrowsAny<ExternalException>(() => empty(1L << 58));

        Assert.True(TrainingMemory.IsAllocationFailure(error));
        Assert.Contains("frame #", error.Message);
        Assert.StartsWith("DefaultCPUAllocator: ", TrainingMemory.NativeMessage(error));
        Assert.DoesNotContain("\n", TrainingMemory.NativeMessage(error));
        Assert.False(TrainingMemory.IsAllocationFailure(new ExternalException("shape '[2, 3]' is invalid for input of size 5")));
        Assert.False(TrainingMemory.IsAllocationFailure(new InvalidOperationException("not enough memory")));
    }

    [Fact]
    public void A_network_libtorch_cannot_allocate_fails_with_InsufficientMemoryException_and_the_process_goes_on()
    {
        // One weight of 2^30 x 2^30 floats (4 EB): libtorch refuses it (it is never overcommitted), so nothing is touched.
        var error = Assert.Throws<InsufficientMemoryException>(() => new Network(new Dense(1 << 30), [1 << 30], seed: 1));

        Assert.StartsWith("Building the network (1,152,921,505,680,588,800 parameters, 4.0 EB of weights) ran out of memory (libtorch: DefaultCPUAllocator: ", error.Message);
        Assert.DoesNotContain("frame #", error.Message);
        Assert.DoesNotContain("enforce fail", error.Message);
        using var small = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        var history = new TrainingLoop(new TrainingOptions { Epochs = 1 }).Fit(new SupervisedObjective(small, LossFunction.MeanSquaredError), Fixtures.Regression(16));
        Assert.Single(history.Epochs);
    }

    [Theory]
    [InlineData(0L, "0 bytes")]
    [InlineData(1023L, "1023 bytes")]
    [InlineData(1024L, "1.0 KB")]
    [InlineData(25_276_203_008L, "23.5 GB")]
    [InlineData(640L << 30, "640.0 GB")]
    public void Sizes_are_written_in_binary_units(long bytes, string expected) => Assert.Equal(expected, TrainingMemory.FormatBytes(bytes));
}
