using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;
using static DeepArch.MLNet.Tests.Transforms.AutoencoderTransformData;

namespace DeepArch.MLNet.Tests.Transforms;

/// <summary>ReconstructByAutoencoder (denoising: the cleaned signal) and DecodeByAutoencoder (codes back to inputs).</summary>
public class AutoencoderReconstructionTests(ITestOutputHelper output)
{
    [Fact]
    public void Denoising_reconstruction_is_closer_to_the_clean_signal_than_the_noisy_input()
    {
        var ml = new MLContext(seed: 2);
        const float noise = 0.15f;
        var train = ml.Data.LoadFromEnumerable(Signals(2000, noise, seed: 1));
        var test = ml.Data.LoadFromEnumerable(Signals(300, noise, seed: 2));
        var options = Small(new AutoencoderReconstructingEstimator.Options(), "Cleaned", "Clean", AutoencoderKind.Denoising, epochs: 40);
        options.LayerSizes = [24, 12];
        options.GaussianNoise = noise;
        var estimator = ml.Transforms.ReconstructByAutoencoder(options);

        // Trained on clean frames corrupted on the fly; applied to noisy frames it should give back clean ones.
        using var model = estimator.Fit(train);
        var cleaned = Apply(ml, model, test);

        float[][] clean = Column(test, "Clean"), noisy = Column(test, "Noisy"), denoised = Column(cleaned, "Cleaned");
        double before = MeanSquaredError(noisy, clean), after = MeanSquaredError(denoised, clean);
        output.WriteLine($"mean squared error against the clean frames: noisy input {before:F5}, denoised {after:F5} ({after / before:P1} of the noise)");
        Assert.True(after < 0.5 * before, $"denoised {after:F5} vs noisy {before:F5}");
        var e = estimator.GetOutputSchema(SchemaShapes.Create(test.Schema)).Single(c => c.Name == "Cleaned");
        var a = SchemaShapes.Create(model.Transform(test).Schema).Single(c => c.Name == "Cleaned");
        Assert.Equal((e.Kind, e.ItemType), (a.Kind, a.ItemType));
        Assert.Equal(Length, ((VectorDataViewType)model.Transform(test).Schema["Cleaned"].Type).Size);
    }

    /// <summary>Runs <paramref name="model"/>, fitted on "Clean", on the "Noisy" column.</summary>
    private static IDataView Apply(MLContext ml, NetworkTransformer model, IDataView data)
    {
        var noisyAsClean = ml.Transforms.DropColumns("Clean").Append(ml.Transforms.CopyColumns("Clean", "Noisy")).Fit(data).Transform(data);
        return model.Transform(noisyAsClean);
    }

    [Fact]
    public void The_decoder_of_the_featurizer_gives_the_reconstruction_of_the_same_network()
    {
        var (ml, train, test) = Digits();
        // Same options, seed and data: the featurizer and the reconstructor train the same network.
        using var featurizer = ml.Transforms.FeaturizeByAutoencoder(Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", epochs: 5)).Fit(train);
        using var reconstructor = ml.Transforms.ReconstructByAutoencoder(Small(new AutoencoderReconstructingEstimator.Options(), "Reconstruction", "Features", epochs: 5)).Fit(train);
        var coded = featurizer.Transform(test);
        var decoderEstimator = ml.Transforms.DecodeByAutoencoder(featurizer, "Decoded", "Code");
        using var decoder = decoderEstimator.Fit(coded);

        var decoded = decoder.Transform(coded);
        double difference = MaxAbsDifference(Column(decoded, "Decoded"), Column(reconstructor.Transform(test), "Reconstruction"));

        output.WriteLine($"decode(encode(x)) vs the reconstruction: max abs difference {difference:E2}");
        Assert.True(difference <= 1e-5, $"{difference}");
        Assert.Equal(8, decoderEstimator.CodeSize);
        Assert.Equal("Code", decoder.FeatureColumnName);
        Assert.Equal(64, ((VectorDataViewType)decoded.Schema["Decoded"].Type).Size);
        var e = decoderEstimator.GetOutputSchema(SchemaShapes.Create(coded.Schema)).Single(c => c.Name == "Decoded");
        var a = SchemaShapes.Create(decoded.Schema).Single(c => c.Name == "Decoded");
        Assert.Equal((e.Kind, e.ItemType), (a.Kind, a.ItemType));
        // The decoder's graph, renamed to the code and output columns and sealed again, passes the checker and its integrity check.
        using var onnx = new MemoryStream();
        decoder.SaveOnnx(onnx);
        OnnxAssert.CheckModel(onnx.ToArray());
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-decoder-{Guid.NewGuid():N}.onnx");
        try
        {
            decoder.SaveOnnx(path);
            using var loaded = DeepArchModel.LoadOnnx(path);
            Assert.True(MaxAbsDifference(Column(decoded, "Decoded"), Column(loaded.Transform(coded), "Decoded")) <= 1e-6);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Decoders_generate_from_chosen_latent_points_and_save_and_load_both_ways()
    {
        var (ml, train, _) = Digits();
        var options = Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", AutoencoderKind.Variational, epochs: 5);
        options.LayerSizes = [32, 2];
        var featurizer = ml.Transforms.FeaturizeByAutoencoder(options).Fit(train);
        // The featurizer saved and loaded back still has its decoder.
        using var saved = new MemoryStream();
        ml.Model.Save(featurizer, train.Schema, saved);
        saved.Position = 0;
        var loadedFeaturizer = Assert.IsType<NetworkTransformer>(DeepArchModel.Load(new MLContext(), saved, out _));
        var lattice = ml.Data.LoadFromEnumerable(
            from x in Enumerable.Range(-2, 5) from y in Enumerable.Range(-2, 5) select new LatentPoint { Z = [x, y] });

        var decoder = ml.Transforms.DecodeByAutoencoder(featurizer, new AutoencoderDecodingEstimator.Options { OutputColumnName = "Pixels", InputColumnName = "Z", ScoringBatchSize = 4 }).Fit(lattice);
        using var fromLoaded = ml.Transforms.DecodeByAutoencoder(loadedFeaturizer, "Pixels", "Z").Fit(lattice);
        float[][] pixels = Column(decoder.Transform(lattice), "Pixels");
        Assert.Equal(25, pixels.Length);
        Assert.True(MaxAbsDifference(pixels, Column(fromLoaded.Transform(lattice), "Pixels")) <= 1e-6);

        using var stream = new MemoryStream();
        ml.Model.Save(decoder, lattice.Schema, stream);
        var fresh = new MLContext();
        stream.Position = 0;
        var batched = DeepArchModel.Load(fresh, stream, out _);
        DeepArchModel.Register(fresh);
        stream.Position = 0;
        var plain = fresh.Model.Load(stream, out _);
        Assert.IsType<NetworkTransformer>(batched);
        Assert.True(MaxAbsDifference(pixels, Column(batched.Transform(lattice), "Pixels")) <= 1e-5);
        Assert.True(MaxAbsDifference(pixels, Column(plain.Transform(lattice), "Pixels")) <= 1e-5);
        using var engine = ml.Model.CreatePredictionEngine<LatentPoint, PixelRow>(decoder);
        Assert.True(MaxAbsDifference([pixels[7]], [engine.Predict(new LatentPoint { Z = [-1, 0] }).Pixels]) <= 1e-5);
        // Different latent points decode to different digits.
        Assert.True(MaxAbsDifference([pixels[0]], [pixels[24]]) > 0.1);
    }

    [Fact]
    public void Reconstruction_saves_and_both_load_paths_give_identical_values()
    {
        var (ml, train, test) = Digits();
        var model = ml.Transforms.ReconstructByAutoencoder(Small(new AutoencoderReconstructingEstimator.Options(), "Features", null, AutoencoderKind.Tied, epochs: 3)).Fit(train);
        using var stream = new MemoryStream();
        ml.Model.Save(model, train.Schema, stream);
        var fresh = new MLContext();
        stream.Position = 0;
        var batched = DeepArchModel.Load(fresh, stream, out _);
        DeepArchModel.Register(fresh);
        stream.Position = 0;
        var plain = fresh.Model.Load(stream, out _);

        float[][] before = Column(model.Transform(test), "Features");
        Assert.Equal(64, before[0].Length);
        foreach (var reloaded in new[] { batched, plain })
        {
            var after = reloaded.Transform(test);
            Assert.Equal(model.Transform(test).Schema["Features"].Type, after.Schema["Features"].Type);
            Assert.True(MaxAbsDifference(before, Column(after, "Features")) <= 1e-5);
        }
    }

    [Fact]
    public void Bad_input_gives_errors_that_name_the_option_or_column()
    {
        var (ml, train, _) = Digits();

        var overcomplete = Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features");
        overcomplete.LayerSizes = [32, 64];
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder(overcomplete).Fit(train));
        Assert.Contains("Options.LayerSizes", error.Message);
        Assert.Contains("code size of 64", error.Message);
        Assert.Contains("64 values of input column 'Features'", error.Message);
        output.WriteLine(error.Message);
        // A sparse code may be overcomplete.
        overcomplete.Kind = AutoencoderKind.Sparse;
        overcomplete.ActivityL1 = 1e-3f;
        overcomplete.Epochs = 1;
        using (ml.Transforms.FeaturizeByAutoencoder(overcomplete).Fit(train))
        {
        }

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder("Code", "Pixels").Fit(train));
        Assert.Contains("Could not find input column 'Pixels'", missing.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder("Code", "Pixels").GetOutputSchema(SchemaShapes.Create(train.Schema)));
        var text = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder("Code", "Label").Fit(
            ml.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(train)));
        Assert.Contains("Schema mismatch for input column 'Label'", text.Message);

        var noisy = ml.Data.LoadFromEnumerable(Datasets.DigitRows.Take(50).Select((r, i) => new Datasets.DigitRow
        {
            Features = i == 9 ? [.. r.Features[..3], float.NaN, .. r.Features[4..]] : r.Features,
            Label = r.Label,
        }));
        var nan = Assert.Throws<InvalidOperationException>(() => ml.Transforms.FeaturizeByAutoencoder("Code", "Features").Fit(noisy));
        Assert.Contains("'Features'", nan.Message);
        Assert.Contains("row 9, slot 3", nan.Message);

        var badOption = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder(
            new AutoencoderFeaturizingEstimator.Options { OutputColumnName = "Code", MaskingProbability = 1 }));
        Assert.Contains("Options.MaskingProbability must be in [0, 1); got 1", badOption.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder("", "Features"));

        using var mlp = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(hiddenLayers: [4], epochs: 1))
            .Fit(train).LastTransformer;
        var notAutoencoder = Assert.Throws<ArgumentException>(() => ml.Transforms.DecodeByAutoencoder(mlp, "Pixels", "Code"));
        Assert.Contains("FeaturizeByAutoencoder or ReconstructByAutoencoder", notAutoencoder.Message);
        using var featurizer = ml.Transforms.FeaturizeByAutoencoder(Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", epochs: 1)).Fit(train);
        var wrongSize = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DecodeByAutoencoder(featurizer, "Pixels", "Features").Fit(train));
        Assert.Contains("Schema mismatch for input column 'Features': expected Vector<Single, 8>, got Vector<Single, 64>", wrongSize.Message);
    }

    private sealed class LatentPoint
    {
        [VectorType(2)]
        public float[] Z { get; set; } = [];
    }

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }
}
