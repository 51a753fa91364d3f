using DeepArch.Trainers;
using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;
using EpochReport = DeepArch.Trainers.EpochReport;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// The same stacked autoencoder (64 -> 32 -> 16, sigmoid codes) pretrained the same way on the stratified 70/30
/// split of the digits, then fine-tuned end to end or with the pretrained encoders frozen (head only); shared by
/// the tests that compare and reuse them.
/// </summary>
public sealed class DigitsStackedAutoencoderFixture
{
    public DigitsStackedAutoencoderFixture()
    {
        Ml = new MLContext(seed: 1);
        var (trainRows, testRows) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        Train = Ml.Data.LoadFromEnumerable(trainRows);
        Test = Ml.Data.LoadFromEnumerable(testRows);
        Estimator = Pipeline(Ml, fineTuneEncoders: true);
        FineTuned = Estimator.Fit(Train);
        HeadOnly = Pipeline(Ml, fineTuneEncoders: false).Fit(Train);
    }

    public MLContext Ml { get; }

    public IDataView Train { get; }

    public IDataView Test { get; }

    public IEstimator<ITransformer> Estimator { get; }

    public ITransformer FineTuned { get; }

    public ITransformer HeadOnly { get; }

    public const int PretrainingEpochs = 10;

    public const int FineTuningEpochs = 40;

    public static StackedAutoencoderTrainer.Options Options(bool fineTuneEncoders) => new()
    {
        HiddenLayers = [32, 16],
        PretrainingEpochs = PretrainingEpochs,
        Epochs = FineTuningEpochs,
        LearningRate = 3e-3,
        FineTuneEncoders = fineTuneEncoders,
        TrainingThreads = 1,
    };

    private static IEstimator<ITransformer> Pipeline(MLContext ml, bool fineTuneEncoders)
        => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMinMax("Features"))
            .Append(ml.MulticlassClassification.Trainers.StackedAutoencoder(Options(fineTuneEncoders)))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabelValue", "PredictedLabel"));
}

/// <summary>The supervised stacked autoencoder through ML.NET: Evaluate, fine-tuning against the frozen stack, persistence, the binary task.</summary>
public class StackedAutoencoderTests(DigitsStackedAutoencoderFixture digits, ITestOutputHelper output) : IClassFixture<DigitsStackedAutoencoderFixture>
{
    [Fact]
    public void Digits_pass_evaluate_and_the_estimator_schema_matches_the_transformer_schema()
    {
        var scored = digits.FineTuned.Transform(digits.Test);

        var metrics = digits.Ml.MulticlassClassification.Evaluate(scored);

        output.WriteLine($"stacked autoencoder 64-32-16-10: test accuracy {metrics.MicroAccuracy:F4}, log-loss {metrics.LogLoss:F4}");
        Assert.True(metrics.MicroAccuracy >= 0.93, $"accuracy {metrics.MicroAccuracy:F4}");
        var expected = digits.Estimator.GetOutputSchema(SchemaShapes.Create(digits.Train.Schema));
        foreach (var column in expected)
        {
            var actual = scored.Schema[column.Name].Type;
            var item = actual is VectorDataViewType vector ? vector.ItemType : actual;
            Assert.Equal(column.IsKey, item is KeyDataViewType);
            Assert.Equal(column.ItemType.RawType, item.RawType);
            Assert.Equal(column.Kind == SchemaShape.Column.VectorKind.Scalar, actual is not VectorDataViewType);
        }
        var network = Flatten(digits.FineTuned).OfType<NetworkTransformer>().Single();
        Assert.Equal(DigitsStackedAutoencoderFixture.FineTuningEpochs, network.History.Epochs.Count);
    }

    [Fact]
    public void Fine_tuning_the_stack_beats_the_same_stack_with_frozen_encoders()
    {
        double tuned = digits.Ml.MulticlassClassification.Evaluate(digits.FineTuned.Transform(digits.Test)).MicroAccuracy;
        double frozen = digits.Ml.MulticlassClassification.Evaluate(digits.HeadOnly.Transform(digits.Test)).MicroAccuracy;

        output.WriteLine($"digits test accuracy, same pretrained 64-32-16 stack: fine-tuned end to end {tuned:F4}, head only (FineTuneEncoders = false) {frozen:F4}");
        Assert.True(tuned >= frozen + 0.08, $"fine-tuned {tuned:F4} vs head only {frozen:F4}");
    }

    [Fact]
    public void Save_load_round_trip_gives_identical_scores()
    {
        var (ml, test, model) = (digits.Ml, digits.Test, digits.FineTuned);
        using var stream = new MemoryStream();
        ml.Model.Save(model, digits.Train.Schema, stream);

        var fresh = new MLContext();
        stream.Position = 0;
        var batched = DeepArchModel.Load(fresh, stream, out _);
        DeepArchModel.Register(fresh);
        stream.Position = 0;
        var plain = fresh.Model.Load(stream, out _);

        Assert.Contains(Flatten(batched), t => t is NetworkTransformer);
        var before = ml.Data.CreateEnumerable<Scored>(model.Transform(test), reuseRowObject: false).ToArray();
        foreach (var reloaded in new[] { batched, plain })
        {
            var after = fresh.Data.CreateEnumerable<Scored>(reloaded.Transform(test), reuseRowObject: false).ToArray();
            Assert.Equal(before.Length, after.Length);
            for (int i = 0; i < before.Length; i++)
            {
                Assert.Equal(before[i].PredictedLabelValue, after[i].PredictedLabelValue);
                for (int c = 0; c < 10; c++)
                {
                    Assert.Equal(before[i].Score[c], after[i].Score[c], 1e-5f);
                }
            }
            Assert.True(fresh.MulticlassClassification.Evaluate(reloaded.Transform(test)).MicroAccuracy >= 0.93);
        }
    }

    [Fact]
    public void Binary_threes_against_eights_pass_evaluate()
    {
        var ml = new MLContext(seed: 2);
        var rows = Datasets.DigitRows.Where(r => r.Label is 3 or 8).Select(r => new BinaryRow { Features = r.Features, Label = r.Label == 8 }).ToArray();
        var (train, test) = Datasets.StratifiedSplit(rows, r => r.Label ? 1 : 0);
        var pipeline = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.BinaryClassification.Trainers.StackedAutoencoder(new StackedAutoencoderTrainer.Options
            {
                HiddenLayers = [16, 8],
                PretrainingEpochs = 10,
                Epochs = 20,
                LearningRate = 3e-3,
                PretrainingNoise = 0.1f,
                TrainingThreads = 1,
            }));
        var model = pipeline.Fit(ml.Data.LoadFromEnumerable(train));

        var scored = model.Transform(ml.Data.LoadFromEnumerable(test));
        var metrics = ml.BinaryClassification.Evaluate(scored);

        output.WriteLine($"3 vs 8, denoising-pretrained 64-16-8 stack: AUC {metrics.AreaUnderRocCurve:F4}, accuracy {metrics.Accuracy:F4}");
        Assert.True(metrics.AreaUnderRocCurve >= 0.98, $"AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.Accuracy >= 0.93, $"accuracy {metrics.Accuracy:F4}");
        foreach (var row in ml.Data.CreateEnumerable<BinaryScored>(scored, reuseRowObject: false))
        {
            Assert.Equal(1 / (1 + MathF.Exp(-row.Score)), row.Probability, 1e-5f);
            Assert.Equal(row.Probability > 0.5f, row.PredictedLabel);
        }
    }

    [Fact]
    public void The_exported_network_is_the_stack_and_passes_the_onnx_checker()
    {
        var network = Flatten(digits.FineTuned).OfType<NetworkTransformer>().Single();
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-sae-{Guid.NewGuid():N}.onnx");
        try
        {
            network.SaveOnnx(path);

            OnnxAssert.CheckModel(File.ReadAllBytes(path));
            // 64 * 32 + 32, 32 * 16 + 16 and 16 * 10 + 10 parameters: the two pretrained levels and the task.
            Assert.Contains("Total parameters: 2,778", network.NetworkSummary);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Fit_with_validation_data_validates_and_reports_every_fine_tuning_epoch()
    {
        var ml = new MLContext(seed: 3);
        var (trainRows, validationRows) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.NormalizeMinMax("Features"))
            .Fit(ml.Data.LoadFromEnumerable(trainRows));
        var reports = new List<EpochReport>();
        var options = DigitsStackedAutoencoderFixture.Options(fineTuneEncoders: true);
        options.HiddenLayers = [16];
        options.PretrainingEpochs = 2;
        options.Epochs = 6;
        options.EarlyStoppingPatience = 2;
        options.Progress = new Collect(reports);

        var network = ml.MulticlassClassification.Trainers.StackedAutoencoder(options).Fit(
            keys.Transform(ml.Data.LoadFromEnumerable(trainRows)), keys.Transform(ml.Data.LoadFromEnumerable(validationRows)));

        Assert.Equal(network.History.Epochs.Count, reports.Count);
        Assert.All(network.History.Epochs, e => Assert.NotNull(e.ValidationLoss));
        Assert.Equal(reports.Select(r => r.TrainLoss), network.History.Epochs.Select(e => e.TrainLoss));
    }

    [Fact]
    public void The_simple_overloads_check_their_arguments_naming_the_option()
    {
        var ml = new MLContext(seed: 1);

        var pretraining = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.StackedAutoencoder(pretrainingEpochs: 0));
        var hidden = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.StackedAutoencoder(hiddenLayers: []));
        var epochs = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.StackedAutoencoder(epochs: -1));

        Assert.StartsWith("Options.PretrainingEpochs must be at least 1; got 0.", pretraining.Message);
        Assert.StartsWith("Options.HiddenLayers must hold at least one level's code size, each at least 1; got [].", hidden.Message);
        Assert.StartsWith("Options.Epochs must be at least 1; got -1.", epochs.Message);
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
        => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [t];

    private sealed class Collect(List<EpochReport> reports) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => reports.Add(value);
    }

    private sealed class Scored
    {
        public float[] Score { get; set; } = [];

        public float PredictedLabelValue { get; set; }
    }

    private sealed class BinaryRow
    {
        [VectorType(64)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    private sealed class BinaryScored
    {
        public float Score { get; set; }

        public float Probability { get; set; }

        public bool PredictedLabel { get; set; }
    }
}
