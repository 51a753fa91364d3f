using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>What <see cref="LayerwisePretraining.Fit"/> did.</summary>
/// <param name="Pretraining">One history per level, bottom first.</param>
/// <param name="FineTuning">The supervised training of the whole stack (or of the head alone).</param>
public sealed record StackedAutoencoderHistory(IReadOnlyList<TrainingHistory> Pretraining, TrainingHistory FineTuning);

/// <summary>
/// Trains a <see cref="StackedAutoencoder"/> classifier in stages: greedy layer-wise pretraining — level k is a
/// one-hidden-layer autoencoder trained (a <see cref="SupervisedObjective"/> on its own inputs, or a
/// <see cref="DenoisingObjective"/>) on the codes of level k-1, and its encoder becomes the classifier's k-th
/// <c>Dense -> activation</c> — then supervised fine-tuning of the stacked encoders and the dense head, end to end (or of
/// the head alone, the baseline fine-tuning is measured against). Each stage is one run of the <see cref="TrainingLoop"/>.
/// </summary>
public sealed class LayerwisePretraining
{
    /// <summary>Creates the procedure.</summary>
    /// <param name="pretraining">How each level's autoencoder is trained (validated here).</param>
    /// <param name="fineTuning">How the whole stack is trained on the labels (validated here).</param>
    /// <param name="loss">The supervised loss: CrossEntropy (classes) or BinaryCrossEntropyWithLogits (one output).</param>
    /// <param name="gaussianNoise">The standard deviation of the noise added to each level's inputs during pretraining (stacked denoising autoencoders); 0 for none.</param>
    /// <param name="fineTuneEncoders">Whether fine-tuning updates the pretrained encoders (true) or only the head (false).</param>
    public LayerwisePretraining(TrainingOptions pretraining, TrainingOptions fineTuning, LossFunction loss = LossFunction.CrossEntropy,
        float gaussianNoise = 0, bool fineTuneEncoders = true)
    {
        ArgumentNullException.ThrowIfNull(pretraining);
        ArgumentNullException.ThrowIfNull(fineTuning);
        pretraining.Validate("Pretraining");
        fineTuning.Validate("FineTuning");
        if (loss == LossFunction.MeanSquaredError || !Enum.IsDefined(loss))
        {
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "A stacked autoencoder classifier needs CrossEntropy or BinaryCrossEntropyWithLogits.");
        }
        TrainingObjective.RequireFiniteNonNegative(gaussianNoise, nameof(gaussianNoise), "The Gaussian noise's standard deviation");
        Pretraining = pretraining;
        FineTuning = fineTuning;
        Loss = loss;
        GaussianNoise = gaussianNoise;
        FineTuneEncoders = fineTuneEncoders;
    }

    /// <summary>How each level's autoencoder is trained.</summary>
    public TrainingOptions Pretraining { get; }

    /// <summary>How the whole stack is trained on the labels.</summary>
    public TrainingOptions FineTuning { get; }

    /// <summary>The supervised loss.</summary>
    public LossFunction Loss { get; }

    /// <summary>The pretraining input noise's standard deviation.</summary>
    public float GaussianNoise { get; }

    /// <summary>Whether fine-tuning updates the pretrained encoders.</summary>
    public bool FineTuneEncoders { get; }

    /// <summary>Pretrains <paramref name="classifier"/>'s levels on <paramref name="unlabeled"/> (or on <paramref name="labeled"/>'s features), then fine-tunes it on <paramref name="labeled"/>.</summary>
    /// <param name="classifier">A network built from <see cref="StackedAutoencoder.Create"/>.</param>
    /// <param name="labeled">Features and labels.</param>
    /// <param name="unlabeled">Features for pretraining (targets ignored); <paramref name="labeled"/>'s when null. The set's row weights, if any, weigh each level's reconstruction loss.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    /// <param name="validation">Validation data for fine-tuning; null leaves it to <see cref="FineTuning"/>'s <see cref="TrainingOptions.ValidationFraction"/>.</param>
    /// <param name="progress">Receives one report per fine-tuning epoch; optional.</param>
    public StackedAutoencoderHistory Fit(Network classifier, TrainingSet labeled, TrainingSet? unlabeled = null, CancellationToken cancellationToken = default,
        TrainingSet? validation = null, IProgress<EpochReport>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(labeled);
        var levels = Levels(classifier);
        var source = unlabeled ?? labeled;
        float[] codes = source.Features;
        int inputs = Shapes.Size(classifier.InputShape);
        var histories = new List<TrainingHistory>();
        for (int level = 0; level < levels.Count; level++)
        {
            var (dense, activation) = levels[level];
            var spec = Autoencoder.Create([inputs, dense.Units], activation.Kind, codeActivation: activation.Kind);
            using var autoencoder = new Network(spec, [inputs], Pretraining.Seed + level, classifier.Device);
            SupervisedObjective objective = GaussianNoise > 0
                ? new DenoisingObjective(autoencoder, GaussianNoise)
                : new SupervisedObjective(autoencoder, LossFunction.MeanSquaredError);
            histories.Add(new TrainingLoop(Pretraining).Fit(objective, ReconstructionSet.Create(codes, inputs).WithWeights(source.Weights), cancellationToken: cancellationToken));
            using var encoder = autoencoder.ExtractEncoder();
            classifier.CopyLayer(2 * level, encoder, 0);
            codes = encoder.Predict(codes, codes.Length / inputs);
            inputs = dense.Units;
        }
        int head = 2 * levels.Count;
        var fineTuning = new SupervisedObjective(classifier, Loss, FineTuneEncoders ? null : [head]);
        return new StackedAutoencoderHistory(histories, new TrainingLoop(FineTuning).Fit(fineTuning, labeled, validation, progress, cancellationToken));
    }

    private static List<(Dense Dense, Activation Activation)> Levels(Network classifier)
    {
        var layers = (classifier.Architecture as Sequential)?.Layers;
        bool ok = layers is not null && layers.Count % 2 == 1 && layers.Count >= 3 && layers[^1] is Dense && classifier.InputShape.Count == 1
            && Enumerable.Range(0, layers.Count / 2).All(i => layers[2 * i] is Dense { UseBias: true } && layers[2 * i + 1] is Activation);
        if (!ok)
        {
            throw new ArgumentException(
                $"Layer-wise pretraining needs a network built from StackedAutoencoder.Create (Dense -> activation per level, then a Dense head); this one is {classifier.Architecture.Describe()}.",
                nameof(classifier));
        }
        return Enumerable.Range(0, layers!.Count / 2).Select(i => ((Dense)layers[2 * i], (Activation)layers[2 * i + 1])).ToList();
    }
}
