using Microsoft.ML;

namespace DeepArch.MLNet;

// An overload whose parameters mean what a sibling's mean documents only those that differ and inherits the rest
// (<inheritdoc cref="..."/>); the compiler does not follow inheritdoc when it looks for a <param> per parameter (CS1573).
#pragma warning disable CS1573

/// <summary>
/// DeepArch's entry points on ML.NET's catalogs: <c>mlContext.MulticlassClassification.Trainers.MultilayerPerceptron(...)</c>,
/// <c>ConvolutionalNetwork(...)</c> and their binary-classification and regression twins, each with a simple and an <c>Options</c> overload.
/// </summary>
public static partial class DeepArchCatalog
{
    /// <summary>A multilayer perceptron for multiclass classification (key-typed label; <c>Score</c> and key <c>PredictedLabel</c>).</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The key-typed label column.</param>
    /// <param name="featureColumnName">The feature column: a known-size vector of <c>Single</c>.</param>
    /// <param name="hiddenLayers">Hidden layer sizes; null gives [128, 64].</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Rows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int[]? hiddenLayers = null,
        int epochs = 30, int batchSize = 32, double learningRate = 1e-3)
        => catalog.MultilayerPerceptron(Simple(labelColumnName, featureColumnName, hiddenLayers, epochs, batchSize, learningRate));

    /// <summary>A multilayer perceptron for multiclass classification, with every option.</summary>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        MultilayerPerceptronTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Multiclass);

    /// <summary>A multilayer perceptron for binary classification (<c>Boolean</c> label; <c>Score</c>, <c>Probability</c>, <c>PredictedLabel</c>).</summary>
    /// <param name="catalog">The binary trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Boolean</c> label column.</param>
    /// <inheritdoc cref="MultilayerPerceptron(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, int[], int, int, double)"/>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int[]? hiddenLayers = null,
        int epochs = 30, int batchSize = 32, double learningRate = 1e-3)
        => catalog.MultilayerPerceptron(Simple(labelColumnName, featureColumnName, hiddenLayers, epochs, batchSize, learningRate));

    /// <summary>A multilayer perceptron for binary classification, with every option.</summary>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        MultilayerPerceptronTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Binary);

    /// <summary>A multilayer perceptron for regression (<c>Single</c> label; <c>Score</c>).</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Single</c> label column.</param>
    /// <inheritdoc cref="MultilayerPerceptron(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, int[], int, int, double)"/>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int[]? hiddenLayers = null,
        int epochs = 30, int batchSize = 32, double learningRate = 1e-3)
        => catalog.MultilayerPerceptron(Simple(labelColumnName, featureColumnName, hiddenLayers, epochs, batchSize, learningRate));

    /// <summary>A multilayer perceptron for regression, with every option.</summary>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this RegressionCatalog.RegressionTrainers catalog,
        MultilayerPerceptronTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Regression);

    /// <summary>
    /// A convolutional network for multiclass classification (key-typed label; <c>Score</c> and key <c>PredictedLabel</c>):
    /// the default small network (<see cref="ConvolutionalPreset.Default"/>) over a feature vector read as <paramref name="inputShape"/>.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The key-typed label column.</param>
    /// <param name="featureColumnName">The feature column: a known-size vector of <c>Single</c> of the shape's size, scaled (pixels in [0, 1] or standardized: <c>NormalizeMinMax</c>, <c>NormalizeMeanVariance</c>); values far from unit scale leave the network unable to learn.</param>
    /// <param name="inputShape">(channels, height, width) or (channels, length), e.g. <c>[1, 8, 8]</c>.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Rows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName, string featureColumnName, IReadOnlyList<int> inputShape, int epochs = 20, int batchSize = 32, double learningRate = 3e-3)
        => catalog.ConvolutionalNetwork(Convolutional(labelColumnName, featureColumnName, inputShape, epochs, batchSize, learningRate));

    /// <summary>A convolutional network for multiclass classification, with every option (a preset such as LeNet-5, or explicit layers).</summary>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        ConvolutionalNetworkTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Multiclass);

    /// <summary>
    /// A convolutional network for binary classification (<c>Boolean</c> label; <c>Score</c>, <c>Probability</c>, <c>PredictedLabel</c>):
    /// the default small network over a feature vector read as <paramref name="inputShape"/>.
    /// </summary>
    /// <param name="catalog">The binary trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Boolean</c> label column.</param>
    /// <inheritdoc cref="ConvolutionalNetwork(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, IReadOnlyList{int}, int, int, double)"/>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName, string featureColumnName, IReadOnlyList<int> inputShape, int epochs = 20, int batchSize = 32, double learningRate = 3e-3)
        => catalog.ConvolutionalNetwork(Convolutional(labelColumnName, featureColumnName, inputShape, epochs, batchSize, learningRate));

    /// <summary>A convolutional network for binary classification, with every option.</summary>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        ConvolutionalNetworkTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Binary);

    /// <summary>
    /// A convolutional network for regression (<c>Single</c> label; <c>Score</c>): the default small network over a
    /// feature vector read as <paramref name="inputShape"/>.
    /// </summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Single</c> label column.</param>
    /// <inheritdoc cref="ConvolutionalNetwork(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, IReadOnlyList{int}, int, int, double)"/>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName, string featureColumnName, IReadOnlyList<int> inputShape, int epochs = 20, int batchSize = 32, double learningRate = 3e-3)
        => catalog.ConvolutionalNetwork(Convolutional(labelColumnName, featureColumnName, inputShape, epochs, batchSize, learningRate));

    /// <summary>A convolutional network for regression, with every option.</summary>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this RegressionCatalog.RegressionTrainers catalog,
        ConvolutionalNetworkTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Regression);

    /// <summary>
    /// A supervised stacked autoencoder for multiclass classification (key-typed label; <c>Score</c> and key <c>PredictedLabel</c>):
    /// each level pretrained as an autoencoder on the codes of the level below, then the stack and a dense head fine-tuned end to end.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The key-typed label column.</param>
    /// <param name="featureColumnName">The feature column: a known-size vector of <c>Single</c>, scaled (e.g. <c>NormalizeMinMax</c>).</param>
    /// <param name="hiddenLayers">Each level's code size, bottom first; null gives [32, 16].</param>
    /// <param name="pretrainingEpochs">Autoencoder epochs per level.</param>
    /// <param name="epochs">Fine-tuning passes over the training data.</param>
    /// <param name="batchSize">Rows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate, for pretraining and fine-tuning.</param>
    public static StackedAutoencoderTrainer StackedAutoencoder(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int[]? hiddenLayers = null,
        int pretrainingEpochs = 20, int epochs = 60, int batchSize = 32, double learningRate = 1e-2)
        => catalog.StackedAutoencoder(Stacked(labelColumnName, featureColumnName, hiddenLayers, pretrainingEpochs, epochs, batchSize, learningRate));

    /// <summary>A supervised stacked autoencoder for multiclass classification, with every option (denoising pretraining, fine-tuning the head only...).</summary>
    public static StackedAutoencoderTrainer StackedAutoencoder(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        StackedAutoencoderTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Multiclass);

    /// <summary>
    /// A supervised stacked autoencoder for binary classification (<c>Boolean</c> label; <c>Score</c>, <c>Probability</c>, <c>PredictedLabel</c>):
    /// each level pretrained as an autoencoder on the codes of the level below, then the stack and a dense head fine-tuned end to end.
    /// </summary>
    /// <param name="catalog">The binary trainers catalog.</param>
    /// <param name="labelColumnName">The <c>Boolean</c> label column.</param>
    /// <inheritdoc cref="StackedAutoencoder(MulticlassClassificationCatalog.MulticlassClassificationTrainers, string, string, int[], int, int, int, double)"/>
    public static StackedAutoencoderTrainer StackedAutoencoder(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int[]? hiddenLayers = null,
        int pretrainingEpochs = 20, int epochs = 60, int batchSize = 32, double learningRate = 1e-2)
        => catalog.StackedAutoencoder(Stacked(labelColumnName, featureColumnName, hiddenLayers, pretrainingEpochs, epochs, batchSize, learningRate));

    /// <summary>A supervised stacked autoencoder for binary classification, with every option.</summary>
    public static StackedAutoencoderTrainer StackedAutoencoder(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        StackedAutoencoderTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options, TaskKind.Binary);

    private static MultilayerPerceptronTrainer.Options Simple(string label, string features, int[]? hidden, int epochs, int batchSize, double learningRate)
        => WithTraining(new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            HiddenLayers = hidden ?? [128, 64],
        }, epochs, batchSize, learningRate);

    private static ConvolutionalNetworkTrainer.Options Convolutional(string label, string features, IReadOnlyList<int> inputShape, int epochs, int batchSize,
        double learningRate)
        => WithTraining(new ConvolutionalNetworkTrainer.Options
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            InputShape = inputShape,
        }, epochs, batchSize, learningRate);

    private static StackedAutoencoderTrainer.Options Stacked(string label, string features, int[]? hidden, int pretrainingEpochs, int epochs, int batchSize,
        double learningRate)
        => WithTraining(new StackedAutoencoderTrainer.Options
        {
            LabelColumnName = label,
            FeatureColumnName = features,
            HiddenLayers = hidden ?? [32, 16],
            PretrainingEpochs = pretrainingEpochs,
        }, epochs, batchSize, learningRate);

    /// <summary><paramref name="options"/> with the training settings every simple overload takes; the others keep their defaults.</summary>
    private static T WithTraining<T>(T options, int epochs, int batchSize, double learningRate) where T : NetworkOptions
    {
        options.Epochs = epochs;
        options.BatchSize = batchSize;
        options.LearningRate = learningRate;
        return options;
    }

    /// <summary>
    /// An autoencoder anomaly detector trained on normal rows (no label): <c>Score</c> (reconstruction error, higher = more
    /// anomalous) and <c>PredictedLabel</c> (<c>Score</c> above the (1 - <paramref name="contamination"/>) quantile of the training scores).
    /// </summary>
    /// <param name="catalog">The anomaly-detection trainers catalog.</param>
    /// <param name="featureColumnName">The feature column: a known-size vector of <c>Single</c>, scaled (e.g. <c>NormalizeMinMax</c>).</param>
    /// <param name="layerSizes">The hidden sizes, then the code size (smaller than the input); null gives [32, 8], or [2n, n / 2] for an input of n = 2 to 8 values.</param>
    /// <param name="contamination">The expected fraction of anomalies in the training data, in (0, 0.5].</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Rows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public static AutoencoderAnomalyDetectionTrainer Autoencoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        string featureColumnName = "Features", int[]? layerSizes = null, double contamination = 0.05, int epochs = 50, int batchSize = 32,
        double learningRate = 1e-2)
    {
        var options = new AutoencoderAnomalyDetectionTrainer.Options { FeatureColumnName = featureColumnName, Contamination = contamination };
        if (layerSizes is not null)
        {
            options.LayerSizes = layerSizes; // null keeps the default, scaled down to inputs of 8 values or fewer
        }
        return catalog.Autoencoder(WithTraining(options, epochs, batchSize, learningRate));
    }

    /// <summary>An autoencoder anomaly detector, with every option (kind, threshold source, standardized error, feature contributions...).</summary>
    public static AutoencoderAnomalyDetectionTrainer Autoencoder(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog,
        AutoencoderAnomalyDetectionTrainer.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// Trains an autoencoder on <paramref name="inputColumnName"/> in <c>Fit</c> and outputs each row's code in
    /// <paramref name="outputColumnName"/>, for a later trainer in the same pipeline (see <see cref="AutoencoderFeaturizingEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The code column to add: a known-size vector of <c>Single</c> of the code size.</param>
    /// <param name="inputColumnName">The column to encode: <c>Single</c> or a known-size vector of <c>Single</c>, scaled; null means <paramref name="outputColumnName"/>.</param>
    /// <param name="layerSizes">The encoder's hidden sizes, then the code size; null gives [32, 8], or [2n, n / 2] for an input of n = 2 to 8 values.</param>
    /// <param name="kind">Which autoencoder to train.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Rows per mini-batch.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public static AutoencoderFeaturizingEstimator FeaturizeByAutoencoder(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        int[]? layerSizes = null, AutoencoderKind kind = AutoencoderKind.Deep, int epochs = 50, int batchSize = 32, double learningRate = 1e-3)
        => catalog.FeaturizeByAutoencoder(TransformOptions(new AutoencoderFeaturizingEstimator.Options(), outputColumnName, inputColumnName, layerSizes, kind, epochs, batchSize, learningRate));

    /// <summary>Trains an autoencoder in <c>Fit</c> and outputs each row's code, with every option (activations, dropout, batch norm, the kinds' parameters...).</summary>
    public static AutoencoderFeaturizingEstimator FeaturizeByAutoencoder(this TransformsCatalog catalog, AutoencoderFeaturizingEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// Trains an autoencoder on <paramref name="inputColumnName"/> in <c>Fit</c> and outputs each row's reconstruction in
    /// <paramref name="outputColumnName"/>; for the denoising kind, the cleaned signal (see <see cref="AutoencoderReconstructingEstimator"/>).
    /// </summary>
    /// <param name="outputColumnName">The reconstruction column to add: a known-size vector of <c>Single</c> of the input's size.</param>
    /// <param name="inputColumnName">The column to reconstruct: <c>Single</c> or a known-size vector of <c>Single</c>, scaled; null means <paramref name="outputColumnName"/>.</param>
    /// <inheritdoc cref="FeaturizeByAutoencoder(TransformsCatalog, string, string, int[], AutoencoderKind, int, int, double)"/>
    public static AutoencoderReconstructingEstimator ReconstructByAutoencoder(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        int[]? layerSizes = null, AutoencoderKind kind = AutoencoderKind.Deep, int epochs = 50, int batchSize = 32, double learningRate = 1e-3)
        => catalog.ReconstructByAutoencoder(TransformOptions(new AutoencoderReconstructingEstimator.Options(), outputColumnName, inputColumnName, layerSizes, kind, epochs, batchSize, learningRate));

    /// <summary>Trains an autoencoder in <c>Fit</c> and outputs each row's reconstruction, with every option.</summary>
    public static AutoencoderReconstructingEstimator ReconstructByAutoencoder(this TransformsCatalog catalog, AutoencoderReconstructingEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// The decoder of <paramref name="autoencoder"/> (fitted by <c>FeaturizeByAutoencoder</c> or <c>ReconstructByAutoencoder</c>) as a transform
    /// from the code column <paramref name="inputColumnName"/> to the decoded rows in <paramref name="outputColumnName"/> (see <see cref="AutoencoderDecodingEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="autoencoder">The fitted autoencoder transform.</param>
    /// <param name="outputColumnName">The column to add: a known-size vector of <c>Single</c> of the autoencoder's input size.</param>
    /// <param name="inputColumnName">The code column: a known-size vector of <c>Single</c> of the code size; null means <paramref name="outputColumnName"/>.</param>
    public static AutoencoderDecodingEstimator DecodeByAutoencoder(this TransformsCatalog catalog, NetworkTransformer autoencoder, string outputColumnName,
        string? inputColumnName = null)
        => catalog.DecodeByAutoencoder(autoencoder, new AutoencoderDecodingEstimator.Options { OutputColumnName = outputColumnName, InputColumnName = inputColumnName });

    /// <summary>The decoder of a fitted autoencoder transform as a transform from codes to decoded rows, with every option.</summary>
    public static AutoencoderDecodingEstimator DecodeByAutoencoder(this TransformsCatalog catalog, NetworkTransformer autoencoder, AutoencoderDecodingEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(autoencoder, options);
    }

    private static T TransformOptions<T>(T options, string output, string? input, int[]? layerSizes, AutoencoderKind kind, int epochs, int batchSize,
        double learningRate) where T : AutoencoderTransformOptions
    {
        options.OutputColumnName = output;
        options.InputColumnName = input;
        if (layerSizes is not null)
        {
            options.LayerSizes = layerSizes; // null keeps the default, scaled down to inputs of 8 values or fewer
        }
        options.Kind = kind;
        return WithTraining(options, epochs, batchSize, learningRate);
    }
}
