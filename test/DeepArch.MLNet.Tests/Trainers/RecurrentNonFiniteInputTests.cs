using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// A row whose input holds a NaN scores NaN through every recurrent network, as through the MLP: ONNX Runtime's LSTM and
/// GRU kernels turn a NaN into finite outputs, which would hide a bad row behind an ordinary-looking score or forecast.
/// </summary>
public class RecurrentNonFiniteInputTests
{
    private const int Window = 12, Horizon = 3;

    private sealed class Row
    {
        [VectorType(Window)]
        public float[] Features { get; set; } = [];

        [VectorType(Horizon)]
        public float[] Target { get; set; } = [];

        public float Label { get; set; }
    }

    private static Row[] Rows(int count)
    {
        var random = new Random(4);
        return Enumerable.Range(0, count).Select(_ =>
        {
            float phase = (float)random.NextDouble() * 6f;
            float[] wave = Enumerable.Range(0, Window + Horizon).Select(t => MathF.Sin(phase + t * 0.5f)).ToArray();
            return new Row { Features = wave[..Window], Target = wave[Window..], Label = wave[Window] };
        }).ToArray();
    }

    /// <summary>Scores, through <paramref name="model"/>, a clean row and the same row with a NaN at each of three steps; returns each row's first output.</summary>
    private static float[] FirstOutputs(MLContext ml, ITransformer model, Row clean, string column)
    {
        var rows = new[] { 0, 5, Window - 1 }.Select(slot =>
        {
            var row = new Row { Features = clean.Features.ToArray(), Target = clean.Target, Label = clean.Label };
            row.Features[slot] = float.NaN;
            return row;
        }).Prepend(clean).ToArray();
        var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
        return scored.Schema[column].Type is VectorDataViewType
            ? scored.GetColumn<float[]>(column).Select(v => v[0]).ToArray()
            : scored.GetColumn<float>(column).ToArray();
    }

    [Theory]
    [InlineData(RecurrentCell.Lstm)]
    [InlineData(RecurrentCell.Gru)]
    [InlineData(RecurrentCell.Rnn)]
    public void A_recurrent_regression_scores_a_row_with_a_nan_as_nan(RecurrentCell cell)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Rows(64));
        var model = ml.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            FeaturesPerStep = 1, HiddenSize = 8, Epochs = 2, Cell = cell, Seed = 1,
        }).Fit(train);

        float[] scores = FirstOutputs(ml, model, Rows(1)[0], "Score");

        Assert.True(float.IsFinite(scores[0]));
        Assert.All(scores[1..], s => Assert.True(float.IsNaN(s), $"{cell}: {string.Join(", ", scores)}"));
    }

    [Fact]
    public void Both_forecasters_forecast_nan_for_a_window_with_a_nan()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Rows(64));
        var recurrent = ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options
        {
            LabelColumnName = "Target", HiddenSize = 8, Epochs = 2, Seed = 1,
        }).Fit(train);
        var encoderDecoder = ml.Forecasting.ForecastByEncoderDecoder(new EncoderDecoderForecastingEstimator.Options
        {
            LabelColumnName = "Target", HiddenSize = 8, Epochs = 2, Seed = 1,
        }).Fit(train);

        foreach (var (name, model) in new (string, ITransformer)[] { ("recurrent", recurrent), ("encoder-decoder", encoderDecoder) })
        {
            float[] forecasts = FirstOutputs(ml, model, Rows(1)[0], "Forecast");
            Assert.True(float.IsFinite(forecasts[0]), name);
            Assert.All(forecasts[1..], f => Assert.True(float.IsNaN(f), $"{name}: {string.Join(", ", forecasts)}"));
        }
    }
}
