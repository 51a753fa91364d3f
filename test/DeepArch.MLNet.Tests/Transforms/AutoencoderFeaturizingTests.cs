using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;
using static DeepArch.MLNet.Tests.Transforms.AutoencoderTransformData;

namespace DeepArch.MLNet.Tests.Transforms;

/// <summary>FeaturizeByAutoencoder: trains in Fit, outputs the code, feeds a later trainer, saves and loads.</summary>
public class AutoencoderFeaturizingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(AutoencoderKind.Deep)]
    [InlineData(AutoencoderKind.Tied)]
    [InlineData(AutoencoderKind.Sparse)]
    [InlineData(AutoencoderKind.Denoising)]
    [InlineData(AutoencoderKind.Variational)]
    public void Each_kind_trains_and_its_output_schema_equals_the_estimators(AutoencoderKind kind)
    {
        var (ml, train, test) = Digits();
        var options = Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", kind, epochs: 3);
        options.SparsityWeight = kind == AutoencoderKind.Sparse ? 0.1f : 0;
        var estimator = ml.Transforms.FeaturizeByAutoencoder(options);

        using var model = estimator.Fit(train);
        var scored = model.Transform(test);

        var e = estimator.GetOutputSchema(SchemaShapes.Create(test.Schema)).Single(c => c.Name == "Code");
        var a = SchemaShapes.Create(scored.Schema).Single(c => c.Name == "Code");
        Assert.Equal(e.ItemType, a.ItemType);
        Assert.Equal(e.Kind, a.Kind);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, 8), scored.Schema["Code"].Type);
        float[][] codes = Column(scored, "Code");
        Assert.Equal(Column(test, "Features").Length, codes.Length);
        Assert.All(codes, c => Assert.All(c, v => Assert.True(float.IsFinite(v))));
        Assert.Equal(3, model.History.Epochs.Count);
    }

    [Fact]
    public void The_code_feeds_a_linear_trainer_in_the_same_pipeline()
    {
        var (ml, train, test) = Digits();
        var sdcaOptions = new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options { LabelColumnName = "Label", FeatureColumnName = "Code", NumberOfThreads = 1, MaximumNumberOfIterations = 30 };
        var onCode = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.FeaturizeByAutoencoder(Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", epochs: 30)))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(sdcaOptions));
        var onRaw = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "Label", FeatureColumnName = "Features", NumberOfThreads = 1, MaximumNumberOfIterations = 30,
            }));

        var codeMetrics = ml.MulticlassClassification.Evaluate(onCode.Fit(train).Transform(test));
        var rawMetrics = ml.MulticlassClassification.Evaluate(onRaw.Fit(train).Transform(test));

        output.WriteLine($"SdcaMaximumEntropy on the 8-value autoencoder code: test accuracy {codeMetrics.MicroAccuracy:F4}");
        output.WriteLine($"SdcaMaximumEntropy on the 64 raw pixels:           test accuracy {rawMetrics.MicroAccuracy:F4}");
        Assert.True(codeMetrics.MicroAccuracy >= 0.85, $"accuracy on the code {codeMetrics.MicroAccuracy:F4}");
        Assert.True(rawMetrics.MicroAccuracy >= 0.90, $"accuracy on the raw pixels {rawMetrics.MicroAccuracy:F4}");
    }

    [Fact]
    public void In_place_pipeline_saves_and_both_load_paths_give_identical_codes_and_predictions()
    {
        var (ml, train, test) = Digits();
        // The code replaces "Features" (the ONNX output then has a temporary name), and the trainer reads "Features".
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.FeaturizeByAutoencoder(Small(new AutoencoderFeaturizingEstimator.Options(), "Features", null, epochs: 10)))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new Microsoft.ML.Trainers.SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1, MaximumNumberOfIterations = 10 }));
        var model = pipeline.Fit(train);
        using var stream = new MemoryStream();
        ml.Model.Save(model, train.Schema, stream);
        var fresh = new MLContext();
        stream.Position = 0;
        var batched = DeepArchModel.Load(fresh, stream, out _);
        DeepArchModel.Register(fresh);
        stream.Position = 0;
        var plain = fresh.Model.Load(stream, out _);

        var before = model.Transform(test);
        float[][] codes = Column(before, "Features");
        float[][] scores = Column(before, "Score");
        Assert.Contains(Flatten(batched), t => t is NetworkTransformer);
        foreach (var reloaded in new[] { batched, plain })
        {
            var after = reloaded.Transform(test);
            // After a plain load ML.NET's OnnxTransformer computes the code: the same type, which the trainer fitted after it checks.
            Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, 8), after.Schema["Features"].Type);
            Assert.True(MaxAbsDifference(codes, Column(after, "Features")) <= 1e-5);
            Assert.True(MaxAbsDifference(scores, Column(after, "Score")) <= 1e-5);
            Assert.Equal(ml.MulticlassClassification.Evaluate(before).MicroAccuracy, fresh.MulticlassClassification.Evaluate(after).MicroAccuracy, 1e-9);
        }
    }

    [Fact]
    public void Batched_scoring_and_PredictionEngine_give_the_same_codes()
    {
        var (ml, train, test) = Digits();
        var options = Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", epochs: 3);
        options.ScoringBatchSize = 7;
        using var model = ml.Transforms.FeaturizeByAutoencoder(options).Fit(train);
        Assert.Equal(7, model.ScoringBatchSize);
        float[][] batched = Column(model.Transform(test), "Code");

        var engine = ml.Model.CreatePredictionEngine<Datasets.DigitRow, CodeRow>(model, new PredictionEngineOptions { OwnsTransformer = false });
        var rows = ml.Data.CreateEnumerable<Datasets.DigitRow>(test, reuseRowObject: false).ToArray();
        float[][] single = rows.Select(r => engine.Predict(r).Code).ToArray();

        Assert.True(MaxAbsDifference(batched, single) <= 1e-5);
    }

    [Fact]
    public void Input_columns_not_named_Features_are_the_onnx_input_name()
    {
        var (ml, train, test) = Digits();
        var rename = ml.Transforms.CopyColumns("Pixels", "Features");
        using var model = ml.Transforms.FeaturizeByAutoencoder(Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Pixels", epochs: 2)).Fit(rename.Fit(train).Transform(train));
        Assert.Equal("Pixels", model.FeatureColumnName);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-featurizer-{Guid.NewGuid():N}.onnx");
        try
        {
            model.SaveOnnx(path);
            using var loaded = DeepArchModel.LoadOnnx(path);
            var data = rename.Fit(test).Transform(test);
            Assert.True(MaxAbsDifference(Column(model.Transform(data), "Code"), Column(loaded.Transform(data), "Code")) <= 1e-6);
            OnnxAssert.CheckModel(File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_decoder_is_its_own_metadata_entry_beside_the_model_info_and_a_standalone_file_still_decodes()
    {
        var (ml, train, test) = Digits();
        using var model = ml.Transforms.FeaturizeByAutoencoder(Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", epochs: 2)).Fit(train);
        using var stream = new MemoryStream();
        model.SaveOnnx(stream);
        var proto = DeepArch.Trainers.Onnx.Proto.ModelProto.Parser.ParseFrom(stream.ToArray());
        string json = proto.MetadataProps.Single(p => p.Key == ModelInfo.MetadataKey).Value;
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-featurizer-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, stream.ToArray());
        try
        {
            using var loaded = DeepArchModel.LoadOnnx(path);
            var codes = model.Transform(test);
            using var decoder = ml.Transforms.DecodeByAutoencoder(model, "Decoded", "Code").Fit(codes);
            using var reloadedDecoder = ml.Transforms.DecodeByAutoencoder(loaded, "Decoded", "Code").Fit(codes);

            Assert.Single(proto.MetadataProps, p => p.Key == ModelInfo.DecoderKey);
            Assert.DoesNotContain("decoder", json, StringComparison.OrdinalIgnoreCase);
            Assert.Contains($"\"format\":{ModelInfo.CurrentFormat}", json);
            Assert.Equal(Column(decoder.Transform(codes), "Decoded"), Column(reloadedDecoder.Transform(codes), "Decoded"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Fit_with_a_validation_set_validates_every_epoch_and_can_stop_early()
    {
        var (ml, train, test) = Digits();
        var options = Small(new AutoencoderFeaturizingEstimator.Options(), "Code", "Features", epochs: 30);
        options.EarlyStoppingPatience = 2;
        options.LearningRate = 0.05;

        using var model = ml.Transforms.FeaturizeByAutoencoder(options).Fit(train, test);

        Assert.All(model.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
        Assert.Equal(model.History.Epochs.Min(e => e.ValidationLoss), model.History.Best.ValidationLoss);
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
        => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [t];

    private sealed class CodeRow
    {
        [VectorType(8)]
        public float[] Code { get; set; } = [];
    }
}
