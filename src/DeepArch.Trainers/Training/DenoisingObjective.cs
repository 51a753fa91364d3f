using DeepArch.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// A denoising autoencoder's training (seeds 000, 002, 003): each training batch's input is corrupted — Gaussian noise
/// added, and/or each value zeroed with a masking probability — while the target stays the clean input, so the network
/// learns <c>f(x + noise) = x</c>. Validation and prediction see clean inputs. Works with any network whose targets are its
/// inputs (see <see cref="ReconstructionSet"/>).
/// </summary>
public class DenoisingObjective : SupervisedObjective
{
    /// <summary>Creates the objective.</summary>
    /// <param name="network">The network to train.</param>
    /// <param name="gaussianNoise">The standard deviation of the Gaussian noise added to the inputs; finite, at least 0.</param>
    /// <param name="maskingProbability">The probability of zeroing each input value, in [0, 1).</param>
    /// <param name="loss">The reconstruction loss: MeanSquaredError, or BinaryCrossEntropyWithLogits for [0, 1] data and a linear output.</param>
    public DenoisingObjective(Network network, float gaussianNoise = 0.1f, float maskingProbability = 0, LossFunction loss = LossFunction.MeanSquaredError)
        : base(network, loss)
    {
        RequireFiniteNonNegative(gaussianNoise, nameof(gaussianNoise), "The Gaussian noise's standard deviation");
        if (!(maskingProbability >= 0 && maskingProbability < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(maskingProbability), maskingProbability, $"The masking probability must be in [0, 1); got {maskingProbability}.");
        }
        if (loss == LossFunction.CrossEntropy)
        {
            throw new ArgumentOutOfRangeException(nameof(loss), loss, "A denoising autoencoder reconstructs its input: use MeanSquaredError or BinaryCrossEntropyWithLogits.");
        }
        GaussianNoise = gaussianNoise;
        MaskingProbability = maskingProbability;
    }

    /// <summary>The standard deviation of the Gaussian noise added to the training inputs.</summary>
    public float GaussianNoise { get; }

    /// <summary>The probability of zeroing each training input value.</summary>
    public float MaskingProbability { get; }

    /// <summary>The loss of the network's output for the corrupted <paramref name="features"/> (noise from torch's generator, seeded by <see cref="TrainingOptions.Seed"/>) against the clean <paramref name="targets"/>.</summary>
    protected override Tensor StepLoss(Tensor features, Tensor targets, Tensor? weights) => base.StepLoss(Corrupt(features), targets, weights);

    /// <summary>The corrupted copy of <paramref name="features"/>: masked, then Gaussian noise added.</summary>
    protected virtual Tensor Corrupt(Tensor features)
    {
        // Numbers reach TorchSharp as held Scalars, and a + b as a.add(b, Scalars.One) (what the operator calls): see Scalars in ScalarSafeOptimizers.cs.
        var noisy = features;
        if (MaskingProbability > 0)
        {
            using Scalar masking = MaskingProbability.ToScalar();
            noisy = noisy * rand_like(noisy).ge(masking).to_type(noisy.dtype);
        }
        if (GaussianNoise > 0)
        {
            using Scalar deviation = GaussianNoise.ToScalar();
            noisy = noisy.add(randn_like(noisy) * deviation, Scalars.One);
        }
        return noisy;
    }
}
