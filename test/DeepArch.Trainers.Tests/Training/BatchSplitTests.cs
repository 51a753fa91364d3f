using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// Two or more training threads split each batch in two halves that train at once (BatchSplit): the same model as one thread up to
/// float rounding, the same bits on every run, and the whole batch on libtorch's threads where halves would not be the same batch.
/// </summary>
[Collection(SerialTorchCollection.Name)]
public class BatchSplitTests
{
    private sealed class Notes : TrainingCallback
    {
        public List<string> Messages { get; } = [];

        public override void OnInfo(string message) => Messages.Add(message);
    }

    private static (float[] Weights, double[] Losses, List<string> Notes) Train(LayerSpec architecture, int inputs, TrainingSet set, LossFunction loss,
        int threads, int batchSize = 32, Func<Network, TrainingObjective>? objective = null)
    {
        using var network = new Network(architecture, [inputs], seed: 3);
        var notes = new Notes();
        var options = new TrainingOptions { Epochs = 3, BatchSize = batchSize, LearningRate = 0.01, Seed = 4, Threads = threads, Callbacks = { notes } };
        var history = new TrainingLoop(options).Fit(objective?.Invoke(network) ?? new SupervisedObjective(network, loss), set);
        var weights = Measure.Parameters(network);
        return (weights, history.Epochs.Select(e => e.TrainLoss).ToArray(), notes.Messages);
    }

    private static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    [Fact]
    public void Two_threads_train_two_halves_of_each_batch_to_the_model_of_one_thread_up_to_rounding()
    {
        var set = Fixtures.Blobs(150, features: 6); // batches of 32, the last of 22: halves of 16 and 11 rows
        var mlp = MultilayerPerceptron.Create([16, 8], 3);

        var one = Train(mlp, 6, set, LossFunction.CrossEntropy, threads: 1);
        var two = Train(mlp, 6, set, LossFunction.CrossEntropy, threads: 2);

        Assert.Empty(one.Notes);
        Assert.Contains(two.Notes, n => n.Contains("two halves at once on two threads of 1 libtorch thread(s) each", StringComparison.Ordinal));
        Assert.True(MaxAbsDifference(one.Weights, two.Weights) < 1e-4, $"weights differ by {MaxAbsDifference(one.Weights, two.Weights):G3}");
        Assert.NotEqual(Measure.Bits(one.Weights), Measure.Bits(two.Weights)); // the halves really ran: the rounding differs
        for (int epoch = 0; epoch < one.Losses.Length; epoch++)
        {
            Assert.Equal(one.Losses[epoch], two.Losses[epoch], 1e-5);
        }
    }

    /// <summary>Parameters of 2,048 values and more: each thread also updates a part of them (Adam, SGD with momentum).</summary>
    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    public void Two_threads_also_split_the_optimizers_step_with_the_same_bits_on_every_run(OptimizerKind optimizer)
    {
        var set = Fixtures.Blobs(200, features: 40);
        var mlp = MultilayerPerceptron.Create([64], 3); // a 40 x 64 weight: 2,560 values
        (float[] Weights, double[] Losses) Run(int threads)
        {
            using var network = new Network(mlp, [40], seed: 3);
            var options = new TrainingOptions { Epochs = 3, BatchSize = 32, LearningRate = 0.01, Optimizer = optimizer, Momentum = 0.9, Seed = 4, Threads = threads };
            var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.CrossEntropy), set);
            return (Measure.Parameters(network), history.Epochs.Select(e => e.TrainLoss).ToArray());
        }

        var one = Run(1);
        var runs = Enumerable.Range(0, 3).Select(_ => Run(2)).ToArray();

        Assert.All(runs.Skip(1), run => Assert.Equal(Measure.Bits(runs[0].Weights), Measure.Bits(run.Weights)));
        Assert.True(MaxAbsDifference(one.Weights, runs[0].Weights) < 1e-4, $"weights differ by {MaxAbsDifference(one.Weights, runs[0].Weights):G3}");
        Assert.Equal(one.Losses[^1], runs[0].Losses[^1], 1e-5);
    }

    [Fact]
    public void Weighted_rows_count_by_weight_in_each_half_and_a_half_of_zero_weight_adds_nothing()
    {
        var set = Fixtures.Regression(96, features: 4, seed: 2);
        // The first 16 rows of every shuffled batch are not known, so some halves are all weight 0 only by chance: weights of 0
        // for most rows make that common, and the rest weigh 3.
        var weights = Enumerable.Range(0, set.Count).Select(r => r % 7 == 0 ? 3f : 0f).ToArray();
        var weighted = set.WithWeights(weights);
        var mlp = MultilayerPerceptron.Create([8], 1);

        var one = Train(mlp, 4, weighted, LossFunction.MeanSquaredError, threads: 1);
        var two = Train(mlp, 4, weighted, LossFunction.MeanSquaredError, threads: 2);

        Assert.True(MaxAbsDifference(one.Weights, two.Weights) < 1e-4, $"weights differ by {MaxAbsDifference(one.Weights, two.Weights):G3}");
        for (int epoch = 0; epoch < one.Losses.Length; epoch++)
        {
            Assert.Equal(one.Losses[epoch], two.Losses[epoch], 1e-5);
        }
    }

    [Fact]
    public void Two_threads_give_the_same_bits_on_every_run_for_dense_and_recurrent_networks()
    {
        var blobs = Fixtures.Blobs(99, features: 12);
        var lstm = new Sequential(new Recurrent(RecurrentCell.Lstm, hiddenSize: 8, features: 3), new Dense(3));
        var mlp = MultilayerPerceptron.Create([16], 3);
        foreach (var architecture in new LayerSpec[] { mlp, lstm })
        {
            var runs = Enumerable.Range(0, 4).Select(_ => Train(architecture, 12, blobs, LossFunction.CrossEntropy, threads: 2, batchSize: 33)).ToArray();

            Assert.Contains(runs[0].Notes, n => n.Contains("two halves", StringComparison.Ordinal));
            Assert.All(runs.Skip(1), run => Assert.Equal(Measure.Bits(runs[0].Weights), Measure.Bits(run.Weights)));
            Assert.All(runs.Skip(1), run => Assert.Equal(runs[0].Losses, run.Losses));
        }
    }

    /// <summary>
    /// An encoder–decoder's loss is a mean over real target tokens: each half counts by its tokens (times its rows' weights), and
    /// sources of different lengths are packed per row, so two halves give one thread's model up to rounding.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_sequence_to_sequence_network_splits_its_batches_by_target_tokens(bool weighted)
    {
        var spec = new SequenceToSequence(7, 5, 6, 7, RecurrentCell.Gru, hiddenSize: 8, embeddingSize: 4, attention: Attention.General);
        var random = new Random(5);
        int rows = 90, width = 1 + 6;
        var features = new float[rows * width];
        var targets = new float[rows * spec.TargetWidth];
        for (int row = 0; row < rows; row++)
        {
            int length = random.Next(1, 7);
            features[row * width] = length;
            for (int t = 1; t <= 6; t++)
            {
                features[row * width + t] = t <= length ? random.Next(7) : 1000;
            }
            for (int t = 0; t < spec.TargetWidth; t++)
            {
                targets[row * spec.TargetWidth + t] = t < length ? features[row * width + length - t] % 5 : t == length ? spec.EndToken : SequenceToSequence.Padding;
            }
        }
        var set = new TrainingSet(features, spec.InputShape, targets, spec.TargetWidth);
        if (weighted)
        {
            set = set.WithWeights(Enumerable.Range(0, rows).Select(r => r % 3 == 0 ? 0f : 1.5f).ToArray());
        }
        (float[] Weights, double[] Losses, List<string> Notes) Run(int threads)
        {
            using var network = new Network(spec, spec.InputShape, seed: 2);
            var notes = new Notes();
            var options = new TrainingOptions { Epochs = 3, BatchSize = 32, LearningRate = 0.01, Seed = 4, Threads = threads, Callbacks = { notes } };
            var history = new TrainingLoop(options).Fit(new SequenceToSequenceObjective(network), set);
            return (Measure.Parameters(network), history.Epochs.Select(e => e.TrainLoss).ToArray(), notes.Messages);
        }

        var one = Run(1);
        var two = Run(2);
        var again = Run(2);

        Assert.Contains(two.Notes, n => n.Contains("two halves at once", StringComparison.Ordinal));
        Assert.Equal(Measure.Bits(two.Weights), Measure.Bits(again.Weights));
        Assert.True(MaxAbsDifference(one.Weights, two.Weights) < 1e-4, $"weights differ by {MaxAbsDifference(one.Weights, two.Weights):G3}");
        for (int epoch = 0; epoch < one.Losses.Length; epoch++)
        {
            Assert.Equal(one.Losses[epoch], two.Losses[epoch], 1e-5);
        }
    }

    [Theory]
    [InlineData("dropout")]
    [InlineData("batch normalization")]
    [InlineData("denoising")]
    public void Batch_statistics_and_random_draws_keep_the_whole_batch_and_say_why(string what)
    {
        var set = Fixtures.Regression(64, features: 4);
        var architecture = what switch
        {
            "dropout" => MultilayerPerceptron.Create([8], 4, dropout: 0.2f),
            "batch normalization" => MultilayerPerceptron.Create([8], 4, batchNorm: true),
            _ => MultilayerPerceptron.Create([8], 4),
        };
        var reconstruction = new TrainingSet(set.Features, [4], set.Features, 4);
        Func<Network, TrainingObjective>? objective = what == "denoising" ? n => new DenoisingObjective(n, gaussianNoise: 0.1f) : null;

        var run = Train(architecture, 4, reconstruction, LossFunction.MeanSquaredError, threads: 2, objective: objective);

        string note = Assert.Single(run.Notes);
        Assert.Contains("not on two halves of each batch", note, StringComparison.Ordinal);
        Assert.Contains(what == "denoising" ? "DenoisingObjective" : "batch normalization or dropout", note, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Weights, float.IsNaN);
    }

    /// <summary>
    /// A subclass of SupervisedObjective may change the step (its own TrainStep, a loss of the whole batch), and frozen layers keep
    /// gradients that two halves would add in no fixed order: both train whole batches unless they say otherwise.
    /// </summary>
    [Theory]
    [InlineData("subclass")]
    [InlineData("frozen layers")]
    public void Subclasses_and_frozen_layers_train_whole_batches(string what)
    {
        var set = Fixtures.Blobs(64, features: 6);
        var mlp = MultilayerPerceptron.Create([8], 3);
        Func<Network, TrainingObjective> objective = what == "subclass"
            ? n => new WholeBatchObjective(n)
            : n => new SupervisedObjective(n, LossFunction.CrossEntropy, trainedLayers: [2]);

        var run = Train(mlp, 6, set, LossFunction.CrossEntropy, threads: 2, objective: objective);

        Assert.Contains("not on two halves of each batch", Assert.Single(run.Notes), StringComparison.Ordinal);
    }

    private sealed class WholeBatchObjective(Network network) : SupervisedObjective(network, LossFunction.CrossEntropy);

    /// <summary>A step that fails on the helper thread fails the Fit on the caller's thread, with its own exception.</summary>
    [Fact]
    public void A_failure_in_the_second_half_surfaces_on_the_training_thread()
    {
        var set = Fixtures.Regression(64, features: 4);
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 32, Seed = 1, Threads = 2 });

        var error = Assert.Throws<InvalidOperationException>(() => loop.Fit(new FailsOffTheTrainingThread(network, Environment.CurrentManagedThreadId), set));

        Assert.Equal("second half", error.Message);
    }

    private sealed class FailsOffTheTrainingThread(Network network, int trainingThread) : SupervisedObjective(network, LossFunction.MeanSquaredError)
    {
        protected internal override bool SplitsBatches => true;

        protected override Tensor StepLoss(Tensor features, Tensor targets, Tensor? weights)
            => Environment.CurrentManagedThreadId == trainingThread ? base.StepLoss(features, targets, weights) : throw new InvalidOperationException("second half");
    }
}
