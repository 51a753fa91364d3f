using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using Microsoft.ML;

namespace DeepArch.MLNet;

// An overload whose parameters mean what a sibling's mean documents only those that differ and inherits the rest
// (<inheritdoc cref="..."/>); the compiler does not follow inheritdoc when it looks for a <param> per parameter (CS1573).
#pragma warning disable CS1573

// The recurrent networks' entry points: RecurrentNetwork in the three supervised catalogs,
// ForecastByRecurrentNetwork in the forecasting catalog and the forecasting anomaly detector.
public static partial class DeepArchCatalog
{
    /// <summary>
    /// A recurrent network (LSTM by default) for multiclass classification of sequences (key-typed label; <c>Score</c> and key <c>PredictedLabel</c>).
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The key-typed label column.</param>
    /// <param name="featureColumnName">The sequence column: a vector of <c>Single</c> holding the steps one after the other (known-size or variable-size), scaled (<c>NormalizeMeanVariance</c>, <c>NormalizeMinMax</c>): values far from unit scale saturate the cells, and the network learns nothing.</param>
    /// <param name="featuresPerStep">Values per time step; the column's length must be a multiple of it.</param>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="hiddenSize">Units of the hidden state.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Rows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public static RecurrentNetworkTrainer RecurrentNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int featuresPerStep = 1, RecurrentCell cell = RecurrentCell.Lstm,
        int hiddenSize = 64, int epochs = 30, int batchSize = 32, double learningRate = 1e-2)
        => catalog.RecurrentNetwork(Recurrent(labelColumnName, featureColumnName, featuresPerStep, cell, hiddenSize, epochs, batchSize, learningRate));

    /// <summary>A recurrent network for multiclass classification of sequences, with every option.</summary>
    public static RecurrentNetworkTrainer RecurrentNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        RecurrentNetworkTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Multiclass);

    /// <summary>
    /// A recurrent network (LSTM by default) for binary classification of sequences (<c>Boolean</c> label; <c>Score</c>, <c>Probability</c>, <c>PredictedLabel</c>).
    /// </summary>
    /// <param name="catalog">The binary trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Boolean</c> label column.</param>
    /// <inheritdoc cref="RecurrentNetwork(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, int, RecurrentCell, int, int, int, double)"/>
    public static RecurrentNetworkTrainer RecurrentNetwork(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int featuresPerStep = 1, RecurrentCell cell = RecurrentCell.Lstm,
        int hiddenSize = 64, int epochs = 30, int batchSize = 32, double learningRate = 1e-2)
        => catalog.RecurrentNetwork(Recurrent(labelColumnName, featureColumnName, featuresPerStep, cell, hiddenSize, epochs, batchSize, learningRate));

    /// <summary>A recurrent network for binary classification of sequences, with every option.</summary>
    public static RecurrentNetworkTrainer RecurrentNetwork(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        RecurrentNetworkTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Binary);

    /// <summary>
    /// A recurrent network (LSTM by default) for regression over sequences, for example the next value of a series from a
    /// window of past values (<c>Single</c> label; <c>Score</c>).
    /// </summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Single</c> label column.</param>
    /// <inheritdoc cref="RecurrentNetwork(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, int, RecurrentCell, int, int, int, double)"/>
    public static RecurrentNetworkTrainer RecurrentNetwork(this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int featuresPerStep = 1, RecurrentCell cell = RecurrentCell.Lstm,
        int hiddenSize = 64, int epochs = 30, int batchSize = 32, double learningRate = 1e-2)
        => catalog.RecurrentNetwork(Recurrent(labelColumnName, featureColumnName, featuresPerStep, cell, hiddenSize, epochs, batchSize, learningRate));

    /// <summary>A recurrent network for regression over sequences, with every option.</summary>
    public static RecurrentNetworkTrainer RecurrentNetwork(this RegressionCatalog.RegressionTrainers catalog,
        RecurrentNetworkTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Regression);

    /// <summary>
    /// Anomaly detection by prediction: a recurrent forecaster (LSTM by default) learns, on windows of a normal series, to predict each step
    /// from the steps before it (<paramref name="horizon"/> 1, the default: <c>Score</c> is the window's largest one-step error) or the last
    /// <paramref name="horizon"/> steps from those before them (<c>Score</c> is that forecast's error); the error is standardized by the training
    /// windows' (higher = more anomalous) and <c>PredictedLabel</c> is <c>Score</c> above the (1 - <paramref name="contamination"/>) quantile of the training scores.
    /// </summary>
    /// <param name="catalog">The anomaly-detection trainers catalog.</param>
    /// <param name="featureColumnName">The window column: a known-size vector of <c>Single</c>, steps one after the other, scaled.</param>
    /// <param name="featuresPerStep">Values per time step.</param>
    /// <param name="horizon">1 (default): every step is forecast from the ones before it; more: the steps at the end of each window that the network forecasts from the others.</param>
    /// <param name="contamination">The expected fraction of anomalous training windows, in (0, 0.5].</param>
    /// <param name="epochs">Passes over the training windows.</param>
    /// <param name="batchSize">Windows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public static ForecastingAnomalyDetectionTrainer RecurrentForecaster(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = "Features", int featuresPerStep = 1, int horizon = 1, double contamination = 0.05,
        int epochs = 50, int batchSize = 32, double learningRate = 1e-3)
        => catalog.RecurrentForecaster(WithTraining(new ForecastingAnomalyDetectionTrainer.Options
        {
            FeatureColumnName = featureColumnName,
            FeaturesPerStep = featuresPerStep,
            Horizon = horizon,
            Contamination = contamination,
        }, epochs, batchSize, learningRate));

    /// <summary>Anomaly detection by a recurrent forecaster's error or Monte-Carlo predictive variance, with every option.</summary>
    public static ForecastingAnomalyDetectionTrainer RecurrentForecaster(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        ForecastingAnomalyDetectionTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// A recurrent network (LSTM by default) that forecasts: it reads a window of a series (<paramref name="inputColumnName"/>) and writes
    /// the label's values — for example the next H steps — into the vector column <paramref name="outputColumnName"/>.
    /// </summary>
    /// <param name="catalog">The forecasting catalog.</param>
    /// <param name="outputColumnName">The vector column of forecasts.</param>
    /// <param name="inputColumnName">The window column: a known-size vector of <c>Single</c>, steps one after the other, scaled.</param>
    /// <param name="labelColumnName">What to forecast: <c>Single</c> or a known-size vector (the next steps' values, step-major).</param>
    /// <param name="featuresPerStep">Values per time step of the window.</param>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="hiddenSize">Units of the hidden state.</param>
    /// <param name="epochs">Passes over the training windows (60, the options' default).</param>
    /// <param name="batchSize">Windows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate (3e-3, the options' default).</param>
    public static RecurrentForecastingEstimator ForecastByRecurrentNetwork(this ForecastingCatalog catalog, string outputColumnName = "Forecast",
        string inputColumnName = "Features", string labelColumnName = "Label", int featuresPerStep = 1, RecurrentCell cell = RecurrentCell.Lstm,
        int hiddenSize = 64, int epochs = 60, int batchSize = 32, double learningRate = 3e-3)
        => catalog.ForecastByRecurrentNetwork(WithTraining(new RecurrentForecastingEstimator.Options
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            LabelColumnName = labelColumnName,
            FeaturesPerStep = featuresPerStep,
            Cell = cell,
            HiddenSize = hiddenSize,
        }, epochs, batchSize, learningRate));

    /// <summary>A recurrent forecaster (many-to-one over a horizon, or many-to-many per step), with every option.</summary>
    public static RecurrentForecastingEstimator ForecastByRecurrentNetwork(this ForecastingCatalog catalog, RecurrentForecastingEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// Compares forecasts with the values that came: mean absolute error and root mean squared error, overall and per position of
    /// the forecast vector (for a forecast of the next H steps, position h is h + 1 steps ahead). It reads the output of
    /// <c>ForecastByRecurrentNetwork</c> and <c>ForecastByEncoderDecoder</c> as it is, beside the label column they were trained on.
    /// </summary>
    /// <param name="catalog">The forecasting catalog.</param>
    /// <param name="data">Scored data holding both columns.</param>
    /// <param name="labelColumnName">The actual values: <c>Single</c> or a known-size vector of <c>Single</c>; a NaN (a step past the known series) is left out.</param>
    /// <param name="forecastColumnName">The forecasts: as many values of <c>Single</c> per row as the label.</param>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing, not of <c>Single</c>, or the two differ in size.</exception>
    /// <exception cref="InvalidOperationException">The data has no row, or no actual value that is not NaN.</exception>
    public static ForecastMetrics Evaluate(this ForecastingCatalog catalog, IDataView data, string labelColumnName = "Label",
        string forecastColumnName = "Forecast")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return ForecastEvaluator.Evaluate(data, labelColumnName, forecastColumnName);
    }

    private static RecurrentNetworkTrainer.Options Recurrent(string label, string features, int featuresPerStep, RecurrentCell cell, int hiddenSize,
        int epochs, int batchSize, double learningRate)
        => WithTraining(new RecurrentNetworkTrainer.Options
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            FeaturesPerStep = featuresPerStep,
            Cell = cell,
            HiddenSize = hiddenSize,
        }, epochs, batchSize, learningRate);
}
