using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// A variational autoencoder's training (<see cref="Autoencoder.CreateVariational"/>): the Gaussian encoder gives a mean
/// and a log-variance, a code is sampled by reparameterization (<c>z = mean + exp(logVar / 2) * eps</c>), and the loss is
/// the reconstruction error plus beta times the KL divergence from the standard normal prior:
/// <c>mean over rows of [ sum_i (x_i - x̂_i)^2 + beta * (-1/2) sum_j (1 + logVar_j - mean_j^2 - exp(logVar_j)) ]</c>
/// (with beta = 1, the negative ELBO of a Gaussian decoder of variance 1/2, up to a constant). Validation measures the same
/// loss with the code set to the mean (no sampling).
/// </summary>
public class VariationalObjective : TrainingObjective
{
    private readonly AutoencoderSpec.AutoencoderModule _autoencoder;

    /// <summary>Creates the objective.</summary>
    /// <param name="network">A network built from <see cref="Autoencoder.CreateVariational"/>.</param>
    /// <param name="beta">The weight of the KL term; finite, at least 0 (1 is the plain VAE, above 1 a beta-VAE).</param>
    public VariationalObjective(Network network, float beta = 1)
    {
        RequireFiniteNonNegative(beta, nameof(beta), "The KL weight beta");
        _autoencoder = AutoencoderSpec.ModuleOf(network, "A variational autoencoder objective", variational: true);
        Network = network;
        Beta = beta;
    }

    /// <summary>The variational autoencoder trained.</summary>
    public Network Network { get; }

    /// <summary>The weight of the KL term.</summary>
    public float Beta { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Network> Networks => [Network];

    /// <inheritdoc/>
    public override TargetKind Targets => TargetKind.Values;

    /// <inheritdoc/>
    protected internal override void CheckData(TrainingSet set, string name)
    {
        CheckSampleShape(Network, set, name);
        if (set.TargetWidth != Layers.Shapes.Size(Network.OutputShape))
        {
            throw new ArgumentException($"A variational autoencoder reconstructs its input: the {name} set's targets must be its features (ReconstructionSet).", name);
        }
    }

    /// <summary>Samples a code by reparameterization, decodes it and minimizes the reconstruction error plus beta times the KL term.</summary>
    protected internal override double[] TrainStep(TrainingBatch batch, IReadOnlyList<optim.Optimizer> optimizers)
    {
        var (mean, logVariance) = _autoencoder.EncodeGaussian(batch.Features);
        var reconstruction = _autoencoder.Decode(AutoencoderSpec.AutoencoderModule.Reparameterize(mean, logVariance));
        var loss = VariationalLoss(reconstruction, batch.Targets!, mean, logVariance);
        loss.backward();
        ClipGradients(Network.Parameters());
        optimizers[0].step();
        return [loss.item<float>()];
    }

    /// <summary>The loss with the code set to the mean.</summary>
    protected internal override double[] EvaluateBatch(TrainingBatch batch)
    {
        var (mean, logVariance) = _autoencoder.EncodeGaussian(batch.Features);
        return [VariationalLoss(_autoencoder.Decode(mean), batch.Targets!, mean, logVariance).item<float>()];
    }

    /// <summary>The batch's mean of the per-row squared reconstruction error plus beta times the per-row KL divergence.</summary>
    protected virtual Tensor VariationalLoss(Tensor reconstruction, Tensor targets, Tensor mean, Tensor logVariance)
    {
        // Numbers reach TorchSharp as held Scalars, a + b as a.add(b, Scalars.One) and 1 + x as x.add(1, 1) (what the operators
        // call): see Scalars in ScalarSafeOptimizers.cs.
        using Scalar two = 2.ToScalar(), negativeHalf = (-0.5).ToScalar(), beta = Beta.ToScalar();
        var error = (reconstruction - targets).pow(two).sum(1);
        var divergence = (logVariance.add(Scalars.One, Scalars.One) - mean.pow(two) - logVariance.exp()).sum(1) * negativeHalf;
        return error.add(divergence * beta, Scalars.One).mean();
    }
}
