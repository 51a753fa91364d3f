using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Tests.Architectures;
using DeepArch.Trainers.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>
/// <see cref="TrainingOptions.GradientClipNorm"/>: the global gradient norm the optimizer steps with never exceeds the
/// limit (measured after every batch, when the gradients the step used are still in place), in the base trainer and in
/// every autoencoder trainer; an exploding Elman RNN shows why.
/// </summary>
public class GradientClippingTests(ITestOutputHelper output)
{
    /// <summary>Records the global L2 norm of the network's gradients after every batch (after the optimizer step, before the next zero_grad).</summary>
    private sealed class GradientNormRecorder(Network network) : TrainingCallback
    {
        public List<double> Norms { get; } = [];

        public override void OnBatchEnd(int epoch, int batch, double loss)
        {
            using var scope = NewDisposeScope();
            double squares = network.Module.parameters().Where(p => p.grad is not null).Sum(p => p.grad!.square().sum().item<float>());
            Norms.Add(Math.Sqrt(squares));
        }
    }

    /// <summary>An Elman RNN (ReLU) over 30 steps whose weights are scaled up 4x: its gradients explode.</summary>
    private static Network ExplodingRnn()
    {
        var network = new Network(new Sequential(new Recurrent(RecurrentCell.Rnn, 16, 1, nonlinearity: RecurrentNonlinearity.Relu), new Dense(1)), [30], seed: 2);
        using (no_grad())
        {
            foreach (var parameter in network.Module.parameters())
            {
                parameter.mul_(4);
            }
        }
        return network;
    }

    private static (GradientNormRecorder Recorder, TrainingDivergedException? Diverged) Train(double clip)
    {
        using var network = ExplodingRnn();
        var recorder = new GradientNormRecorder(network);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Optimizer = OptimizerKind.Sgd, Momentum = 0, Seed = 2, Threads = 1, GradientClipNorm = clip };
        options.Callbacks.Add(recorder);
        var loop = new TrainingLoop(options);
        var set = Fixtures.Regression(96, features: 30, seed: 2);
        try
        {
            loop.Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), set);
            return (recorder, null);
        }
        catch (TrainingDivergedException diverged)
        {
            return (recorder, diverged);
        }
    }

    [Fact]
    public void Clipping_bounds_the_gradient_norm_of_an_exploding_rnn()
    {
        const double limit = 1.0;

        var (unclipped, diverged) = Train(clip: 0);
        var (clipped, clippedDiverged) = Train(clip: limit);

        output.WriteLine($"without clipping: first batch norm {unclipped.Norms.FirstOrDefault():G3}, max {unclipped.Norms.DefaultIfEmpty().Max():G3} over {unclipped.Norms.Count} batches{(diverged is null ? "" : ", then diverged")}");
        output.WriteLine($"with clipping at {limit}: max norm {clipped.Norms.Max():G6} over {clipped.Norms.Count} batches");
        Assert.NotEmpty(unclipped.Norms);
        Assert.True(unclipped.Norms[0] > 1000 * limit, $"The unclipped first-batch gradient norm {unclipped.Norms[0]:G3} does not explode.");
        Assert.NotNull(diverged);
        Assert.Null(clippedDiverged);
        Assert.Equal(3 * 6, clipped.Norms.Count);
        Assert.All(clipped.Norms, norm => Assert.True(norm <= limit * (1 + 1e-4), $"Gradient norm {norm:G6} above the limit {limit}."));
    }

    public static TheoryData<string> AutoencoderTrainers => new() { "denoising", "sparse", "variational" };

    [Theory]
    [MemberData(nameof(AutoencoderTrainers))]
    public void Autoencoder_trainers_clip_too(string kind)
    {
        const double limit = 1e-3;
        double[] maxima = [0, 0];
        foreach (double clip in new[] { 0, limit })
        {
            using var network = new Network(kind == "variational" ? Autoencoder.CreateVariational([12, 8, 3]) : Autoencoder.Create([12, 8, 3]), [12], seed: 1);
            var recorder = new GradientNormRecorder(network);
            var options = new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 1, Threads = 1, GradientClipNorm = clip };
            options.Callbacks.Add(recorder);
            TrainingObjective objective = kind switch
            {
                "denoising" => new DenoisingObjective(network),
                "sparse" => new SparseObjective(network, activityL1: 0.1f),
                _ => new VariationalObjective(network),
            };
            new TrainingLoop(options).Fit(objective, AutoencoderData.Set(64, 12, seed: 1));
            maxima[clip == 0 ? 0 : 1] = recorder.Norms.Max();
        }

        output.WriteLine($"{kind}: max gradient norm {maxima[0]:G3} without clipping, {maxima[1]:G6} with a limit of {limit}");
        Assert.True(maxima[0] > 10 * limit, $"The unclipped gradients ({maxima[0]:G3}) are too small to show clipping.");
        Assert.True(maxima[1] <= limit * (1 + 1e-4), $"Gradient norm {maxima[1]:G6} above the limit {limit}.");
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Invalid_limits_are_rejected_naming_the_option(double clip)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingOptions { GradientClipNorm = clip }.Validate("Options"));

        Assert.Equal("Options.GradientClipNorm", error.ParamName);
        Assert.Contains("at least 0", error.Message);
    }

    [Fact]
    public void Clipping_is_off_by_default()
    {
        Assert.Equal(0, new TrainingOptions().GradientClipNorm);
        new TrainingOptions { GradientClipNorm = 5 }.Validate();
    }
}
