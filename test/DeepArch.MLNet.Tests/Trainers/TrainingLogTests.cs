using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>What <c>Fit</c> tells a user: its progress in <c>mlContext.Log</c>, and nothing from libtorch on the console.</summary>
public class TrainingLogTests
{
    [Fact]
    public void Fit_writes_each_epoch_and_how_training_ended_to_MLNets_log()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<LoggingEventArgs>();
        ml.Log += (_, e) => { lock (messages) { messages.Add(e); } };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Fixtures.Rows(100))).Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(100)));

        using var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            Epochs = 6, ValidationFraction = 0.2, EarlyStoppingPatience = 1, LearningRate = 0.5,
        }).Fit(data);

        var ours = messages.Where(m => m.Source == "MultilayerPerceptron" && m.Kind == ChannelMessageKind.Info).Select(m => m.Message).ToList();
        Assert.Contains(ours, m => m.Contains("MultilayerPerceptron: 80 training rows of 6 values, 20 held out for validation; 6 epochs on cpu", StringComparison.Ordinal));
        Assert.Equal(model.History.Epochs.Count, ours.Count(m => m.Contains("epoch ", StringComparison.Ordinal) && m.Contains("train loss", StringComparison.Ordinal)));
        Assert.Contains(ours, m => m.Contains($"epoch 1/6, train loss {model.History.Epochs[0].TrainLoss:G5}, validation loss", StringComparison.Ordinal));
        Assert.Contains(ours, m => m.Contains(model.History.StopReason == DeepArch.Trainers.StopReason.EarlyStopped ? "early stopping after epoch" : "trained 6 epochs", StringComparison.Ordinal));
        Assert.Contains(ours, m => m.Contains("exported to ONNX", StringComparison.Ordinal));
    }

    [Fact]
    public void A_gans_epochs_show_each_of_its_losses_in_MLNets_log()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Info) { lock (messages) { messages.Add(e.Message); } } };
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(64));

        using var generator = ml.Transforms.GenerateByAdversarialNetwork(epochs: 1).Fit(data);

        var losses = generator.History.Epochs[0].Losses!;
        Assert.Contains(messages, m => m.Contains("epoch 1/1, train loss", StringComparison.Ordinal)
            && m.Contains($"(discriminator {losses["discriminator"]:G5}, generator {losses["generator"]:G5}, D(x) ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_stacked_autoencoders_pretraining_epochs_are_in_MLNets_log_too()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        var warnings = Fixtures.Warnings(ml);
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Info && e.Source == "StackedAutoencoder") { lock (messages) { messages.Add(e.Message); } } };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Fixtures.Rows(60))).Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(60)));

        using var model = ml.MulticlassClassification.Trainers.StackedAutoencoder(new StackedAutoencoderTrainer.Options
        {
            HiddenLayers = [5, 3], PretrainingEpochs = 2, Epochs = 1,
        }).Fit(data);

        Assert.Single(messages, m => m.Contains("StackedAutoencoder: pretraining level 1, epoch 2/2, train loss", StringComparison.Ordinal));
        Assert.Single(messages, m => m.Contains("StackedAutoencoder: pretraining level 2, epoch 2/2, train loss", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("StackedAutoencoder: epoch 1/1, train loss", StringComparison.Ordinal));
        // The pretraining levels reconstruct their input: the classifier's learned-nothing baseline is not theirs.
        Assert.DoesNotContain(warnings, m => m.Contains("pretraining level", StringComparison.Ordinal) && m.Contains("learned nothing", StringComparison.Ordinal));
    }

    /// <summary>
    /// A learning rate of 1e6 keeps the loss finite but far above the untrained network's (about 1e11 here): the divergence
    /// check (NaN, infinity) lets it through, and the model scored garbage with no word in the log. Now a warning says so; a
    /// run that converges gets none.
    /// </summary>
    [Fact]
    public void A_training_loss_that_rises_is_a_warning_in_MLNets_log_and_one_that_falls_is_not()
    {
        List<string> Warnings(double learningRate, out TrainingHistory history)
        {
            var ml = new MLContext(seed: 1);
            var warnings = Fixtures.Warnings(ml);
            var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(64));
            using var featurizer = ml.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
            {
                OutputColumnName = "Code", InputColumnName = "Features", LayerSizes = [4, 2], Epochs = 5, LearningRate = learningRate,
            }).Fit(data);
            history = featurizer.History;
            return warnings;
        }

        var rising = Warnings(1e6, out var risingHistory);
        var falling = Warnings(1e-3, out var fallingHistory);

        Assert.Contains(rising, m => m.Contains($"the training loss ended at {risingHistory.Epochs[^1].TrainLoss:G5} (epoch 5), more than twice the ", StringComparison.Ordinal)
            && m.Contains("of the first batch, before any step: training is not converging. A smaller Options.LearningRate", StringComparison.Ordinal));
        Assert.True(fallingHistory.Epochs[^1].TrainLoss < fallingHistory.Epochs[0].TrainLoss);
        Assert.DoesNotContain(falling, m => m.Contains("training is not converging", StringComparison.Ordinal));
    }

    /// <summary>
    /// The digits times 1e-4 given to the CNN reading them as they come: the loss stays at ln 10, the loss of predicting the class frequencies, and the
    /// model predicts one class for every digit (an outside probe: macro accuracy 0.100, nothing in the log). Now a warning says
    /// the network learned nothing from its features and names the fix; the same digits unscaled learn and get no warning.
    /// </summary>
    [Fact]
    public void A_network_that_learns_nothing_from_its_features_is_a_warning_in_MLNets_log()
    {
        List<string> Warnings(float scale, out TrainingHistory history)
        {
            var ml = new MLContext(seed: 1);
            var warnings = Fixtures.Warnings(ml);
            var rows = Datasets.DigitRowsIn(v => v * scale).Take(300);
            var raw = ml.Data.LoadFromEnumerable(rows);
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            // Read as they come: standardized by the network's first layer (its default), tiny pixels would learn.
            using var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
            {
                InputShape = [1, 8, 8], Epochs = 4, StandardizeFeatures = false,
            }).Fit(data);
            history = model.History;
            return warnings;
        }

        var tiny = Warnings(1e-4f, out var tinyHistory);
        var plain = Warnings(1f, out _);

        Assert.Contains(tiny, m => m.Contains($"the training loss ended at {tinyHistory.Epochs[^1].TrainLoss:G5} (epoch 4), not even 1 % below ", StringComparison.Ordinal)
            && m.Contains("the loss of predicting the training labels' class frequencies for every row: the network learned nothing, or almost nothing, from its features", StringComparison.Ordinal)
            && m.Contains("NormalizeMeanVariance", StringComparison.Ordinal));
        Assert.DoesNotContain(plain, m => m.Contains("learned nothing", StringComparison.Ordinal));
        // The cause is said before training too: the features are tiny.
        Assert.Contains(tiny, m => m.Contains("every value of feature column 'Features' is tiny (the rows' root mean square norm is ", StringComparison.Ordinal));
        Assert.DoesNotContain(plain, m => m.Contains("root mean square", StringComparison.Ordinal));
    }

    /// <summary>
    /// Raw wine to the autoencoder detector (proline near 1,000 beside values near 1): an outside probe's ROC AUC was 0.478,
    /// 0.984 after NormalizeMinMax, and nothing was said. The networks that read their features as they come now warn before
    /// training and name the slot; the normalized wines, and the MLP (which standardizes its features itself), get no warning.
    /// </summary>
    [Fact]
    public void Features_far_from_a_common_scale_are_a_warning_for_the_networks_that_read_them_as_they_come()
    {
        List<string> Warnings(Func<MLContext, IDataView, IEstimator<ITransformer>> estimator, bool normalize)
        {
            var ml = new MLContext(seed: 1);
            var warnings = Fixtures.Warnings(ml);
            var raw = ml.Data.LoadFromEnumerable(Datasets.WineRows);
            var data = normalize ? ml.Transforms.NormalizeMinMax("Features").Fit(raw).Transform(raw) : raw;
            data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
            estimator(ml, data).Fit(data);
            return warnings;
        }
        IEstimator<ITransformer> Detector(MLContext ml, IDataView _) => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { Epochs = 2, EnsembleSize = 1 });
        IEstimator<ITransformer> Perceptron(MLContext ml, IDataView _) => ml.MulticlassClassification.Trainers.MultilayerPerceptron(epochs: 2);

        Assert.Contains(Warnings(Detector, normalize: false), m => m.Contains("slot 12 of feature column 'Features' has a root mean square of ", StringComparison.Ordinal)
            && m.Contains("NormalizeMeanVariance", StringComparison.Ordinal));
        Assert.DoesNotContain(Warnings(Detector, normalize: true), m => m.Contains("root mean square", StringComparison.Ordinal));
        Assert.DoesNotContain(Warnings(Perceptron, normalize: false), m => m.Contains("root mean square", StringComparison.Ordinal));
    }

    /// <summary>
    /// Where libtorch's oneDNN kernels disagree with ATen's for one of the network's layers, Fit says in mlContext.Log which layer
    /// and by how much, and that it trains on ATen's kernels. The verdict is given (as a CPU where that layer disagrees gives it)
    /// for a first convolution of 6 to 16 channels, which no other test trains.
    /// </summary>
    [Fact]
    public void Fit_logs_which_layer_keeps_onednn_off_for_its_training()
    {
        const string layer = "Conv2d(6 to 16 channels, kernel 3, stride 1, padding same, dilation 1, groups 1, input 1x1, without input gradient)";
        OneDnnCheck.SetVerdict(layer, $"{layer}: output 0.5 away from ATen's (1 thread)");
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Info && e.Source == "ConvolutionalNetwork") { lock (messages) { messages.Add(e.Message); } } };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Fixtures.Rows(64))).Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(64)));

        using var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork("Label", "Features", [6, 1, 1], epochs: 1).Fit(data);

        var oneDnn = messages.Where(m => m.Contains("oneDNN", StringComparison.Ordinal)).ToList();
        if (Environment.GetEnvironmentVariable("DEEPARCH_ONEDNN") is "0" or "1")
        {
            Assert.Empty(oneDnn); // the process decided for every training
            return;
        }
        var message = Assert.Single(oneDnn);
        Assert.Contains("ConvolutionalNetwork: libtorch's oneDNN kernels disagree with ATen's on this CPU for ", message, StringComparison.Ordinal);
        Assert.Contains($"{layer}: output 0.5 away from ATen's (1 thread)", message, StringComparison.Ordinal);
        Assert.Contains("so this training runs on ATen's kernels", message, StringComparison.Ordinal);
        Assert.False(TorchRuntime.OneDnnInLastTraining);
    }

    /// <summary>A CNN trained with the default threads in a fresh process: its log lines reach mlContext.Log, and libtorch prints no NNPACK warnings.</summary>
    [Fact]
    public void A_cnn_fit_in_a_fresh_process_logs_its_epochs_and_prints_no_nnpack_warnings()
    {
        var (output, error) = ProcessHost.Run(new Dictionary<string, string?>(), "train-cnn");

        Assert.Contains(output, line => line.Contains("ConvolutionalNetwork: epoch 2/2, train loss", StringComparison.Ordinal));
        Assert.DoesNotContain("NNPACK", error, StringComparison.Ordinal);
    }
}
