using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// The autoencoder's options, one definition for every estimator that trains one (the anomaly detector and the
/// autoencoder transforms): its sizes, activations, dropout, batch norm, kind and each kind's parameters, plus the
/// training, scoring and device options of <see cref="NetworkOptions"/>. It also makes the autoencoder of each kind
/// (<see cref="CreateSpec"/>) and its training objective (<see cref="CreateObjective"/>), so the kinds map to networks
/// and objectives in one place.
/// </summary>
/// <remarks>
/// The defaults that the two estimators used to set differently were chosen by a measurement on the bundled digits
/// (docs/autoencoder-defaults.md, <c>dotnet run -c Release --project eng/quality/DeepArch.Quality -- autoencoder-defaults</c>):
/// 50 epochs (the transform's code classified 0.008 better than with 30, the detector within noise) and an L1 activity
/// weight of 1e-4 for the sparse kind.
/// </remarks>
public abstract class AutoencoderOptions : NetworkOptions
{
    /// <summary>Creates the options with the autoencoder's defaults: 50 epochs (docs/autoencoder-defaults.md).</summary>
    private protected AutoencoderOptions()
    {
        Epochs = 50;
    }

    /// <summary>
    /// The encoder's hidden sizes, then the code size (last); the input size comes from the column the autoencoder reads. Each at
    /// least 1. The code must be smaller than the input (undercomplete) for the <see cref="AutoencoderKind.Deep"/>,
    /// <see cref="AutoencoderKind.Tied"/> and <see cref="AutoencoderKind.Variational"/> kinds, and for every kind in the anomaly
    /// detector, which scores rows by how badly they reconstruct; in the transforms, sparse and denoising codes may be larger. Default [32, 8];
    /// left at its default on an input of 2 to 8 values, where a code of 8 would not be smaller than the input, the autoencoder
    /// takes [2n, n / 2] for n values instead (at least [4, 1]: [8, 2] for 4 values).
    /// </summary>
    public IReadOnlyList<int> LayerSizes
    {
        get => _layerSizes;
        set
        {
            _layerSizes = value;
            _layerSizesGiven = true;
        }
    }

    private IReadOnlyList<int> _layerSizes = [32, 8];
    private bool _layerSizesGiven;

    /// <summary>
    /// The sizes the autoencoder takes for an input of <paramref name="inputSize"/> values: <see cref="LayerSizes"/> as set, or at its
    /// default the default scaled down to an input of 8 values or fewer (on 2-D data [32, 8] made every simple overload refuse it).
    /// </summary>
    internal IReadOnlyList<int> LayerSizesFor(int inputSize)
        => _layerSizesGiven || inputSize > _layerSizes[^1] || inputSize < 2 ? _layerSizes : [Math.Max(4, 2 * inputSize), Math.Max(1, inputSize / 2)];

    /// <summary>The hidden layers' activation.</summary>
    public ActivationKind Activation { get; set; } = ActivationKind.ReLU;

    /// <summary>Applied to the reconstruction: Identity (default) for standardized data, Sigmoid for values in [0, 1].</summary>
    public ActivationKind OutputActivation { get; set; } = ActivationKind.Identity;

    /// <summary>Applied to the code (not for the variational kind); null (default) means Identity, or Sigmoid when the KL sparsity target is on.</summary>
    public ActivationKind? CodeActivation { get; set; }

    /// <summary>Dropout after each hidden activation during training, in [0, 1); 0 (default) adds none.</summary>
    public float Dropout { get; set; }

    /// <summary>
    /// Whether each hidden dense layer is batch-normalized before its activation (not the convolutional kind). Batch normalization needs at least
    /// two rows per batch: with it, <c>BatchSize</c> must be at least 2, and <c>Fit</c> rejects a training set of fewer than 2 rows (after the validation split).
    /// </summary>
    public bool BatchNorm { get; set; }

    /// <summary>
    /// Which autoencoder to train; <see cref="AutoencoderKind.Deep"/> by default. <see cref="AutoencoderKind.Tied"/> ties the decoder's
    /// weights to the encoder's; <see cref="AutoencoderKind.Sparse"/> uses <see cref="ActivityL1"/>, <see cref="SparsityTarget"/> and
    /// <see cref="SparsityWeight"/>; <see cref="AutoencoderKind.Denoising"/> <see cref="GaussianNoise"/> and <see cref="MaskingProbability"/>;
    /// <see cref="AutoencoderKind.Variational"/> <see cref="Beta"/> (its code is the encoder's mean); <see cref="AutoencoderKind.Convolutional"/>
    /// reads the input as an image of <see cref="ImageShape"/> (its code is the last encoder map, flattened).
    /// </summary>
    public AutoencoderKind Kind { get; set; } = AutoencoderKind.Deep;

    /// <summary><see cref="AutoencoderKind.Convolutional"/>: the input vector's image shape [channels, height, width]; height and width divisible by 2 per filter level.</summary>
    public IReadOnlyList<int>? ImageShape { get; set; }

    /// <summary><see cref="AutoencoderKind.Convolutional"/>: filters per encoder level (the decoder mirrors them); null gives [16, 8].</summary>
    public IReadOnlyList<int>? ConvolutionalFilters { get; set; }

    /// <summary><see cref="AutoencoderKind.Denoising"/>: the standard deviation of the Gaussian noise added to training inputs; finite, at least 0.</summary>
    public float GaussianNoise { get; set; } = 0.1f;

    /// <summary><see cref="AutoencoderKind.Denoising"/>: the probability of zeroing each training input value, in [0, 1).</summary>
    public float MaskingProbability { get; set; }

    /// <summary>
    /// <see cref="AutoencoderKind.Sparse"/>: the weight of the L1 activity penalty on the code; finite, at least 0. Default 1e-4, measured best or
    /// tied against 0, 1e-3 and 1e-2 for anomaly AUC and for classifying the code on the bundled digits (docs/autoencoder-defaults.md).
    /// </summary>
    public float ActivityL1 { get; set; } = 1e-4f;

    /// <summary><see cref="AutoencoderKind.Sparse"/>: rho, the target mean activation of each code unit, in (0, 1).</summary>
    public float SparsityTarget { get; set; } = 0.05f;

    /// <summary><see cref="AutoencoderKind.Sparse"/>: beta, the weight of the KL sparsity penalty; finite, at least 0 (above 0 makes the code Sigmoid by default).</summary>
    public float SparsityWeight { get; set; }

    /// <summary><see cref="AutoencoderKind.Variational"/>: the weight of the KL term; finite, at least 0 (1 is the plain VAE).</summary>
    public float Beta { get; set; } = 1;

    /// <summary>The code activation in effect.</summary>
    internal ActivationKind EffectiveCodeActivation
        => CodeActivation ?? (Kind == AutoencoderKind.Sparse && SparsityWeight > 0 ? ActivationKind.Sigmoid : ActivationKind.Identity);

    internal override void Validate()
    {
        base.Validate();
        Check(LayerSizes is not null && LayerSizes.Count >= 1 && LayerSizes.All(s => s >= 1), nameof(LayerSizes),
            LayerSizes is null ? "null" : Shapes.Format(LayerSizes), "must hold the hidden sizes, then the code size, each at least 1");
        Check(Enum.IsDefined(Activation), nameof(Activation), Activation, "must be a defined ActivationKind");
        Check(Enum.IsDefined(OutputActivation), nameof(OutputActivation), OutputActivation, "must be a defined ActivationKind");
        Check(CodeActivation is null || Enum.IsDefined(CodeActivation.Value), nameof(CodeActivation), CodeActivation?.ToString() ?? "null", "must be null or a defined ActivationKind");
        Check(Kind != AutoencoderKind.Variational || CodeActivation is null, nameof(CodeActivation), CodeActivation?.ToString() ?? "null", "must be null for the Variational kind (its code is the Gaussian's mean)");
        Check(Dropout >= 0 && Dropout < 1, nameof(Dropout), Dropout, "must be in [0, 1)");
        Check(Enum.IsDefined(Kind), nameof(Kind), Kind, "must be a defined AutoencoderKind");
        ConvolutionalShape.Validate(Kind, ImageShape, ConvolutionalFilters);
        Check(GaussianNoise >= 0 && float.IsFinite(GaussianNoise), nameof(GaussianNoise), GaussianNoise, "must be finite and at least 0");
        Check(MaskingProbability >= 0 && MaskingProbability < 1, nameof(MaskingProbability), MaskingProbability, "must be in [0, 1)");
        Check(ActivityL1 >= 0 && float.IsFinite(ActivityL1), nameof(ActivityL1), ActivityL1, "must be finite and at least 0");
        Check(SparsityTarget > 0 && SparsityTarget < 1, nameof(SparsityTarget), SparsityTarget, "must be in (0, 1)");
        Check(SparsityWeight >= 0 && float.IsFinite(SparsityWeight), nameof(SparsityWeight), SparsityWeight, "must be finite and at least 0");
        Check(Kind != AutoencoderKind.Sparse || SparsityWeight == 0 || EffectiveCodeActivation == ActivationKind.Sigmoid, nameof(CodeActivation), CodeActivation?.ToString() ?? "null",
            "must be Sigmoid (or null) with the KL sparsity target, which needs codes in (0, 1)");
        Check(Beta >= 0 && float.IsFinite(Beta), nameof(Beta), Beta, "must be finite and at least 0");
        // The autoencoder for a stand-in input size: which layers it has does not depend on it.
        CheckBatchSizeForBatchNorm(CreateSpec([1, .. LayerSizes!]), "Options.BatchNorm");
    }

    private protected override void CopyLists()
    {
        _layerSizes = _layerSizes?.ToArray()!; // the backing field: a copy keeps whether LayerSizes was set
        ImageShape = ImageShape?.ToArray();
        ConvolutionalFilters = ConvolutionalFilters?.ToArray();
    }

    /// <summary>The autoencoder of <see cref="Kind"/> over <paramref name="sizes"/> (input size first).</summary>
    internal AutoencoderSpec CreateSpec(int[] sizes) => Kind switch
    {
        AutoencoderKind.Convolutional => ConvolutionalAutoencoder.CreateSpec(ImageShape!, ConvolutionalFilters, Activation, OutputActivation),
        AutoencoderKind.Variational => Autoencoder.CreateVariational(sizes, Activation, OutputActivation, Dropout, BatchNorm),
        _ => Autoencoder.Create(sizes, Activation, OutputActivation, EffectiveCodeActivation, Dropout, BatchNorm, tiedWeights: Kind == AutoencoderKind.Tied),
    };

    /// <summary>The training objective of <see cref="Kind"/> for the autoencoder <paramref name="network"/>.</summary>
    internal TrainingObjective CreateObjective(Network network) => Kind switch
    {
        AutoencoderKind.Sparse => new SparseObjective(network, ActivityL1, SparsityTarget, SparsityWeight),
        AutoencoderKind.Denoising => new DenoisingObjective(network, GaussianNoise, MaskingProbability),
        AutoencoderKind.Variational => new VariationalObjective(network, Beta),
        _ => new SupervisedObjective(network, LossFunction.MeanSquaredError),
    };

    /// <summary>The network these options make for an input of <paramref name="inputSize"/> values, and the options that size it.</summary>
    internal NetworkPlan Plan(int inputSize)
    {
        var sizes = LayerSizesFor(inputSize);
        return new(CreateSpec([inputSize, .. sizes]), Kind == AutoencoderKind.Convolutional
            ? new($"Options.ConvolutionalFilters {Shapes.Format(ConvolutionalFilters ?? ConvolutionalAutoencoder.DefaultFilters)} on Options.ImageShape {Shapes.Format(ImageShape!)}",
                "Options.ConvolutionalFilters or Options.ImageShape")
            : new($"Options.LayerSizes {Shapes.Format(sizes)} on {inputSize} features", "Options.LayerSizes", "Options.BatchNorm"));
    }
}
