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

    [Theory]
    [InlineData("deep", AutoencoderScore.ReconstructionError, false)]
    [InlineData("deep", AutoencoderScore.ReconstructionError, true)]
    [InlineData("variational", AutoencoderScore.NegativeElbo, true)]
    public void An_ensembles_outputs_are_its_members_means_computed_from_torchsharp(string kind, AutoencoderScore score, bool scaled)
    {
        var members = new[] { 12, 21, 33 }.Select(seed => AutoencoderArchitectureTests.Train(kind, seed)).ToArray();
        try
        {
            float[][] scales = Enumerable.Range(0, members.Length).Select(m => Enumerable.Range(0, Size).Select(i => 0.5f + (i + m) / 10f).ToArray()).ToArray();
            float[] x = AutoencoderData.AddNoise(AutoencoderData.Signals(Rows, Size, seed: 13), 0.3, seed: 14);
            var reconstruction = new double[Rows * Size];
            var featureError = new double[Rows * Size];
            var expectedScore = new double[Rows];
            for (int m = 0; m < members.Length; m++)
            {
                float[] own = members[m].Predict(x, Rows);
                double[] kl = score == AutoencoderScore.NegativeElbo ? Kl(members[m], x) : new double[Rows];
                for (int i = 0; i < x.Length; i++)
                {
                    double error = Math.Pow((x[i] - own[i]) / (scaled ? scales[m][i % Size] : 1), 2);
                    reconstruction[i] += own[i] / (double)members.Length;
                    featureError[i] += error / members.Length;
                    expectedScore[i / Size] += (score == AutoencoderScore.ReconstructionError ? error / Size : error + (i % Size == 0 ? kl[i / Size] : 0)) / members.Length;
                }
            }

            byte[] model = members.ExportScoringOnnx("Features", score, scaled ? scales : null, threshold: 0.5f, featureShares: true);
            OnnxAssert.CheckModel(model);
            using var session = new InferenceSession(model);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(x, [Rows, Size]))]);
            float[] Output(string name) => results.Single(r => r.Name == name).AsTensor<float>().ToArray();

            double[] errors =
            [
                MaxError(reconstruction, Output(AutoencoderScoringExport.ReconstructionOutput)),
                MaxError(featureError, Output(AutoencoderScoringExport.FeatureErrorOutput)),
                MaxError(expectedScore, Output(AutoencoderScoringExport.ScoreOutput)),
                MaxError(expectedScore.Select(v => v > 0.5 ? 1.0 : 0.0), Output(AutoencoderScoringExport.AnomalyOutput)),
            ];
            output.WriteLine($"ensemble of {members.Length} {kind} {score} scaled={scaled}: max abs error reconstruction {errors[0]:G3}, feature error {errors[1]:G3}, score {errors[2]:G3}, flags {errors[3]}");
            Assert.All(errors, e => Assert.True(e <= 1e-5, $"max abs error {e:G3}"));
            Assert.DoesNotContain(session.OutputMetadata.Keys, name => name == AutoencoderScoringExport.CodeOutput); // the members' codes are not comparable
            float[] shares = Output(AutoencoderScoringExport.FeatureShareOutput);
            Assert.All(Enumerable.Range(0, Rows), r => Assert.Equal(1.0, shares.Skip(r * Size).Take(Size).Sum(v => (double)v), 5));
        }
        finally
        {
            foreach (var member in members)
            {
                member.Dispose();
            }
        }
    }

    [Fact]
    public void An_ensemble_of_one_is_the_autoencoders_own_graph()
    {
        using var network = AutoencoderArchitectureTests.Train("deep", seed: 12);
        float[] scale = Enumerable.Range(0, Size).Select(i => 0.5f + i / 10f).ToArray();

        Assert.Equal(network.ExportScoringOnnx("Features", featureScale: scale, threshold: 1f, featureShares: true),
            new[] { network }.ExportScoringOnnx("Features", featureScales: [scale], threshold: 1f, featureShares: true));
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
