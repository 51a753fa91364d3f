using DeepArch.MLNet.Tests.Transforms;
using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;
using StackedAutoencoderTrainer = DeepArch.MLNet.StackedAutoencoderTrainer;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// An estimator validates its options when it is created and again when <c>Fit</c> starts, and <c>Fit</c> reads every option
/// at that moment: a change made to <c>TrainerOptions</c> (or to the options object passed in) between creation and
/// <c>Fit</c> applies in full — the model equals, bit for bit, the one an estimator created with the changed options gives —
/// and an invalid value set after creation fails at <c>Fit</c>, before any row is read, with the usual message.
/// </summary>
public class OptionsAtFitTests
{
    [Fact]
    public void Multilayer_perceptron()
    {
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, "multiclass", ml.Data.LoadFromEnumerable(Rows(48)));
        var options = new MultilayerPerceptronTrainer.Options { HiddenLayers = [8], Epochs = 3, Seed = 2 };
        var trainer = ml.MulticlassClassification.Trainers.MultilayerPerceptron(options);
        void Change(MultilayerPerceptronTrainer.Options o)
        {
            o.HiddenLayers = [5, 3];
            o.Epochs = 2;
            o.BatchNorm = true;
            o.Activation = ActivationKind.Tanh;
        }

        Change(trainer.TrainerOptions);
        using var model = trainer.Fit(data);

        Assert.Contains("Dense(5)", model.NetworkSummary);
        Assert.Contains("Dense(3)", model.NetworkSummary);
        Assert.Contains("BatchNorm1d", model.NetworkSummary);
        Assert.Contains("Tanh", model.NetworkSummary);
        Assert.DoesNotContain("Dense(8)", model.NetworkSummary);
        Assert.Equal(2, model.History.Epochs.Count);
        var fresh = new MultilayerPerceptronTrainer.Options { HiddenLayers = [8], Epochs = 3, Seed = 2 };
        Change(fresh);
        using var expected = ml.MulticlassClassification.Trainers.MultilayerPerceptron(fresh).Fit(data);
        Assert.Equal(Bits(Scores(expected.Transform(data))), Bits(Scores(model.Transform(data))));

        FailsAtFit(trainer, trainer.TrainerOptions, "multiclass", o => o.HiddenLayers = [4, 0], "Options.HiddenLayers must hold sizes of at least 1; got [4, 0].");
        FailsAtFit(trainer, trainer.TrainerOptions, "multiclass", o => { o.HiddenLayers = [4]; o.BatchSize = 1; }, "Options.BatchSize must be at least 2 with Options.BatchNorm");
    }

    [Fact]
    public void Stacked_autoencoder_reads_its_pretraining_options_at_Fit()
    {
        var ml = new MLContext(seed: 1);
        var data = Prepare(ml, "multiclass", ml.Data.LoadFromEnumerable(Rows(48)));
        StackedAutoencoderTrainer.Options Initial() => new() { HiddenLayers = [5, 4], PretrainingEpochs = 2, Epochs = 3, Seed = 3 };
        var trainer = ml.MulticlassClassification.Trainers.StackedAutoencoder(Initial());
        void Change(StackedAutoencoderTrainer.Options o)
        {
            o.HiddenLayers = [4, 3];
            o.PretrainingEpochs = 4;
            o.PretrainingNoise = 0.2f;
            o.FineTuneEncoders = false;
            o.Epochs = 2;
        }

        Change(trainer.TrainerOptions);
        using var model = trainer.Fit(data);

        Assert.Contains("Dense(4)", model.NetworkSummary);
        Assert.Contains("Dense(3)", model.NetworkSummary);
        Assert.DoesNotContain("Dense(5)", model.NetworkSummary);
        Assert.Equal(2, model.History.Epochs.Count);
        // The pretraining epochs, noise and head-only fine-tuning are not in the summary: the scores show them.
        var fresh = Initial();
        Change(fresh);
        using var expected = ml.MulticlassClassification.Trainers.StackedAutoencoder(fresh).Fit(data);
        var unchanged = Initial();
        unchanged.HiddenLayers = [4, 3];
        unchanged.Epochs = 2;
        using var withoutPretrainingChanges = ml.MulticlassClassification.Trainers.StackedAutoencoder(unchanged).Fit(data);
        Assert.Equal(Bits(Scores(expected.Transform(data))), Bits(Scores(model.Transform(data))));
        Assert.NotEqual(Bits(Scores(withoutPretrainingChanges.Transform(data))), Bits(Scores(model.Transform(data))));

        FailsAtFit(trainer, trainer.TrainerOptions, "multiclass", o => o.PretrainingEpochs = 0, "Options.PretrainingEpochs must be at least 1; got 0.");
        FailsAtFit(trainer, trainer.TrainerOptions, "multiclass", o => { o.PretrainingEpochs = 2; o.PretrainingNoise = float.NaN; },
            "Options.PretrainingNoise must be finite and at least 0; got NaN.");
    }

    [Fact]
    public void Convolutional_network()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(40));
        var options = new ConvolutionalNetworkTrainer.Options
        {
            LabelColumnName = "Target",
            InputShape = [1, 2, 3],
            Layers = [new Conv2d(2, 1), new Activation(ActivationKind.ReLU)],
            Epochs = 3,
            Seed = 4,
        };
        var trainer = ml.Regression.Trainers.ConvolutionalNetwork(options);

        // The options object passed in is the estimator's: changing it is changing TrainerOptions.
        options.Layers = [new Conv2d(3, 2), new BatchNorm2d(), new Activation(ActivationKind.Tanh)];
        options.InputShape = [1, 3, 2];
        options.Epochs = 2;
        using var model = trainer.Fit(data);

        Assert.Same(options, trainer.TrainerOptions);
        Assert.Contains(new Conv2d(3, 2).Describe(), model.NetworkSummary);
        Assert.Contains("BatchNorm2d", model.NetworkSummary);
        Assert.Contains("[3, 2, 1]", model.NetworkSummary); // the 3 x 2 image, a 2 x 2 kernel: 3 maps of 2 x 1
        Assert.Equal(2, model.History.Epochs.Count);

        FailsAtFit(trainer, options, "regression", o => o.InputShape = [1, 0, 6],
            "Options.InputShape must be (channels, height, width) or (channels, length) with sizes of at least 1; got [1, 0, 6].");
        FailsAtFit(trainer, options, "regression", o => { o.InputShape = [1, 2, 3]; o.BatchSize = 1; }, "Options.BatchSize must be at least 2 with the BatchNorm2d of Options.Layers");
    }

    [Fact]
    public void Recurrent_network()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(40));
        var trainer = ml.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
        {
            LabelColumnName = "Target",
            FeaturesPerStep = 2,
            HiddenSize = 8,
            Epochs = 3,
            Seed = 5,
        });

        trainer.TrainerOptions.Cell = RecurrentCell.Gru;
        trainer.TrainerOptions.HiddenSize = 5;
        trainer.TrainerOptions.FeaturesPerStep = 3;
        trainer.TrainerOptions.HiddenLayers = [4];
        trainer.TrainerOptions.Epochs = 2;
        using var model = trainer.Fit(data);

        Assert.Contains("GRU(5, 1 layer, last)", model.NetworkSummary);
        Assert.Contains("Dense(4)", model.NetworkSummary);
        Assert.Equal(2, model.History.Epochs.Count);

        FailsAtFit(trainer, trainer.TrainerOptions, "regression", o => o.HiddenSize = 0, "Options.HiddenSize must be at least 1; got 0.");
        FailsAtFit(trainer, trainer.TrainerOptions, "regression", o => { o.HiddenSize = 5; o.Bidirectional = true; o.TruncatedSteps = 2; },
            "Options.TruncatedSteps must be 0 with Bidirectional (the backward direction starts at the end); got 2.");
    }

    [Fact]
    public void Autoencoder_transform_and_its_decoder()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(40));
        var featurizer = ml.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options
        {
            OutputColumnName = "Code",
            InputColumnName = "Features",
            LayerSizes = [4, 2],
            Epochs = 3,
            Seed = 6,
        });

        featurizer.TransformOptions.LayerSizes = [5, 3];
        featurizer.TransformOptions.Kind = AutoencoderKind.Tied;
        featurizer.TransformOptions.Epochs = 2;
        featurizer.TransformOptions.OutputColumnName = "Latent";
        using var model = featurizer.Fit(data);

        Assert.Contains("Dense(5)", model.NetworkSummary);
        Assert.Contains("Dense(3)", model.NetworkSummary);
        Assert.Equal(2, model.History.Epochs.Count);
        Assert.All(AutoencoderTransformData.Column(model.Transform(data), "Latent"), code => Assert.Equal(3, code.Length));
        Assert.Single(featurizer.GetOutputSchema(DeepArch.MLNet.SchemaShapes.Create(data.Schema)), c => c.Name == "Latent");

        FailsAtFit(featurizer, featurizer.TransformOptions, "regression", o => o.LayerSizes = [4, 0], "Options.LayerSizes must hold the hidden sizes, then the code size, each at least 1; got [4, 0].");

        var decoder = ml.Transforms.DecodeByAutoencoder(model, "Decoded", "Latent");
        decoder.TransformOptions.OutputColumnName = "Reconstruction";
        using var decoded = decoder.Fit(model.Transform(data));
        Assert.All(AutoencoderTransformData.Column(decoded.Transform(model.Transform(data)), "Reconstruction"), row => Assert.Equal(6, row.Length));
        decoder.TransformOptions.ScoringBatchSize = 0;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Fit(model.Transform(data)));
        Assert.StartsWith("Options.ScoringBatchSize must be in [1, 65536]; got 0.", error.Message);
    }

    [Fact]
    public void Anomaly_detectors()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(40));
        var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { LayerSizes = [4, 2], Epochs = 3, Seed = 7 });

        detector.TrainerOptions.LayerSizes = [5, 3, 2];
        detector.TrainerOptions.Epochs = 2;
        detector.TrainerOptions.Contamination = 0.25;
        using var model = detector.Fit(data);

        Assert.Contains("Autoencoder(6 + 6 layers)", model.NetworkSummary);
        Assert.Equal(2, model.History.Epochs.Count);
        float[] scores = Scores(model.Transform(data)).Select(s => s[0]).ToArray();
        Assert.Equal(10, scores.Count(s => s > detector.Threshold)); // a quarter of the 40 training rows
        FailsAtFit(detector, detector.TrainerOptions, "regression", o => o.Contamination = 0.6, "Options.Contamination must be in (0, 0.5]; got 0.6.");

        var forecaster = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { HiddenSize = 6, Epochs = 3, Seed = 8 });
        forecaster.TrainerOptions.HiddenSize = 4;
        forecaster.TrainerOptions.Horizon = 2;
        forecaster.TrainerOptions.Epochs = 2;
        using var forecasting = forecaster.Fit(data);
        Assert.Contains("LSTM(4, 1 layer, last)", forecasting.NetworkSummary);
        Assert.Contains("Dense(2)", forecasting.NetworkSummary); // the two forecast steps
        Assert.Equal(2, forecasting.History.Epochs.Count);
        FailsAtFit(forecaster, forecaster.TrainerOptions, "regression", o => o.MonteCarloPasses = 1, "Options.MonteCarloPasses must be at least 2; got 1.");
    }

    [Fact]
    public void A_change_made_while_Fit_runs_waits_for_the_next_Fit()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(40));
        var trainer = Trainer(ml, "regression", Options("regression", o => { o.Epochs = 3; o.HiddenLayers = [8]; o.Seed = 9; }));
        trainer.TrainerOptions.Progress = new OnEpoch(report =>
        {
            trainer.TrainerOptions.Epochs = 1;
            trainer.TrainerOptions.HiddenLayers = [2];
        });

        using var first = trainer.Fit(data);
        using var second = trainer.Fit(data);

        Assert.Equal(3, first.History.Epochs.Count);
        Assert.Contains("Dense(8)", first.NetworkSummary);
        Assert.Single(second.History.Epochs);
        Assert.Contains("Dense(2)", second.NetworkSummary);
    }

    /// <summary>Sets an invalid value after creation: <c>Fit</c> throws the usual out-of-range error before reading a row.</summary>
    private static void FailsAtFit<TOptions>(IEstimator<NetworkTransformer> estimator, TOptions options, string task, Action<TOptions> makeInvalid, string message)
    {
        var ml = new MLContext(seed: 1);
        var rows = new CountingRows<Row>(Rows(40));
        var data = Prepare(ml, task, ml.Data.LoadFromEnumerable(rows.Rows));
        int reads = rows.Reads;
        makeInvalid(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));

        Assert.StartsWith(message, error.Message);
        Assert.Equal(reads, rows.Reads);
    }

    private sealed class OnEpoch(Action<EpochReport> action) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => action(value);
    }
}
