using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Tests.Architectures;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>A training or validation loss that stops being finite ends training with an error that says which, where and what to do.</summary>
public class DivergenceTests
{
    [Fact]
    public void A_huge_learning_rate_diverges_with_advice_to_lower_it()
    {
        var options = new TrainingOptions { Epochs = 5, BatchSize = 8, LearningRate = 1e10, Optimizer = OptimizerKind.Sgd, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(64)));

        Assert.Contains("diverged", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
        Assert.Contains("10000000000", error.Message); // the rate in use
        Assert.False(double.IsFinite(error.Loss));
        Assert.Equal(1, error.Epoch);
        Assert.InRange(error.Batch, 2, 8); // the first batch's loss is computed before any step
    }

    [Fact]
    public void Extreme_inputs_diverge_on_the_first_batch()
    {
        var data = Fixtures.Regression(16);
        var extreme = new TrainingSet(data.Features.Select(v => v * 1e30f).ToArray(), data.SampleShape, data.Targets, 1);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), extreme));

        Assert.Contains("diverged", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
        Assert.Equal((1, 1), (error.Epoch, error.Batch));
        Assert.False(double.IsFinite(error.Loss));
    }

    [Fact]
    public void A_validation_set_with_extreme_values_stops_after_the_first_epoch_naming_the_validation_loss()
    {
        var validation = Fixtures.Regression(8, seed: 5);
        var extreme = new TrainingSet(validation.Features.Select(v => v * 1e30f).ToArray(), validation.SampleShape, validation.Targets, 1);
        var callback = new RecordingCallback();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 8, Seed = 1, Callbacks = { callback } };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(32), extreme));

        Assert.True(error.IsValidationLoss);
        Assert.Equal((1, 0), (error.Epoch, error.Batch));
        Assert.False(double.IsFinite(error.Loss));
        Assert.Matches("^Training diverged: the validation loss became (NaN|infinite) at epoch 1, while the training loss stayed finite \\([0-9.E-]+\\)\\. ", error.Message);
        Assert.Contains("check it for extreme values", error.Message);
        Assert.Contains("standardize it the same way as the training data", error.Message);
        Assert.Empty(callback.EpochEnds); // the epoch with a NaN validation loss is never reported
    }

    [Fact]
    public void Extreme_rows_that_the_validation_fraction_holds_out_stop_training_the_same_way()
    {
        var data = Fixtures.Regression(40, seed: 6);
        const int Seed = 3;
        var heldOut = TrainingLoop.ValidationRows(40, 0.25, Seed);
        float[] features = data.Features.ToArray();
        foreach (int row in heldOut.Take(2))
        {
            features[row * 4] = 1e30f;
        }
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, ValidationFraction = 0.25, Seed = Seed };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() =>
            new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), new TrainingSet(features, [4], data.Targets, 1)));

        Assert.True(error.IsValidationLoss);
        Assert.Equal(1, error.Epoch);
        Assert.Contains("the validation loss became", error.Message);
    }

    /// <summary>Every autoencoder trainer, including the variational one that overrides the validation loss.</summary>
    public static TheoryData<string> AutoencoderTrainers => ["deep", "sparse", "denoising", "variational"];

    [Theory]
    [MemberData(nameof(AutoencoderTrainers))]
    public void Every_autoencoder_trainer_stops_on_a_non_finite_validation_loss(string kind)
    {
        const int Size = 12;
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 2 };
        var spec = kind == "variational" ? Autoencoder.CreateVariational([Size, 6, 2]) : Autoencoder.Create([Size, 6, 2], codeActivation: ActivationKind.Sigmoid);
        float[] validation = AutoencoderData.Signals(6, Size, seed: 8);
        validation[5] = 3e38f;
        using var network = new Network(spec, [Size], seed: 2);
        TrainingObjective objective = kind switch
        {
            "sparse" => new SparseObjective(network, activityL1: 0.01f),
            "denoising" => new DenoisingObjective(network, gaussianNoise: 0.1f),
            "variational" => new VariationalObjective(network),
            _ => new SupervisedObjective(network, LossFunction.MeanSquaredError),
        };

        var error = Assert.Throws<TrainingDivergedException>(() =>
            new TrainingLoop(options).Fit(objective, AutoencoderData.Set(64, Size, seed: 7), ReconstructionSet.Create(validation, Size)));

        Assert.True(error.IsValidationLoss);
        Assert.Equal(1, error.Epoch);
        Assert.Contains("the validation loss became", error.Message);
    }

    [Fact]
    public void The_stacked_autoencoder_fine_tuning_stops_on_a_non_finite_validation_loss()
    {
        var labeled = Fixtures.Blobs(60, features: 6, seed: 4);
        var validation = Fixtures.Blobs(9, features: 6, seed: 5);
        var extreme = new TrainingSet(validation.Features.Select(_ => 3e38f).ToArray(), validation.SampleShape, validation.Targets, 1);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 4 };
        using var network = new Network(StackedAutoencoder.Create([6, 4], 3, ActivationKind.ReLU), [6], seed: 4);

        var error = Assert.Throws<TrainingDivergedException>(() =>
            new LayerwisePretraining(options, options).Fit(network, labeled, validation: extreme));

        Assert.True(error.IsValidationLoss);
        Assert.Contains("the validation loss became", error.Message);
    }

    [Fact]
    public void Weights_that_diverge_in_the_last_step_of_an_epoch_are_reported_as_training_divergence()
    {
        // One batch per epoch: its loss is computed (finite) before the step that sends the weights to infinity,
        // so only the validation loss after the epoch sees it; the advice is the training one.
        var options = new TrainingOptions { Epochs = 2, BatchSize = 64, LearningRate = 1e30, Optimizer = OptimizerKind.Sgd, Momentum = 0, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() =>
            new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(64), Fixtures.Regression(8, seed: 9)));

        Assert.True(error.IsValidationLoss);
        Assert.Equal(1, error.Epoch);
        Assert.StartsWith("Training diverged: the network's weights diverged in the last steps of epoch 1 (learning rate 1E+30): its loss after the epoch is", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
    }
}
