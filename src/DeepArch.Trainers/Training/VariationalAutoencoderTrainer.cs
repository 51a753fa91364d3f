using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using static TorchSharp.torch;
using AutoencoderModule = DeepArch.Trainers.Architectures.AutoencoderSpec.AutoencoderModule;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Trains a variational autoencoder (<see cref="Autoencoder.CreateVariational"/>): the Gaussian encoder
/// gives a mean and a log-variance, a code is sampled by reparameterization
/// (<c>z = mean + exp(logVar / 2) * eps</c>), and the loss is the reconstruction error plus beta times the
/// KL divergence from the standard normal prior:
/// <c>mean over rows of [ sum_i (x_i - x̂_i)^2 + beta * (-1/2) sum_j (1 + logVar_j - mean_j^2 - exp(logVar_j)) ]</c>
/// (with beta = 1, the negative ELBO of a Gaussian decoder of variance 1/2, up to a constant).
/// Overrides <see cref="NetworkTrainer.TrainStep"/>, and <see cref="NetworkTrainer.EvaluateLoss"/> so that
/// validation measures the same loss with the code set to the mean (no sampling).
/// </summary>
public class VariationalAutoencoderTrainer : NetworkTrainer
{
    /// <summary>Creates the trainer.</summary>
    /// <param name="options">The training options.</param>
    /// <param name="beta">The weight of the KL term; finite, at least 0 (1 is the plain VAE, above 1 a beta-VAE).</param>
    public VariationalAutoencoderTrainer(TrainingOptions options, float beta = 1) : base(options, LossFunction.MeanSquaredError)
    {
        if (!(beta >= 0) || float.IsInfinity(beta))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"The KL weight beta must be finite and at least 0; got {beta}.");
        }
        Beta = beta;
    }

    /// <summary>The weight of the KL term.</summary>
    public float Beta { get; }

    /// <summary>Samples a code by reparameterization, decodes it and minimizes the reconstruction error plus beta times the KL term.</summary>
    protected override double TrainStep(Network network, optim.Optimizer optimizer, Tensor features, Tensor targets)
    {
        var autoencoder = Require(network);
        var (mean, logVariance) = autoencoder.EncodeGaussian(features);
        var reconstruction = autoencoder.Decode(AutoencoderModule.Reparameterize(mean, logVariance));
        var loss = VariationalLoss(reconstruction, targets, mean, logVariance);
        loss.backward();
        ClipGradients(network);
        optimizer.step();
        return loss.item<float>();
    }

    /// <summary>The loss in eval mode with the code set to the mean.</summary>
    protected override double EvaluateLoss(Network network, DeviceData data)
    {
        var autoencoder = Require(network);
        network.Module.eval();
        using var _ = no_grad();
        double sum = 0;
        for (int start = 0; start < data.Count; start += Options.BatchSize)
        {
            int size = Math.Min(Options.BatchSize, data.Count - start);
            using var scope = NewDisposeScope();
            var (mean, logVariance) = autoencoder.EncodeGaussian(data.Features.narrow(0, start, size));
            var reconstruction = autoencoder.Decode(mean);
            sum += VariationalLoss(reconstruction, data.Targets.narrow(0, start, size), mean, logVariance).item<float>() * size;
        }
        return sum / data.Count;
    }

    /// <summary>The batch's mean of the per-row squared reconstruction error plus beta times the per-row KL divergence.</summary>
    protected virtual Tensor VariationalLoss(Tensor reconstruction, Tensor targets, Tensor mean, Tensor logVariance)
    {
        var error = (reconstruction - targets).pow(2).sum(1);
        var divergence = (1 + logVariance - mean.pow(2) - logVariance.exp()).sum(1) * -0.5;
        return (error + divergence * Beta).mean();
    }

    private static AutoencoderModule Require(Network network)
    {
        if (network.Architecture is not AutoencoderSpec { Variational: true })
        {
            throw new ArgumentException(
                $"A variational autoencoder trainer needs a network built from Autoencoder.CreateVariational; this one is {network.Architecture.Describe()}.", nameof(network));
        }
        return (AutoencoderModule)network.Module;
    }
}
