using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>Recurrent layers learn small sequence tasks (fixed and variable length), and truncated BPTT cuts exactly the gradients it should.</summary>
public class RecurrentTrainingTests(ITestOutputHelper output)
{
    /// <summary>
    /// The sign of a sequence's sum: rows of <paramref name="lengths"/>[row] scalar steps out of <paramref name="steps"/>,
    /// class 1 when the valid steps sum above 0. Variable length: padding is garbage; fixed length: every length is the steps.
    /// </summary>
    private static TrainingSet SumSign(int[] lengths, int steps, bool variableLength, int seed)
    {
        float[] x = variableLength
            ? RecurrentTestData.Variable(lengths, steps, features: 1, seed, padding: null)
            : RecurrentTestData.Fixed(lengths.Length, steps, features: 1, seed);
        int size = variableLength ? 1 + steps : steps;
        int offset = variableLength ? 1 : 0;
        var y = new float[lengths.Length];
        for (int row = 0; row < lengths.Length; row++)
        {
            y[row] = x.AsSpan(row * size + offset, lengths[row]).ToArray().Sum() > 0 ? 1 : 0;
        }
        return new TrainingSet(x, [size], y, 1);
    }

    private static double Accuracy(Network network, TrainingSet set)
    {
        float[] logits = network.Predict(set.Features, set.Count);
        return Enumerable.Range(0, set.Count).Count(r => (logits[2 * r + 1] > logits[2 * r] ? 1 : 0) == set.Targets[r]) / (double)set.Count;
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm, false)]
    [InlineData(RecurrentCell.Gru, true)]
    [InlineData(RecurrentCell.Lstm, true)]
    public void Recurrent_network_learns_the_sign_of_a_sum(RecurrentCell cell, bool variableLength)
    {
        const int steps = 8;
        var random = new Random(1);
        int[] Lengths(int rows) => Enumerable.Range(0, rows).Select(_ => variableLength ? random.Next(2, steps + 1) : steps).ToArray();
        var train = SumSign(Lengths(768), steps, variableLength, seed: 1);
        var test = SumSign(Lengths(256), steps, variableLength, seed: 2);
        var architecture = new Sequential(new Recurrent(cell, 16, features: 1, variableLength: variableLength), new Dense(2));
        using var network = new Network(architecture, train.SampleShape, seed: 1);
        double before = Accuracy(network, test);

        new TrainingLoop(new TrainingOptions { Epochs = 12, BatchSize = 32, LearningRate = 0.01, Seed = 1, Threads = 1 }).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), train);

        double after = Accuracy(network, test);
        output.WriteLine($"{architecture.Layers[0].Describe()}: held-out accuracy {before:P1} before training, {after:P1} after");
        Assert.True(after >= 0.9, $"Held-out accuracy {after:P1} after training (was {before:P1}).");
    }

    [Fact]
    public void Truncated_training_runs_and_evaluation_matches_the_untruncated_layer_with_the_same_weights()
    {
        const int steps = 10;
        var set = SumSign(Enumerable.Repeat(steps, 256).ToArray(), steps, variableLength: false, seed: 3);
        using var truncated = new Network(new Sequential(new Recurrent(RecurrentCell.Lstm, 8, 1, output: RecurrentOutput.Mean, truncatedSteps: 4), new Dense(2)), [steps], seed: 4);
        using var full = new Network(new Sequential(new Recurrent(RecurrentCell.Lstm, 8, 1, output: RecurrentOutput.Mean), new Dense(2)), [steps], seed: 4);

        var history = new TrainingLoop(new TrainingOptions { Epochs = 4, BatchSize = 32, LearningRate = 0.01, Seed = 4, Threads = 1 }).Fit(new SupervisedObjective(truncated, LossFunction.CrossEntropy), set);
        using (no_grad())
        {
            foreach (var ((_, source), (_, target)) in truncated.Module.named_parameters().Zip(full.Module.named_parameters()))
            {
                target.copy_(source);
            }
        }

        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss, "The truncated network's training loss did not fall.");
        float[] x = RecurrentTestData.Fixed(16, steps, 1, seed: 5);
        Assert.Equal(full.Predict(x, 16), truncated.Predict(x, 16));
        Assert.True(RecurrentTestData.Parity(truncated, x, 16) <= 1e-5);
    }

    [Theory]
    [InlineData(RecurrentOutput.Last)]
    [InlineData(RecurrentOutput.Sequence)]
    public void Truncation_stops_gradients_before_the_last_k_steps_without_changing_the_forward_values(RecurrentOutput pooling)
    {
        const int steps = 6, features = 2, kept = 2;
        using var truncated = new Network(new Recurrent(RecurrentCell.Gru, 3, features, output: pooling, truncatedSteps: kept), [steps * features], seed: 6);
        using var full = new Network(new Recurrent(RecurrentCell.Gru, 3, features, output: pooling), [steps * features], seed: 6);
        float[] values = RecurrentTestData.Fixed(3, steps, features, seed: 6);

        var (truncatedOutput, truncatedGradient) = OutputAndInputGradient(truncated, values);
        var (fullOutput, fullGradient) = OutputAndInputGradient(full, values);

        Assert.True(RecurrentTestData.MaxError(fullOutput, truncatedOutput) <= 1e-6, "Truncation changed the forward values.");
        for (int row = 0; row < 3; row++)
        {
            for (int i = 0; i < steps * features; i++)
            {
                int index = row * steps * features + i;
                bool inLastSteps = i >= (steps - kept) * features;
                Assert.True(fullGradient[index] != 0, $"Full BPTT gives no gradient at row {row}, value {i}.");
                Assert.True(inLastSteps ? truncatedGradient[index] != 0 : truncatedGradient[index] == 0,
                    $"Truncated BPTT gradient at row {row}, value {i} (step {i / features}) is {truncatedGradient[index]}.");
            }
        }
    }

    /// <summary>The training-mode output and the gradient of its sum with respect to the input.</summary>
    private static (float[] Output, float[] Gradient) OutputAndInputGradient(Network network, float[] values)
    {
        using var scope = NewDisposeScope();
        var x = tensor(values, [3, values.Length / 3]).requires_grad_();
        network.Module.train();
        try
        {
            var y = network.Module.call(x);
            y.sum().backward();
            return (y.detach().contiguous().data<float>().ToArray(), x.grad!.contiguous().data<float>().ToArray());
        }
        finally
        {
            network.Module.eval();
            network.Module.zero_grad();
        }
    }
}
