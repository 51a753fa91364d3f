using DeepArch.Trainers.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// Warm start, <c>estimator.Fit(data, initialModel)</c>, as a user calls it: training continues from the initial model's weights
/// and the statistics its network learned in, the schema stays, the history grows; whatever cannot continue says why.
/// </summary>
public sealed class WarmStartTests(ITestOutputHelper output)
{
    private static MultilayerPerceptronTrainer.Options RegressionOptions(int epochs = 20, float learningRate = 1e-3f) => new()
    {
        HiddenLayers = [32], Epochs = epochs, LearningRate = learningRate, Seed = 3, TrainingThreads = 1,
    };

    private static float[] Scores(ITransformer model, IDataView data) => model.Transform(data).GetColumn<float>("Score").ToArray();

    private static NetworkTransformer Network(ITransformer model)
        => model as NetworkTransformer ?? ((IEnumerable<ITransformer>)model).OfType<NetworkTransformer>().Single();

    /// <summary>
    /// Continued with a learning rate too small to move it, on other rows, the model scores as before: its weights, its feature
    /// standardization and its label standardization all come from the initial model, not from the new rows. A fresh network on
    /// those rows scores otherwise. The history is the initial one followed by the new epochs.
    /// </summary>
    [Fact]
    public void A_continued_model_starts_from_the_initial_weights_and_statistics()
    {
        var ml = new MLContext(seed: 1);
        var (first, second) = Datasets.RandomSplit(Datasets.DiabetesRows, testFraction: 0.5, seed: 2);
        IDataView firstData = ml.Data.LoadFromEnumerable(first), secondData = ml.Data.LoadFromEnumerable(second);
        using var initial = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions()).Fit(firstData);
        float[] before = Scores(initial, secondData);

        var still = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 2, learningRate: 1e-9f));
        using var continued = still.Fit(secondData, initial);
        using var fresh = still.Fit(secondData);
        float[] after = Scores(continued, secondData), scratch = Scores(fresh, secondData);

        double moved = before.Zip(after, (a, b) => Math.Abs(a - b)).Max();
        double apart = before.Zip(scratch, (a, b) => Math.Abs(a - b)).Average();
        output.WriteLine($"largest change of a score after 2 epochs at learning rate 1e-9: {moved:G3}; a fresh network differs by {apart:F1} on average");
        Assert.True(moved < 1e-2, $"the continued model moved by {moved}");
        Assert.True(apart > 10, $"a fresh network differs by only {apart}");

        Assert.Equal(22, continued.History.Epochs.Count);
        Assert.Equal(Enumerable.Range(1, 22), continued.History.Epochs.Select(e => e.Epoch));
        Assert.Equal(initial.History.Epochs, continued.History.Epochs.Take(20));
        Assert.Equal(22, continued.History.BestEpoch);
        Assert.True(continued.History.Epochs[20].Elapsed >= initial.History.Epochs[19].Elapsed);
        Assert.Equal(initial.Transform(secondData).Schema.Select(c => (c.Name, c.Type)), continued.Transform(secondData).Schema.Select(c => (c.Name, c.Type)));
    }

    /// <summary>
    /// A model saved with mlContext.Model.Save and loaded with DeepArchModel.Load, or saved as a standalone ONNX file, continues the
    /// same as the one in memory (plain mlContext.Model.Load gives ML.NET's OnnxTransformer, which has no DeepArch network to continue).
    /// </summary>
    [Fact]
    public void A_model_loaded_from_disk_continues_like_the_fitted_one()
    {
        var ml = new MLContext(seed: 1);
        var (first, second) = Datasets.RandomSplit(Datasets.DiabetesRows, testFraction: 0.5, seed: 2);
        IDataView firstData = ml.Data.LoadFromEnumerable(first), secondData = ml.Data.LoadFromEnumerable(second);
        using var initial = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 5)).Fit(firstData);
        var more = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 3));
        using var expected = more.Fit(secondData, initial);

        var (_, reloaded) = Fixtures.ReloadBothWays(ml, initial, firstData.Schema);
        using var stream = new MemoryStream();
        initial.SaveOnnx(stream);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-warm-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, stream.ToArray());
        try
        {
            foreach (var loaded in new[] { Network(reloaded[0]), DeepArchModel.LoadOnnx(path) })
            {
                using var continued = more.Fit(secondData, loaded);
                Assert.Equal(Scores(expected, secondData), Scores(continued, secondData));
                Assert.Equal(8, continued.History.Epochs.Count);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A classifier continues on rows with the same classes, and the key order the initial model had; other classes are an error naming them.</summary>
    [Fact]
    public void A_classifier_continues_only_on_its_classes()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label, seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(train));
        IDataView trainView = keys.Transform(ml.Data.LoadFromEnumerable(train)), testView = keys.Transform(ml.Data.LoadFromEnumerable(test));
        var options = new MultilayerPerceptronTrainer.Options { HiddenLayers = [32], Epochs = 2, Seed = 1, TrainingThreads = 1 };
        using var initial = ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(trainView);
        using var continued = ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(testView, initial);
        double before = ml.MulticlassClassification.Evaluate(initial.Transform(testView)).MicroAccuracy;
        double after = ml.MulticlassClassification.Evaluate(continued.Transform(testView)).MicroAccuracy;
        output.WriteLine($"digits accuracy on the second rows: {before:F3} after 2 epochs on the first, {after:F3} after 2 more on the second");
        Assert.True(after > before, $"{after} after continuing, {before} before");

        // Only the digits 0 to 4: five classes where the model has ten.
        var fewer = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(train.Where(r => r.Label < 5)))
            .Transform(ml.Data.LoadFromEnumerable(train.Where(r => r.Label < 5)));
        var error = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(fewer, initial));
        Assert.Equal("initialModel", error.ParamName);
        Assert.Contains("The label has 5 classes", error.Message);
        Assert.Contains("trained on 10", error.Message);
    }

    [Fact]
    public void What_cannot_continue_says_why()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.DiabetesRows.Take(120).ToArray());
        using var initial = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 1)).Fit(data);

        // Other sizes.
        var error = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [16], Epochs = 1 }).Fit(data, initial));
        Assert.Equal("initialModel", error.ParamName);
        Assert.Contains("is not the one these options make for the data", error.Message);
        Assert.Matches(@"They differ at network\.[^:]+: 16 with these options, \d+ in the initial model\.", error.Message);

        // Another estimator's model.
        using var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { Epochs = 1, Seed = 1 }).Fit(data);
        error = Assert.Throws<ArgumentException>(() => ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 1)).Fit(data, detector));
        Assert.Contains("The initial model was trained by AutoencoderAnomalyDetection; MultilayerPerceptron continues only a model it trained", error.Message);

        // Estimators that cannot continue.
        Assert.Contains("cannot continue training a fitted model: a GAN's model", Assert.Throws<NotSupportedException>(() =>
            ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options { Epochs = 1 }).Fit(data, initial)).Message);
        Assert.Contains("cannot continue training a fitted model: its training is staged", Assert.Throws<NotSupportedException>(() =>
            ml.MulticlassClassification.Trainers.StackedAutoencoder(new StackedAutoencoderTrainer.Options { Epochs = 1 }).Fit(data, initial)).Message);
    }

    /// <summary>A model file whose training state was taken out, or damaged and sealed again, is refused with the reason; the model still scores.</summary>
    [Fact]
    public void A_missing_or_damaged_training_state_is_refused_and_its_size_is_printed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Datasets.DiabetesRows.Take(120).ToArray());
        using var initial = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 1)).Fit(data);
        var trainer = ml.Regression.Trainers.MultilayerPerceptron(RegressionOptions(epochs: 1));

        NetworkTransformer Edited(Func<string, string?> edit)
        {
            var proto = DeepArch.Trainers.Onnx.Proto.ModelProto.Parser.ParseFrom(initial.OnnxModel);
            var metadata = proto.MetadataProps
                .Where(p => p.Key is not (DeepArch.Trainers.Networks.MetadataKeys.Integrity or DeepArch.Trainers.Networks.MetadataKeys.Signature))
                .Select(p => (p.Key, Value: p.Key == ModelInfo.TrainingStateKey ? edit(p.Value) : p.Value))
                .Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!);
            string path = Path.Combine(Path.GetTempPath(), $"deeparch-warm-{Guid.NewGuid():N}.onnx");
            File.WriteAllBytes(path, OnnxGraphBuilder.WriteSealed(proto, metadata));
            try
            {
                return DeepArchModel.LoadOnnx(path);
            }
            finally
            {
                File.Delete(path);
            }
        }

        using var withoutState = Edited(_ => null);
        Assert.Equal(Scores(initial, data), Scores(withoutState, data));
        long parameters = 10 * 32 + 32 + 32 + 1;
        output.WriteLine($"MLP 10-32-1 ({parameters} parameters, {4 * parameters:N0} bytes of weights): model file {initial.OnnxModel.Length:N0} bytes " +
            $"with the training state, {withoutState.OnnxModel.Length:N0} without");
        Assert.Contains("holds no training state", Assert.Throws<ArgumentException>(() => trainer.Fit(data, withoutState)).Message);

        using var cut = Edited(state => Convert.ToBase64String(Convert.FromBase64String(state)[..^7]));
        Assert.Contains("The initial model's training state is damaged", Assert.Throws<InvalidDataException>(() => trainer.Fit(data, cut)).Message);

        // A tensor's shape changed: refused before anything is read into the network.
        using var reshaped = Edited(state =>
        {
            byte[] bytes = Convert.FromBase64String(state);
            int at = IndexOf(bytes, ".weight"u8); // the end of the first weight's name (the architecture's JSON names no weight)
            Assert.True(at > 0);
            bytes[at + ".weight"u8.Length + 4 + 4] ^= 0x40; // past the name, the element type and the rank: the first dimension
            return Convert.ToBase64String(bytes);
        });
        var damaged = Assert.Throws<InvalidDataException>(() => trainer.Fit(data, reshaped));
        Assert.Contains("The initial model's training state is damaged", damaged.Message);
    }

    private static int IndexOf(byte[] bytes, ReadOnlySpan<byte> value) => bytes.AsSpan().IndexOf(value);
}

/// <summary>
/// The CO2 series as a forecaster in production sees it: a recurrent forecaster of the next 8 weeks from 26, trained on the years up
/// to a date with the values scaled by those years' mean and spread (a scaler fitted once, at training), and then the series moves
/// on (it rises about 1.5 ppm a year), out of the range the model learned. Updated with the month that followed (4 weekly
/// windows, warm start, LearningRate 1e-3 for 30 epochs: gentler than the defaults, which overshoot on four windows), it
/// forecasts the weeks after that better than the model left as it was, and far better than a fresh network trained on that
/// month alone.
/// </summary>
public sealed class WarmStartForecastingTests(ITestOutputHelper output)
{
    private const int History = 26, Horizon = 8, NewWeeks = 4;

    public sealed class Window
    {
        [VectorType(History)]
        public float[] Features { get; set; } = [];

        [VectorType(Horizon)]
        public float[] Label { get; set; } = [];
    }

    [Fact]
    public void A_forecaster_updated_with_a_month_of_new_rows_beats_the_old_one_on_the_newer_rows()
    {
        var series = Datasets.Co2Weekly;
        int split = series.Count - 3 * 52; // the last three years come after training
        double mean = series.Take(split).Average(), scale = Math.Sqrt(series.Take(split).Average(v => (v - mean) * (v - mean)));
        float Scaled(int week) => (float)((series[week] - mean) / scale);
        Window Make(int end) => new()
        {
            Features = Enumerable.Range(end - History, History).Select(Scaled).ToArray(),
            Label = Enumerable.Range(end, Horizon).Select(Scaled).ToArray(),
        };
        // A window is known once its last label week is: the old model knows those ending before the split, the update the month after.
        Window[] Windows(int from, int to) => Enumerable.Range(from, to - from).Select(Make).ToArray();
        var (old, update, newer) = (Windows(History, split - Horizon), Windows(split - Horizon, split + NewWeeks - Horizon), Windows(split + NewWeeks, series.Count - Horizon));
        var ml = new MLContext(seed: 1);
        IDataView oldData = ml.Data.LoadFromEnumerable(old), updateData = ml.Data.LoadFromEnumerable(update), newerData = ml.Data.LoadFromEnumerable(newer);
        double Mae(ITransformer model) => model.Transform(newerData).GetColumn<float[]>("Forecast")
            .Zip(newer, (f, w) => f.Zip(w.Label, (a, b) => Math.Abs(a - b)).Average() * scale).Average();
        RecurrentForecastingEstimator Estimator(double? learningRate = null, int? epochs = null)
        {
            var options = new RecurrentForecastingEstimator.Options { Seed = 1, TrainingThreads = 1 };
            options.LearningRate = learningRate ?? options.LearningRate;
            options.Epochs = epochs ?? options.Epochs;
            return ml.Forecasting.ForecastByRecurrentNetwork(options);
        }

        using var before = Estimator().Fit(oldData);
        // Fine-tuning on four windows: gentler than training from scratch (the defaults, 3e-3 for 60 epochs, overshoot here).
        using var updated = Estimator(learningRate: 1e-3, epochs: 30).Fit(updateData, before);
        using var updatedByDefaults = Estimator().Fit(updateData, before);
        using var fresh = Estimator().Fit(updateData);
        double naive = newer.Average(w => w.Label.Average(l => Math.Abs(w.Features[^1] - l)) * scale);
        var (beforeMae, updatedMae, defaultsMae, freshMae) = (Mae(before), Mae(updated), Mae(updatedByDefaults), Mae(fresh));
        output.WriteLine($"CO2, 8 weeks ahead from 26, scaled with the first {split} weeks; MAE (ppm) on the {newer.Length} windows after the new month: " +
            $"old model {beforeMae:F3}, updated with {update.Length} new windows {updatedMae:F3} (LearningRate 1e-3, 30 epochs) or {defaultsMae:F3} (the defaults), " +
            $"fresh on those windows {freshMae:F3}, naive (last week) {naive:F3}");
        Assert.True(updatedMae < 0.95 * beforeMae, $"updated {updatedMae:F3}, old {beforeMae:F3}");
        Assert.True(updatedMae < freshMae, $"updated {updatedMae:F3}, fresh {freshMae:F3}");
        Assert.Equal(before.History.Epochs.Count + 30, updated.History.Epochs.Count);
    }

    /// <summary>
    /// The other side, measured so that the docs can say it: on windows relative to their last week the series does not drift,
    /// and updating on a month of new rows alone makes the forecaster worse, with the defaults and with a gentle learning rate.
    /// </summary>
    [Fact]
    public void On_windows_that_do_not_drift_an_update_on_new_rows_alone_does_not_pay()
    {
        var series = Datasets.Co2Weekly;
        int split = series.Count - 3 * 52;
        Window Make(int end) => new()
        {
            Features = Enumerable.Range(end - History, History).Select(i => series[i] - series[end - 1]).ToArray(),
            Label = Enumerable.Range(end, Horizon).Select(i => series[i] - series[end - 1]).ToArray(),
        };
        Window[] Windows(int from, int to) => Enumerable.Range(from, to - from).Select(Make).ToArray();
        var (old, update, newer) = (Windows(History, split - Horizon), Windows(split - Horizon, split + NewWeeks - Horizon), Windows(split + NewWeeks, series.Count - Horizon));
        var ml = new MLContext(seed: 1);
        IDataView updateData = ml.Data.LoadFromEnumerable(update), newerData = ml.Data.LoadFromEnumerable(newer);
        double Mae(ITransformer model) => model.Transform(newerData).GetColumn<float[]>("Forecast")
            .Zip(newer, (f, w) => f.Zip(w.Label, (a, b) => Math.Abs(a - b)).Average()).Average();
        RecurrentForecastingEstimator Estimator(float learningRate = 1e-3f, int epochs = 30) => ml.Forecasting.ForecastByRecurrentNetwork(
            new RecurrentForecastingEstimator.Options { Seed = 1, TrainingThreads = 1, LearningRate = learningRate, Epochs = epochs });

        using var before = Estimator().Fit(ml.Data.LoadFromEnumerable(old));
        using var updated = Estimator().Fit(updateData, before);
        using var gently = Estimator(1e-4f, 5).Fit(updateData, before);
        output.WriteLine($"CO2, 8 weeks ahead from 26, windows relative to their last week; MAE (ppm) on the {newer.Length} windows after the new month: " +
            $"old model {Mae(before):F3}, updated with {update.Length} new windows {Mae(updated):F3} (defaults), {Mae(gently):F3} (LearningRate 1e-4, 5 epochs)");
        Assert.True(Mae(updated) > Mae(before), "this is the case the docs describe: an update on new rows alone does not pay here");
    }
}
