using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// <c>Options.CheckpointDirectory</c> as a user sets it: a <c>Fit</c> cancelled midway, then the same <c>Fit</c> again, scores
/// exactly as an uninterrupted one; the options that cannot resume say so.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"deeparch-fit-checkpoints-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void A_cancelled_fit_resumed_scores_as_an_uninterrupted_one()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label, seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(train));
        var trainView = keys.Transform(ml.Data.LoadFromEnumerable(train));
        var testView = keys.Transform(ml.Data.LoadFromEnumerable(test));
        MultilayerPerceptronTrainer.Options Options(string? folder, CancellationToken cancellation = default, IProgress<DeepArch.Trainers.EpochReport>? progress = null) => new()
        {
            HiddenLayers = [32], Dropout = 0.2f, Epochs = 6, Seed = 7, ValidationFraction = 0.2, CheckpointDirectory = folder,
            CancellationToken = cancellation, Progress = progress,
        };
        float[] Scores(ITransformer model) => model.Transform(testView).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();

        float[] expected = Scores(ml.MulticlassClassification.Trainers.MultilayerPerceptron(Options(null)).Fit(trainView));
        using var cancellation = new CancellationTokenSource();
        var stopAfterThree = new Progress(report => { if (report.Epoch == 3) cancellation.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(Options(_folder, cancellation.Token, stopAfterThree)).Fit(trainView));
        Assert.Equal("epoch-00003", File.ReadAllText(Path.Combine(_folder, "latest")));

        using var resumed = ml.MulticlassClassification.Trainers.MultilayerPerceptron(Options(_folder)).Fit(trainView);

        Assert.Equal(expected, Scores(resumed));
        Assert.Equal(6, resumed.History.Epochs.Count);
    }

    /// <summary>
    /// Warm start into a folder that holds the finished run it started from: the run's fingerprint did not cover the starting
    /// weights, so that run came back as the "continued" model, untrained, with its epochs counted twice (an outside probe).
    /// Now the folder is another run's, and Fit says so.
    /// </summary>
    [Fact]
    public void A_warm_start_never_takes_the_checkpoint_of_the_run_it_continues()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(300).ToArray();
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows));
        var data = keys.Transform(ml.Data.LoadFromEnumerable(rows));
        var trainer = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            HiddenLayers = [16], Epochs = 2, Seed = 7, CheckpointDirectory = _folder,
        });
        using var first = trainer.Fit(data);

        var error = Assert.Throws<InvalidDataException>(() => trainer.Fit(data, first));

        Assert.Contains("was written for another run (other networks or starting weights, such as another initial model", error.Message);
        Directory.Delete(_folder, recursive: true);
        using var continued = trainer.Fit(data, first);
        Assert.Equal(4, continued.History.Epochs.Count);
        Assert.True(continued.History.Epochs[^1].TrainLoss < first.History.Epochs[^1].TrainLoss);
    }

    /// <summary>A folder that cannot hold checkpoints failed at the first save, after an epoch, with the file system's own error.</summary>
    [Fact]
    public void A_checkpoint_folder_that_cannot_be_written_is_refused_before_the_first_epoch()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(100).ToArray();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        Directory.CreateDirectory(_folder);
        string file = Path.Combine(_folder, "a-file");
        File.WriteAllText(file, "not a folder");
        var epochs = new List<DeepArch.Trainers.EpochReport>();

        var error = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            HiddenLayers = [8], Epochs = 2, Seed = 1, CheckpointDirectory = file, Progress = new Progress(epochs.Add),
        }).Fit(data));

        Assert.StartsWith($"The checkpoint folder '{file}' (CheckpointDirectory) cannot be written:", error.Message);
        Assert.Empty(epochs);
    }

    /// <summary>
    /// Epochs changed between a run and its resume: fewer than the checkpoint holds returned its model silently, and a cosine
    /// schedule's rates jumped midway when Epochs grew (an outside probe). Now the first warns, and under a cosine schedule another
    /// Epochs is another run.
    /// </summary>
    [Fact]
    public void Resuming_with_other_epochs_warns_or_under_a_cosine_schedule_is_another_run()
    {
        var ml = new MLContext(seed: 1);
        var warnings = Fixtures.Warnings(ml);
        var rows = Datasets.DigitRows.Take(100).ToArray();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        MultilayerPerceptronTrainer Trainer(int epochs, string folder, DeepArch.Trainers.LearningRateSchedule? schedule = null) => ml.MulticlassClassification.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { HiddenLayers = [8], Epochs = epochs, Seed = 1, CheckpointDirectory = folder, Schedule = schedule ?? new DeepArch.Trainers.ConstantLearningRate() });

        using var four = Trainer(4, _folder).Fit(data);
        using var two = Trainer(2, _folder).Fit(data);
        Assert.Equal(4, two.History.Epochs.Count);
        Assert.Contains(warnings, w => w.Contains("holds 4 epochs, more than the 2 asked for: the model is the checkpoint's", StringComparison.Ordinal));

        string cosine = Path.Combine(_folder, "cosine");
        using var short_ = Trainer(4, cosine, new DeepArch.Trainers.CosineAnnealing()).Fit(data);
        Assert.Contains("was written for another run", Assert.Throws<InvalidDataException>(() => Trainer(8, cosine, new DeepArch.Trainers.CosineAnnealing()).Fit(data)).Message);
    }

    [Fact]
    public void A_cosine_schedule_whose_minimum_is_above_the_learning_rate_is_refused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            LearningRate = 1e-3, Schedule = new DeepArch.Trainers.CosineAnnealing(MinimumRate: 0.1),
        }));

        Assert.Equal("Options.Schedule.MinimumRate", error.ParamName);
        Assert.StartsWith("Options.Schedule.MinimumRate must not exceed Options.LearningRate (0.001)", error.Message);
    }

    [Fact]
    public void Options_that_cannot_resume_say_so()
    {
        var ml = new MLContext(seed: 1);
        Assert.Contains("Options.Seed must be set when CheckpointDirectory is", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { CheckpointDirectory = _folder })).Message);
        Assert.Contains("Options.CheckpointDirectory must be null: a GAN", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options { CheckpointDirectory = _folder, Seed = 1 })).Message);
        Assert.Contains("Options.CheckpointEvery must be at least 1", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { CheckpointDirectory = _folder, Seed = 1, CheckpointEvery = 0 })).Message);
    }

    /// <summary>Reports on the calling thread (System.Progress posts to the thread pool, after Fit may have moved on).</summary>
    private sealed class Progress(Action<DeepArch.Trainers.EpochReport> report) : IProgress<DeepArch.Trainers.EpochReport>
    {
        public void Report(DeepArch.Trainers.EpochReport value) => report(value);
    }
}
