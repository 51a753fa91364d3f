using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// Rows with missing values (NaN) or infinities at scoring: both anomaly detectors flag them by default, through every
/// load path, and throw naming the column, the row and the slot with <see cref="MissingValuePolicy.Throw"/>. They used to
/// come out as normal, since NaN is above no threshold (and ONNX Runtime's clamped activations can even turn a NaN
/// input into a finite score).
/// </summary>
public class AnomalyMissingValueTests
{
    private sealed class Output
    {
        public float Score { get; set; }

        public bool PredictedLabel { get; set; }
    }

    /// <summary>Rows 2 and 5 get a NaN, row 7 an infinity; the others are as they were.</summary>
    private static T[] WithGaps<T>(T[] rows, Func<T, float[]> features)
    {
        features(rows[2])[3] = float.NaN;
        features(rows[5])[0] = float.NaN;
        features(rows[7])[1] = float.PositiveInfinity;
        return rows;
    }

    private static readonly int[] Gaps = [2, 5, 7];

    private static AutoencoderAnomalyDetectionTrainer.Options AutoencoderOptions(MissingValuePolicy policy) => new()
    {
        LayerSizes = [16, 6],
        Epochs = 5,
        TrainingThreads = 1,
        MissingValues = policy,
    };

    private static (MLContext Ml, ITransformer Model, IDataView Clean, IDataView Gapped) Autoencoder(MissingValuePolicy policy)
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = AutoencoderAnomalyDetectionTests.Split();
        var model = ml.AnomalyDetection.Trainers.Autoencoder(AutoencoderOptions(policy)).Fit(ml.Data.LoadFromEnumerable(train));
        var mixed = test.Where(r => r.Label == 0).Take(12).Concat(test.Where(r => r.Label == 1).Take(8)).ToArray();
        var clean = mixed.Select(r => new AutoencoderAnomalyDetectionTests.Row { Features = (float[])r.Features.Clone(), Label = r.Label }).ToArray();
        var gapped = WithGaps(mixed.Select(r => new AutoencoderAnomalyDetectionTests.Row { Features = (float[])r.Features.Clone(), Label = r.Label }).ToArray(), r => r.Features);
        return (ml, model, ml.Data.LoadFromEnumerable(clean), ml.Data.LoadFromEnumerable(gapped));
    }

    private static Output[] Read(MLContext ml, IDataView scored) => ml.Data.CreateEnumerable<Output>(scored, reuseRowObject: false).ToArray();

    [Fact]
    public void The_autoencoder_detector_flags_rows_with_missing_values_through_every_load_path()
    {
        var (ml, model, clean, gapped) = Autoencoder(MissingValuePolicy.FlagAsAnomaly);
        using var saved = new MemoryStream();
        ml.Model.Save(model, clean.Schema, saved);
        var batched = DeepArchModel.Load(new MLContext(), new MemoryStream(saved.ToArray()), out _);
        var plainContext = new MLContext();
        DeepArchModel.Register(plainContext);
        var plain = plainContext.Model.Load(new MemoryStream(saved.ToArray()), out _);

        var expected = Read(ml, model.Transform(clean));
        foreach (var scorer in new[] { model, batched, plain })
        {
            var actual = Read(ml, scorer.Transform(gapped));
            for (int row = 0; row < actual.Length; row++)
            {
                if (Gaps.Contains(row))
                {
                    Assert.True(actual[row].PredictedLabel, $"row {row} holds a missing value and must be flagged");
                    Assert.True(float.IsNaN(actual[row].Score));
                }
                else
                {
                    Assert.Equal(expected[row].Score, actual[row].Score, 1e-5f);
                    Assert.Equal(expected[row].PredictedLabel, actual[row].PredictedLabel);
                }
            }
        }
        (batched as IDisposable)?.Dispose();
        (plain as IDisposable)?.Dispose();
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void With_the_Throw_policy_scoring_names_the_column_row_and_slot_and_clean_rows_still_score()
    {
        var (ml, model, clean, gapped) = Autoencoder(MissingValuePolicy.Throw);
        using var saved = new MemoryStream();
        ml.Model.Save(model, clean.Schema, saved);
        var loaded = DeepArchModel.Load(new MLContext(), new MemoryStream(saved.ToArray()), out _);
        var plainContext = new MLContext();
        DeepArchModel.Register(plainContext);
        var plain = plainContext.Model.Load(new MemoryStream(saved.ToArray()), out _);

        var fresh = Assert.Throws<InvalidOperationException>(() => Read(ml, model.Transform(gapped)));
        var reloaded = Assert.Throws<InvalidOperationException>(() => Read(ml, loaded.Transform(gapped)));
        var viaMLNet = Assert.ThrowsAny<Exception>(() => Read(ml, plain.Transform(gapped)));
        var engine = ml.Model.CreatePredictionEngine<AutoencoderAnomalyDetectionTests.Row, Output>(model);

        Assert.StartsWith("Feature column 'Features' holds NaN at row 2, slot 3, and the detector was trained with Options.MissingValues = Throw.", fresh.Message);
        Assert.Equal(fresh.Message, reloaded.Message);
        Assert.Contains("Options.MissingValues = Throw", Flatten(viaMLNet));
        Assert.Equal(20, Read(ml, model.Transform(clean)).Length);
        Assert.Throws<InvalidOperationException>(() => engine.Predict(new AutoencoderAnomalyDetectionTests.Row { Features = [float.NaN, .. new float[63]] }));
        (loaded as IDisposable)?.Dispose();
        (plain as IDisposable)?.Dispose();
    }

    [Fact]
    public void The_forecasting_detector_flags_windows_with_missing_values()
    {
        var ml = new MLContext(seed: 1);
        var (train, test) = ForecastingAnomalyDetectionTests.Data();
        var model = ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { HiddenSize = 8, Epochs = 2, TrainingThreads = 1 })
            .Fit(ml.Data.LoadFromEnumerable(train));
        var gapped = WithGaps(test.Take(12).Select(r => new ForecastingAnomalyDetectionTests.WindowRow { Features = (float[])r.Features.Clone(), Label = r.Label }).ToArray(), r => r.Features);

        var scored = Read(ml, model.Transform(ml.Data.LoadFromEnumerable(gapped)));

        Assert.All(Gaps, row => Assert.True(scored[row].PredictedLabel && float.IsNaN(scored[row].Score), $"window {row} holds a missing value and must be flagged"));
    }

    [Fact]
    public void Evaluate_accepts_scores_of_rows_with_missing_values()
    {
        var (ml, model, _, gapped) = Autoencoder(MissingValuePolicy.FlagAsAnomaly);

        var metrics = ml.AnomalyDetection.Evaluate(model.Transform(gapped));

        Assert.InRange(metrics.AreaUnderRocCurve, 0, 1);
    }

    private static string Flatten(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Flatten(e.InnerException);
}
