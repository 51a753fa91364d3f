using DeepArch.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>What a training set's targets are, as an objective reads them.</summary>
public enum TargetKind
{
    /// <summary>No targets: the objective learns from the features alone (for example a generator against its discriminator).</summary>
    None,
    /// <summary>Float values, <see cref="TrainingSet.TargetWidth"/> per row (regression, reconstruction, a binary 0/1).</summary>
    Values,
    /// <summary>One class index per row (cross-entropy).</summary>
    Classes,
    /// <summary>A sequence of <see cref="TrainingSet.TargetWidth"/> token indices per row (a sequence decoder's targets, padded).</summary>
    Tokens,
}

/// <summary>Parameters that one optimizer updates.</summary>
/// <param name="Name">What the group is, for messages (for example <c>generator</c>).</param>
/// <param name="Parameters">The parameters.</param>
public sealed record ParameterGroup(string Name, IReadOnlyList<Parameter> Parameters);

/// <summary>A mini-batch on the training device: features [rows, ..sample shape] and, unless the objective reads none, targets.</summary>
/// <param name="Features">The rows' features.</param>
/// <param name="Targets">The rows' targets, typed as <see cref="TrainingObjective.Targets"/> says: float [rows, width], int64 [rows] class indices or int64 [rows, width] tokens.</param>
/// <param name="Weights">The rows' weights, float [rows], when the set has them (<see cref="TrainingSet.Weights"/>); null when every row counts the same.</param>
public sealed record TrainingBatch(Tensor Features, Tensor? Targets, Tensor? Weights = null);

/// <summary>
/// What one kind of training is, beside the loop every kind shares (<see cref="TrainingLoop"/>): the networks it trains
/// and their parameter groups (one optimizer each), what one step does with a batch (it may step several optimizers, a
/// discriminator's then a generator's), the named losses it reports, how it scores a validation batch, and what data and
/// targets it accepts. The loop owns everything else: epochs, shuffled batches, schedules, validation, early stopping
/// with the best weights restored, divergence, cancellation, callbacks, progress and one dispose scope per batch.
/// </summary>
/// <remarks>Like Keras's <c>Model.train_step</c>: an architecture changes what one step does and which losses it returns, not the loop.</remarks>
public abstract class TrainingObjective
{
    private TrainingOptions? _options;

    /// <summary>The networks trained, in a fixed order (early stopping saves and restores each one's state).</summary>
    public abstract IReadOnlyList<Network> Networks { get; }

    /// <summary>The names of the losses a step reports, in the order <see cref="TrainStep"/> returns them; the first is the one the loop follows (divergence, schedules, early stopping).</summary>
    public virtual IReadOnlyList<string> LossNames => ["loss"];

    /// <summary>What the targets of a training set must be.</summary>
    public abstract TargetKind Targets { get; }

    /// <summary>The options of the run in progress (set by the loop before the first step).</summary>
    protected TrainingOptions Options => _options ?? throw new InvalidOperationException("The objective is not being trained by a TrainingLoop.");

    /// <summary>The parameter groups, one optimizer each, in the order <see cref="TrainStep"/> receives the optimizers; by default one group of every parameter.</summary>
    protected internal virtual IReadOnlyList<ParameterGroup> ParameterGroups()
        => [new("parameters", Networks.SelectMany(n => n.Parameters()).ToList())];

    /// <summary>Checks that <paramref name="set"/> fits the networks and the targets; throws <see cref="ArgumentException"/> naming <paramref name="name"/>.</summary>
    protected internal virtual void CheckData(TrainingSet set, string name)
    {
    }

    /// <summary>
    /// One training step on <paramref name="batch"/> (the networks in training mode, the optimizers' gradients zeroed):
    /// forward, losses, backward, gradient clipping (<see cref="ClipGradients"/>) and optimizer steps.
    /// </summary>
    /// <returns>The step's losses, in <see cref="LossNames"/> order.</returns>
    protected internal abstract double[] TrainStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers);

    /// <summary>
    /// Whether <see cref="TrainStep"/> is the same as <see cref="BackwardPart"/> on parts of the batch, their gradients added, then
    /// <see cref="StepParts"/>: the losses are means over the rows (or weighted means), each row's gradient depends on that row alone,
    /// and a step draws no random numbers. Then, with two or more <see cref="TrainingOptions.Threads"/>, the loop runs a batch's two
    /// halves at once on two threads (<see cref="BatchSplit"/>). False by default.
    /// </summary>
    protected internal virtual bool SplitsBatches => false;

    /// <summary>
    /// Forward, losses and backward of <paramref name="part"/>, a part of a training batch, with the gradient of <paramref name="share"/>
    /// times its losses (the part's share of the batch, <see cref="PartWeight"/>) added to the parameters' gradients. Runs on one of
    /// two threads at once, the other running the other part; only for an objective that <see cref="SplitsBatches"/>.
    /// </summary>
    /// <returns>The part's losses (its own means, unscaled), in <see cref="LossNames"/> order.</returns>
    protected internal virtual double[] BackwardPart(TrainingBatch part, float share)
        => throw new NotSupportedException($"{GetType().Name} does not split batches.");

    /// <summary>
    /// How much <paramref name="part"/> of a batch counts in the batch's loss, the denominator of its mean: its rows, or the sum of
    /// their weights. A part's share of the batch is its weight over the batch's (<see cref="BackwardPart"/>).
    /// </summary>
    protected internal virtual float PartWeight(TrainingBatch part) => part.Weights is { } weights ? weights.sum().item<float>() : part.Features.shape[0];

    /// <summary>
    /// Backward of <paramref name="share"/> times <paramref name="loss"/> (of <paramref name="loss"/> itself for a share of 1, a whole
    /// batch's step); returns the loss's value, unscaled. The body of a <see cref="BackwardPart"/>.
    /// </summary>
    protected static double[] BackwardShare(Tensor loss, float share)
    {
        if (share == 1)
        {
            loss.backward();
        }
        else
        {
            using Scalar scale = share.ToScalar();
            loss.mul(scale).backward();
        }
        return [loss.item<float>()];
    }

    /// <summary>A whole batch's step as a split one takes it: <see cref="BackwardPart"/> of the whole batch (a share of 1), then <see cref="StepParts"/>.</summary>
    protected double[] WholeBatchStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
    {
        double[] losses = BackwardPart(batch, 1);
        StepParts(optimizers);
        return losses;
    }

    /// <summary>Gradient clipping and the optimizers' steps once every part's gradients are in (<see cref="BackwardPart"/>).</summary>
    protected internal virtual void StepParts(IReadOnlyList<optim.Optimizer> optimizers)
        => throw new NotSupportedException($"{GetType().Name} does not split batches.");

    /// <summary>The losses of a validation batch, in <see cref="LossNames"/> order (the networks in eval mode, no gradients).</summary>
    protected internal abstract double[] EvaluateBatch(TrainingBatch batch);

    /// <summary>
    /// Scales <paramref name="parameters"/>' gradients down so that their global L2 norm is at most
    /// <see cref="TrainingOptions.GradientClipNorm"/>; does nothing when that is 0. Call it between <c>backward()</c> and the optimizer's step.
    /// </summary>
    protected void ClipGradients(IEnumerable<Parameter> parameters)
    {
        if (Options.GradientClipNorm > 0)
        {
            nn.utils.clip_grad_norm_(parameters, Options.GradientClipNorm);
        }
    }

    /// <summary>
    /// Called by the loop once training has run its epochs (and early stopping has restored the best weights), before the
    /// networks go back to eval mode: an objective that keeps state of its own (a generator's weight average) applies it here.
    /// </summary>
    protected internal virtual void End()
    {
    }

    /// <summary>
    /// Called by the loop once training is over, whether it ended, was cancelled or failed (after <see cref="End"/> when it
    /// ended): an objective frees here the tensors it keeps from batch to batch (a generator's weight average).
    /// </summary>
    protected internal virtual void Release()
    {
    }

    /// <summary>
    /// Whether a <see cref="TrainingOptions.CheckpointDirectory"/> can save and resume this objective: its networks and optimizers hold
    /// all of its state. An objective that keeps state of its own between batches (a generator's weight average) says no.
    /// </summary>
    protected internal virtual bool SupportsCheckpoints => true;

    /// <summary>Whether the objective weighs each row's loss by <see cref="TrainingBatch.Weights"/>; the loop refuses a weighted set otherwise.</summary>
    protected internal virtual bool ReadsWeights => false;

    /// <summary>Binds the run's options (called by the loop).</summary>
    internal void Begin(TrainingOptions options) => _options = options;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="value"/> is finite and at least 0; <paramref name="what"/> begins the message.</summary>
    internal static void RequireFiniteNonNegative(float value, string parameter, string what)
    {
        if (!(value >= 0) || float.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(parameter, value, $"{what} must be finite and at least 0; got {value}.");
        }
    }

    /// <summary>
    /// Checks that <paramref name="set"/> has one class index in [0, <paramref name="classes"/>) per row; <paramref name="needs"/>
    /// begins the error (<c>CrossEntropy needs</c>) and <paramref name="targets"/> names the targets in it (<c>CrossEntropy targets are</c>).
    /// </summary>
    protected static void CheckClassIndices(TrainingSet set, int classes, string name, string needs, string targets)
    {
        if (set.TargetWidth != 1)
        {
            throw new ArgumentException($"{needs} one class index per row; the {name} set has {set.TargetWidth} targets per row.", name);
        }
        for (int row = 0; row < set.Count; row++)
        {
            float target = set.Targets[row];
            if (!(target >= 0 && target < classes && target == MathF.Floor(target)))
            {
                throw new ArgumentException($"{targets} class indices in [0, {classes}); row {row} of the {name} set has {TrainingOptions.Format(target)}.", name);
            }
        }
    }

    /// <summary>The shape check most objectives need: the samples have the shape <paramref name="network"/> takes.</summary>
    protected static void CheckSampleShape(Network network, TrainingSet set, string name)
    {
        if (!set.SampleShape.SequenceEqual(network.InputShape))
        {
            throw new ArgumentException(
                $"The {name} samples have shape {Layers.Shapes.Format(set.SampleShape)} but the network takes {Layers.Shapes.Format(network.InputShape)}.", name);
        }
    }
}
