using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>How rows are cut into batches, and why a batch of one row never happens.</summary>
public class BatchingTests
{
    [Theory]
    [InlineData(64, 16, new[] { 16, 16, 16, 16 })]
    [InlineData(50, 16, new[] { 16, 16, 16, 2 })]
    [InlineData(33, 32, new[] { 33 })] // a last batch of one row joins the one before it
    [InlineData(49, 16, new[] { 16, 16, 17 })]
    [InlineData(1, 16, new[] { 1 })]
    [InlineData(3, 1, new[] { 1, 1, 1 })] // batches of one row were asked for
    public void Rows_are_cut_into_batches_of_the_batch_size(int rows, int batchSize, int[] expectedSizes)
    {
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 1, BatchSize = batchSize, LearningRate = 0.01, Seed = 1, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [4], seed: 1);

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(rows));

        Assert.Equal(Enumerable.Range(1, expectedSizes.Length), callback.Batches.Select(b => b.Batch));
        double weighted = callback.Batches.Zip(expectedSizes, (b, size) => b.Loss * size).Sum() / rows;
        Assert.Equal(weighted, history.Epochs[0].TrainLoss, 1e-12); // the sizes are the ones used
    }

    [Fact]
    public void Batch_norm_survives_a_row_count_that_leaves_one_row_over()
    {
        // 33 rows in batches of 32: a batch of one row would give batch norm a running variance of
        // NaN (unbiased variance of one value), and the trained network would predict NaN everywhere.
        var train = Fixtures.Regression(33, seed: 2);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 32, LearningRate = 0.01, Seed = 2 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1, batchNorm: true), [4], seed: 2);

        new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train);

        Assert.All(network.Predict(train.Features, train.Count), v => Assert.True(float.IsFinite(v), $"prediction {v}"));
    }
}
