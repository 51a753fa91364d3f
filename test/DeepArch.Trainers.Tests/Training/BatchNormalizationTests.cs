using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// Batch normalization trained on a batch of one row leaves running statistics of NaN, and a network that scores NaN:
/// training rejects every setting that would give it one (batches of one row, fewer than two training rows), wherever
/// the batch normalization sits, and every setting it accepts gives finite predictions.
/// </summary>
public class BatchNormalizationTests
{
    public static TheoryData<string, LayerSpec, int[]> WithBatchNorm => new()
    {
        { "multilayer perceptron", MultilayerPerceptron.Create([8], 1, batchNorm: true), [4] },
        { "autoencoder", new Sequential(Autoencoder.Create([4, 3, 2], batchNorm: true), new Dense(1)), [4] },
        { "convolutional network", new Sequential(new Reshape(1, 2, 2), new Conv2d(2, 1), new BatchNorm2d(), new Flatten(), new Dense(1)), [4] },
    };

    [Fact]
    public void Batch_normalization_is_found_in_chains_and_autoencoder_halves()
    {
        Assert.Equal(["BatchNorm1d"], BatchNormalization.LayerKinds(MultilayerPerceptron.Create([8], 1, batchNorm: true)));
        Assert.Equal(["BatchNorm1d"], BatchNormalization.LayerKinds(Autoencoder.CreateVariational([6, 4, 2], batchNorm: true)));
        Assert.Equal(["BatchNorm2d", "BatchNorm1d"],
            BatchNormalization.LayerKinds(new Sequential(new Conv2d(2, 1), new BatchNorm2d(), new Flatten(), new Sequential(new Dense(3), new BatchNorm1d()))));
        Assert.Empty(BatchNormalization.LayerKinds(MultilayerPerceptron.Create([8], 1)));
        Assert.Empty(BatchNormalization.LayerKinds(MultilayerPerceptron.Create([], 1, batchNorm: true))); // no hidden layer, no batch norm
        Assert.Empty(BatchNormalization.LayerKinds(Autoencoder.Create([6, 2], batchNorm: true)));
    }

    [Theory]
    [MemberData(nameof(WithBatchNorm))]
    public void One_training_row_is_rejected_before_training(string name, LayerSpec spec, int[] inputShape)
    {
        var callback = new RecordingCallback();
        using var network = new Network(spec, inputShape, seed: 1);

        var error = Assert.Throws<ArgumentException>(() =>
            new TrainingLoop(new TrainingOptions { Epochs = 1, Callbacks = { callback } }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(1)));

        Assert.StartsWith("Batch normalization (BatchNorm", error.Message);
        Assert.Contains("needs at least 2 training rows per batch; the training set has 1 row. Train on more rows, or train without batch normalization.", error.Message);
        Assert.Empty(callback.Events);
        Assert.NotNull(name);
    }

    [Fact]
    public void Two_rows_of_which_the_validation_fraction_holds_out_one_are_rejected_naming_the_split()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 1, batchNorm: true), [4], seed: 1);

        var error = Assert.Throws<ArgumentException>(() =>
            new TrainingLoop(new TrainingOptions { Epochs = 1, ValidationFraction = 0.5 }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(2)));

        Assert.Equal(
            "Batch normalization (BatchNorm1d) needs at least 2 training rows per batch; the training set has 1 row (ValidationFraction 0.5 held out 1 of 2). " +
            "Train on more rows, lower ValidationFraction, or train without batch normalization. (Parameter 'train')",
            error.Message);
    }

    [Theory]
    [MemberData(nameof(WithBatchNorm))]
    public void Batches_of_one_row_are_rejected(string name, LayerSpec spec, int[] inputShape)
    {
        using var network = new Network(spec, inputShape, seed: 1);

        var error = Assert.Throws<ArgumentException>(() =>
            new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 1 }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(16)));

        Assert.Contains("needs at least 2 rows per batch, but BatchSize is 1", error.Message);
        Assert.NotNull(name);
    }

    [Fact]
    public void Batches_of_one_row_without_batch_normalization_still_train()
    {
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var history = new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 1 }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(5));

        Assert.Single(history.Epochs);
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(2, 32)]
    [InlineData(3, 2)] // the last row joins the first batch
    [InlineData(5, 4)]
    [InlineData(7, 3)]
    public void Every_accepted_setting_gives_finite_predictions(int rows, int batchSize)
    {
        foreach (var row in WithBatchNorm)
        {
            var (spec, inputShape) = ((LayerSpec)row[1], (int[])row[2]);
            using var network = new Network(spec, inputShape, seed: 1);
            new TrainingLoop(new TrainingOptions { Epochs = 2, BatchSize = batchSize, Seed = 1 }).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(rows));

            float[] predictions = network.Predict(Fixtures.Regression(4, seed: 2).Features, 4);

            Assert.All(predictions, p => Assert.True(float.IsFinite(p), $"{row[0]}: {p}"));
        }
    }
}
