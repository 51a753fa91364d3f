using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// Guards the determinism of convolutions under libtorch's oneDNN kernels, which DeepArch turns on for a training where they agree
/// with ATen's for its layers (TorchRuntime.UseOneDnnFor, OneDnnCheck): with libtorch 2.10's jit:avx512_core kernels and two threads, these gradients and outputs were once seen to change from run
/// to run on the same data (sometimes to NaN); in 2026-12 they no longer did, and these checks keep it so.
/// </summary>
[Collection(Training.SerialTorchCollection.Name)] // bit-for-bit runs: no other test's libtorch work beside them
public class ConvolutionDeterminismTests(ITestOutputHelper output)
{
    [Fact]
    public void OneDnn_rests_on_unless_the_process_turned_it_off_or_it_disagrees_with_aten_on_this_cpu()
    {
        string? choice = Environment.GetEnvironmentVariable("DEEPARCH_ONEDNN");
        bool enabled;
        lock (TorchRuntime.TrainingLock)
        {
            enabled = TorchRuntime.OneDnnEnabled; // outside any training: the state the process rests in
        }

        output.WriteLine($"oneDNN {(enabled ? "on" : "off")}; DEEPARCH_ONEDNN={choice ?? "(unset)"}; {TorchRuntime.OneDnnOffReason ?? "no disagreement found"}");
        Assert.Equal(choice == "1" || (choice != "0" && TorchRuntime.OneDnnOffReason is null), enabled);
    }

    [Theory]
    [InlineData("input gradient of a 2-channel convolution", 1)]
    [InlineData("input gradient of a 2-channel convolution", 2)]
    [InlineData("output of a dilated transposed convolution", 1)]
    [InlineData("output of a dilated transposed convolution", 2)]
    public void Same_data_gives_the_same_bits_on_every_run(string what, int threads)
    {
        LayerSpec layer = what.StartsWith("input") ? new Conv2d(3, 3) : new ConvTranspose2d(2, 3, dilation: 2);
        using var network = new Network(new Sequential(new Reshape(2, 7, 6), layer), [84], seed: 1);
        TorchRuntime.SetThreads(threads);
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var x = randn([64, 84], generator: generator);

        float[][] runs;
        lock (TorchRuntime.TrainingLock) // the backend the process rests on, which a training on another thread would switch
        {
            runs = Enumerable.Range(0, 20).Select(_ =>
            {
                var input = x.clone().requires_grad_(true);
                var output = network.Module.call(input);
                output.pow(2).sum().backward();
                return cat([output.flatten(), input.grad!.flatten()]).detach().data<float>().ToArray();
            }).ToArray();
        }

        Assert.DoesNotContain(runs[0], float.IsNaN);
        Assert.All(runs.Skip(1), r => Assert.Equal(runs[0], r));
    }

    /// <summary>
    /// Issue 19's bar: same seed, same data, the bit-identical model, ten times over; with two threads, where the race was seen: on
    /// libtorch's intra-op threads (an objective that trains whole batches) and on two halves of each batch at once (BatchSplit).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LeNet5_trained_ten_times_with_two_threads_gives_the_same_weights(bool halves)
    {
        var rng = new Random(3);
        const int rows = 256;
        var features = Enumerable.Range(0, rows * 1024).Select(_ => rng.NextSingle()).ToArray();
        var targets = Enumerable.Range(0, rows).Select(_ => (float)rng.Next(10)).ToArray();
        var set = new TrainingSet(features, [1, 32, 32], targets, 1);

        var weights = Enumerable.Range(0, 10).Select(_ =>
        {
            using var network = new Network(LeNet5.Create([1, 32, 32], 10), [1, 32, 32], seed: 42);
            new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 64, Seed = 42, Threads = 2 })
                .Fit(halves ? new SupervisedObjective(network, LossFunction.CrossEntropy) : new WholeBatches(network), set);
            return network.Module.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();
        }).ToArray();

        Assert.DoesNotContain(weights[0], float.IsNaN);
        Assert.All(weights.Skip(1), w => Assert.Equal(weights[0], w));
    }

    /// <summary>A subclass trains whole batches (SupervisedObjective.SplitsBatches): two threads are libtorch's intra-op threads.</summary>
    private sealed class WholeBatches(Network network) : SupervisedObjective(network, LossFunction.CrossEntropy);
}
