using DeepArch.Trainers.Onnx.Proto;
using Microsoft.ML;

namespace DeepArch.MLNet;

/// <summary>
/// The discriminator a GAN was trained with (kept in its generator, <see cref="GenerativeAdversarialNetworkEstimator"/>) as a
/// scoring transform: it reads the training data's feature column (and label column, for a conditional GAN) and adds the
/// binary-classification columns <c>Score</c> (its logit), <c>Probability</c> (that the row is real) and <c>PredictedLabel</c>
/// (<c>Probability</c> above 0.5), for users who want it as a detector of rows unlike the training data, or as a filter.
/// Created by <c>mlContext.Transforms.ScoreByDiscriminator</c>; <c>Fit</c> trains nothing.
/// </summary>
/// <remarks>
/// A discriminator is trained to tell the training rows from its generator's, not from every other row: how well its
/// probability separates unusual rows is for the user to measure (for example with <c>mlContext.BinaryClassification.Evaluate</c>).
/// </remarks>
public sealed class DiscriminatorScoringEstimator : IEstimator<NetworkTransformer>
{
    private readonly byte[] _discriminator;
    private readonly ModelInfo _info;

    internal DiscriminatorScoringEstimator(NetworkTransformer generator, Options options)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (generator.Info.Discriminator is not { } discriminator)
        {
            throw new ArgumentException(
                $"ScoreByDiscriminator needs a generator fitted by GenerateByAdversarialNetwork; this transformer was made by {generator.Info.Trainer}.", nameof(generator));
        }
        TransformOptions = options;
        _discriminator = discriminator;
        _info = ModelInfo.Of(discriminator);
    }

    /// <summary>The options this estimator was created with; <c>Fit</c> reads them as they are when it starts.</summary>
    public Options TransformOptions { get; }

    /// <summary>Checks the columns of <paramref name="input"/> and returns the discriminator's transformer.</summary>
    public NetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var options = TransformOptions.Snapshot();
        var info = _info with { Scoring = options.ToScoringSettings() };
        var transformer = new NetworkTransformer(ModelInfo.Restamp(ModelProto.Parser.ParseFrom(_discriminator), info), info);
        try
        {
            transformer.GetOutputSchema(input.Schema);
            return transformer;
        }
        catch
        {
            transformer.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, _info.FeatureColumn);
        if (_info.Condition is { } condition && !inputSchema.Any(c => c.Name == condition.Column && c.IsKey))
        {
            throw inputSchema.Any(c => c.Name == condition.Column)
                ? SchemaErrors.Mismatch("label", condition.Column, "Key<UInt32> (the key column the GAN was trained with)", "a column that is not a key")
                : SchemaErrors.ColumnNotFound("label", condition.Column);
        }
        return SchemaShapes.With(inputSchema, BinaryTask.OutputShape());
    }

    /// <summary>Options of <see cref="DiscriminatorScoringEstimator"/>: how it scores.</summary>
    public sealed class Options : ScoringOptions
    {
    }
}
