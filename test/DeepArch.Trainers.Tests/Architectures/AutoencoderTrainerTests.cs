using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>
/// What each autoencoder trainer is for, measured: sparse codes are sparse, denoising removes noise,
/// the variational loss falls; and the trainers' errors name what is wrong.
/// </summary>
public class AutoencoderTrainerTests(ITestOutputHelper output)
{
    private const int Size = 24;

    [Fact]
    public void Kl_sparsity_brings_the_mean_code_activation_near_the_target()
    {
        const float rho = 0.05f;
        double penalized = MeanCodeActivation(network => new SparseObjective(network, sparsityTarget: rho, sparsityWeight: 0.5f));
        double plain = MeanCodeActivation(network => new SupervisedObjective(network, LossFunction.MeanSquaredError));

        output.WriteLine($"mean code activation: KL target {rho} -> {penalized:F4}; no penalty -> {plain:F4}");
        Assert.InRange(penalized, rho * 0.7, rho * 1.3);
        Assert.True(plain > 4 * penalized, $"Without the penalty the mean activation is {plain:F4}, with it {penalized:F4}.");
    }

    [Fact]
    public void L1_activity_penalty_shrinks_the_codes()
    {
        double penalized = MeanCodeActivation(network => new SparseObjective(network, activityL1: 0.05f));
        double plain = MeanCodeActivation(network => new SupervisedObjective(network, LossFunction.MeanSquaredError));

        output.WriteLine($"mean code activation: L1 0.05 -> {penalized:F4}; no penalty -> {plain:F4}");
        Assert.True(penalized < plain / 2, $"With the L1 penalty the mean activation is {penalized:F4}, without it {plain:F4}.");
    }

    [Fact]
    public void Denoising_lowers_the_error_against_the_clean_signal()
    {
        const double sigma = 0.3;
        using var network = new Network(Autoencoder.Create([Size, 16, 4], ActivationKind.Tanh), [Size], seed: 4);
        new TrainingLoop(Options(epochs: 40)).Fit(new DenoisingObjective(network, gaussianNoise: (float)sigma), AutoencoderData.Set(512, Size, seed: 4));
        float[] clean = AutoencoderData.Signals(200, Size, seed: 44);
        float[] noisy = AutoencoderData.AddNoise(clean, sigma, seed: 45);

        double before = AutoencoderData.MeanSquaredError(noisy, clean);
        double after = AutoencoderData.MeanSquaredError(network.Predict(noisy, 200), clean);

        output.WriteLine($"MSE against the clean signal: noisy input {before:F4}, denoised {after:F4} ({after / before:P0} of the noise)");
        Assert.True(after < before / 3, $"Denoised MSE {after:F4} is not below a third of the noisy input's {before:F4}.");
    }

    [Fact]
    public void Variational_loss_falls_and_the_mean_code_reconstructs()
    {
        using var network = new Network(Autoencoder.CreateVariational([Size, 16, 3], ActivationKind.Tanh), [Size], seed: 5);
        var history = new TrainingLoop(Options(epochs: 30)).Fit(new VariationalObjective(network, beta: 1), AutoencoderData.Set(512, Size, seed: 5));
        float[] x = AutoencoderData.Signals(200, Size, seed: 55);

        double error = AutoencoderData.MeanSquaredError(network.Predict(x, 200), x);
        double variance = AutoencoderData.MeanSquaredError(x, new float[x.Length]);

        output.WriteLine($"negative ELBO per row: epoch 1 {history.Epochs[0].TrainLoss:F3}, epoch {history.Epochs.Count} {history.Epochs[^1].TrainLoss:F3}; reconstruction MSE {error:F4} vs signal power {variance:F4}");
        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss / 2);
        Assert.True(error < variance / 4, $"Reconstruction MSE {error:F4} vs signal power {variance:F4}.");
    }

    [Fact]
    public void Variational_validation_loss_is_finite_falls_and_drives_early_stopping()
    {
        using var network = new Network(Autoencoder.CreateVariational([Size, 16, 3], ActivationKind.Tanh), [Size], seed: 6);
        var options = Options(epochs: 40);
        options.ValidationFraction = 0.25;
        options.EarlyStoppingPatience = 3;
        var history = new TrainingLoop(options).Fit(new VariationalObjective(network, beta: 1), AutoencoderData.Set(160, Size, seed: 6));

        double best = history.Epochs[history.BestEpoch - 1].ValidationLoss!.Value;
        output.WriteLine($"validation negative ELBO: epoch 1 {history.Epochs[0].ValidationLoss:F3}, best {best:F3} at epoch {history.BestEpoch} of {history.Epochs.Count} ({history.StopReason})");
        Assert.All(history.Epochs, e => Assert.True(double.IsFinite(e.ValidationLoss!.Value)));
        Assert.True(best < history.Epochs[0].ValidationLoss!.Value);
        Assert.Equal(history.Epochs.Min(e => e.ValidationLoss!.Value), best);
    }

    [Fact]
    public void Kl_sparsity_without_a_sigmoid_code_says_what_to_change()
    {
        using var network = new Network(Autoencoder.Create([8, 3]), [8], seed: 0);

        var error = Assert.Throws<ArgumentException>(() => new TrainingLoop(Options(epochs: 1)).Fit(new SparseObjective(network, sparsityWeight: 1), AutoencoderData.Set(32, 8, seed: 0)));
        Assert.Contains("codeActivation: ActivationKind.Sigmoid", error.Message);
    }

    [Fact]
    public void Trainers_reject_networks_of_the_wrong_kind()
    {
        using var plain = new Network(Autoencoder.Create([8, 3]), [8], seed: 0);
        using var variational = new Network(Autoencoder.CreateVariational([8, 3]), [8], seed: 0);
        var set = AutoencoderData.Set(32, 8, seed: 0);

        Assert.Contains("CreateVariational", Assert.Throws<ArgumentException>(() => new TrainingLoop(Options(epochs: 1)).Fit(new VariationalObjective(plain), set)).Message);
        Assert.Contains("Autoencoder.Create", Assert.Throws<ArgumentException>(() => new TrainingLoop(Options(epochs: 1)).Fit(new SparseObjective(variational, activityL1: 1), set)).Message);
    }

    [Fact]
    public void Options_out_of_range_are_named()
    {
        using var network = new Network(Autoencoder.Create([Size, 16, 8], codeActivation: ActivationKind.Sigmoid), [Size], seed: 3);
        using var variational = new Network(Autoencoder.CreateVariational([Size, 16, 8]), [Size], seed: 3);
        Assert.Equal("gaussianNoise", Assert.Throws<ArgumentOutOfRangeException>(() => new DenoisingObjective(network, gaussianNoise: -1)).ParamName);
        Assert.Equal("maskingProbability", Assert.Throws<ArgumentOutOfRangeException>(() => new DenoisingObjective(network, maskingProbability: 1)).ParamName);
        Assert.Equal("sparsityTarget", Assert.Throws<ArgumentOutOfRangeException>(() => new SparseObjective(network, sparsityTarget: 0)).ParamName);
        Assert.Equal("sparsityWeight", Assert.Throws<ArgumentOutOfRangeException>(() => new SparseObjective(network, sparsityWeight: float.NaN)).ParamName);
        Assert.Equal("activityL1", Assert.Throws<ArgumentOutOfRangeException>(() => new SparseObjective(network, activityL1: -0.1f)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentOutOfRangeException>(() => new VariationalObjective(variational, beta: float.PositiveInfinity)).ParamName);
        Assert.Equal("loss", Assert.Throws<ArgumentOutOfRangeException>(() => new DenoisingObjective(network, loss: LossFunction.CrossEntropy)).ParamName);
    }

    /// <summary>Trains a [24, 16, 8] autoencoder with a sigmoid code and returns the mean code activation on fresh signals.</summary>
    private static double MeanCodeActivation(Func<Network, TrainingObjective> objective)
    {
        using var network = new Network(Autoencoder.Create([Size, 16, 8], ActivationKind.Tanh, codeActivation: ActivationKind.Sigmoid), [Size], seed: 3);
        new TrainingLoop(Options()).Fit(objective(network), AutoencoderData.Set(512, Size, seed: 3));
        using var encoder = network.ExtractEncoder();
        return encoder.Predict(AutoencoderData.Signals(200, Size, seed: 33), 200).Average(v => (double)v);
    }

    private static TrainingOptions Options(int epochs = 30) => new() { Epochs = epochs, BatchSize = 32, LearningRate = 0.01, Seed = 7, Threads = 1 };
}

/// <summary>The stochastic trainers (noise, sampling) draw from torch's generator seeded by the options: same seed, same bits.</summary>
[Collection(Training.SerialTorchCollection.Name)]
public class AutoencoderTrainerDeterminismTests
{
    [Theory]
    [InlineData("denoising")]
    [InlineData("variational")]
    [InlineData("sparse")]
    public void Same_seed_gives_the_same_model_bits(string kind)
    {
        float[] x = AutoencoderData.Signals(9, 16, seed: 70);
        float[] first, second;
        using (var network = AutoencoderArchitectureTests.Train(kind, seed: 8))
        {
            first = network.Predict(x, 9);
        }
        using (var network = AutoencoderArchitectureTests.Train(kind, seed: 8))
        {
            second = network.Predict(x, 9);
        }

        Assert.Equal(first.Select(BitConverter.SingleToInt32Bits), second.Select(BitConverter.SingleToInt32Bits));
    }
}
