using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// One network against its targets with one loss: classification, regression, and an autoencoder's reconstruction (whose
/// targets are its inputs, <see cref="ReconstructionSet"/>). Optionally only some of the network's layers are trained (a
/// classifier's head on frozen pretrained layers). The objectives of the autoencoder kinds derive from it.
/// </summary>
public class SupervisedObjective : TrainingObjective
{
    private readonly IReadOnlyList<int>? _trainedLayers;

    /// <summary>Creates the objective.</summary>
    /// <param name="network">The network to train.</param>
    /// <param name="loss">The loss between its output and the targets.</param>
    /// <param name="trainedLayers">For a chain of layers (<see cref="Layers.Sequential"/>), the indices of the layers whose parameters are trained; null (default) trains them all.</param>
    public SupervisedObjective(Network network, LossFunction loss, IReadOnlyList<int>? trainedLayers = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (!Enum.IsDefined(loss))
        {
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "Unknown loss function.");
        }
        Network = network;
        Loss = loss;
        _trainedLayers = trainedLayers?.ToArray();
        if (_trainedLayers is not null)
        {
            _ = network.LayerParameters(_trainedLayers); // checks the indices now
        }
    }

    /// <summary>The network trained.</summary>
    public Network Network { get; }

    /// <summary>The loss minimized.</summary>
    public LossFunction Loss { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Network> Networks => [Network];

    /// <inheritdoc/>
    public override TargetKind Targets => Loss == LossFunction.CrossEntropy ? TargetKind.Classes : TargetKind.Values;

    /// <inheritdoc/>
    protected internal override IReadOnlyList<ParameterGroup> ParameterGroups()
        => _trainedLayers is null ? base.ParameterGroups() : [new("layers " + string.Join(", ", _trainedLayers), Network.LayerParameters(_trainedLayers))];

    /// <summary>
    /// Checks the sample shape, and that the targets fit the loss and the network's output: without this, mean squared
    /// error would broadcast a [rows, 1] target against [rows, n] outputs and train a wrong model silently, and the other
    /// losses would fail deep inside libtorch.
    /// </summary>
    protected internal override void CheckData(TrainingSet set, string name)
    {
        CheckSampleShape(Network, set, name);
        int outputs = Layers.Shapes.Size(Network.OutputShape);
        if (Loss != LossFunction.CrossEntropy)
        {
            if (set.TargetWidth != outputs)
            {
                throw new ArgumentException(
                    $"{Loss} needs one target per network output: the {name} set has {set.TargetWidth} targets per row but the network has {outputs} outputs.", name);
            }
            return;
        }
        int classes = Network.OutputShape[^1];
        CheckClassIndices(set, classes, name, "CrossEntropy needs", $"CrossEntropy targets for a network with {classes} outputs are");
    }

    /// <summary>Row weights scale each row's loss (<see cref="WeightedLoss"/>), here and in the denoising and sparse objectives.</summary>
    protected internal override bool ReadsWeights => true;

    /// <summary>Forward, loss, backward, gradient clipping and the optimizer's step.</summary>
    protected internal override double[] TrainStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
        => WholeBatchStep(batch, optimizers);

    /// <summary>
    /// True when every layer trains (a frozen layer's gradients are kept and would gather the two halves' in no fixed order): the
    /// loss is a mean, or a weighted mean, of each row's loss. An objective that derives from this one changes its step (a sparsity
    /// penalty of the whole batch, corrupted inputs), so it splits only if it says so itself.
    /// </summary>
    protected internal override bool SplitsBatches => GetType() == typeof(SupervisedObjective) && _trainedLayers is null;

    /// <inheritdoc/>
    protected internal override double[] BackwardPart(TrainingBatch part, float share)
        => BackwardShare(StepLoss(part.Features, part.Targets!, part.Weights), share);

    /// <inheritdoc/>
    protected internal override void StepParts(IReadOnlyList<optim.Optimizer> optimizers)
    {
        // Only the trained parameters' gradients: a frozen layer's are never zeroed, and would inflate the norm more at every step.
        ClipGradients(_trainedLayers is null ? Network.Parameters() : Network.LayerParameters(_trainedLayers));
        optimizers[0].step();
    }

    /// <inheritdoc/>
    protected internal override double[] EvaluateBatch(TrainingBatch batch)
    {
        var output = Network.Forward(batch.Features);
        return [(batch.Weights is { } weights ? WeightedLoss(output, batch.Targets!, weights) : ComputeLoss(output, batch.Targets!)).item<float>()];
    }

    /// <summary>
    /// The loss a training step minimizes on a batch, with the rows' <paramref name="weights"/> when they have some; by default
    /// <see cref="BatchLoss"/> of the network's output.
    /// </summary>
    protected virtual Tensor StepLoss(Tensor features, Tensor targets, Tensor? weights) => BatchLoss(Network.Forward(features), targets, weights);

    /// <summary>The mean loss of <paramref name="output"/> (<see cref="ComputeLoss"/>), or its weighted mean when the rows have <paramref name="weights"/> (<see cref="WeightedLoss"/>).</summary>
    protected Tensor BatchLoss(Tensor output, Tensor targets, Tensor? weights) => weights is null ? ComputeLoss(output, targets) : WeightedLoss(output, targets, weights);

    /// <summary>
    /// The weighted mean of each row's loss, <c>sum(w * loss) / sum(w)</c>, so that a row of weight 2 counts as the same row given
    /// twice; a batch whose weights are all 0 has a loss of 0 (and no gradient).
    /// </summary>
    protected Tensor WeightedLoss(Tensor output, Tensor targets, Tensor weights)
    {
        var perRow = LossOf(output, targets, nn.Reduction.None);
        if (perRow.dim() > 1)
        {
            perRow = perRow.flatten(1).mean([1]);
        }
        using Scalar tiny = 1e-12f.ToScalar();
        return (perRow * weights).sum() / weights.sum().clamp_min(tiny);
    }

    /// <summary>The mean loss of a batch's <paramref name="output"/> against its <paramref name="targets"/>.</summary>
    protected Tensor ComputeLoss(Tensor output, Tensor targets) => LossOf(output, targets, nn.Reduction.Mean);

    private Tensor LossOf(Tensor output, Tensor targets, nn.Reduction reduction) => Loss switch
    {
        LossFunction.MeanSquaredError => nn.functional.mse_loss(output, targets, reduction: reduction),
        LossFunction.CrossEntropy => nn.functional.cross_entropy(output, targets, reduction: reduction),
        LossFunction.BinaryCrossEntropyWithLogits => nn.functional.binary_cross_entropy_with_logits(output, targets, reduction: reduction),
        _ => throw new InvalidOperationException($"Unknown loss {Loss}."),
    };
}
