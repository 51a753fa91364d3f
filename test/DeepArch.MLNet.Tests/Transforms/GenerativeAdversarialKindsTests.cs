using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Transforms;

/// <summary>The DCGAN and the unconditional GAN end to end (few epochs: what they compute, not how well), and the errors of Fit.</summary>
public class GenerativeAdversarialKindsTests
{
    private static (MLContext Ml, IDataView Digits) KeyedDigits(int rows = 300)
    {
        var ml = new MLContext(seed: 3);
        var data = ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(rows));
        return (ml, ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data));
    }

    [Fact]
    public void A_conditional_dcgan_draws_images_saves_and_scores_with_its_discriminator()
    {
        var (ml, digits) = KeyedDigits();
        var options = new GenerativeAdversarialNetworkEstimator.Options
        {
            LabelColumnName = "Label",
            Kind = GanKind.Convolutional,
            ImageShape = [1, 8, 8],
            Filters = 8,
            Epochs = 2,
            ValidationFraction = 0.2,
        };

        using var generator = ml.Transforms.GenerateByAdversarialNetwork(options).Fit(digits);
        var drawn = ml.Data.Generate(generator, 25, label: "4", seed: 1);

        Assert.Equal(25, drawn.GetColumn<VBuffer<float>>("Features").Count(v => v.Length == 64 && v.DenseValues().All(float.IsFinite)));
        Assert.Contains("ConvTranspose2d", generator.NetworkSummary);
        Assert.All(generator.History.Epochs, e => Assert.Equal(4, e.ValidationLosses!.Count));
        using var stream = new MemoryStream();
        ml.Model.Save(generator, null, stream);
        stream.Position = 0;
        using var loaded = Assert.IsType<NetworkTransformer>(DeepArchModel.Load(new MLContext(), stream, out _));
        Assert.Equal(GenerativeAdversarialNetworkTests.Rows(drawn), GenerativeAdversarialNetworkTests.Rows(ml.Data.Generate(loaded, 25, label: "4", seed: 1)));
        using var discriminator = ml.Transforms.ScoreByDiscriminator(loaded, new DiscriminatorScoringEstimator.Options { ScoringBatchSize = 7 }).Fit(digits);
        Assert.All(discriminator.Transform(digits).GetColumn<float>("Probability"), p => Assert.InRange(p, 0f, 1f));
        Assert.Equal(7, discriminator.ScoringBatchSize);
    }

    private sealed class WineRow
    {
        [VectorType(13)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void An_unconditional_gan_learns_tabular_rows_in_their_units()
    {
        var ml = new MLContext(seed: 4);
        var rows = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "wine.csv")).Skip(1)
            .Select(l => new WineRow { Features = l.Split(',').Take(13).Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray() }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);

        using var generator = ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options
        {
            Epochs = 150,
            BatchSize = 32,
            GeneratorLayers = [64],
            DiscriminatorLayers = [64],
            GeneratorAverage = 0.99,
        }).Fit(data);
        var drawn = GenerativeAdversarialNetworkTests.Rows(ml.Data.Generate(generator, 500, seed: 2));

        Assert.Single(ml.Data.Generate(generator, 3, seed: 2).Schema);
        for (int f = 0; f < 13; f++)
        {
            double realMean = rows.Average(r => r.Features[f]), realSd = Math.Sqrt(rows.Average(r => Math.Pow(r.Features[f] - realMean, 2)));
            double mean = drawn.Average(r => r[f]);
            Assert.True(Math.Abs(mean - realMean) < realSd, $"feature {f}: drawn mean {mean:G4}, real {realMean:G4} (sd {realSd:G4})");
            Assert.All(drawn, r => Assert.InRange(r[f], rows.Min(x => x.Features[f]) - 1e-3f, rows.Max(x => x.Features[f]) + 1e-3f));
        }
        Assert.Contains("trained without labels", Assert.Throws<ArgumentException>(() => ml.Data.Generate(generator, 3, label: "1")).Message);
    }

    [Fact]
    public void Fit_names_the_column_or_option_that_does_not_fit_the_data()
    {
        var (ml, digits) = KeyedDigits(40);
        var raw = ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(100));

        var fewRows = Assert.Throws<InvalidOperationException>(() => ml.Transforms.GenerateByAdversarialNetwork().Fit(digits));
        Assert.Contains("has 40 training rows, fewer than Options.BatchSize (64)", fewRows.Message);

        var notKey = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label", batchSize: 16).Fit(raw));
        Assert.Contains("Label", notKey.Message);
        Assert.Contains("Key<UInt32>", notKey.Message);

        var shape = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.GenerateByAdversarialNetwork(imageShape: [1, 4, 4], batchSize: 16).Fit(raw));
        Assert.Contains("Options.ImageShape [1, 4, 4] holds 16 values but feature column 'Features' has 64", shape.Message);

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.GenerateByAdversarialNetwork(featureColumnName: "Pixels").Fit(raw));
        Assert.Contains("Pixels", missing.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Class").GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(raw.Schema)));
    }
}
