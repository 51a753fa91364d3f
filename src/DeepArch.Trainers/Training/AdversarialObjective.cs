using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// A generative adversarial network's training: per batch of real rows, a discriminator step on those rows and as many
/// generated ones (real rows labelled <see cref="RealLabel"/>, one-sided label smoothing, generated rows 0), then, every
/// <see cref="DiscriminatorSteps"/> batches, a generator step on the same generated rows against the updated
/// discriminator. Each network has its own optimizer. For a conditional GAN the training set's targets are the class
/// labels; the generated rows of a batch take the real rows' labels, so that both networks see the data's class balance.
/// </summary>
/// <remarks>
/// The losses it reports, per epoch in the history: the discriminator's and the generator's loss, and the mean
/// probabilities the discriminator gives the real and the generated rows, <see cref="RealScore"/> D(x) and
/// <see cref="FakeScore"/> D(G(z)). D(x) near 1 with D(G(z)) near 0 for many epochs means the discriminator wins
/// (lower its learning rate or capacity, or train it less often: <see cref="DiscriminatorSteps"/> counts discriminator
/// steps per generator step); a generator loss falling while the samples stop varying is mode collapse.
/// Validation batches report the same values on held-out real rows, without training.
/// </remarks>
public sealed class AdversarialObjective : TrainingObjective
{
    /// <summary>The generator's weight average lives outside the networks and optimizers: no checkpoints yet.</summary>
    protected internal override bool SupportsCheckpoints => false;

    /// <summary>The name of the discriminator's loss in the history.</summary>
    public const string DiscriminatorLoss = "discriminator";

    /// <summary>The name of the generator's loss in the history.</summary>
    public const string GeneratorLossName = "generator";

    /// <summary>The name of the mean probability the discriminator gives real rows, D(x).</summary>
    public const string RealScore = "D(x)";

    /// <summary>The name of the mean probability the discriminator gives generated rows, D(G(z)).</summary>
    public const string FakeScore = "D(G(z))";

    private readonly int _noiseSize;
    private readonly int _classes;
    private long _batches;
    private List<Tensor>? _average;
    private long _averageUpdates;

    /// <summary>Creates the objective.</summary>
    /// <param name="generator">The generator: [noise] (and a label, when conditional) to a row of the data's shape.</param>
    /// <param name="discriminator">The discriminator: a row (and a label) to one logit.</param>
    /// <param name="generatorLoss">The generator's loss.</param>
    /// <param name="discriminatorSteps">Discriminator steps per generator step (k in Goodfellow et al.); at least 1.</param>
    /// <param name="realLabel">The target of real rows in the discriminator's loss, in (0.5, 1]; 1 turns label smoothing off.</param>
    /// <param name="generatorAverage">
    /// The decay of the exponential moving average of the generator's weights that replaces them when training ends, in [0, 1);
    /// 0 keeps the last weights. A GAN's generator circles its equilibrium rather than settling, and the average of its recent
    /// weights lies nearer the middle ("Progressive Growing of GANs", Karras et al., 2018, use 0.999). The decay warms up over
    /// the first steps, min(decay, (1 + t) / (10 + t)) after t updates, so that a short run does not keep its first weights.
    /// </param>
    /// <exception cref="ArgumentException">The networks do not fit together.</exception>
    public AdversarialObjective(Network generator, Network discriminator, GeneratorLoss generatorLoss = GeneratorLoss.NonSaturating,
        int discriminatorSteps = 1, float realLabel = 0.9f, double generatorAverage = 0)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(discriminator);
        if (!Enum.IsDefined(generatorLoss))
        {
            throw new ArgumentOutOfRangeException(nameof(generatorLoss), generatorLoss, "Unknown generator loss.");
        }
        if (discriminatorSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(discriminatorSteps), discriminatorSteps, "There must be at least 1 discriminator step per generator step.");
        }
        if (!(realLabel > 0.5f && realLabel <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(realLabel), realLabel, "The real rows' target must be in (0.5, 1].");
        }
        if (!(generatorAverage >= 0 && generatorAverage < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(generatorAverage), generatorAverage, "The generator average's decay must be in [0, 1) (0 = no average).");
        }
        if (generator.InputShape.Count != 1)
        {
            throw new ArgumentException($"A generator reads a noise vector; this one takes {Layers.Shapes.Format(generator.InputShape)}.", nameof(generator));
        }
        if (!generator.OutputShape.SequenceEqual(discriminator.InputShape))
        {
            throw new ArgumentException(
                $"The generator writes rows of shape {Layers.Shapes.Format(generator.OutputShape)} but the discriminator reads {Layers.Shapes.Format(discriminator.InputShape)}.",
                nameof(discriminator));
        }
        if (Layers.Shapes.Size(discriminator.OutputShape) != 1)
        {
            throw new ArgumentException($"A discriminator gives one logit per row; this one gives {Layers.Shapes.Format(discriminator.OutputShape)}.", nameof(discriminator));
        }
        _classes = ConditionClasses(generator, discriminator);
        _noiseSize = generator.InputShape[0];
        Generator = generator;
        Discriminator = discriminator;
        Loss = generatorLoss;
        DiscriminatorSteps = discriminatorSteps;
        RealLabel = realLabel;
        GeneratorAverage = generatorAverage;
    }

    /// <summary>The generator.</summary>
    public Network Generator { get; }

    /// <summary>The discriminator.</summary>
    public Network Discriminator { get; }

    /// <summary>The generator's loss.</summary>
    public GeneratorLoss Loss { get; }

    /// <summary>Discriminator steps per generator step.</summary>
    public int DiscriminatorSteps { get; }

    /// <summary>The target of real rows in the discriminator's loss.</summary>
    public float RealLabel { get; }

    /// <summary>The decay of the generator's weight average (0: none).</summary>
    public double GeneratorAverage { get; }

    /// <summary>Whether the networks are conditioned on a class label (the training set's targets).</summary>
    public bool IsConditional => _classes > 0;

    /// <inheritdoc/>
    public override IReadOnlyList<Network> Networks => [Generator, Discriminator];

    /// <inheritdoc/>
    public override IReadOnlyList<string> LossNames => [DiscriminatorLoss, GeneratorLossName, RealScore, FakeScore];

    /// <inheritdoc/>
    public override TargetKind Targets => IsConditional ? TargetKind.Classes : TargetKind.None;

    /// <summary>The discriminator's parameters, then the generator's: one optimizer each.</summary>
    protected internal override IReadOnlyList<ParameterGroup> ParameterGroups()
        => [new(DiscriminatorLoss, Discriminator.Parameters()), new(GeneratorLossName, Generator.Parameters())];

    /// <summary>Checks the rows' shape and, for a conditional GAN, that every row has a label the networks know.</summary>
    protected internal override void CheckData(TrainingSet set, string name)
    {
        CheckSampleShape(Discriminator, set, name);
        if (!IsConditional)
        {
            return;
        }
        CheckClassIndices(set, _classes, name, "A conditional GAN needs", "A conditional GAN's labels are");
    }

    /// <summary>A discriminator step, then, every <see cref="DiscriminatorSteps"/> batches, a generator step.</summary>
    protected internal override double[] TrainStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
    {
        var labels = Labels(batch);
        var fake = Generator.Forward(randn(batch.Features.shape[0], _noiseSize, device: batch.Features.device), labels);
        var (discriminatorLoss, realScore, fakeScore) = DiscriminatorLossOf(batch.Features, fake.detach(), labels);
        discriminatorLoss.backward();
        ClipGradients(Discriminator.Parameters());
        optimizers[0].step();

        Tensor generatorLoss;
        if (++_batches % DiscriminatorSteps == 0)
        {
            optimizers[1].zero_grad();
            generatorLoss = GeneratorLossOf(Discriminator.Forward(fake, labels));
            generatorLoss.backward();
            ClipGradients(Generator.Parameters());
            optimizers[1].step();
            UpdateAverage();
        }
        else
        {
            using var _ = no_grad();
            generatorLoss = GeneratorLossOf(Discriminator.Forward(fake, labels));
        }
        return [discriminatorLoss.item<float>(), generatorLoss.item<float>(), realScore, fakeScore];
    }

    /// <summary>Replaces the generator's weights by their average, when there is one.</summary>
    protected internal override void End()
    {
        if (_average is null)
        {
            return;
        }
        using (no_grad())
        {
            foreach (var (parameter, average) in Generator.Parameters().Zip(_average))
            {
                parameter.copy_(average);
            }
        }
        Release();
    }

    /// <summary>Frees the weight average when training stopped before <see cref="End"/> applied it (cancelled, diverged, out of memory).</summary>
    protected internal override void Release()
    {
        _average?.ForEach(a => a.Dispose());
        _average = null;
    }

    private void UpdateAverage()
    {
        if (GeneratorAverage == 0)
        {
            return;
        }
        using var _ = no_grad();
        var parameters = Generator.Parameters();
        if (_average is null)
        {
            _average = parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToList();
            _averageUpdates = 0;
            return;
        }
        // The decay warms up as TensorFlow's ExponentialMovingAverage with num_updates does, min(decay, (1 + t) / (10 + t)):
        // with a fixed 0.99 the first, barely trained weights would still weigh 0.99^t, a third after 100 generator steps, so
        // a short run would return a nearly untrained generator. Past a thousand steps it is the fixed decay.
        _averageUpdates++;
        double rate = Math.Min(GeneratorAverage, (1.0 + _averageUpdates) / (10.0 + _averageUpdates));
        // Scalars held until their native calls return (see ScalarSafeOptimizers.cs).
        using Scalar decay = rate.ToScalar(), rest = (1 - rate).ToScalar();
        foreach (var (parameter, average) in parameters.Zip(_average))
        {
            average.mul_(decay).add_(parameter, alpha: rest);
        }
    }

    /// <summary>The same values on held-out real rows and as many generated ones.</summary>
    protected internal override double[] EvaluateBatch(TrainingBatch batch)
    {
        var labels = Labels(batch);
        var fake = Generator.Forward(randn(batch.Features.shape[0], _noiseSize, device: batch.Features.device), labels);
        var (discriminatorLoss, realScore, fakeScore) = DiscriminatorLossOf(batch.Features, fake, labels);
        return [discriminatorLoss.item<float>(), GeneratorLossOf(Discriminator.Forward(fake, labels)).item<float>(), realScore, fakeScore];
    }

    private Tensor[] Labels(TrainingBatch batch) => IsConditional ? [batch.Targets!] : [];

    private (Tensor Loss, double RealScore, double FakeScore) DiscriminatorLossOf(Tensor real, Tensor fake, Tensor[] labels)
    {
        var realLogits = Discriminator.Forward(real, labels);
        var fakeLogits = Discriminator.Forward(fake, labels);
        using Scalar realLabel = RealLabel.ToScalar();
        // The sum as add(b, Scalars.One), what the + operator calls with a temporary Scalar: see Scalars in ScalarSafeOptimizers.cs.
        var loss = nn.functional.binary_cross_entropy_with_logits(realLogits, full_like(realLogits, realLabel))
            .add(nn.functional.binary_cross_entropy_with_logits(fakeLogits, zeros_like(fakeLogits)), Scalars.One);
        using var _ = no_grad();
        return (loss, realLogits.sigmoid().mean().item<float>(), fakeLogits.sigmoid().mean().item<float>());
    }

    private Tensor GeneratorLossOf(Tensor fakeLogits) => Loss == GeneratorLoss.NonSaturating
        ? nn.functional.binary_cross_entropy_with_logits(fakeLogits, ones_like(fakeLogits))
        : -nn.functional.binary_cross_entropy_with_logits(fakeLogits, zeros_like(fakeLogits));

    private static int ConditionClasses(Network generator, Network discriminator)
    {
        var (g, d) = (generator.SideInputs, discriminator.SideInputs);
        if (g.Count == 0 && d.Count == 0)
        {
            return 0;
        }
        if (g.Count != 1 || d.Count != 1 || g[0].Count != d[0].Count)
        {
            throw new ArgumentException(
                $"A conditional GAN's generator and discriminator each read one label of the same classes; the generator reads " +
                $"[{string.Join(", ", g)}] and the discriminator [{string.Join(", ", d)}].", nameof(discriminator));
        }
        return g[0].Count;
    }
}
