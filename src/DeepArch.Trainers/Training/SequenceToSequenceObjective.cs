using System.Globalization;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Teacher forcing for a <see cref="SequenceToSequence"/> network: the decoder reads the start symbol and then the true
/// target tokens, and the loss is the cross-entropy of each step's next token (the end symbol included) over the real
/// target steps only: padding is masked, so short and long targets in one batch count token by token. Each batch is trimmed
/// to its longest target. Row weights (<see cref="TrainingSet.Weights"/>) weigh every token of their row. A decoder that
/// writes values reads zeros and then the true steps, and the loss is the mean squared error of its predicted steps.
/// </summary>
/// <remarks>The targets are <see cref="TargetKind.Tokens"/> rows of <see cref="SequenceToSequence.TargetWidth"/> values: the tokens, the end symbol, then <see cref="SequenceToSequence.Padding"/>.</remarks>
public sealed class SequenceToSequenceObjective : TrainingObjective
{
    private readonly SequenceToSequence _spec;

    /// <summary>Creates the objective for <paramref name="network"/>, whose architecture is a <see cref="SequenceToSequence"/>.</summary>
    /// <exception cref="ArgumentException">The network is not an encoder–decoder.</exception>
    public SequenceToSequenceObjective(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        _spec = network.Architecture as SequenceToSequence
            ?? throw new ArgumentException($"SequenceToSequenceObjective trains a SequenceToSequence network; got {network.Architecture.Describe()}.", nameof(network));
        Network = network;
    }

    /// <summary>The network trained.</summary>
    public Network Network { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Network> Networks => [Network];

    /// <inheritdoc/>
    public override TargetKind Targets => _spec.WritesTokens ? TargetKind.Tokens : TargetKind.Values;

    /// <inheritdoc/>
    protected internal override bool ReadsWeights => true;

    /// <summary>Checks every source (its length and tokens) and every target row (tokens, one end symbol, then padding), naming the row.</summary>
    protected internal override void CheckData(TrainingSet set, string name)
    {
        CheckSampleShape(Network, set, name);
        if (set.TargetWidth != _spec.TargetWidth)
        {
            throw new ArgumentException(_spec.WritesTokens
                ? $"{_spec.Describe()} needs target rows of {_spec.TargetWidth} values (MaxTargetLength {_spec.MaxTargetLength} tokens and the end symbol); the {name} set has {set.TargetWidth}."
                : $"{_spec.Describe()} needs target rows of {_spec.TargetWidth} values (MaxTargetLength {_spec.MaxTargetLength} steps of {_spec.TargetFeatures}); the {name} set has {set.TargetWidth}.", name);
        }
        int width = _spec.InputShape[0];
        for (int row = 0; row < set.Count; row++)
        {
            float length = set.Features[row * width];
            if (!(length >= 1 && length <= _spec.MaxSourceLength && length == MathF.Floor(length)))
            {
                throw new ArgumentException($"Row {row} of the {name} set has source length {Format(length)}; expected a whole number in [1, {_spec.MaxSourceLength}].", name);
            }
            for (int t = 1; _spec.ReadsTokens && t <= length; t++)
            {
                float token = set.Features[row * width + t];
                if (!(token >= 0 && token < _spec.SourceTokens && token == MathF.Floor(token)))
                {
                    throw new ArgumentException($"Row {row} of the {name} set has source token {Format(token)} at step {t - 1}; expected a whole number in [0, {_spec.SourceTokens}).", name);
                }
            }
            if (_spec.WritesTokens)
            {
                CheckTarget(set.Targets.AsSpan(row * _spec.TargetWidth, _spec.TargetWidth), row, name);
            }
        }
    }

    private void CheckTarget(ReadOnlySpan<float> target, int row, string name)
    {
        int end = target.IndexOf(_spec.EndToken);
        for (int t = 0; t < target.Length; t++)
        {
            float token = target[t];
            bool ok = end < 0 ? false
                : t < end ? token >= 0 && token < _spec.TargetTokens && token == MathF.Floor(token)
                : t == end || token == SequenceToSequence.Padding;
            if (!ok)
            {
                throw new ArgumentException(end < 0
                    ? $"Row {row} of the {name} set has no end symbol ({_spec.EndToken}) in its target: a target holds at most {_spec.MaxTargetLength} tokens, then the end symbol, then {SequenceToSequence.Padding}."
                    : $"Row {row} of the {name} set has target value {Format(token)} at step {t}; expected {(t < end ? $"a token in [0, {_spec.TargetTokens})" : $"{SequenceToSequence.Padding} after the end symbol")}.", name);
            }
        }
    }

    /// <summary>Teacher-forced forward, masked cross-entropy, backward, gradient clipping and the optimizer's step.</summary>
    protected internal override double[] TrainStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
        => WholeBatchStep(batch, optimizers);

    /// <summary>True: the loss is a mean over the real target tokens (or values), each row's own, with no random draw unless the network has dropout, which keeps whole batches.</summary>
    protected internal override bool SplitsBatches => true;

    /// <inheritdoc/>
    protected internal override double[] BackwardPart(TrainingBatch part, float share) => BackwardShare(Loss(part), share);

    /// <inheritdoc/>
    protected internal override void StepParts(IReadOnlyList<optim.Optimizer> optimizers)
    {
        ClipGradients(Network.Parameters());
        optimizers[0].step();
    }

    /// <summary>The denominator of the part's loss (<see cref="Loss"/>): its real target tokens, each counted by its row's weight; for a decoder of values, its rows or their weights.</summary>
    protected internal override float PartWeight(TrainingBatch part)
    {
        if (!_spec.WritesTokens)
        {
            return base.PartWeight(part);
        }
        using Scalar padding = SequenceToSequence.Padding.ToScalar();
        var real = part.Targets!.ne(padding).to_type(ScalarType.Float32);
        return (part.Weights is { } weights ? real * weights.unsqueeze(1) : real).sum().item<float>();
    }

    /// <inheritdoc/>
    protected internal override double[] EvaluateBatch(TrainingBatch batch) => [Loss(batch).item<float>()];

    /// <summary>
    /// The mean cross-entropy per real target token, or for a decoder of values the mean squared error per value; weighted by the
    /// rows' weights when the batch has them.
    /// </summary>
    private Tensor Loss(TrainingBatch batch)
    {
        var module = (SequenceToSequence.SequenceToSequenceModule)Network.Module;
        using Scalar tiny = 1e-12f.ToScalar();
        if (!_spec.WritesTokens)
        {
            var perRow = nn.functional.mse_loss(module.Values(batch.Features, batch.Targets!), batch.Targets!, reduction: nn.Reduction.None).mean([1]);
            return batch.Weights is { } rowWeights ? (perRow * rowWeights).sum() / rowWeights.sum().clamp_min(tiny) : perRow.mean();
        }
        var targets = batch.Targets!;
        // Numbers reach TorchSharp as held Scalars: see Scalars in ScalarSafeOptimizers.cs.
        using Scalar padding = SequenceToSequence.Padding.ToScalar(), end = _spec.EndToken.ToScalar();
        var real = targets.ne(padding);
        long longest = real.sum(1).max().item<long>();
        targets = targets.narrow(1, 0, longest);
        real = real.narrow(1, 0, longest);
        // The decoder reads the start symbol, then each target token but the last; padding becomes the start symbol (its step is masked).
        var previous = cat([full([targets.shape[0], 1], end, ScalarType.Int64, targets.device), targets.narrow(1, 0, longest - 1)], 1);
        previous = previous.masked_fill(previous.lt(Scalars.Zero), end);
        var logits = module.Logits(batch.Features, previous);
        var perToken = nn.functional.cross_entropy(logits.reshape(-1, _spec.TargetTokens + 1), targets.reshape(-1),
            ignore_index: SequenceToSequence.Padding, reduction: nn.Reduction.None).view(targets.shape[0], longest);
        var mask = real.to_type(ScalarType.Float32);
        if (batch.Weights is { } weights)
        {
            mask = mask * weights.unsqueeze(1);
        }
        return (perToken * mask).sum() / mask.sum().clamp_min(tiny);
    }

    private static string Format(float value) => value.ToString(CultureInfo.InvariantCulture);
}
