using Microsoft.ML;

namespace DeepArch.MLNet;

public static partial class DeepArchCatalog
{
    /// <summary>
    /// Trains a generative adversarial network on <paramref name="featureColumnName"/> (conditioned on <paramref name="labelColumnName"/>
    /// when given) and returns its generator: a transformer from a noise column (<c>Noise</c>, 32 standard-normal values per row,
    /// and the label column) to generated rows in <paramref name="featureColumnName"/>. Draw rows with <c>mlContext.Data.Generate</c>
    /// (see <see cref="GenerativeAdversarialNetworkEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="featureColumnName">The training rows: a known-size vector of <c>Single</c>.</param>
    /// <param name="labelColumnName">A key-typed label column to condition on (a conditional GAN); null for an unconditional GAN.</param>
    /// <param name="imageShape">When the rows are images, [channels, height, width] with height and width divisible by 4: trains a DCGAN instead of dense networks.</param>
    /// <param name="epochs">Passes over the training rows.</param>
    /// <param name="batchSize">Real rows per batch (and as many generated ones).</param>
    /// <param name="learningRate">Adam's learning rate for both networks.</param>
    public static GenerativeAdversarialNetworkEstimator GenerateByAdversarialNetwork(this TransformsCatalog catalog, string featureColumnName = "Features",
        string? labelColumnName = null, IReadOnlyList<int>? imageShape = null, int epochs = 200, int batchSize = 64, double learningRate = 1e-3)
        => catalog.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options
        {
            FeatureColumnName = featureColumnName,
            LabelColumnName = labelColumnName,
            Kind = imageShape is null ? GanKind.Dense : GanKind.Convolutional,
            ImageShape = imageShape,
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
        });

    /// <summary>Trains a generative adversarial network and returns its generator, with every option (kind, networks, losses, noise and columns...).</summary>
    public static GenerativeAdversarialNetworkEstimator GenerateByAdversarialNetwork(this TransformsCatalog catalog, GenerativeAdversarialNetworkEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// The discriminator <paramref name="generator"/> was trained with, as a transform adding <c>Score</c>, <c>Probability</c>
    /// (that a row is real) and <c>PredictedLabel</c> to rows of the training data's columns (see <see cref="DiscriminatorScoringEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="generator">A generator fitted by <c>GenerateByAdversarialNetwork</c>.</param>
    public static DiscriminatorScoringEstimator ScoreByDiscriminator(this TransformsCatalog catalog, NetworkTransformer generator)
        => catalog.ScoreByDiscriminator(generator, new DiscriminatorScoringEstimator.Options());

    /// <summary>The discriminator of a fitted generator as a scoring transform, with every option (batch size, threads, device).</summary>
    public static DiscriminatorScoringEstimator ScoreByDiscriminator(this TransformsCatalog catalog, NetworkTransformer generator, DiscriminatorScoringEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(generator, options);
    }

    /// <summary>
    /// Draws <paramref name="count"/> rows from <paramref name="generator"/> (fitted by <c>GenerateByAdversarialNetwork</c>), with the
    /// training data's feature column and, for a conditional generator, its label column (same key type and key values), so that
    /// <c>AppendRows</c> adds them to real rows of those columns. The same seed gives the same rows in every process on the CPU.
    /// </summary>
    /// <param name="catalog">The data operations catalog.</param>
    /// <param name="generator">The generator.</param>
    /// <param name="count">The number of rows to draw.</param>
    /// <param name="label">
    /// For a conditional generator, the label of every drawn row, as its key value is written (<c>"7"</c>, <c>"cat"</c>); null (default)
    /// draws labels with their frequencies in the training rows.
    /// </param>
    /// <param name="seed">The seed of the noise and labels; null draws it from the MLContext's seed.</param>
    /// <exception cref="ArgumentException">The transformer is not a generator, or the label is not one it was trained on.</exception>
    /// <exception cref="InsufficientMemoryException">The rows would take more than half the memory the process may use (they are drawn when Generate is called): draw them in parts.</exception>
    public static IDataView Generate(this DataOperationsCatalog catalog, NetworkTransformer generator, int count, string? label = null, int? seed = null)
        => GeneratedRows.Generate(generator, count, seed ?? CatalogEnvironment.Seed(CatalogEnvironment.Of(catalog)), label);

    /// <summary>
    /// The rows of <paramref name="data"/>, one data view after another: each must have the first one's visible columns, with the
    /// same types (select them with <c>mlContext.Transforms.SelectColumns</c>). Typically real rows with generated ones appended.
    /// </summary>
    /// <param name="catalog">The data operations catalog.</param>
    /// <param name="data">The data views, at least one.</param>
    public static IDataView AppendRows(this DataOperationsCatalog catalog, params IDataView[] data)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return GeneratedRows.AppendRows(data);
    }

    /// <summary>
    /// Measures how close <paramref name="generated"/> rows are to <paramref name="real"/> ones, beside a per-label Gaussian generator
    /// (see <see cref="GeneratedDataMetrics"/>): label accuracy, Fréchet distance and its floor, precision and recall in a classifier's
    /// feature space, and nearest-row distances against <paramref name="heldOut"/> real rows (memorization).
    /// </summary>
    /// <param name="catalog">The data operations catalog.</param>
    /// <param name="real">The real rows the generator was trained on.</param>
    /// <param name="generated">The generated rows, with the same columns.</param>
    /// <param name="heldOut">Real rows the generator never saw, for the memorization check; optional.</param>
    /// <param name="featureColumnName">The rows' column: a known-size vector of <c>Single</c>.</param>
    /// <param name="labelColumnName">A key-typed label column in every data view; null measures without labels.</param>
    /// <param name="imageShape">When the rows are images, [channels, height, width]: the classifier is then convolutional.</param>
    public static GeneratedDataMetrics EvaluateGenerated(this DataOperationsCatalog catalog, IDataView real, IDataView generated, IDataView? heldOut = null,
        string featureColumnName = "Features", string? labelColumnName = null, IReadOnlyList<int>? imageShape = null)
        => catalog.EvaluateGenerated(real, generated, heldOut, new GeneratedDataEvaluatorOptions
        {
            FeatureColumnName = featureColumnName,
            LabelColumnName = labelColumnName,
            ImageShape = imageShape,
        });

    /// <summary>Measures how close generated rows are to real ones, with every option.</summary>
    public static GeneratedDataMetrics EvaluateGenerated(this DataOperationsCatalog catalog, IDataView real, IDataView generated, IDataView? heldOut,
        GeneratedDataEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int seed = options.Seed ?? CatalogEnvironment.Seed(CatalogEnvironment.Of(catalog));
        return GeneratedDataEvaluator.Evaluate(real, generated, heldOut, options, seed);
    }
}
