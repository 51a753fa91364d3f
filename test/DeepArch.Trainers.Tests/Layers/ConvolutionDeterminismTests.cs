using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// Guards the oneDNN switch in TorchRuntime: with libtorch 2.10's oneDNN kernels on an AVX-512 CPU and
/// two threads, these gradients and outputs changed from run to run on the same data (sometimes to NaN).
/// </summary>
public class ConvolutionDeterminismTests
{
    [Theory]
    [InlineData("input gradient of a 2-channel convolution")]
    [InlineData("output of a dilated transposed convolution")]
    public void Same_data_gives_the_same_bits_on_every_run(string what)
    {
        LayerSpec layer = what.StartsWith("input") ? new Conv2d(3, 3) : new ConvTranspose2d(2, 3, dilation: 2);
        using var network = new Network(new Sequential(new Reshape(2, 7, 6), layer), [84], seed: 1);
        DeepArch.Trainers.TorchRuntime.SetThreads(0);
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var x = randn([64, 84], generator: generator);

        var runs = Enumerable.Range(0, 4).Select(_ =>
        {
            var input = x.clone().requires_grad_(true);
            var output = network.Module.call(input);
            output.pow(2).sum().backward();
            return cat([output.flatten(), input.grad!.flatten()]).detach().data<float>().ToArray();
        }).ToArray();

        Assert.DoesNotContain(runs[0], float.IsNaN);
        Assert.All(runs.Skip(1), r => Assert.Equal(runs[0], r));
    }
}
