using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>
/// Variable-length sequences: a variable-size vector column holding whole steps, padded per batch with the true lengths
/// passed to the recurrent operators. A row's scores must not depend on what else is in its batch.
/// </summary>
public class SequenceInputTests(ITestOutputHelper output)
{
    /// <summary>A digit read row by row, keeping only its last 3 to 8 rows: a sequence of 3 to 8 steps of 8 pixels.</summary>
    public sealed class SequenceRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }

    private static SequenceRow[] Rows(IEnumerable<Datasets.DigitRow> digits, int seed)
    {
        var random = new Random(seed);
        return digits.Select(d =>
        {
            int steps = random.Next(3, 9);
            return new SequenceRow { Features = d.Features[((8 - steps) * 8)..].Select(v => v / 16f).ToArray(), Label = d.Label };
        }).ToArray();
    }

    private static (MLContext Ml, ITransformer Model, SequenceRow[] Test) Fit(int scoringBatchSize = 64, int maxSequenceLength = 0)
    {
        var ml = new MLContext(1);
        var (train, test) = Datasets.StratifiedSplit(Datasets.DigitRows, r => r.Label);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
            {
                FeaturesPerStep = 8,
                HiddenSize = 32,
                Bidirectional = true,
                Epochs = 6,
                LearningRate = 3e-3,
                ScoringBatchSize = scoringBatchSize,
                MaxSequenceLength = maxSequenceLength,
                TrainingThreads = 1,
            }));
        return (ml, pipeline.Fit(ml.Data.LoadFromEnumerable(Rows(train, 1))), Rows(test, 2));
    }

    [Fact]
    public void A_padded_batch_scores_each_sequence_as_it_scores_alone()
    {
        var (ml, model, test) = Fit(scoringBatchSize: 64);

        var batched = ScoreReader.Scores(model.Transform(ml.Data.LoadFromEnumerable(test)));
        using var engine = ml.Model.CreatePredictionEngine<SequenceRow, Prediction>(model);
        double worst = 0;
        for (int i = 0; i < test.Length; i++)
        {
            float[] alone = engine.Predict(test[i]).Score;
            for (int c = 0; c < alone.Length; c++)
            {
                worst = Math.Max(worst, Math.Abs(alone[c] - batched[i][c]));
            }
        }
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(test)));

        output.WriteLine($"{test.Length} sequences of 3-8 steps, batches of 64 vs one at a time: max abs difference {worst:E2}; accuracy {metrics.MicroAccuracy:F4}");
        Assert.True(worst <= 1e-5, $"max abs difference {worst:E2}");
        Assert.True(metrics.MicroAccuracy > 0.7, $"accuracy {metrics.MicroAccuracy:F4}");
    }

    [Fact]
    public void A_variable_length_model_round_trips_through_DeepArchModel_Load()
    {
        var (ml, model, test) = Fit();
        var data = ml.Data.LoadFromEnumerable(test);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-seq-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var loaded = DeepArchModel.Load(new MLContext(), path, out _);

            var before = ScoreReader.Scores(model.Transform(data));
            var after = ScoreReader.Scores(loaded.Transform(data));

            for (int i = 0; i < before.Length; i++)
            {
                Assert.Equal(before[i], after[i]);
            }

            // ML.NET's own OnnxTransformer reads only known-size vectors: a plain load cannot score the variable-size column,
            // and it fails (inside ML.NET, when rows are read) rather than scoring garbage. docs/recurrent-networks.md says to use DeepArchModel.Load.
            var plainContext = new MLContext();
            DeepArchModel.Register(plainContext);
            var plain = plainContext.Model.Load(path, out _);
            var error = Assert.ThrowsAny<Exception>(() => ScoreReader.Scores(plain.Transform(data)));
            var innermost = error;
            while (innermost.InnerException is not null)
            {
                innermost = innermost.InnerException;
            }
            output.WriteLine($"plain Model.Load on a variable-size column: {error.GetType().Name}: {error.Message} / {innermost.GetType().Name}: {innermost.Message}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_exported_variable_length_model_passes_the_onnx_checker_and_documents_its_input_layout()
    {
        var (_, model, _) = Fit();
        var network = ((IEnumerable<ITransformer>)model).OfType<DeepArch.MLNet.NetworkTransformer>().Single();
        using var stream = new MemoryStream();

        network.SaveOnnx(stream);

        OnnxAssert.CheckModel(stream.ToArray());
        Assert.Equal(1 + 8 * 8, network.FeatureSize);
    }

    [Fact]
    public void A_sequence_that_is_not_whole_steps_names_the_column_the_length_and_the_features_per_step()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 10).Select(i => new SequenceRow { Features = new float[i == 4 ? 13 : 16], Label = i % 2 }).ToArray();
        var trainer = ml.Regression.Trainers.RecurrentNetwork(featuresPerStep: 8, epochs: 1);

        var error = Assert.Throws<InvalidOperationException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.Equal("Feature column 'Features' holds 13 values, which is not a whole number of steps of 8 features (Options.FeaturesPerStep = 8). (row 4)", error.Message);
    }

    [Fact]
    public void Scoring_a_sequence_longer_than_the_model_was_trained_for_is_a_clear_error()
    {
        var (ml, model, _) = Fit(maxSequenceLength: 8);
        var tooLong = new[] { new SequenceRow { Features = new float[9 * 8], Label = 1 } };

        var error = Assert.Throws<InvalidOperationException>(() => ScoreReader.Scores(model.Transform(ml.Data.LoadFromEnumerable(tooLong))));

        Assert.Contains("Feature column 'Features' holds 9 steps at row 0, more than the 8 the model was trained for", error.Message);
    }

    /// <summary>A variable-length row's network input starts with its step count: the error once named slot k + 1 for value k (slot 48 of 48 values).</summary>
    [Theory]
    [InlineData(0, "slot 0 (step 0, feature 0)")]
    [InlineData(9, "slot 9 (step 1, feature 1)")]
    [InlineData(47, "slot 47 (step 5, feature 7)")]
    public void A_non_finite_value_in_a_variable_length_training_row_is_named_by_its_place_in_the_row(int at, string expected)
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 10).Select(i => new SequenceRow { Features = new float[i == 3 ? 48 : 16], Label = i % 2 }).ToArray();
        rows[3].Features[at] = float.NaN;
        var trainer = ml.Regression.Trainers.RecurrentNetwork(featuresPerStep: 8, epochs: 1);

        var error = Assert.Throws<InvalidOperationException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.StartsWith($"Feature column 'Features' holds NaN at row 3, {expected}; training needs finite values.", error.Message);
    }

    [Fact]
    public void A_training_sequence_longer_than_MaxSequenceLength_names_the_option_not_a_trained_model()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 10).Select(i => new SequenceRow { Features = new float[(i == 3 ? 6 : 4) * 8], Label = i % 2 }).ToArray();
        var trainer = ml.Regression.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options { FeaturesPerStep = 8, MaxSequenceLength = 5, Epochs = 1 });

        var error = Assert.Throws<InvalidOperationException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(rows)));

        Assert.Equal("Feature column 'Features' holds 6 steps at row 3, more than the 5 the network takes (Options.MaxSequenceLength, or the longest " +
            "training sequence when it is 0): raise Options.MaxSequenceLength.", error.Message);
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }
}
