using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Row weights (<see cref="TrainingSet.Weights"/>): each row's loss scaled, as the supervised objective reads them.</summary>
public class RowWeightTests
{
    public static TheoryData<LossFunction> Losses => [LossFunction.MeanSquaredError, LossFunction.CrossEntropy, LossFunction.BinaryCrossEntropyWithLogits];

    /// <summary>The weighted loss of a batch whose row 1 weighs 2 and row 3 weighs 0 equals the plain loss of the batch with row 1 twice and without row 3.</summary>
    [Theory]
    [MemberData(nameof(Losses))]
    public void A_weight_of_two_is_the_row_given_twice_and_zero_leaves_it_out(LossFunction loss)
    {
        int outputs = loss == LossFunction.BinaryCrossEntropyWithLogits ? 1 : 3;
        using var network = new Network(new Sequential(new Dense(6), new Activation(ActivationKind.Tanh), new Dense(outputs)), [4], seed: 1);
        var objective = new SupervisedObjective(network, loss);
        using var scope = NewDisposeScope();
        var features = randn(5, 4, generator: new Generator(seed: 2));
        var targets = loss switch
        {
            LossFunction.CrossEntropy => tensor(new long[] { 0, 2, 1, 1, 0 }),
            LossFunction.BinaryCrossEntropyWithLogits => tensor(new float[] { 1, 0, 1, 0, 1 }, [5, 1]),
            _ => randn(5, 3, generator: new Generator(seed: 3)),
        };
        var weights = tensor(new float[] { 1, 2, 1, 0, 1 });
        var rows = tensor(new long[] { 0, 1, 1, 2, 4 }); // row 1 twice, row 3 left out

        double weighted = objective.EvaluateBatch(new TrainingBatch(features, targets, weights))[0];
        double repeated = objective.EvaluateBatch(new TrainingBatch(features.index_select(0, rows), targets.index_select(0, rows)))[0];

        Assert.Equal(repeated, weighted, 6);
    }

    [Fact]
    public void A_batch_whose_weights_are_all_zero_has_a_loss_of_zero()
    {
        using var network = new Network(new Dense(2), [3], seed: 1);
        var objective = new SupervisedObjective(network, LossFunction.MeanSquaredError);
        using var scope = NewDisposeScope();

        double value = objective.EvaluateBatch(new TrainingBatch(ones(4, 3), zeros(4, 2), zeros(4)))[0];

        Assert.Equal(0, value);
    }

    [Fact]
    public void Weights_are_checked_and_follow_a_validation_split()
    {
        var set = Fixtures.Regression(20);

        Assert.Contains("one weight per row (20)", Assert.Throws<ArgumentException>(() => set.WithWeights(new float[19])).Message);
        Assert.Contains("row 3 has -1", Assert.Throws<ArgumentException>(() => set.WithWeights(Enumerable.Range(0, 20).Select(i => i == 3 ? -1f : 1).ToArray())).Message);
        Assert.Contains("row 0 has NaN", Assert.Throws<ArgumentException>(() => set.WithWeights(Enumerable.Repeat(float.NaN, 20).ToArray())).Message);
        Assert.Contains("must not all be 0", Assert.Throws<ArgumentException>(() => set.WithWeights(new float[20])).Message);
        var weighted = set.WithWeights(Enumerable.Range(0, 20).Select(i => (float)i).ToArray());
        Assert.Same(set.Features, weighted.Features);
        Assert.Equal([5f, 7f], weighted.Subset([5, 7]).Weights!);
        Assert.Null(weighted.WithWeights(null).Weights);
    }

    [Fact]
    public void Weighted_training_runs_and_an_objective_that_reads_no_weights_refuses_them()
    {
        var set = Fixtures.Regression(64).WithWeights(Enumerable.Range(0, 64).Select(i => i % 2 == 0 ? 1f : 3f).ToArray());
        using var network = new Network(new Dense(1), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 1, ValidationFraction = 0.25 });

        var history = loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), set);

        Assert.All(history.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss) && double.IsFinite(e.ValidationLoss!.Value)));
        using var autoencoder = new Network(DeepArch.Trainers.Architectures.Autoencoder.CreateVariational([4, 3, 2]), [4], seed: 1);
        var reconstruction = ReconstructionSet.Create(set.Features, 4).WithWeights(Enumerable.Repeat(1f, 64).ToArray());
        var error = Assert.Throws<ArgumentException>(() => loop.Fit(new VariationalObjective(autoencoder), reconstruction));
        Assert.Contains("VariationalObjective does not read row weights", error.Message);
    }

    /// <summary>
    /// The denoising and sparse autoencoders' training losses read weights the same way: a row of weight 2 is the row given
    /// twice, a row of weight 0 is left out, the sparsity penalty's means over rows included (the noise drawn for the same rows).
    /// </summary>
    [Theory]
    [InlineData("denoising")]
    [InlineData("sparse")]
    public void Autoencoder_objectives_weigh_rows_as_repeated_rows(string kind)
    {
        var spec = DeepArch.Trainers.Architectures.Autoencoder.Create([6, 4, 2], codeActivation: ActivationKind.Sigmoid);
        using var network = new Network(spec, [6], seed: 1);
        using var scope = NewDisposeScope();
        var features = rand(5, 6, generator: new Generator(seed: 2));
        var weights = tensor(new float[] { 1, 2, 1, 0, 1 });
        var rows = tensor(new long[] { 0, 1, 1, 2, 4 });
        // No noise and no dropout: nothing draws from libtorch's global generator, which tests running beside this one use.
        double Loss(Tensor x, Tensor? w)
        {
            return (kind == "denoising"
                ? new DenoisingProbe(network).Of(x, w)
                : new SparseProbe(network).Of(x, w)).item<float>();
        }
        double weighted = Loss(features, weights), repeated = Loss(features.index_select(0, rows), null);
        Assert.Equal(repeated, weighted, 5);
    }

    private sealed class DenoisingProbe(Network network) : DenoisingObjective(network, gaussianNoise: 0, maskingProbability: 0)
    {
        public Tensor Of(Tensor features, Tensor? weights) => StepLoss(features, features, weights);
    }

    private sealed class SparseProbe(Network network) : SparseObjective(network, activityL1: 0.3f, sparsityTarget: 0.1f, sparsityWeight: 0.5f)
    {
        public Tensor Of(Tensor features, Tensor? weights) => StepLoss(features, features, weights);
    }
}
