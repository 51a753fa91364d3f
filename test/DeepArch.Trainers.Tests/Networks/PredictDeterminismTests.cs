using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Tests.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Networks;

/// <summary>Predict is a pure function of the weights and the input values, down to the bit.</summary>
[Collection(SerialTorchCollection.Name)] // alone: other tests change libtorch's thread count
public class PredictDeterminismTests
{
    [Fact]
    public void Predict_gives_bit_identical_outputs_wherever_the_gc_puts_its_input_copy()
    {
        // Some vectorized kernels round differently on 16- and 32-byte-aligned data; the managed arrays
        // in between the calls shift where the next allocation lands by multiples of 8 bytes.
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        var features = Fixtures.Regression(10, seed: 9).Features;
        int[] first = Measure.Bits(network.Predict(features, 10));
        var keepAlive = new List<byte[]>();

        for (int padding = 1; padding <= 64; padding++)
        {
            keepAlive.Add(new byte[padding]);
            Assert.Equal(first, Measure.Bits(network.Predict(features, 10)));
        }
    }
}
