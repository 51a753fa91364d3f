using DeepArch.Trainers.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// DeepArch's optimizers make TorchSharp's Adam and SGD updates with the same bits (operation for operation, or for Adam on the
/// CPU in AdamKernel's two passes), but keep every Scalar alive across its native call (TorchSharp's temporaries can be
/// finalized mid-call).
/// </summary>
[Collection(SerialTorchCollection.Name)]
public class ScalarSafeOptimizerTests
{
    public static TheoryData<string> Kinds => ["adam", "adam-decay", "sgd", "sgd-decay"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Updates_are_bit_identical_to_torchsharps_optimizers(string kind)
    {
        float[] ours = Train(kind, safe: true, steps: 25);
        float[] theirs = Train(kind, safe: false, steps: 25);

        Assert.Equal(theirs, ours);
    }

    /// <summary>
    /// On x86-64, Adam updates a CPU parameter with its own kernel (AdamKernel: two passes instead of libtorch's eight operations)
    /// that must give libtorch's bits: a weight of 210,300 values (not a multiple of any vector width) and a bias of 300, with and
    /// without weight decay, whole and in two parts, against TorchSharp's Adam.
    /// </summary>
    [Theory]
    [InlineData("adam", false)]
    [InlineData("adam-decay", false)]
    [InlineData("adam", true)]
    [InlineData("adam-decay", true)]
    public void Large_parameters_get_torchsharps_adam_bits_whole_and_in_parts(string kind, bool inParts)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported && System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            // The kernel is what this test compares: it must be the path these parameters take (one libtorch thread: Train's).
            TorchRuntime.SetThreads(1);
            var weight = nn.Linear(701, 300).weight!;
            weight.grad = zeros_like(weight);
            Assert.True(AdamKernel.Usable());
            Assert.True(AdamKernel.Applies(weight, weight.grad, zeros_like(weight), zeros_like(weight)));
        }
        float[] theirs = Train(kind, safe: false, steps: 12, inputs: 701, outputs: 300);
        float[] ours = Train(kind, safe: true, steps: 12, inputs: 701, outputs: 300, inParts: inParts ? body =>
        {
            body(1);
            body(0);
        } : null);

        Assert.Equal(theirs, ours);
    }

    /// <summary>
    /// A training's batch split updates two parts of every parameter on two threads (IStepsInParts); the update is elementwise, so
    /// each element gets the bits of the whole update. The weight here has 5,120 values, split at 2,048; the parts run in turn.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Updates_in_two_parts_are_bit_identical_to_whole_updates(string kind)
    {
        float[] whole = Train(kind, safe: true, steps: 25, inputs: 64, outputs: 80);
        float[] inParts = Train(kind, safe: true, steps: 25, inputs: 64, outputs: 80, inParts: body =>
        {
            body(0);
            body(1);
        });

        Assert.Equal(whole, inParts);
    }

    private static float[] Train(string kind, bool safe, int steps, int inputs = 6, int outputs = 3, Action<Action<int>>? inParts = null)
    {
        using var scope = NewDisposeScope();
        TorchRuntime.SetThreads(1); // a training's default: Adam's CPU update then runs in AdamKernel
        var generator = new Generator(42);
        var linear = nn.Linear(inputs, outputs);
        using (no_grad())
        {
            linear.weight!.copy_(randn(outputs, inputs, generator: generator));
            linear.bias!.copy_(randn(outputs, generator: generator));
        }
        var x = randn(32, inputs, generator: generator);
        var y = randn(32, outputs, generator: generator);
        double decay = kind.EndsWith("decay") ? 0.01 : 0;
        optim.Optimizer optimizer = (kind.StartsWith("adam"), safe) switch
        {
            (true, true) => new ScalarSafeAdam(linear.parameters(), 0.01, decay),
            (true, false) => optim.Adam(linear.parameters(), 0.01, weight_decay: decay),
            (false, true) => new ScalarSafeSgd(linear.parameters(), 0.05, 0.9, decay),
            (false, false) => optim.SGD(linear.parameters(), 0.05, momentum: 0.9, weight_decay: decay),
        };
        if (inParts is not null)
        {
            ((IStepsInParts)optimizer).InParts = inParts;
        }
        using (optimizer)
        {
            for (int i = 0; i < steps; i++)
            {
                using var step = NewDisposeScope();
                optimizer.zero_grad();
                nn.functional.mse_loss(linear.call(x), y).backward();
                optimizer.step();
            }
        }
        return linear.weight!.data<float>().ToArray().Concat(linear.bias!.data<float>().ToArray()).ToArray();
    }
}
