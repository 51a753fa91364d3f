using DeepArch.Trainers.Architectures;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>
/// The anomaly detector's extra outputs of the scoring graph: the threshold comparison and each feature's share of
/// the error, checked against the graph's own Score and FeatureError outputs, and by onnx.checker.
/// </summary>
public class AutoencoderAnomalyOutputsTests
{
    private const int Rows = 15, Size = 16;

    [Theory]
    [InlineData("deep", AutoencoderScore.ReconstructionError)]
    [InlineData("variational", AutoencoderScore.NegativeElbo)]
    public void Anomaly_is_score_above_the_threshold_and_shares_are_the_normalized_feature_errors(string kind, AutoencoderScore score)
    {
        using var network = AutoencoderArchitectureTests.Train(kind, seed: 12);
        float[] x = AutoencoderData.AddNoise(AutoencoderData.Signals(Rows, Size, seed: 13), 0.3, seed: 14);
        float[] plainScores = Run(network.ExportScoringOnnx("Features", score), x)[AutoencoderScoringExport.ScoreOutput];
        float threshold = plainScores.OrderBy(s => s).ElementAt(Rows / 2);

        byte[] model = network.ExportScoringOnnx("Features", score, threshold: threshold, featureShares: true);
        OnnxAssert.CheckModel(model);
        var outputs = Run(model, x);

        float[] scores = outputs[AutoencoderScoringExport.ScoreOutput], anomaly = outputs[AutoencoderScoringExport.AnomalyOutput];
        float[] errors = outputs[AutoencoderScoringExport.FeatureErrorOutput], shares = outputs[AutoencoderScoringExport.FeatureShareOutput];
        Assert.Equal(plainScores, scores);
        for (int r = 0; r < Rows; r++)
        {
            Assert.Equal(scores[r] > threshold ? 1f : 0f, anomaly[r]);
            double sum = errors.Skip(r * Size).Take(Size).Sum(e => (double)e);
            for (int j = 0; j < Size; j++)
            {
                Assert.Equal(errors[r * Size + j] / sum, shares[r * Size + j], 1e-6);
            }
        }
        Assert.Contains(0f, anomaly);
        Assert.Contains(1f, anomaly);
    }

    [Theory]
    [InlineData("deep", AutoencoderScore.ReconstructionError)]
    [InlineData("variational", AutoencoderScore.NegativeElbo)]
    public void A_row_with_a_nan_or_infinite_feature_scores_nan_and_is_flagged_and_the_other_rows_are_untouched(string kind, AutoencoderScore score)
    {
        using var network = AutoencoderArchitectureTests.Train(kind, seed: 12);
        float[] x = AutoencoderData.AddNoise(AutoencoderData.Signals(Rows, Size, seed: 13), 0.3, seed: 14);
        byte[] model = network.ExportScoringOnnx("Features", score, threshold: 1e30f);
        var clean = Run(model, x);
        float[] gapped = (float[])x.Clone();
        gapped[2 * Size + 5] = float.NaN;
        gapped[6 * Size] = float.NegativeInfinity;

        var outputs = Run(model, gapped);

        for (int r = 0; r < Rows; r++)
        {
            bool gap = r is 2 or 6;
            Assert.Equal(gap, float.IsNaN(outputs[AutoencoderScoringExport.ScoreOutput][r]));
            Assert.Equal(gap ? 1f : 0f, outputs[AutoencoderScoringExport.AnomalyOutput][r]);
            if (!gap)
            {
                Assert.Equal(clean[AutoencoderScoringExport.ScoreOutput][r], outputs[AutoencoderScoringExport.ScoreOutput][r]);
            }
        }
    }

    [Fact]
    public void A_non_finite_threshold_is_rejected()
    {
        using var network = AutoencoderArchitectureTests.Train("deep", seed: 12);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => network.ExportScoringOnnx("x", threshold: float.NaN));
        Assert.Equal("threshold", error.ParamName);
    }

    private static Dictionary<string, float[]> Run(byte[] model, float[] x)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(x, [Rows, Size]))]);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }
}
