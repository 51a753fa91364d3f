using Microsoft.ML;

namespace DeepArch.MLNet;

/// <summary>How forecasts compare with the values that came, overall and per position of the forecast vector.</summary>
/// <param name="Count">The rows read.</param>
/// <param name="MeanAbsoluteError">The mean of |forecast - actual| over every row and position with an actual value.</param>
/// <param name="RootMeanSquaredError">The square root of the mean of (forecast - actual)² over the same values.</param>
/// <param name="ByPosition">
/// The same figures per position of the vector: for a forecast of the next H steps of one series, position h is h + 1 steps
/// ahead; with several values per step, positions are step-major (step 1's values, then step 2's...).
/// </param>
/// <remarks>
/// The figures are in the units of the columns: a forecaster trained on scaled values is evaluated in those units, so multiply
/// by the scale to read them in the series' own. An actual value that is NaN (a step past the end of the known series) is left
/// out, and each position counts its own values; a NaN forecast makes the figures it enters NaN.
/// </remarks>
public sealed record ForecastMetrics(long Count, double MeanAbsoluteError, double RootMeanSquaredError, IReadOnlyList<ForecastPositionMetrics> ByPosition);

/// <summary>The metrics of one position of the forecast vector.</summary>
/// <param name="Count">The rows whose actual value at this position is known (not NaN).</param>
/// <param name="MeanAbsoluteError">The mean of |forecast - actual| at this position.</param>
/// <param name="RootMeanSquaredError">The square root of the mean of (forecast - actual)² at this position.</param>
public sealed record ForecastPositionMetrics(long Count, double MeanAbsoluteError, double RootMeanSquaredError);

/// <summary>Computes <see cref="ForecastMetrics"/> in one pass over a scored data view.</summary>
internal static class ForecastEvaluator
{
    public static ForecastMetrics Evaluate(IDataView data, string labelColumnName, string forecastColumnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(labelColumnName);
        ArgumentNullException.ThrowIfNull(forecastColumnName);
        // The feature columns' check and reader: Single or a known-size vector of Single, sparse rows expanded.
        var (label, size) = FeatureColumn.Resolve(data.Schema, labelColumnName, "label");
        var (forecast, forecastSize) = FeatureColumn.Resolve(data.Schema, forecastColumnName, "forecast");
        if (forecastSize != size)
        {
            throw SchemaErrors.Mismatch("forecast", forecastColumnName, $"{size} {(size == 1 ? "value" : "values")} of Single, as label column '{labelColumnName}' has",
                SchemaErrors.Describe(forecast.Type));
        }
        var counts = new long[size];
        var absolute = new double[size];
        var squared = new double[size];
        var actual = new float[size];
        var predicted = new float[size];
        long rows = 0;
        using (var cursor = data.GetRowCursor([label, forecast]))
        {
            var readLabel = FeatureColumn.CreateReader(cursor, label);
            var readForecast = FeatureColumn.CreateReader(cursor, forecast);
            while (cursor.MoveNext())
            {
                rows++;
                readLabel(actual);
                readForecast(predicted);
                for (int i = 0; i < size; i++)
                {
                    if (float.IsNaN(actual[i]))
                    {
                        continue;
                    }
                    double error = (double)predicted[i] - actual[i];
                    counts[i]++;
                    absolute[i] += Math.Abs(error);
                    squared[i] += error * error;
                }
            }
        }
        long values = counts.Sum();
        if (values == 0)
        {
            throw new InvalidOperationException(rows == 0
                ? "The data has no rows to evaluate."
                : $"Label column '{labelColumnName}' holds no actual value to compare with (every one of its {rows} rows is NaN).");
        }
        var byPosition = Enumerable.Range(0, size).Select(i => counts[i] == 0
            ? new ForecastPositionMetrics(0, double.NaN, double.NaN)
            : new ForecastPositionMetrics(counts[i], absolute[i] / counts[i], Math.Sqrt(squared[i] / counts[i]))).ToArray();
        return new ForecastMetrics(rows, absolute.Sum() / values, Math.Sqrt(squared.Sum() / values), byPosition);
    }
}
