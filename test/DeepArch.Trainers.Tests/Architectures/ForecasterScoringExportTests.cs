using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>
/// The forecaster's scoring graph (forecast, prediction error or Monte-Carlo variance, standardized score, anomaly flag)
/// against the same quantities computed from the TorchSharp modules.
/// </summary>
public class ForecasterScoringExportTests(ITestOutputHelper output)
{
    private const int Rows = 9, Features = 2, ContextSteps = 5, Horizon = 2, Passes = 7;
    private const int Context = ContextSteps * Features, Forecast = Horizon * Features, Window = Context + Forecast;

    private static Network Forecaster(RecurrentCell cell, int seed = 3)
        => new(RecurrentNetwork.Create(new Recurrent(cell, hiddenSize: 6, features: Features), Forecast, hiddenLayers: [5], headDropout: 0.3f),
            [Context], seed);

    private static float[] Windows(int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, Rows * Window).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static float[] Contexts(float[] windows)
        => Enumerable.Range(0, Rows).SelectMany(r => windows.Skip(r * Window).Take(Context)).ToArray();

    private static (float[] Forecast, float[] Score, float[]? Anomaly) Run(byte[] model, float[] windows)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Window", new DenseTensor<float>(windows, [Rows, Window]))]);
        float[]? Output(string name) => results.SingleOrDefault(r => r.Name == name)?.AsTensor<float>().ToArray();
        return (Output(ForecasterScoringExport.ForecastOutput)!, Output(ForecasterScoringExport.ScoreOutput)!, Output(ForecasterScoringExport.AnomalyOutput));
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm)]
    [InlineData(RecurrentCell.Gru)]
    [InlineData(RecurrentCell.Rnn)]
    public void The_prediction_error_graph_matches_torchsharp(RecurrentCell cell)
    {
        using var network = Forecaster(cell);
        float[] windows = Windows(seed: 4);
        float[] forecast = network.Predict(Contexts(windows), Rows);
        double[] error = Enumerable.Range(0, Rows).Select(r => Enumerable.Range(0, Forecast)
            .Average(j => Math.Pow(forecast[r * Forecast + j] - windows[r * Window + Context + j], 2))).ToArray();
        const float mean = 0.4f, std = 0.25f, threshold = 0.5f;

        byte[] model = network.ExportForecastScoringOnnx("Window", standardization: (mean, std), threshold: threshold);
        OnnxAssert.CheckModel(model);
        var (onnxForecast, onnxScore, anomaly) = Run(model, windows);

        double forecastError = forecast.Zip(onnxForecast, (a, b) => Math.Abs(a - b)).Max();
        double[] expected = error.Select(e => (e - mean) / std).ToArray();
        double scoreError = expected.Zip(onnxScore, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"{cell}: max abs error forecast {forecastError:G3}, standardized score {scoreError:G3}");
        Assert.True(forecastError <= 1e-5 && scoreError <= 1e-5, $"forecast {forecastError:G3}, score {scoreError:G3}");
        Assert.Equal(expected.Select(s => s > threshold ? 1f : 0f), anomaly!);
    }

    [Fact]
    public void The_monte_carlo_graph_matches_the_head_run_with_the_same_masks_in_torchsharp()
    {
        using var network = Forecaster(RecurrentCell.Lstm);
        float[] windows = Windows(seed: 5);
        float[] masks = ForecasterScoringExport.DropoutMasks(Passes, 6, 0.3f, seed: 11);
        var sequential = (Sequential)network.Architecture;
        var chain = (Sequential.SequentialModule)network.Module;
        float[] expectedMean = new float[Rows * Forecast];
        double[] expectedVariance = new double[Rows];
        lock (TorchRuntime.TrainingLock) // oneDNN as the network's layers allow, not as a training on another thread chose
        using (TorchRuntime.UseOneDnnFor([network]))
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            network.Module.eval();
            var summary = chain[0].call(tensor(Contexts(windows), [Rows, Context]).clone());
            var passes = new float[Passes][];
            for (int k = 0; k < Passes; k++)
            {
                var x = summary * tensor(masks[(k * 6)..((k + 1) * 6)], [1, 6]);
                for (int i = 2; i < sequential.Layers.Count; i++)
                {
                    x = chain[i].call(x);
                }
                passes[k] = x.contiguous().data<float>().ToArray();
            }
            for (int v = 0; v < Rows * Forecast; v++)
            {
                double m = passes.Average(p => (double)p[v]);
                expectedMean[v] = (float)m;
                expectedVariance[v / Forecast] += passes.Average(p => Math.Pow(p[v] - m, 2)) / Forecast;
            }
        }

        byte[] model = network.ExportForecastScoringOnnx("Window", ForecastScore.PredictiveVariance, Passes, seed: 11);
        OnnxAssert.CheckModel(model);
        var (onnxMean, onnxVariance, anomaly) = Run(model, windows);

        double meanError = expectedMean.Zip(onnxMean, (a, b) => Math.Abs(a - b)).Max();
        double varianceError = expectedVariance.Zip(onnxVariance, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"Monte-Carlo dropout, {Passes} passes: max abs error mean {meanError:G3}, variance {varianceError:G3} (variances up to {expectedVariance.Max():G3})");
        Assert.True(meanError <= 1e-5 && varianceError <= 1e-5, $"mean {meanError:G3}, variance {varianceError:G3}");
        Assert.True(expectedVariance.All(v => v > 0), "dropout masks should make the passes differ");
        Assert.Null(anomaly);
        Assert.Equal(onnxVariance, Run(model, windows).Score);
    }

    [Fact]
    public void Monte_carlo_scoring_needs_dropout_after_the_recurrent_layer()
    {
        using var network = new Network(RecurrentNetwork.Create(new Recurrent(RecurrentCell.Gru, 4, Features), Forecast), [Context], seed: 0);

        var error = Assert.Throws<ArgumentException>(() => network.ExportForecastScoringOnnx("Window", ForecastScore.PredictiveVariance));

        Assert.StartsWith("Monte-Carlo dropout needs a forecaster whose second layer is a Dropout with a rate above 0", error.Message);
    }

    [Fact]
    public void Dropout_masks_zero_the_rate_and_scale_the_rest()
    {
        float[] masks = ForecasterScoringExport.DropoutMasks(200, 50, 0.25f, seed: 1);

        double zeros = masks.Count(m => m == 0) / (double)masks.Length;

        Assert.InRange(zeros, 0.23, 0.27);
        Assert.All(masks, m => Assert.True(m == 0 || Math.Abs(m - 1 / 0.75f) < 1e-6));
        Assert.Equal(masks, ForecasterScoringExport.DropoutMasks(200, 50, 0.25f, seed: 1));
    }
}
