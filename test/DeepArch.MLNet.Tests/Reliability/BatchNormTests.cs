using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Batch normalization trained on a batch of one row makes its running variance NaN, and every score of the model NaN.
/// Every estimator whose network has batch normalization rejects, naming the options and the counts, what would train it on
/// one row: a training set of one row (after the validation split) before training starts, and BatchSize 1 as an options
/// error. No setting returns a model with NaN scores.
/// </summary>
public class BatchNormTests
{
    [Fact]
    public void One_training_row_is_rejected_before_training_naming_the_option_and_the_count()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<DeepArch.Trainers.EpochReport>();

        var error = Assert.Throws<InvalidOperationException>(() => Fit(ml, "regression", Rows(1), o =>
        {
            o.BatchNorm = true;
            o.Progress = new Progress(reports);
        }));

        Assert.Equal("Options.BatchNorm needs at least 2 training rows per batch; the training set has 1 row. " +
                     "Train on more rows, or train without batch normalization.", error.Message);
        Assert.Empty(reports);
    }

    [Fact]
    public void Two_rows_of_which_ValidationFraction_holds_out_one_are_rejected_naming_the_split()
    {
        var ml = new MLContext(seed: 1);

        var error = Assert.Throws<InvalidOperationException>(() => Fit(ml, "regression", Rows(2), o =>
        {
            o.BatchNorm = true;
            o.ValidationFraction = 0.5;
        }));

        Assert.Equal("Options.BatchNorm needs at least 2 training rows per batch; the training set has 1 row (Options.ValidationFraction 0.5 held out 1 of 2). " +
                     "Train on more rows, lower Options.ValidationFraction, or train without batch normalization.", error.Message);
    }

    [Fact]
    public void BatchSize_1_with_BatchNorm_is_an_options_error_naming_both_options()
    {
        var ml = new MLContext(seed: 1);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(ml, "regression", Options("regression", o =>
        {
            o.BatchNorm = true;
            o.BatchSize = 1;
        })));

        Assert.Equal("Options.BatchSize", error.ParamName);
        Assert.StartsWith("Options.BatchSize must be at least 2 with Options.BatchNorm (batch normalization needs two rows per batch: " +
                          "on one row its statistics are NaN); got 1.", error.Message);
        // Without batch normalization (or without a hidden layer to normalize), batches of one row are fine.
        Assert.NotNull(Trainer(ml, "regression", Options("regression", o => o.BatchSize = 1)));
        Assert.NotNull(Trainer(ml, "regression", Options("regression", o => { o.BatchSize = 1; o.BatchNorm = true; o.HiddenLayers = []; })));
    }

    [Fact]
    public void BatchSize_1_with_batch_normalization_in_the_convolutional_layers_names_Options_Layers()
    {
        var ml = new MLContext(seed: 1);
        var options = new ConvolutionalNetworkTrainer.Options
        {
            LabelColumnName = "Target",
            InputShape = [1, 2, 3],
            Layers = [new Conv2d(2, 1), new BatchNorm2d(), new Activation(ActivationKind.ReLU)],
            BatchSize = 1,
        };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.ConvolutionalNetwork(options));

        Assert.StartsWith("Options.BatchSize must be at least 2 with the BatchNorm2d of Options.Layers (batch normalization needs two rows per batch", error.Message);
        Assert.EndsWith("; got 1. (Parameter 'Options.BatchSize')\nActual value was 1.", error.Message.Replace("\r", ""));
    }

    [Fact]
    public void The_convolutional_network_and_the_autoencoders_reject_one_training_row_too()
    {
        var ml = new MLContext(seed: 1);
        var one = ml.Data.LoadFromEnumerable(Rows(1));
        var cnn = ml.Regression.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
        {
            LabelColumnName = "Target",
            InputShape = [1, 2, 3],
            Layers = [new Conv2d(2, 1), new BatchNorm2d(), new Activation(ActivationKind.ReLU)],
            Epochs = 1,
        });
        var transform = ml.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
        {
            OutputColumnName = "Code",
            InputColumnName = "Features",
            LayerSizes = [4, 2],
            BatchNorm = true,
            Epochs = 1,
        });
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { LayerSizes = [4, 2], BatchNorm = true, Epochs = 1 });

        var errors = new Exception[]
        {
            Assert.Throws<InvalidOperationException>(() => cnn.Fit(one)),
            Assert.Throws<InvalidOperationException>(() => transform.Fit(one)),
            Assert.Throws<InvalidOperationException>(() => detector.Fit(one)),
        };

        Assert.StartsWith("The batch normalization of Options.Layers needs at least 2 training rows per batch; the training set has 1 row.", errors[0].Message);
        Assert.StartsWith("Options.BatchNorm needs at least 2 training rows per batch; the training set has 1 row.", errors[1].Message);
        Assert.StartsWith("Options.BatchNorm needs at least 2 training rows per batch; the training set has 1 row.", errors[2].Message);
    }

    [Fact]
    public void No_setting_returns_a_model_with_NaN_scores()
    {
        var ml = new MLContext(seed: 1);
        var test = ml.Data.LoadFromEnumerable(Rows(8, seed: 9));
        int rejected = 0, trained = 0;
        foreach (int rows in new[] { 1, 2, 3, 4, 5 })
        {
            foreach (double fraction in new[] { 0, 0.5 })
            {
                foreach (int batchSize in new[] { 1, 2, 3, 32 })
                {
                    NetworkTransformer? model = null;
                    try
                    {
                        model = Fit(ml, "regression", Rows(rows), o =>
                        {
                            o.BatchNorm = true;
                            o.ValidationFraction = fraction;
                            o.BatchSize = batchSize;
                            o.Epochs = 2;
                        });
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        Assert.Matches("BatchNorm|ValidationFraction", e.Message);
                        rejected++;
                        continue;
                    }
                    using (model)
                    {
                        Assert.All(Scores(model.Transform(test)), s => Assert.True(float.IsFinite(s[0]), $"{rows} rows, fraction {fraction}, batch {batchSize}: {s[0]}"));
                        trained++;
                    }
                }
            }
        }

        // Rejected: every BatchSize 1 (10); one row (6 more); 2 and 3 rows with half held out (a training set of one row, 6 more).
        Assert.Equal((18, 22), (trained, rejected));
    }

    private sealed class Progress(List<DeepArch.Trainers.EpochReport> reports) : IProgress<DeepArch.Trainers.EpochReport>
    {
        public void Report(DeepArch.Trainers.EpochReport value) => reports.Add(value);
    }
}
