using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// <see cref="AutoencoderAnomalyDetectionTrainer.Options.EnsembleSize"/>: the detector trains several autoencoders, member m
/// exactly as a detector of one with the seed m after, and scores the mean of their scores in one graph; the ensemble saves,
/// loads and continues like a single detector.
/// </summary>
public class DetectorEnsembleTests
{
    private static AutoencoderAnomalyDetectionTrainer.Options Options(int seed, int ensembleSize, bool standardizeError = false) => new()
    {
        LayerSizes = [16, 6],
        Epochs = 4,
        Seed = seed,
        EnsembleSize = ensembleSize,
        StandardizeError = standardizeError,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_ensembles_score_is_the_mean_of_its_members_scores(bool standardizeError)
    {
        var ml = new MLContext(seed: 1);
        var (trainRows, testRows) = AutoencoderAnomalyDetectionTests.Split();
        IDataView train = ml.Data.LoadFromEnumerable(trainRows.Take(400)), test = ml.Data.LoadFromEnumerable(testRows.Take(100));

        using var ensemble = ml.AnomalyDetection.Trainers.Autoencoder(Options(seed: 5, ensembleSize: 3, standardizeError)).Fit(train);
        var members = new[] { 5, 6, 7 }.Select(seed => ml.AnomalyDetection.Trainers.Autoencoder(Options(seed, ensembleSize: 1, standardizeError)).Fit(train)).ToArray();

        float[] expected = new float[100];
        foreach (var member in members)
        {
            float[] own = member.Transform(test).GetColumn<float>("Score").ToArray();
            for (int r = 0; r < own.Length; r++)
            {
                expected[r] += own[r] / members.Length;
            }
            member.Dispose();
        }
        float[] actual = ensemble.Transform(test).GetColumn<float>("Score").ToArray();
        Assert.All(Enumerable.Range(0, 100), r => Assert.True(Math.Abs(expected[r] - actual[r]) <= 1e-5 * Math.Max(1, Math.Abs(expected[r])),
            $"row {r}: the mean of the members' scores is {expected[r]}, the ensemble's {actual[r]}"));
        Assert.Equal(4, ensemble.History.Epochs.Count); // the first member's
    }

    /// <summary>
    /// The run logs and Progress describe the first network, whose history the model keeps; the others report to mlContext.Log as
    /// "network 2", "network 3". The CSV held the last network's losses while History held the first's, TensorBoard got one
    /// file per network under the same tags, and Progress numbered the epochs 1..4 three times (an outside probe).
    /// </summary>
    [Fact]
    public void An_ensembles_run_logs_and_progress_describe_the_network_whose_history_it_keeps()
    {
        var ml = new MLContext(seed: 1);
        var lines = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info) { lock (lines) { lines.Add(e.Message); } } };
        var (trainRows, _) = AutoencoderAnomalyDetectionTests.Split();
        string csv = Path.Combine(Path.GetTempPath(), $"deeparch-ensemble-{Guid.NewGuid():N}.csv");
        var reports = new List<DeepArch.Trainers.EpochReport>();
        var options = Options(seed: 5, ensembleSize: 3);
        options.HistoryCsvPath = csv;
        options.Progress = new OnEpoch(reports.Add);
        try
        {
            using var ensemble = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(ml.Data.LoadFromEnumerable(trainRows.Take(200)));

            string[] rows = File.ReadAllLines(csv)[1..];
            Assert.Equal(ensemble.History.Epochs.Count, rows.Length);
            Assert.Equal(ensemble.History.Epochs.Select(e => e.TrainLoss.ToString("R", System.Globalization.CultureInfo.InvariantCulture)), rows.Select(r => r.Split(',')[1]));
            Assert.Equal(ensemble.History.Epochs.Select(e => e.TrainLoss), reports.Select(r => r.TrainLoss));
            Assert.Single(lines, l => l.Contains("AutoencoderAnomalyDetection: epoch 4/4", StringComparison.Ordinal));
            Assert.Single(lines, l => l.Contains("AutoencoderAnomalyDetection: network 2, epoch 4/4", StringComparison.Ordinal));
            Assert.Single(lines, l => l.Contains("AutoencoderAnomalyDetection: network 3, epoch 4/4", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(csv);
        }
    }

    private sealed class OnEpoch(Action<DeepArch.Trainers.EpochReport> report) : IProgress<DeepArch.Trainers.EpochReport>
    {
        public void Report(DeepArch.Trainers.EpochReport value) => report(value);
    }

    [Fact]
    public void An_ensemble_saves_loads_and_continues_like_one_detector()
    {
        var ml = new MLContext(seed: 1);
        var (trainRows, testRows) = AutoencoderAnomalyDetectionTests.Split();
        IDataView train = ml.Data.LoadFromEnumerable(trainRows.Take(300)), test = ml.Data.LoadFromEnumerable(testRows.Take(80));
        var trainer = ml.AnomalyDetection.Trainers.Autoencoder(Options(seed: 2, ensembleSize: 2));
        using var model = trainer.Fit(train);
        float[] scores = model.Transform(test).GetColumn<float>("Score").ToArray();

        var (_, reloaded) = Fixtures.ReloadBothWays(ml, model, train.Schema);
        using var continued = trainer.Fit(train, model);

        Assert.All(reloaded, loaded => Assert.Equal(scores, loaded.Transform(test).GetColumn<float>("Score").ToArray()));
        Assert.Equal(8, continued.History.Epochs.Count);
        Assert.Contains("Ensemble (Options.EnsembleSize): 2 such networks, their scores averaged", model.NetworkSummary);
        Assert.Equal(model.NetworkSummary, DigitsCnnFixture.Flatten(reloaded[0]).OfType<NetworkTransformer>().Single().NetworkSummary);
        Assert.NotEqual(scores, continued.Transform(test).GetColumn<float>("Score").ToArray());
        var other = Assert.Throws<ArgumentException>(() => ml.AnomalyDetection.Trainers.Autoencoder(Options(seed: 2, ensembleSize: 3)).Fit(train, model));
        Assert.Equal("initialModel", other.ParamName);
        Assert.Contains("holds 2 networks but these options make 3 (Options.EnsembleSize)", other.Message);
    }

    [Fact]
    public void Each_member_of_a_checkpointed_ensemble_resumes_from_its_own_folder()
    {
        var ml = new MLContext(seed: 1);
        var (trainRows, testRows) = AutoencoderAnomalyDetectionTests.Split();
        IDataView train = ml.Data.LoadFromEnumerable(trainRows.Take(200)), test = ml.Data.LoadFromEnumerable(testRows.Take(50));
        string folder = Directory.CreateTempSubdirectory("deeparch-ensemble-").FullName;
        try
        {
            var options = Options(seed: 3, ensembleSize: 2);
            options.CheckpointDirectory = folder;
            using var first = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train);
            using var resumed = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(train); // both members' runs are finished: resumed at once

            Assert.True(File.Exists(Path.Combine(folder, "latest")));
            Assert.True(File.Exists(Path.Combine(folder, "member-2", "latest")));
            Assert.Equal(first.Transform(test).GetColumn<float>("Score").ToArray(), resumed.Transform(test).GetColumn<float>("Score").ToArray());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(33)]
    public void An_ensemble_size_out_of_range_is_named(int size)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { EnsembleSize = size }));

        Assert.Equal($"Options.EnsembleSize must be in [1, 32]; got {size}. (Parameter 'Options.EnsembleSize')\nActual value was {size}.", error.Message.Replace("\r", ""));
    }
}
