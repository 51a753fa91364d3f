using DeepArch.Trainers.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// DeepArch's optimizers make TorchSharp's Adam and SGD updates operation for operation, but keep
/// every Scalar alive across its native call (TorchSharp's temporaries can be finalized mid-call).
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

    private static float[] Train(string kind, bool safe, int steps)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(42);
        var linear = nn.Linear(6, 3);
        using (no_grad())
        {
            linear.weight!.copy_(randn(3, 6, generator: generator));
            linear.bias!.copy_(randn(3, generator: generator));
        }
        var x = randn(32, 6, generator: generator);
        var y = randn(32, 3, generator: generator);
        double decay = kind.EndsWith("decay") ? 0.01 : 0;
        optim.Optimizer optimizer = (kind.StartsWith("adam"), safe) switch
        {
            (true, true) => new ScalarSafeAdam(linear.parameters(), 0.01, decay),
            (true, false) => optim.Adam(linear.parameters(), 0.01, weight_decay: decay),
            (false, true) => new ScalarSafeSgd(linear.parameters(), 0.05, 0.9, decay),
            (false, false) => optim.SGD(linear.parameters(), 0.05, momentum: 0.9, weight_decay: decay),
        };
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
