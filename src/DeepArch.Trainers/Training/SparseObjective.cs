using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// A sparse autoencoder's training (seeds 003, 004: <c>L(x, g(f(x))) + Omega(h)</c>): the reconstruction loss plus a
/// sparsity penalty on the code h, of two kinds that can be combined: an L1 activity penalty,
/// <c>ActivityL1 * mean over rows of sum_j |h_j|</c>; and the KL-divergence sparsity target,
/// <c>SparsityWeight * sum_j KL(rho || rho_hat_j)</c> where rho_hat_j is unit j's mean activation over the batch and
/// <c>KL(p || q) = p log(p/q) + (1-p) log((1-p)/(1-q))</c>; it needs codes in (0, 1), so the autoencoder's code activation
/// must be Sigmoid. Validation losses are the reconstruction loss alone.
/// </summary>
public class SparseObjective : SupervisedObjective
{
    private readonly AutoencoderSpec.AutoencoderModule _autoencoder;

    /// <summary>Creates the objective.</summary>
    /// <param name="network">A network built from <see cref="Autoencoder.Create"/>.</param>
    /// <param name="activityL1">The weight of the L1 activity penalty; finite, at least 0.</param>
    /// <param name="sparsityTarget">rho, the target mean activation of each code unit, in (0, 1).</param>
    /// <param name="sparsityWeight">beta, the weight of the KL sparsity penalty; finite, at least 0.</param>
    /// <param name="loss">The reconstruction loss: MeanSquaredError or BinaryCrossEntropyWithLogits.</param>
    public SparseObjective(Network network, float activityL1 = 0, float sparsityTarget = 0.05f, float sparsityWeight = 0,
        LossFunction loss = LossFunction.MeanSquaredError) : base(network, loss)
    {
        RequireFiniteNonNegative(activityL1, nameof(activityL1), "The L1 activity weight");
        if (!(sparsityTarget > 0 && sparsityTarget < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(sparsityTarget), sparsityTarget, $"The sparsity target rho must be in (0, 1); got {sparsityTarget}.");
        }
        RequireFiniteNonNegative(sparsityWeight, nameof(sparsityWeight), "The sparsity weight beta");
        if (loss == LossFunction.CrossEntropy)
        {
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "A sparse autoencoder reconstructs its input: use MeanSquaredError or BinaryCrossEntropyWithLogits.");
        }
        _autoencoder = AutoencoderSpec.ModuleOf(network, "A sparse autoencoder objective", variational: false);
        if (sparsityWeight > 0 && ((AutoencoderSpec)network.Architecture).Encoder.Layers[^1] is not Activation { Kind: ActivationKind.Sigmoid })
        {
            throw new ArgumentException(
                "The KL sparsity target needs codes in (0, 1): build the autoencoder with codeActivation: ActivationKind.Sigmoid, or set sparsityWeight to 0.", nameof(network));
        }
        ActivityL1 = activityL1;
        SparsityTarget = sparsityTarget;
        SparsityWeight = sparsityWeight;
    }

    /// <summary>The weight of the L1 activity penalty.</summary>
    public float ActivityL1 { get; }

    /// <summary>rho, the target mean activation of each code unit.</summary>
    public float SparsityTarget { get; }

    /// <summary>beta, the weight of the KL sparsity penalty.</summary>
    public float SparsityWeight { get; }

    /// <summary>Encodes, decodes, and adds the sparsity penalty on the code to the reconstruction loss (both over the rows' weights, when they have some).</summary>
    protected override Tensor StepLoss(Tensor features, Tensor targets, Tensor? weights)
    {
        var code = _autoencoder.Encode(features);
        // Numbers reach TorchSharp as held Scalars, a + b as a.add(b, Scalars.One) and 1 - x as x.negative().add(1, 1) (what the
        // operators call): see Scalars in ScalarSafeOptimizers.cs.
        return BatchLoss(_autoencoder.Decode(code), targets, weights).add(SparsityPenalty(code, weights), Scalars.One);
    }

    /// <summary>
    /// The penalty on a batch of codes [rows, units]: the weighted L1 activity plus the weighted KL divergence from rho, the means
    /// over rows weighted by the rows' <paramref name="weights"/> when they have some (a row of weight 2 counts as the row twice).
    /// </summary>
    protected virtual Tensor SparsityPenalty(Tensor code, Tensor? weights = null)
    {
        Tensor MeanOverRows(Tensor values)
        {
            if (weights is null)
            {
                return values.mean([0L]);
            }
            using Scalar tiny = 1e-12f.ToScalar();
            var w = values.dim() > 1 ? weights.unsqueeze(1) : weights;
            return (values * w).sum([0L]) / weights.sum().clamp_min(tiny);
        }
        var penalty = zeros(1, device: code.device).squeeze();
        if (ActivityL1 > 0)
        {
            using Scalar activityL1 = ActivityL1.ToScalar();
            penalty = penalty.add((weights is null ? code.abs().sum(1).mean() : MeanOverRows(code.abs().sum(1))) * activityL1, Scalars.One);
        }
        if (SparsityWeight > 0)
        {
            double rho = SparsityTarget;
            using Scalar lowest = 1e-6.ToScalar(), highest = (1 - 1e-6).ToScalar();
            using Scalar target = rho.ToScalar(), complement = (1 - rho).ToScalar(), sparsityWeight = SparsityWeight.ToScalar();
            var rhoHat = MeanOverRows(code).clamp(lowest, highest);
            var divergence = ((rhoHat.reciprocal() * target).log() * target)
                .add((rhoHat.negative().add(Scalars.One, Scalars.One).reciprocal() * complement).log() * complement, Scalars.One);
            penalty = penalty.add(divergence.sum() * sparsityWeight, Scalars.One);
        }
        return penalty;
    }
}
