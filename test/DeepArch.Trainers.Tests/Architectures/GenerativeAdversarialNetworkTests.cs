using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>GAN, DCGAN and their conditional kinds: parity of both networks, sizes, and adversarial training on known distributions.</summary>
public class GenerativeAdversarialNetworkTests
{
    public static TheoryData<string, int> Kinds => new()
    {
        { "dense", 0 }, { "dense conditional", 3 }, { "DCGAN", 0 }, { "DCGAN conditional", 3 },
    };

    private static GanNetworks Create(string kind, int classes) => kind.StartsWith("DCGAN", StringComparison.Ordinal)
        ? GenerativeAdversarialNetwork.CreateConvolutional(8, [1, 8, 8], filters: 4, classes: classes)
        : GenerativeAdversarialNetwork.CreateDense(8, 64, [16, 16], [16], classes: classes);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Both_networks_match_onnx_runtime_after_adversarial_training(string kind, int classes)
    {
        var gan = Create(kind, classes);
        using var generator = new Network(gan.Generator, [gan.NoiseSize], seed: 1);
        using var discriminator = new Network(gan.Discriminator, [gan.DataSize], seed: 2);
        GenerativeAdversarialNetwork.InitializeWeights(generator, 1);
        GenerativeAdversarialNetwork.InitializeWeights(discriminator, 2);
        var data = Fixtures.Blobs(96, features: 64, classes: Math.Max(classes, 1));
        var set = classes > 0 ? data : TrainingSet.WithoutTargets(data.Features, data.SampleShape);

        new TrainingLoop(new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 4 }).Fit(new AdversarialObjective(generator, discriminator), set);

        Assert.Equal([64], generator.OutputShape);
        Assert.Equal([1], discriminator.OutputShape);
        OnnxAssert.Parity(generator, rows: 21, seed: 3);
        OnnxAssert.Parity(discriminator, rows: 21, seed: 3);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_scoring_graphs_work_in_the_datas_units_with_a_one_hot_label(string kind, int classes)
    {
        var gan = Create(kind, classes);
        using var generator = new Network(gan.Generator, [gan.NoiseSize], seed: 1);
        using var discriminator = new Network(gan.Discriminator, [gan.DataSize], seed: 2);
        var data = Fixtures.Blobs(96, features: 64, classes: Math.Max(classes, 1));
        var scaling = GanDataScaling.FromRows(data.Features.Select(v => v * 3 + 5).ToArray(), 64);
        var set = classes > 0 ? data : TrainingSet.WithoutTargets(data.Features, data.SampleShape);
        new TrainingLoop(new TrainingOptions { Epochs = 1, BatchSize = 16, Seed = 4 }).Fit(new AdversarialObjective(generator, discriminator), set);
        var random = new Random(8);
        int rows = 13;
        float[] noise = Enumerable.Range(0, rows * gan.NoiseSize).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        long[][] labels = classes > 0 ? [Enumerable.Range(0, rows).Select(r => (long)(r % classes)).ToArray()] : [];
        float[]? oneHot = classes > 0 ? Enumerable.Range(0, rows * classes).Select(i => i % classes == labels[0][i / classes] ? 1f : 0f).ToArray() : null;
        if (oneHot is not null)
        {
            Array.Clear(oneHot, 0, classes); // row 0 has no label: a missing key
        }
        string? label = classes > 0 ? "Label" : null;

        byte[] generatorModel = generator.ExportGeneratorOnnx("Noise", label, scaling, "Rows");
        float[] expected = generator.Predict(noise, rows, labels).Select((v, i) => v * scaling.Scale[i % 64] + scaling.Offset[i % 64]).ToArray();
        float[] actual = Run(generatorModel, ("Noise", noise, gan.NoiseSize), ("Label", oneHot, classes));
        OnnxAssert.CheckModel(generatorModel);
        Assert.All(Enumerable.Range(classes > 0 ? 64 : 0, expected.Length - (classes > 0 ? 64 : 0)), i => Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5, $"value {i}: {expected[i]} vs {actual[i]}"));
        Assert.All(actual.Take(classes > 0 ? 64 : 0), v => Assert.True(float.IsNaN(v)));

        float[] x = expected.Select(v => float.IsNaN(v) ? 5 : v).ToArray();
        byte[] discriminatorModel = discriminator.ExportDiscriminatorOnnx("Features", label, scaling, (graph, value, shape) => graph.AddOutput(value, "Logit", shape));
        float[] logits = discriminator.Predict(scaling.ToUnit(x), rows, labels);
        float[] scored = Run(discriminatorModel, ("Features", x, 64), ("Label", oneHot, classes));
        OnnxAssert.CheckModel(discriminatorModel);
        for (int r = classes > 0 ? 1 : 0; r < rows; r++)
        {
            Assert.True(Math.Abs(logits[r] - scored[r]) <= 1e-5, $"row {r}: {logits[r]} vs {scored[r]}");
        }
    }

    private static float[] Run(byte[] model, params (string Name, float[]? Values, int Width)[] inputs)
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model);
        var feeds = inputs.Where(i => i.Values is not null)
            .Select(i => Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(i.Name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(i.Values!, [i.Values!.Length / i.Width, i.Width])))
            .ToList();
        using var results = session.Run(feeds);
        return results.Single().AsTensor<float>().ToArray();
    }

    [Fact]
    public void The_dense_conditional_gan_has_the_parameters_of_the_same_networks_in_pytorch()
    {
        // torch.nn: Embedding(10, 10) + Linear(42, 256) + Linear(256, 256) + Linear(256, 64) = 93,348 for G,
        // Embedding(10, 10) + Linear(74, 256) + Linear(256, 256) + Linear(256, 1) = 85,349 for D (counted by PyTorch 1.13).
        var gan = GenerativeAdversarialNetwork.CreateDense(32, 64, classes: 10);

        Assert.Equal(93_348, gan.Generator.ParameterCount([32]));
        Assert.Equal(85_349, gan.Discriminator.ParameterCount([64]));
    }

    [Fact]
    public void Dcgan_initialization_draws_the_papers_distribution()
    {
        var gan = GenerativeAdversarialNetwork.CreateConvolutional(16, [1, 8, 8], filters: 32);
        using var generator = new Network(gan.Generator, [16], seed: 1);

        GenerativeAdversarialNetwork.InitializeWeights(generator, 5);

        var weights = generator.Parameters().Where(p => p.dim() > 1).SelectMany(p => p.data<float>().ToArray()).ToArray();
        double mean = weights.Average(), std = Math.Sqrt(weights.Select(w => (w - mean) * (w - mean)).Average());
        Assert.InRange(mean, -0.002, 0.002);
        Assert.InRange(std, 0.019, 0.021);
        var scales = generator.Parameters().Where(p => p.dim() == 1 && p.shape[0] == 64).First().data<float>().ToArray();
        Assert.InRange(scales.Average(), 0.98, 1.02);
    }

    [Fact]
    public void A_conditional_gan_learns_where_each_class_lies()
    {
        // Two classes in 2-D: class 0 around (0.5, -0.4), class 1 around (-0.3, 0.6), standard deviation 0.08.
        var random = new Random(3);
        int rows = 512;
        var x = new float[rows * 2];
        var y = new float[rows];
        float[][] centres = [[0.5f, -0.4f], [-0.3f, 0.6f]];
        for (int r = 0; r < rows; r++)
        {
            y[r] = r % 2;
            for (int f = 0; f < 2; f++)
            {
                x[r * 2 + f] = centres[r % 2][f] + 0.08f * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            }
        }
        var gan = GenerativeAdversarialNetwork.CreateDense(4, 2, [32], [32], classes: 2);
        using var generator = new Network(gan.Generator, [4], seed: 1);
        using var discriminator = new Network(gan.Discriminator, [2], seed: 2);
        var objective = new AdversarialObjective(generator, discriminator);

        var history = new TrainingLoop(new TrainingOptions { Epochs = 100, BatchSize = 64, LearningRate = 1e-3, AdamBeta1 = 0.5, Seed = 1 })
            .Fit(objective, new TrainingSet(x, [2], y, 1));

        Assert.Equal([AdversarialObjective.DiscriminatorLoss, AdversarialObjective.GeneratorLossName, AdversarialObjective.RealScore, AdversarialObjective.FakeScore],
            history.Epochs[^1].Losses!.Keys);
        var noise = new float[400 * 4];
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }
        for (int c = 0; c < 2; c++)
        {
            // A GAN circles its equilibrium rather than settling, so the test asks where the samples lie, not for exact moments.
            float[] samples = generator.Predict(noise, 400, Enumerable.Repeat((long)c, 400).ToArray());
            double Distance(int row, float[] centre) => Math.Sqrt(Math.Pow(samples[row * 2] - centre[0], 2) + Math.Pow(samples[row * 2 + 1] - centre[1], 2));
            double nearOwn = Enumerable.Range(0, 400).Count(r => Distance(r, centres[c]) < Distance(r, centres[1 - c])) / 400.0;
            double meanDistance = Enumerable.Range(0, 400).Average(r => Distance(r, centres[c]));
            Assert.True(nearOwn >= 0.95 && meanDistance < 0.25, $"class {c}: {nearOwn:P0} of the samples nearer their centre, mean distance {meanDistance:F3}");
        }
        double realScore = history.Epochs[^1].Losses![AdversarialObjective.RealScore];
        Assert.InRange(realScore, 0.3, 0.6); // neither network has won: with real rows labelled 0.9, the equilibrium is 0.45
    }

    [Fact]
    public void The_same_seed_gives_the_same_history_and_generator()
    {
        float[] Run(out TrainingHistory history)
        {
            var gan = GenerativeAdversarialNetwork.CreateConvolutional(8, [1, 8, 8], filters: 4, classes: 3);
            using var generator = new Network(gan.Generator, [8], seed: 1);
            using var discriminator = new Network(gan.Discriminator, [64], seed: 2);
            history = new TrainingLoop(new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 9 })
                .Fit(new AdversarialObjective(generator, discriminator, GeneratorLoss.Minimax, discriminatorSteps: 2), Fixtures.Blobs(64, 64, 3));
            return generator.Predict(new float[3 * 8], 3, [0, 1, 2]);
        }

        var first = Run(out var firstHistory);
        var second = Run(out var secondHistory);

        Assert.Equal(first, second);
        Assert.Equal(firstHistory.Epochs, secondHistory.Epochs.Select(e => e with { Elapsed = firstHistory.Epochs[e.Epoch - 1].Elapsed }));
    }

    /// <summary>
    /// A short run (12 generator steps) with a weight average of 0.99: the warmed-up decay keeps the averaged generator near its
    /// last weights; a fixed 0.99 would have kept 0.99^11 = 90% of the weights after the first step.
    /// </summary>
    [Fact]
    public void The_weight_average_of_a_short_run_lies_near_its_last_weights_not_its_first()
    {
        var gan = GenerativeAdversarialNetwork.CreateDense(4, 6, [16], [16]);
        using var generator = new Network(gan.Generator, [4], seed: 1);
        using var discriminator = new Network(gan.Discriminator, [6], seed: 2);
        var snapshots = new WeightSnapshots(generator);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, Seed = 3 };
        options.Callbacks.Add(snapshots);

        var rows = Fixtures.Regression(64, features: 6);
        new TrainingLoop(options).Fit(new AdversarialObjective(generator, discriminator, generatorAverage: 0.99), TrainingSet.WithoutTargets(rows.Features, rows.SampleShape));

        float[] averaged = WeightSnapshots.Flat(generator);
        double toLast = Distance(averaged, snapshots.Last!), toFirst = Distance(averaged, snapshots.First!);
        Assert.True(toLast < 0.5 * toFirst, $"distance to the last weights {toLast:G4}, to the first {toFirst:G4}");
    }

    private static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());

    /// <summary>The generator's weights after the first batch and at the end of the last epoch (before the average replaces them).</summary>
    private sealed class WeightSnapshots(Network generator) : TrainingCallback
    {
        public float[]? First { get; private set; }

        public float[]? Last { get; private set; }

        public override void OnBatchEnd(int epoch, int batch, double loss)
        {
            if (First is null)
            {
                First = Flat(generator);
            }
        }

        public override void OnEpochEnd(EpochReport report) => Last = Flat(generator);

        public static float[] Flat(Network network) => network.Parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();
    }

    [Fact]
    public void Networks_that_do_not_fit_together_and_bad_labels_give_clear_errors()
    {
        var conditional = GenerativeAdversarialNetwork.CreateDense(4, 6, [8], [8], classes: 3);
        var plain = GenerativeAdversarialNetwork.CreateDense(4, 6, [8], [8]);
        using var generator = new Network(conditional.Generator, [4], seed: 1);
        using var discriminator = new Network(conditional.Discriminator, [6], seed: 1);
        using var plainDiscriminator = new Network(plain.Discriminator, [6], seed: 1);
        using var wide = new Network(new Sequential(new Dense(2)), [6], seed: 1);

        Assert.Contains("one label of the same classes", Assert.Throws<ArgumentException>(() => new AdversarialObjective(generator, plainDiscriminator)).Message);
        Assert.Contains("one logit per row", Assert.Throws<ArgumentException>(() => new AdversarialObjective(generator, wide)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdversarialObjective(generator, discriminator, discriminatorSteps: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdversarialObjective(generator, discriminator, realLabel: 0.4f));
        var badLabels = new TrainingSet(new float[4 * 6], [6], [0, 1, 2, 3], 1);
        var error = Assert.Throws<ArgumentException>(() => new TrainingLoop(new TrainingOptions { Epochs = 1 }).Fit(new AdversarialObjective(generator, discriminator), badLabels));
        Assert.Contains("class indices in [0, 3); row 3 of the train set has 3", error.Message);
        Assert.Throws<ArgumentException>(() => GenerativeAdversarialNetwork.CreateConvolutional(8, [1, 6, 8]));
        Assert.Throws<ArgumentOutOfRangeException>(() => GenerativeAdversarialNetwork.CreateDense(8, 4, classes: 1));
    }
}
