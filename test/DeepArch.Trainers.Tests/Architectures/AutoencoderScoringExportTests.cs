using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using AutoencoderModule = DeepArch.Trainers.Architectures.AutoencoderSpec.AutoencoderModule;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>The scoring graph (reconstruction, code, feature errors, score in one run) against values computed from TorchSharp.</summary>
public class AutoencoderScoringExportTests(ITestOutputHelper output)
{
    private const int Rows = 15, Size = 16;

    [Theory]
    [InlineData("deep", AutoencoderScore.ReconstructionError, false)]
    [InlineData("tied", AutoencoderScore.ReconstructionError, true)]
    [InlineData("variational", AutoencoderScore.ReconstructionError, true)]
    [InlineData("variational", AutoencoderScore.NegativeElbo, false)]
    [InlineData("variational", AutoencoderScore.NegativeElbo, true)]
    public void Every_output_matches_torchsharp(string kind, AutoencoderScore score, bool scaled)
    {
        using var network = AutoencoderArchitectureTests.Train(kind, seed: 12);
        using var encoder = network.ExtractEncoder();
        float[] scale = Enumerable.Range(0, Size).Select(i => 0.5f + i / 10f).ToArray();
        float[] x = AutoencoderData.AddNoise(AutoencoderData.Signals(Rows, Size, seed: 13), 0.3, seed: 14);

        float[] reconstruction = network.Predict(x, Rows);
        float[] code = encoder.Predict(x, Rows);
        double[] featureError = x.Select((v, i) => Math.Pow((v - reconstruction[i]) / (scaled ? scale[i % Size] : 1), 2)).ToArray();
        double[] kl = score == AutoencoderScore.NegativeElbo ? Kl(network, x) : new double[Rows];
        double[] expectedScore = Enumerable.Range(0, Rows).Select(r => score == AutoencoderScore.ReconstructionError
            ? featureError.Skip(r * Size).Take(Size).Average()
            : featureError.Skip(r * Size).Take(Size).Sum() + kl[r]).ToArray();

        byte[] model = network.ExportScoringOnnx("Features", score, scaled ? scale : null);
        OnnxAssert.CheckModel(model);
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(x, [Rows, Size]))]);
        float[] Output(string name) => results.Single(r => r.Name == name).AsTensor<float>().ToArray();

        double[] errors =
        [
            MaxError(reconstruction.Select(v => (double)v), Output(AutoencoderScoringExport.ReconstructionOutput)),
            MaxError(code.Select(v => (double)v), Output(AutoencoderScoringExport.CodeOutput)),
            MaxError(featureError, Output(AutoencoderScoringExport.FeatureErrorOutput)),
            MaxError(expectedScore, Output(AutoencoderScoringExport.ScoreOutput)),
        ];
        output.WriteLine($"{kind} {score} scaled={scaled}: max abs error reconstruction {errors[0]:G3}, code {errors[1]:G3}, feature error {errors[2]:G3}, score {errors[3]:G3} (scores up to {expectedScore.Max():G3})");
        Assert.All(errors, e => Assert.True(e <= 1e-5, $"max abs error {e:G3}"));
    }

    [Fact]
    public void The_negative_elbo_needs_a_variational_autoencoder()
    {
        using var network = new Network(Autoencoder.Create([8, 2]), [8], seed: 0);

        var error = Assert.Throws<ArgumentException>(() => network.ExportScoringOnnx("x", AutoencoderScore.NegativeElbo));
        Assert.Contains("CreateVariational", error.Message);
        Assert.Throws<ArgumentException>(() => network.ExportScoringOnnx("x", featureScale: [1f, 2f]));
    }

    private static double MaxError(IEnumerable<double> expected, float[] actual)
    {
        var e = expected.ToArray();
        Assert.Equal(e.Length, actual.Length);
        return e.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
    }

    /// <summary>Each row's KL divergence of the encoder's Gaussian from N(0, I), from TorchSharp in eval mode (double precision sums).</summary>
    private static double[] Kl(Network network, float[] x)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var module = (AutoencoderModule)network.Module;
        module.eval();
        var (mean, logVariance) = module.EncodeGaussian(torch.tensor(x, [Rows, Size]));
        float[] m = mean.data<float>().ToArray(), lv = logVariance.data<float>().ToArray();
        int code = m.Length / Rows;
        return Enumerable.Range(0, Rows).Select(r => Enumerable.Range(r * code, code).Sum(j => -0.5 * (1 + lv[j] - m[j] * (double)m[j] - Math.Exp(lv[j])))).ToArray();
    }
}
