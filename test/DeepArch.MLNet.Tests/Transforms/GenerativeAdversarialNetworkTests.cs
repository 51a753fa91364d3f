using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Transforms;

/// <summary>
/// A conditional GAN trained once on the bundled digits with default options (the stratified 70/30 split, seed 1), shared by
/// the tests that read it: the quality bar, drawing rows, both load paths, the discriminator.
/// </summary>
public sealed class DigitsGan : IDisposable
{
    public DigitsGan()
    {
        Ml = new MLContext(seed: 1);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        Keys = Ml.Transforms.Conversion.MapValueToKey("Label").Fit(Ml.Data.LoadFromEnumerable(train));
        var keys = Keys;
        Train = keys.Transform(Ml.Data.LoadFromEnumerable(train));
        Test = keys.Transform(Ml.Data.LoadFromEnumerable(test));
        TrainCount = train.Count;
        Generator = Ml.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label").Fit(Train);
        Drawn = Ml.Data.Generate(Generator, TrainCount, seed: 3);
        Metrics = Ml.Data.EvaluateGenerated(Train, Drawn, Test, labelColumnName: "Label", imageShape: [1, 8, 8]);
    }

    public MLContext Ml { get; }

    /// <summary>The label's MapValueToKey, fitted on the training rows.</summary>
    public ITransformer Keys { get; }

    /// <summary>Noise rows of the generator's size with the digit labels <paramref name="labels"/>, mapped to the training keys.</summary>
    public IDataView NoiseRows(params float[] labels)
    {
        var random = new Random(2);
        var rows = labels.Select(label => new NoiseRow { Noise = Enumerable.Range(0, 32).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), Label = label }).ToArray();
        return Keys.Transform(Ml.Data.LoadFromEnumerable(rows));
    }

    public sealed class NoiseRow
    {
        [VectorType(32)]
        public float[] Noise { get; set; } = [];

        public float Label { get; set; }
    }

    public IDataView Train { get; }

    public IDataView Test { get; }

    public int TrainCount { get; }

    public NetworkTransformer Generator { get; }

    public IDataView Drawn { get; }

    public GeneratedDataMetrics Metrics { get; }

    public void Dispose() => Generator.Dispose();
}

public class GenerativeAdversarialNetworkTests(DigitsGan gan, ITestOutputHelper output) : IClassFixture<DigitsGan>
{
    [Fact]
    public void With_default_options_the_digits_it_draws_beat_a_per_label_gaussian()
    {
        var m = gan.Metrics;
        var b = m.GaussianBaseline!;
        output.WriteLine($"GAN:      label accuracy {m.LabelAccuracy:F3}, Frechet {m.FrechetDistance:F2} (floor {m.FrechetDistanceFloor:F2}), " +
            $"precision {m.Precision:F3}, recall {m.Recall:F3}, nearest training row {m.NearestTrainingDistance:F2} (held-out rows: {m.HeldOutNearestTrainingDistance:F2})");
        output.WriteLine($"Gaussian: label accuracy {b.LabelAccuracy:F3}, Frechet {b.FrechetDistance:F2}, precision {b.Precision:F3}, recall {b.Recall:F3}, " +
            $"nearest training row {b.NearestTrainingDistance:F2}");

        Assert.True(m.LabelAccuracy >= 0.95, $"label accuracy {m.LabelAccuracy:F3}");
        Assert.True(m.FrechetDistance <= b.FrechetDistance / 2, $"Frechet distance {m.FrechetDistance:F2}, Gaussian's {b.FrechetDistance:F2}");
        Assert.True(m.Recall >= 0.5, $"recall {m.Recall:F3}");
        Assert.True(m.NearestTrainingDistance > 0.5 * m.HeldOutNearestTrainingDistance!.Value, "the generator copies its training rows");
        Assert.Equal(gan.Generator.History.Epochs.Count, new GenerativeAdversarialNetworkEstimator.Options().Epochs);
        Assert.All(gan.Generator.History.Epochs, e => Assert.Equal(["discriminator", "generator", "D(x)", "D(G(z))"], e.Losses!.Keys));
    }

    [Fact]
    public void Drawn_rows_have_the_training_columns_and_a_seed_repeats_them()
    {
        var features = gan.Drawn.Schema["Features"];
        var label = gan.Drawn.Schema["Label"];

        Assert.Equal(gan.Train.Schema["Features"].Type, features.Type);
        Assert.Equal(gan.Train.Schema["Label"].Type, label.Type);
        VBuffer<float> trainKeys = default, drawnKeys = default;
        gan.Train.Schema["Label"].GetKeyValues(ref trainKeys);
        label.GetKeyValues(ref drawnKeys);
        Assert.Equal(trainKeys.DenseValues(), drawnKeys.DenseValues());
        Assert.Equal(gan.TrainCount, gan.Drawn.GetRowCount());
        Assert.Equal(Rows(gan.Drawn), Rows(gan.Ml.Data.Generate(gan.Generator, gan.TrainCount, seed: 3)));
        Assert.NotEqual(Rows(gan.Drawn), Rows(gan.Ml.Data.Generate(gan.Generator, gan.TrainCount, seed: 4)));
        float[][] pixels = Rows(gan.Drawn);
        Assert.All(pixels.SelectMany(r => r), v => Assert.InRange(v, -1e-4f, 16.0001f)); // the training range of every pixel is within [0, 16]

        var labels = gan.Drawn.GetColumn<uint>("Label").ToArray();
        var frequencies = Enumerable.Range(1, 10).Select(k => labels.Count(l => l == k) / (double)labels.Length);
        Assert.All(frequencies, f => Assert.InRange(f, 0.06, 0.14)); // about a tenth each, as in the training rows
    }

    [Fact]
    public void Rows_of_one_label_are_classified_as_that_label()
    {
        var sevens = gan.Ml.Data.Generate(gan.Generator, 200, label: "7", seed: 5);
        var classifier = gan.Ml.MulticlassClassification.Trainers.MultilayerPerceptron(labelColumnName: "Label").Fit(gan.Train);

        var predicted = gan.Ml.Transforms.Conversion.MapKeyToValue("Seen", "PredictedLabel").Fit(classifier.Transform(sevens)).Transform(classifier.Transform(sevens));

        Assert.All(sevens.GetColumn<uint>("Label"), k => Assert.Equal(8u, k)); // the key of label value 7
        double share = predicted.GetColumn<float>("Seen").Count(v => v == 7) / 200.0;
        Assert.True(share >= 0.9, $"{share:P0} of the rows drawn as 7 are classified as 7");
    }

    [Fact]
    public void Both_load_paths_give_the_same_rows_for_the_same_noise()
    {
        var noise = gan.NoiseRows(Enumerable.Range(0, 40).Select(i => (float)(i % 10)).ToArray());
        float[][] expected = Rows(gan.Generator.Transform(noise));
        string plainPath = Path.Combine(Path.GetTempPath(), $"deeparch-gan-{Guid.NewGuid():N}.zip");
        string deepArchPath = Path.Combine(Path.GetTempPath(), $"deeparch-gan-{Guid.NewGuid():N}.zip");
        try
        {
            gan.Ml.Model.Save(gan.Generator, noise.Schema, plainPath);
            DeepArchModel.Save(gan.Ml, gan.Generator, noise.Schema, deepArchPath);
            // The training data's schema has no noise column: refused when saving, where the file it made could not be loaded.
            var wrongSchema = Assert.Throws<ArgumentException>(() => DeepArchModel.Save(gan.Ml, gan.Generator, gan.Train.Schema, new MemoryStream()));
            Assert.Equal("inputSchema", wrongSchema.ParamName);
            Assert.Contains("Noise", wrongSchema.Message, StringComparison.Ordinal);
            Assert.Contains("the noise rows' schema", wrongSchema.Message, StringComparison.Ordinal);
            var ml = new MLContext();
            DeepArchModel.Register(ml);
            var plain = ml.Model.Load(plainPath, out _);
            var loaded = Assert.IsType<NetworkTransformer>(DeepArchModel.Load(ml, plainPath, out _));
            using var viaManifest = Assert.IsType<NetworkTransformer>(DeepArchModel.Load(ml, deepArchPath, out _));
            Assert.Equal(expected, Rows(viaManifest.Transform(noise)));

            AssertClose(expected, Rows(plain.Transform(noise)));
            Assert.Equal(expected, Rows(loaded.Transform(noise)));
            Assert.Equal(Rows(gan.Drawn), Rows(ml.Data.Generate(loaded, gan.TrainCount, seed: 3)));
            var engine = ml.Model.CreatePredictionEngine<KeyedNoiseRow, GeneratedRow>(loaded);
            var row = noise.GetColumn<float[]>("Noise").First();
            Assert.Equal(expected[0], engine.Predict(new KeyedNoiseRow { Noise = row, Label = 0 }).Features);
            loaded.Dispose();
        }
        finally
        {
            File.Delete(plainPath);
            File.Delete(deepArchPath);
        }
    }

    /// <summary>A noise row with the label as a key of 10 values; a key property is 0-based (ML.NET stores it plus one).</summary>
    private sealed class KeyedNoiseRow
    {
        [VectorType(32)]
        public float[] Noise { get; set; } = [];

        [KeyType(10)]
        public uint Label { get; set; }
    }

    private sealed class GeneratedRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];
    }

    [Fact]
    public void The_discriminator_scores_real_rows_above_rows_of_noise()
    {
        var discriminator = gan.Ml.Transforms.ScoreByDiscriminator(gan.Generator).Fit(gan.Test);
        var random = new Random(6);
        var noise = gan.Ml.Data.LoadFromEnumerable(Enumerable.Range(0, 200).Select(i => new Datasets.DigitRow
        {
            Features = Enumerable.Range(0, 64).Select(_ => (float)random.Next(17)).ToArray(),
            Label = i % 10,
        }));
        var noiseKeyed = gan.Ml.Transforms.Conversion.MapValueToKey("Label").Fit(noise).Transform(noise);

        double real = discriminator.Transform(gan.Test).GetColumn<float>("Probability").Average();
        double fake = discriminator.Transform(noiseKeyed).GetColumn<float>("Probability").Average();

        output.WriteLine($"mean P(real): held-out digits {real:F3}, uniform noise {fake:F3}");
        Assert.True(real > fake + 0.2, $"held-out digits {real:F3}, noise {fake:F3}");
        Assert.Contains(discriminator.Transform(gan.Test).Schema, c => c.Name == "PredictedLabel" && c.Type == BooleanDataViewType.Instance);
        discriminator.Dispose();
    }

    [Fact]
    public void Drawn_rows_append_to_real_rows_in_one_line()
    {
        var real = gan.Ml.Transforms.SelectColumns("Features", "Label").Fit(gan.Train).Transform(gan.Train);

        var augmented = gan.Ml.Data.AppendRows(real, gan.Ml.Data.Generate(gan.Generator, 100, label: "3", seed: 1));

        Assert.Equal(gan.TrainCount + 100, augmented.GetRowCount());
        Assert.Equal(gan.TrainCount + 100, augmented.GetColumn<uint>("Label").Count());
        Assert.Equal(100 + real.GetColumn<uint>("Label").Count(k => k == 4), augmented.GetColumn<uint>("Label").Count(k => k == 4));
        // The transformer's own rows (Vector<Single, 1, 64>, the type a plain load gives them) append as well: same values, other dimensions.
        var transformed = gan.Ml.Transforms.SelectColumns("Features", "Label").Fit(gan.Generator.Transform(gan.NoiseRows(3, 5))).Transform(gan.Generator.Transform(gan.NoiseRows(3, 5)));
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, 64), transformed.Schema["Features"].Type);
        var appended = gan.Ml.Data.AppendRows(real, transformed);
        Assert.Equal(real.Schema["Features"].Type, appended.Schema["Features"].Type);
        Assert.Equal(Rows(transformed), Rows(appended).Skip(gan.TrainCount).ToArray());
        var unkeyed = gan.Ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(5));
        var error = Assert.Throws<ArgumentException>(() => gan.Ml.Data.AppendRows(real, unkeyed));
        Assert.Contains("Column 'Label' is Single in data view 1 but Key<UInt32, 0-9> in the first", error.Message);
        var fewer = gan.Ml.Transforms.SelectColumns("Features").Fit(unkeyed).Transform(unkeyed);
        Assert.Contains("Data view 1 has no column 'Label', which the first has", Assert.Throws<ArgumentException>(() => gan.Ml.Data.AppendRows(real, fewer)).Message);

        // The same key type with other key values (keys in another order) would pair the wrong digits: refused, in both places.
        var reordered = ReorderedKeys(real);
        Assert.Contains("Key column 'Label': key 1 is '0' in the first data view but '9' in data view 1",
            Assert.Throws<ArgumentException>(() => gan.Ml.Data.AppendRows(real, reordered)).Message);
        Assert.Contains("Label column 'Label': key 1 is '0' in the real rows but '9' in the generated ones",
            Assert.Throws<ArgumentException>(() => gan.Ml.Data.EvaluateGenerated(real, reordered, labelColumnName: "Label")).Message);
    }

    /// <summary>The rows of <paramref name="keyed"/> with the label keyed anew, digit 9 first: the same key type, other key values.</summary>
    private IDataView ReorderedKeys(IDataView keyed)
    {
        var rows = Datasets.DigitRows.GroupBy(r => r.Label).OrderByDescending(g => g.Key).SelectMany(g => g.Take(20)).ToArray();
        var view = gan.Ml.Data.LoadFromEnumerable(rows);
        var mapped = gan.Ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        return gan.Ml.Transforms.SelectColumns("Features", "Label").Fit(mapped).Transform(mapped);
    }

    [Fact]
    public void Bad_labels_noise_and_columns_give_clear_errors()
    {
        var unknown = Assert.Throws<ArgumentException>(() => gan.Ml.Data.Generate(gan.Generator, 5, label: "42"));
        Assert.Contains("'42' is not a label the model was trained on; it knows '0', '1'", unknown.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => gan.Ml.Data.Generate(gan.Generator, -1));
        // A draw larger than half the memory the process may use is refused before anything is allocated (an outside probe asked 40
        // million rows: 140 s and 1 GB; the limit allowed an 8.6 GB array). Checked with a given memory, not this machine's.
        var tooMany = Assert.Throws<InsufficientMemoryException>(() => DeepArch.MLNet.GeneratedRows.CheckMemory(1_000_000, 64, available: 200_000_000));
        Assert.StartsWith("Generating 1,000,000 rows of 64 values needs about ", tooMany.Message);
        Assert.Contains("draw the rows in parts", tooMany.Message);
        DeepArch.MLNet.GeneratedRows.CheckMemory(100_000, 64, available: 200_000_000);

        var shortNoise = gan.Ml.Data.LoadFromEnumerable(new[] { new ShortNoiseRow { Noise = new float[4], Label = 1 } });
        var wrongSize = Assert.ThrowsAny<ArgumentException>(() => gan.Generator.Transform(shortNoise));
        Assert.Contains("Noise", wrongSize.Message);
        Assert.Contains("32", wrongSize.Message);

        var otherKeys = gan.Ml.Data.LoadFromEnumerable(new[] { new FiveLabelRow { Noise = new float[32], Label = 1 } });
        var wrongKey = Assert.ThrowsAny<ArgumentException>(() => gan.Generator.Transform(otherKeys));
        Assert.Contains("Label", wrongKey.Message);
        Assert.Contains("Key<UInt32, 0-9>", wrongKey.Message);

        // The training rows hold no noise: what an estimator chain holding the GAN does after Fit. The error says why and what to do.
        var trainingRows = Assert.Throws<ArgumentOutOfRangeException>(() => gan.Generator.Transform(gan.Train));
        Assert.Contains("Could not find noise column 'Noise': a generator maps noise (32 values of N(0, 1) per row) to rows of 'Features'", trainingRows.Message);
        Assert.Contains("mlContext.Data.Generate(generator, count)", trainingRows.Message);
        Assert.Contains("rather than inside an estimator chain", trainingRows.Message);

        var missing = gan.NoiseRows(3, 42); // 42 is no digit: MapValueToKey gives it the missing key
        var missingKey = Assert.Throws<InvalidOperationException>(() => Rows(gan.Generator.Transform(missing)));
        Assert.Contains("Label column 'Label' has a missing key at row 1", missingKey.Message);

        var unkeyedLabel = gan.Ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(5));
        var notKey = Assert.ThrowsAny<ArgumentException>(() => gan.Ml.Transforms.ScoreByDiscriminator(gan.Generator).Fit(unkeyedLabel));
        Assert.Contains("Schema mismatch for label column 'Label'", notKey.Message);
        Assert.Contains("got Single", notKey.Message);
        var notKeyShape = Assert.ThrowsAny<ArgumentException>(
            () => gan.Ml.Transforms.ScoreByDiscriminator(gan.Generator).GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(unkeyedLabel.Schema)));
        Assert.Contains("Schema mismatch for label column 'Label': expected Key<UInt32>", notKeyShape.Message);
        var tooSmall = Assert.Throws<ArgumentOutOfRangeException>(() => gan.Ml.Data.EvaluateGenerated(gan.Train, gan.Drawn, labelColumnName: "Label", imageShape: [1, 2, 32]));
        Assert.Contains("height and width at least 4", tooSmall.Message);
        var none = Assert.Throws<ArgumentException>(() => gan.Ml.Data.EvaluateGenerated(gan.Train, gan.Ml.Data.Generate(gan.Generator, 0), labelColumnName: "Label"));
        Assert.Equal("The generated data has no rows: evaluating generated rows needs at least 4 real and 4 generated rows.", none.Message);
        var nan = gan.Ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(8).Select((r, i) => new Datasets.DigitRow { Features = r.Features.Select(v => i == 2 ? float.NaN : v).ToArray(), Label = r.Label }));
        var nanError = Assert.Throws<InvalidOperationException>(() => gan.Ml.Data.EvaluateGenerated(gan.Train, gan.Ml.Transforms.SelectColumns("Features").Fit(nan).Transform(nan)));
        Assert.StartsWith("The generated data cannot be evaluated: Feature column 'Features' holds NaN at row 2, slot 0", nanError.Message);

        var notGenerator = Fixtures.Multiclass().Network;
        Assert.Contains("needs a generator fitted by GenerateByAdversarialNetwork", Assert.Throws<ArgumentException>(() => gan.Ml.Data.Generate(notGenerator, 3)).Message);
        Assert.Contains("needs a generator fitted by GenerateByAdversarialNetwork",
            Assert.Throws<ArgumentException>(() => gan.Ml.Transforms.ScoreByDiscriminator(notGenerator)).Message);
    }

    private sealed class ShortNoiseRow
    {
        [VectorType(4)]
        public float[] Noise { get; set; } = [];

        [KeyType(10)]
        public uint Label { get; set; }
    }

    private sealed class FiveLabelRow
    {
        [VectorType(32)]
        public float[] Noise { get; set; } = [];

        [KeyType(5)]
        public uint Label { get; set; }
    }

    internal static float[][] Rows(IDataView data, string column = "Features")
        => data.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();

    private static void AssertClose(float[][] expected, float[][] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int r = 0; r < expected.Length; r++)
        {
            for (int i = 0; i < expected[r].Length; i++)
            {
                Assert.True(Math.Abs(expected[r][i] - actual[r][i]) <= 1e-4, $"row {r}, value {i}: {expected[r][i]} vs {actual[r][i]}");
            }
        }
    }

    [Fact]
    public void A_label_no_training_row_had_is_refused_by_name()
    {
        // The key type knows 0, 1 and 2; the training rows hold only 0 and 1.
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Where(r => r.Label is 0 or 1).Take(120).ToArray();
        var keyData = ml.Data.LoadFromEnumerable(new[] { 0f, 1f, 2f }.Select(v => new LabelOnly { Label = v }));
        var data = ml.Data.LoadFromEnumerable(rows);
        var train = ml.Transforms.Conversion.MapValueToKey("Label", keyData: keyData).Fit(data).Transform(data);
        using var generator = ml.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label", epochs: 1).Fit(train);

        var error = Assert.Throws<ArgumentException>(() => ml.Data.Generate(generator, 3, label: "2", seed: 1));

        Assert.Equal("label", error.ParamName);
        Assert.Contains("Label '2' is a value of the label's key type, but no training row had it", error.Message);
        Assert.Equal(3, ml.Data.Generate(generator, 3, label: "1", seed: 1).GetRowCount());
    }

    private sealed class LabelOnly
    {
        public float Label { get; set; }
    }
}
