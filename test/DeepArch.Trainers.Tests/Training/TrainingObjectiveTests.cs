using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// The training loop with an objective of two networks and two optimizers, each stepped in its turn, as a generative
/// adversarial network needs: a tiny generator learns to imitate samples of N(3, 0.5) against a tiny discriminator.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public class TrainingObjectiveTests
{
    /// <summary>A generator of one value from two noise values, and a discriminator of one value; the real data needs no targets.</summary>
    private sealed class TinyGan : TrainingObjective
    {
        public TinyGan(int seed)
        {
            Generator = new Network(MultilayerPerceptron.Create([8], 1), [2], seed);
            Discriminator = new Network(MultilayerPerceptron.Create([8], 1, ActivationKind.LeakyReLU), [1], seed + 1);
        }

        public Network Generator { get; }

        public Network Discriminator { get; }

        public int DiscriminatorSteps { get; private set; }

        public int GeneratorSteps { get; private set; }

        public override IReadOnlyList<Network> Networks => [Generator, Discriminator];

        public override IReadOnlyList<string> LossNames => ["generator", "discriminator"];

        public override TargetKind Targets => TargetKind.None;

        protected internal override IReadOnlyList<ParameterGroup> ParameterGroups()
            => [new("discriminator", Discriminator.Parameters()), new("generator", Generator.Parameters())];

        protected internal override void CheckData(TrainingSet set, string name) => CheckSampleShape(Discriminator, set, name);

        protected internal override double[] TrainStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
        {
            var (discriminatorOptimizer, generatorOptimizer) = (optimizers[0], optimizers[1]);
            var real = batch.Features;
            var fake = Generator.Forward(randn(real.shape[0], 2));

            var discriminatorLoss = DiscriminatorLoss(real, fake.detach());
            discriminatorLoss.backward();
            discriminatorOptimizer.step();
            DiscriminatorSteps++;

            generatorOptimizer.zero_grad();
            var realLabels = ones(real.shape[0], 1);
            var generatorLoss = nn.functional.binary_cross_entropy_with_logits(Discriminator.Forward(fake), realLabels);
            generatorLoss.backward();
            generatorOptimizer.step();
            GeneratorSteps++;
            return [generatorLoss.item<float>(), discriminatorLoss.item<float>()];
        }

        protected internal override double[] EvaluateBatch(TrainingBatch batch)
        {
            var fake = Generator.Forward(randn(batch.Features.shape[0], 2));
            var generatorLoss = nn.functional.binary_cross_entropy_with_logits(Discriminator.Forward(fake), ones(fake.shape[0], 1));
            return [generatorLoss.item<float>(), DiscriminatorLoss(batch.Features, fake).item<float>()];
        }

        private Tensor DiscriminatorLoss(Tensor real, Tensor fake)
            => nn.functional.binary_cross_entropy_with_logits(Discriminator.Forward(real), ones(real.shape[0], 1))
               + nn.functional.binary_cross_entropy_with_logits(Discriminator.Forward(fake), zeros(fake.shape[0], 1));

        public double GeneratedMean(int rows)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            manual_seed(99);
            return Generator.Forward(randn(rows, 2)).mean().item<float>();
        }
    }

    private static TrainingSet RealSamples(int rows, int seed)
    {
        var random = new Random(seed);
        float[] values = Enumerable.Range(0, rows).Select(_ => (float)(3 + 0.5 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        return TrainingSet.WithoutTargets(values, [1]);
    }

    [Fact]
    public void Two_networks_with_two_optimizers_train_against_each_other_and_the_history_holds_both_losses()
    {
        var gan = new TinyGan(seed: 5);
        try
        {
            var generatorBefore = gan.Generator.Parameters().Select(p => p.detach().clone()).ToList();
            var discriminatorBefore = gan.Discriminator.Parameters().Select(p => p.detach().clone()).ToList();
            double meanBefore = gan.GeneratedMean(256);
            var options = new TrainingOptions { Epochs = 40, BatchSize = 32, LearningRate = 0.01, Seed = 5, Threads = 1, ValidationFraction = 0.2 };

            var history = new TrainingLoop(options).Fit(gan, RealSamples(320, seed: 5));
            double meanAfter = gan.GeneratedMean(256);

            Assert.Equal(40, history.Epochs.Count);
            Assert.All(history.Epochs, e =>
            {
                Assert.Equal(["generator", "discriminator"], e.Losses!.Keys);
                Assert.Equal(e.TrainLoss, e.Losses!["generator"]);
                Assert.True(double.IsFinite(e.Losses!["discriminator"]));
                Assert.Equal(e.ValidationLoss, e.ValidationLosses!["generator"]);
            });
            Assert.Equal(40 * 8, gan.DiscriminatorSteps);
            Assert.Equal(gan.DiscriminatorSteps, gan.GeneratorSteps);
            Assert.Contains(gan.Generator.Parameters().Zip(generatorBefore), p => !p.First.detach().allclose(p.Second, 0, 0));
            Assert.Contains(gan.Discriminator.Parameters().Zip(discriminatorBefore), p => !p.First.detach().allclose(p.Second, 0, 0));
            Assert.True(Math.Abs(meanAfter - 3) < Math.Abs(meanBefore - 3) / 2,
                $"The generated mean moved from {meanBefore:F3} to {meanAfter:F3}; the real mean is 3.");
        }
        finally
        {
            gan.Generator.Dispose();
            gan.Discriminator.Dispose();
        }
    }

    [Fact]
    public void Early_stopping_restores_the_best_state_of_every_network()
    {
        var gan = new TinyGan(seed: 6);
        var snapshots = new SnapshotCallback(gan);
        try
        {
            var options = new TrainingOptions { Epochs = 15, BatchSize = 32, LearningRate = 0.05, Seed = 6, Threads = 1, ValidationFraction = 0.25, EarlyStoppingPatience = 2 };
            options.Callbacks.Add(snapshots);

            var history = new TrainingLoop(options).Fit(gan, RealSamples(160, seed: 6));

            Assert.True(history.Epochs.Count > history.BestEpoch, "Early stopping should have let later epochs run after the best one.");
            var best = snapshots.States[history.BestEpoch - 1];
            Assert.Equal(best.Generator, Values(gan.Generator));
            Assert.Equal(best.Discriminator, Values(gan.Discriminator));
            Assert.NotEqual(snapshots.States[^1].Discriminator, Values(gan.Discriminator));
        }
        finally
        {
            gan.Generator.Dispose();
            gan.Discriminator.Dispose();
        }
    }

    private static float[] Values(Network network) => network.Parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    /// <summary>Both networks' parameters after every epoch.</summary>
    private sealed class SnapshotCallback(TinyGan gan) : TrainingCallback
    {
        public List<(float[] Generator, float[] Discriminator)> States { get; } = [];

        public override void OnEpochEnd(EpochReport report) => States.Add((Values(gan.Generator), Values(gan.Discriminator)));
    }

    [Fact]
    public void A_set_without_targets_is_refused_by_an_objective_that_needs_them()
    {
        using var network = new Network(MultilayerPerceptron.Create([4], 1), [1], seed: 1);

        var error = Assert.Throws<ArgumentException>(() => new TrainingLoop(new TrainingOptions { Epochs = 1 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), RealSamples(16, seed: 1)));

        Assert.Contains("MeanSquaredError needs one target per network output: the train set has 0 targets per row", error.Message);
    }
}
