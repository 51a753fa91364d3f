using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// mlContext.Forecasting.ForecastByRecurrentNetwork: many-to-one over a horizon (the next 4 weeks of CO2) and many-to-many
/// (one output per input step).
/// </summary>
public class RecurrentForecastingTests(ITestOutputHelper output)
{
    private const int Window = 26, Horizon = 4;

    /// <summary>A CO2 window relative to its last week, and the next <see cref="Horizon"/> weeks' changes.</summary>
    public sealed class HorizonRow
    {
        [VectorType(Window)]
        public float[] Features { get; set; } = [];

        [VectorType(Horizon)]
        public float[] Label { get; set; } = [];
    }

    private static (HorizonRow[] Train, HorizonRow[] Test) Data()
    {
        var series = Datasets.Co2Weekly;
        var rows = new List<(int End, HorizonRow Row)>();
        for (int end = Window; end + Horizon <= series.Count; end++)
        {
            float last = series[end - 1];
            rows.Add((end, new HorizonRow
            {
                Features = Enumerable.Range(end - Window, Window).Select(i => (series[i] - last) / 2f).ToArray(),
                Label = Enumerable.Range(end, Horizon).Select(i => (series[i] - last) / 2f).ToArray(),
            }));
        }
        int testStart = (int)(series.Count * 0.8);
        return (rows.Where(r => r.End + Horizon <= testStart).Select(r => r.Row).ToArray(), rows.Where(r => r.End >= testStart).Select(r => r.Row).ToArray());
    }

    [Fact]
    public void A_four_week_co2_forecast_beats_the_naive_forecast_at_every_horizon_and_round_trips()
    {
        var (train, test) = Data();
        var ml = new MLContext(1);
        var estimator = ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options
        {
            HiddenSize = 32,
            Epochs = 25,
            LearningRate = 3e-3,
            TrainingThreads = 1,
        });
        var testData = ml.Data.LoadFromEnumerable(test);

        var model = estimator.Fit(ml.Data.LoadFromEnumerable(train));
        float[][] forecasts = Read(model.Transform(testData));

        var rmse = new double[Horizon];
        var naive = new double[Horizon];
        for (int h = 0; h < Horizon; h++)
        {
            rmse[h] = Math.Sqrt(test.Select((r, i) => Math.Pow((forecasts[i][h] - r.Label[h]) * 2, 2)).Average());
            naive[h] = Math.Sqrt(test.Select(r => Math.Pow(r.Label[h] * 2, 2)).Average());
        }
        output.WriteLine("CO2, last 20%: RMSE (ppm) by weeks ahead, LSTM vs naive: " +
            string.Join("; ", Enumerable.Range(0, Horizon).Select(h => $"{h + 1}: {rmse[h]:F3} vs {naive[h]:F3}")));
        Assert.All(Enumerable.Range(0, Horizon), h => Assert.True(rmse[h] < naive[h], $"{h + 1} weeks ahead: {rmse[h]:F3} >= {naive[h]:F3}"));
        // The forecasting catalog's evaluator reads the output as it is and agrees (in the scaled units: ppm / 2).
        var metrics = ml.Forecasting.Evaluate(model.Transform(testData));
        Assert.Equal(test.Length, metrics.Count);
        Assert.All(Enumerable.Range(0, Horizon), h => Assert.Equal(rmse[h], metrics.ByPosition[h].RootMeanSquaredError * 2, 1e-6));

        string path = Path.Combine(Path.GetTempPath(), $"deeparch-forecast-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, testData.Schema, path);
            var fresh = new MLContext();
            DeepArchModel.Register(fresh);
            var plain = fresh.Model.Load(path, out _);
            var loaded = Read(plain.Transform(testData));
            Assert.All(forecasts.Zip(loaded), p => Assert.Equal(p.First, p.Second, (a, b) => Math.Abs(a - b) <= 1e-5f));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_per_step_head_outputs_one_vector_per_input_step()
    {
        // Many-to-many: for each step of a random walk, the running mean of the steps so far (a causal target an LSTM can learn).
        var random = new Random(3);
        var rows = Enumerable.Range(0, 400).Select(_ =>
        {
            float[] x = Enumerable.Range(0, 10).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            return new PerStepRow { Features = x, Label = x.Select((_, t) => x.Take(t + 1).Average()).ToArray() };
        }).ToArray();
        var ml = new MLContext(1);
        var estimator = ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options
        {
            Head = ForecastHead.PerStep,
            HiddenSize = 16,
            Epochs = 30,
            LearningRate = 1e-2,
            TrainingThreads = 1,
        });

        var model = estimator.Fit(ml.Data.LoadFromEnumerable(rows[..300]));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(rows[300..]));
        float[][] outputs = Read(scored);
        using var onnx = new MemoryStream();
        model.SaveOnnx(onnx);
        OnnxAssert.CheckModel(onnx.ToArray());
        double mse = rows[300..].Select((r, i) => r.Label.Zip(outputs[i], (a, b) => Math.Pow(a - b, 2)).Average()).Average();
        double baseline = rows[300..].Select(r => r.Label.Average(v => v * v)).Average();

        output.WriteLine($"running mean of 10 steps, per-step LSTM(16): MSE {mse:G3} vs predicting 0: {baseline:G3}");
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, 10), scored.Schema["Forecast"].Type);
        Assert.True(mse < baseline / 10, $"MSE {mse:G3}, baseline {baseline:G3}");
    }

    [Fact]
    public void A_per_step_label_that_does_not_split_into_steps_is_a_clear_error()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 4).Select(_ => new HorizonRow { Features = new float[Window], Label = new float[Horizon] });
        var estimator = ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options { Head = ForecastHead.PerStep, Epochs = 1 });

        var error = Assert.Throws<ArgumentException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.Equal($"Options.Head is PerStep: label column 'Label' must hold the same number of values for each of the {Window} input steps, but it holds {Horizon}.", error.Message);
    }

    private static float[][] Read(IDataView scored)
    {
        var column = scored.Schema["Forecast"];
        using var cursor = scored.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> value = default;
        var result = new List<float[]>();
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value.DenseValues().ToArray());
        }
        return result.ToArray();
    }

    private sealed class PerStepRow
    {
        [VectorType(10)]
        public float[] Features { get; set; } = [];

        [VectorType(10)]
        public float[] Label { get; set; } = [];
    }
}
