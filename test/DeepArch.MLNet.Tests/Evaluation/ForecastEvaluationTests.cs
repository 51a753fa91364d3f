using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Evaluation;

/// <summary>
/// mlContext.Forecasting.Evaluate: the forecasting catalog's evaluator, on hand-made rows whose errors are known, on its
/// refusals, and on a forecaster's own output (RecurrentForecastingTests checks the figures of a trained one).
/// </summary>
public class ForecastEvaluationTests
{
    private sealed class Row
    {
        [VectorType(2)]
        public float[] Label { get; set; } = [];

        [VectorType(2)]
        public float[] Forecast { get; set; } = [];
    }

    private sealed class ScalarRow
    {
        public float Label { get; set; }

        public float Forecast { get; set; }
    }

    [Fact]
    public void Errors_are_averaged_overall_and_per_position_and_a_NaN_actual_value_is_left_out()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[]
        {
            new Row { Label = [1, 2], Forecast = [2, 2] },    // errors 1, 0
            new Row { Label = [0, 4], Forecast = [0, 1] },    // errors 0, 3
            new Row { Label = [3, float.NaN], Forecast = [0, 9] }, // error 3, then no actual value
        });

        var metrics = ml.Forecasting.Evaluate(data);

        Assert.Equal(3, metrics.Count);
        Assert.Equal((1 + 0 + 3 + 0 + 3) / 5.0, metrics.MeanAbsoluteError, 12);
        Assert.Equal(Math.Sqrt((1 + 0 + 9 + 0 + 9) / 5.0), metrics.RootMeanSquaredError, 12);
        Assert.Equal(2, metrics.ByPosition.Count);
        Assert.Equal(3, metrics.ByPosition[0].Count);
        Assert.Equal(4 / 3.0, metrics.ByPosition[0].MeanAbsoluteError, 12);
        Assert.Equal(Math.Sqrt(10 / 3.0), metrics.ByPosition[0].RootMeanSquaredError, 12);
        Assert.Equal(2, metrics.ByPosition[1].Count);
        Assert.Equal(1.5, metrics.ByPosition[1].MeanAbsoluteError, 12);
        Assert.Equal(Math.Sqrt(4.5), metrics.ByPosition[1].RootMeanSquaredError, 12);
    }

    [Fact]
    public void Scalar_columns_are_one_position()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Label = 1, Forecast = 3 }, new ScalarRow { Label = 2, Forecast = 2 } });

        var metrics = ml.Forecasting.Evaluate(data);

        Assert.Equal(1.0, metrics.MeanAbsoluteError, 12);
        Assert.Equal(Math.Sqrt(2.0), metrics.RootMeanSquaredError, 12);
        Assert.Single(metrics.ByPosition);
    }

    [Fact]
    public void Wrong_columns_are_refused_by_name_with_what_was_expected_and_found()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { Label = [1, 2], Forecast = [2, 2] } });

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Forecasting.Evaluate(data, forecastColumnName: "Predicted"));
        Assert.Contains("Could not find forecast column 'Predicted'", missing.Message);

        var scalarForecast = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Label = 1, Forecast = 1 } });
        var sized = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Forecasting.Evaluate(
            ml.Transforms.Concatenate("Pair", "Forecast", "Forecast").Fit(scalarForecast).Transform(scalarForecast),
            forecastColumnName: "Pair"));
        Assert.Contains("forecast column 'Pair'", sized.Message);
        Assert.Contains("expected 1 value of Single, as label column 'Label' has", sized.Message);
        Assert.Contains("Vector<Single, 2>", sized.Message);

        var text = ml.Data.LoadFromEnumerable(new[] { new TextLabelRow { Label = "1", Forecast = 1 } });
        var typed = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Forecasting.Evaluate(text));
        Assert.Contains("label column 'Label': expected Single or known-size vector of Single, got String", typed.Message);
    }

    [Fact]
    public void No_actual_value_is_an_error_not_a_zero()
    {
        var ml = new MLContext(1);
        var allNaN = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Label = float.NaN, Forecast = 1 } });
        var error = Assert.Throws<InvalidOperationException>(() => ml.Forecasting.Evaluate(allNaN));
        Assert.Contains("Label column 'Label' holds no actual value", error.Message);

        var empty = ml.Data.LoadFromEnumerable(Array.Empty<ScalarRow>());
        Assert.Contains("no rows", Assert.Throws<InvalidOperationException>(() => ml.Forecasting.Evaluate(empty)).Message);
    }

    private sealed class TextLabelRow
    {
        public string Label { get; set; } = "";

        public float Forecast { get; set; }
    }
}
