using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Training reaches a useful model for each loss, with both optimizers; weight decay shrinks the parameters.</summary>
public class ConvergenceTests
{
    [Fact]
    public void Mlp_regression_error_on_unseen_rows_is_far_below_the_target_variance()
    {
        var train = Fixtures.Regression(256, seed: 0);
        var test = Fixtures.Regression(128, seed: 1);
        using var network = new Network(MultilayerPerceptron.Create([32], 1, ActivationKind.Tanh), [4], seed: 1);
        var options = new TrainingOptions { Epochs = 40, BatchSize = 32, LearningRate = 0.01, Seed = 1 };

        new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train);

        double mse = Measure.MeanSquaredError(network, test), variance = Measure.Variance(test.Targets);
        Assert.True(mse < 0.05 * variance, $"test MSE {mse:G3} vs target variance {variance:G3}");
    }

    [Fact]
    public void Mlp_with_cross_entropy_separates_the_three_blobs()
    {
        var train = Fixtures.Blobs(150, seed: 0);
        using var network = new Network(MultilayerPerceptron.Create([16], 3), [5], seed: 2);
        double chanceLevel = Measure.Accuracy(network, train);
        var options = new TrainingOptions { Epochs = 15, BatchSize = 16, LearningRate = 0.01, Seed = 2 };

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), train);

        double accuracy = Measure.Accuracy(network, train);
        Assert.True(accuracy >= 0.9, $"training accuracy {accuracy:P1} (untrained {chanceLevel:P1})");
        Assert.True(history.Epochs[^1].TrainLoss < 0.5 * Math.Log(3), $"final cross-entropy {history.Epochs[^1].TrainLoss:G3}");
    }

    [Fact]
    public void Mlp_with_binary_cross_entropy_separates_two_blobs()
    {
        var train = Fixtures.Blobs(120, features: 4, classes: 2, seed: 0);
        using var network = new Network(MultilayerPerceptron.Create([16], 1), [4], seed: 3);
        var options = new TrainingOptions { Epochs = 15, BatchSize = 16, LearningRate = 0.01, Seed = 3 };

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.BinaryCrossEntropyWithLogits), train);

        double accuracy = Measure.Accuracy(network, train);
        Assert.True(accuracy >= 0.9, $"training accuracy {accuracy:P1}");
        Assert.True(history.Epochs[^1].TrainLoss < 0.5 * Math.Log(2), $"final logistic loss {history.Epochs[^1].TrainLoss:G3}");
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.01)]
    [InlineData(OptimizerKind.Sgd, 0.05)]
    public void Both_optimizers_decrease_the_loss(OptimizerKind optimizer, double learningRate)
    {
        var train = Fixtures.Regression(128, seed: 4);
        using var network = new Network(MultilayerPerceptron.Create([16], 1), [4], seed: 4);
        double before = Measure.MeanSquaredError(network, train);
        var options = new TrainingOptions { Epochs = 10, BatchSize = 16, LearningRate = learningRate, Optimizer = optimizer, Momentum = 0.9, Seed = 4 };

        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), train);

        double after = Measure.MeanSquaredError(network, train);
        Assert.True(after < 0.3 * before, $"{optimizer}: MSE {before:G3} -> {after:G3}");
        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss, $"{optimizer}: epoch losses {history.Epochs[0].TrainLoss:G3} -> {history.Epochs[^1].TrainLoss:G3}");
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.01)]
    [InlineData(OptimizerKind.Sgd, 0.05)]
    public void Weight_decay_shrinks_the_parameter_norm(OptimizerKind optimizer, double learningRate)
    {
        double withoutDecay = NormAfterTraining(0);
        double withDecay = NormAfterTraining(0.1);

        Assert.True(withDecay < 0.9 * withoutDecay, $"{optimizer}: parameter norm {withoutDecay:G4} without decay, {withDecay:G4} with");

        double NormAfterTraining(double weightDecay)
        {
            using var network = new Network(MultilayerPerceptron.Create([16], 1), [4], seed: 5);
            var options = new TrainingOptions { Epochs = 10, BatchSize = 16, LearningRate = learningRate, Optimizer = optimizer, WeightDecay = weightDecay, Seed = 5 };
            new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(128, seed: 5));
            return Measure.ParameterNorm(network);
        }
    }
}
