using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>The convolutional autoencoder (issue 5) as a kind of the autoencoder stages (issue 4): anomaly detection and featurization over 8x8 digits.</summary>
public class ConvolutionalAutoencoderStageTests(ITestOutputHelper output)
{
    private static AutoencoderAnomalyDetectionTrainer.Options DetectorOptions() => new()
    {
        Kind = AutoencoderKind.Convolutional,
        ImageShape = [1, 8, 8],
        ConvolutionalFilters = [16, 4],
        OutputActivation = ActivationKind.Sigmoid,
        Epochs = 30,
        LearningRate = 3e-3,
        TrainingThreads = 1,
    };

    [Fact]
    public void Convolutional_anomaly_detector_separates_the_anomalous_digit_and_round_trips()
    {
        var ml = new MLContext(seed: 1);
        var (trainRows, testRows) = AutoencoderAnomalyDetectionTests.Split();
        var train = ml.Data.LoadFromEnumerable(trainRows);
        var test = ml.Data.LoadFromEnumerable(testRows);

        using var model = ml.AnomalyDetection.Trainers.Autoencoder(DetectorOptions()).Fit(train);
        var metrics = ml.AnomalyDetection.Evaluate(model.Transform(test));
        output.WriteLine($"convolutional autoencoder, digits 0-4 normal vs 7: ROC AUC {metrics.AreaUnderRocCurve:F4}");
        Assert.True(metrics.AreaUnderRocCurve >= 0.9, $"AUC {metrics.AreaUnderRocCurve:F4}");

        using var stream = new MemoryStream();
        ml.Model.Save(model, test.Schema, stream);
        stream.Position = 0;
        var reloaded = DeepArchModel.Load(new MLContext(), stream, out _);
        Assert.Equal(ScoreReader.Scores(model.Transform(test)), ScoreReader.Scores(reloaded.Transform(test)));
    }

    [Fact]
    public void Featurize_by_convolutional_autoencoder_gives_the_flattened_code_and_a_valid_onnx_file()
    {
        var ml = new MLContext(seed: 2);
        var data = ml.Data.LoadFromEnumerable(AutoencoderAnomalyDetectionTests.Split().Train);
        var options = new AutoencoderFeaturizingEstimator.Options
        {
            OutputColumnName = "Code",
            InputColumnName = "Features",
            Kind = AutoencoderKind.Convolutional,
            ImageShape = [1, 8, 8],
            ConvolutionalFilters = [8, 4],
            Epochs = 3,
            TrainingThreads = 1,
        };

        using var featurizer = ml.Transforms.FeaturizeByAutoencoder(options).Fit(data);
        var code = featurizer.Transform(data).Schema["Code"];
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-convae-{Guid.NewGuid():N}.onnx");
        try
        {
            featurizer.SaveOnnx(path);
            OnnxAssert.CheckModel(File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Equal(4 * 2 * 2, ((VectorDataViewType)code.Type).Size);
    }

    [Fact]
    public void Image_shape_errors_name_the_option_and_the_sizes()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(AutoencoderAnomalyDetectionTests.Split().Train);
        var missing = DetectorOptions();
        missing.ImageShape = null;
        var wrongSize = DetectorOptions();
        wrongSize.ImageShape = [1, 4, 4];
        var tooManyLevels = DetectorOptions();
        tooManyLevels.ConvolutionalFilters = [8, 8, 8, 8];

        var noShape = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(missing));
        var size = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(wrongSize).Fit(data));
        var levels = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(tooManyLevels));

        Assert.Contains("Options.ImageShape must be set when Kind is Convolutional", noShape.Message);
        Assert.Contains("Options.ImageShape [1, 4, 4] holds 16 values but feature column 'Features' has 64", size.Message);
        Assert.Contains("does not fit Options.ConvolutionalFilters [8, 8, 8, 8]", levels.Message);
        Assert.DoesNotContain("(Parameter 'inputShape')", levels.Message); // the architecture's own parameter name, once printed beside the option's

        // An image shape on another kind would be ignored: a dense autoencoder trained where a convolutional one was meant.
        var ignored = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(
            new AutoencoderAnomalyDetectionTrainer.Options { Kind = AutoencoderKind.Deep, ImageShape = [1, 8, 8] }));
        Assert.Contains("Options.ImageShape is [1, 8, 8] but Options.Kind is Deep: only the Convolutional kind reads it", ignored.Message);

        // One value has no smaller code: the error no longer asks for a code size below 1.
        var single = ml.Data.LoadFromEnumerable(new[] { new OneValue { X = 1 }, new OneValue { X = 2 }, new OneValue { X = 3 } });
        var one = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.FeaturizeByAutoencoder("Code", "X").Fit(single));
        Assert.Contains("one value has no smaller code", one.Message);
        Assert.DoesNotContain("below 1", one.Message);
        var oneDetector = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder("X").Fit(single));
        Assert.Contains("one value has no smaller code", oneDetector.Message);
    }

    private sealed class OneValue
    {
        public float X { get; set; }
    }
}
