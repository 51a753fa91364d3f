using DeepArch.Trainers;
using Microsoft.ML;

namespace DeepArch.MLNet;

public static partial class DeepArchCatalog
{
    /// <summary>
    /// Trains an encoder–decoder that maps the token sequence in <paramref name="inputColumnName"/> to the one in
    /// <paramref name="targetColumnName"/> (both vectors of keys), and returns a transformer that adds <paramref name="outputColumnName"/>,
    /// the decoded sequence as keys of the target's type, and <c>Score</c> (see <see cref="SequenceToSequenceEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column of decoded sequences the transformer adds.</param>
    /// <param name="inputColumnName">The source sequences: a vector of keys.</param>
    /// <param name="targetColumnName">The target sequences to learn: a vector of keys.</param>
    /// <param name="epochs">Passes over the training rows.</param>
    public static SequenceToSequenceEstimator MapSequenceToSequence(this TransformsCatalog catalog, string outputColumnName = "PredictedSequence",
        string inputColumnName = "Source", string targetColumnName = "Target", int epochs = 10)
        => catalog.MapSequenceToSequence(new SequenceToSequenceEstimator.Options
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            TargetColumnName = targetColumnName,
            Epochs = epochs,
        });

    /// <summary>Trains an encoder–decoder with every option (cell, sizes, attention, lengths, training).</summary>
    public static SequenceToSequenceEstimator MapSequenceToSequence(this TransformsCatalog catalog, SequenceToSequenceEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// Forecasts the next steps of a series with an encoder–decoder: the encoder reads the history in <paramref name="inputColumnName"/>,
    /// the decoder writes the steps of <paramref name="labelColumnName"/> one at a time, each from the one before (see <see cref="EncoderDecoderForecastingEstimator"/>).
    /// </summary>
    /// <param name="catalog">The forecasting catalog.</param>
    /// <param name="outputColumnName">The forecast column the transformer adds.</param>
    /// <param name="inputColumnName">The history: a known-size vector of <c>Single</c>.</param>
    /// <param name="labelColumnName">The next steps while training: a known-size vector of <c>Single</c>.</param>
    /// <param name="featuresPerStep">Values per history step.</param>
    /// <param name="epochs">Passes over the training windows (60, the options' default).</param>
    public static EncoderDecoderForecastingEstimator ForecastByEncoderDecoder(this ForecastingCatalog catalog, string outputColumnName = "Forecast",
        string inputColumnName = "Features", string labelColumnName = "Label", int featuresPerStep = 1, int epochs = 60)
        => catalog.ForecastByEncoderDecoder(new EncoderDecoderForecastingEstimator.Options
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            LabelColumnName = labelColumnName,
            FeaturesPerStep = featuresPerStep,
            Epochs = epochs,
        });

    /// <summary>An encoder–decoder forecaster, with every option (cell, sizes, attention, steps, training).</summary>
    public static EncoderDecoderForecastingEstimator ForecastByEncoderDecoder(this ForecastingCatalog catalog, EncoderDecoderForecastingEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// An anomaly detector that reconstructs windows of a series with an encoder–decoder trained on normal windows: <c>Score</c> is the
    /// largest per-step reconstruction error, standardized, so a fault anywhere in the window counts (see <see cref="EncoderDecoderAnomalyDetectionTrainer"/>).
    /// </summary>
    /// <param name="catalog">The anomaly detection trainers catalog.</param>
    /// <param name="featureColumnName">The windows: a known-size vector of <c>Single</c>.</param>
    /// <param name="featuresPerStep">Values per step.</param>
    /// <param name="epochs">Passes over the training windows.</param>
    public static EncoderDecoderAnomalyDetectionTrainer EncoderDecoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = "Features", int featuresPerStep = 1, int epochs = 50)
        => catalog.EncoderDecoder(new EncoderDecoderAnomalyDetectionTrainer.Options
        {
            FeatureColumnName = featureColumnName,
            FeaturesPerStep = featuresPerStep,
            Epochs = epochs,
        });

    /// <summary>An encoder–decoder anomaly detector, with every option (cell, size, threshold, missing values, training).</summary>
    public static EncoderDecoderAnomalyDetectionTrainer EncoderDecoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        EncoderDecoderAnomalyDetectionTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// Compares the sequences of <paramref name="predictedColumnName"/> with those of <paramref name="labelColumnName"/> (vectors of keys of
    /// the same key count, as <c>MapSequenceToSequence</c>'s output and its target have): sequence accuracy, token error rate by edit
    /// distance, and both per reference length (see <see cref="SequenceMetrics"/>).
    /// </summary>
    /// <param name="catalog">The data operations catalog.</param>
    /// <param name="data">Scored data holding both columns.</param>
    /// <param name="labelColumnName">The reference sequences.</param>
    /// <param name="predictedColumnName">The predicted sequences.</param>
    public static SequenceMetrics EvaluateSequences(this DataOperationsCatalog catalog, IDataView data, string labelColumnName = "Target",
        string predictedColumnName = "PredictedSequence")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return SequenceEvaluator.Evaluate(data, labelColumnName, predictedColumnName);
    }
}

/// <summary>What a sequence-to-sequence transformer (<c>MapSequenceToSequence</c>) shows besides its output columns.</summary>
public static class SequenceToSequenceTransformerExtensions
{
    /// <summary>
    /// The attention weights of decoding each row of <paramref name="data"/> (for an attention map): per row, [decoded steps, source
    /// tokens], one row per decoded token and one for the end symbol when it was emitted, each summing to 1 over the row's source tokens.
    /// </summary>
    /// <param name="transformer">A transformer fitted by <c>MapSequenceToSequence</c> with attention (the default).</param>
    /// <param name="data">Rows holding the source column.</param>
    /// <exception cref="ArgumentException">The transformer is not a sequence-to-sequence model with attention.</exception>
    public static IReadOnlyList<float[,]> GetAttentionWeights(this NetworkTransformer transformer, IDataView data)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(data);
        var translation = transformer.Info.Translation
            ?? throw new ArgumentException($"The transformer was fitted by {transformer.Info.Trainer}, not MapSequenceToSequence: it has no attention.", nameof(transformer));
        var task = (SequenceTask)transformer.Info.Task;
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(transformer.OnnxModel);
        if (!session.OutputMetadata.ContainsKey(DeepArch.Trainers.Architectures.SequenceToSequenceExport.AttentionOutput))
        {
            throw new ArgumentException("The model was trained with Options.Attention = None: it has no attention weights.", nameof(transformer));
        }
        var column = transformer.ResolveFeature(data.Schema);
        int width = translation.InputSize, steps = translation.MaxTargetLength, sources = translation.MaxSourceLength;
        var maps = new List<float[,]>();
        using var cursor = data.GetRowCursor([column]);
        var read = translation.CreateReader(cursor, column);
        var input = new float[width];
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        while (cursor.MoveNext())
        {
            read(input);
            using var feed = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(input, [1, width]);
            using var results = session.Run(runOptions, [TranslationInfo.SourceInput], [feed],
                [task.GraphOutputs.Tokens, DeepArch.Trainers.Architectures.SequenceToSequenceExport.AttentionOutput]);
            var tokens = results[0].GetTensorDataAsSpan<float>();
            var weights = results[1].GetTensorDataAsSpan<float>();
            int length = (int)input[0];
            int count = tokens.IndexOf(0f);
            int decoded = count < 0 ? steps : Math.Min(count + 1, steps);
            var map = new float[decoded, length];
            for (int t = 0; t < decoded; t++)
            {
                for (int s = 0; s < length; s++)
                {
                    map[t, s] = weights[t * sources + s];
                }
            }
            maps.Add(map);
        }
        return maps;
    }
}
