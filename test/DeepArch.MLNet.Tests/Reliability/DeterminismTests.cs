using DeepArch.ProcessHost;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// The same seed and data give bit-identical predictions on the CPU: across two fits in one process
/// (with Options.Seed, and with only the MLContext's seed), while other test classes train on other
/// threads, and across processes. For each architecture family present: multilayer perceptrons, recurrent networks and
/// convolutional networks.
/// </summary>
public class DeterminismTests
{
    private static IReadOnlyList<DeterminismPipeline.Row> TrainingRows => Rows(96, seed: 12)
        .Select(r => new DeterminismPipeline.Row { Features = r.Features, Class = r.Class, Flag = r.Flag, Target = r.Target }).ToArray();

    /// <summary>Every architecture family present, for every task.</summary>
    public static TheoryData<string, string> Families => new()
    {
        { "MLP", "multiclass" }, { "MLP", "binary" }, { "MLP", "regression" },
        { "CNN", "multiclass" }, { "CNN", "binary" }, { "CNN", "regression" },
        { "RNN", "multiclass" }, { "RNN", "binary" }, { "RNN", "regression" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void Two_fits_with_the_same_Options_Seed_predict_the_same_bits_whatever_the_MLContext_seed(string family, string task)
    {
        var rows = Rows(80, seed: 3);

        using var first = FitFamily(new MLContext(seed: 1), family, task, rows, seed: 11);
        using var second = FitFamily(new MLContext(seed: 99), family, task, rows, seed: 11);

        var ml = new MLContext();
        var data = Prepare(ml, task, ml.Data.LoadFromEnumerable(rows));
        Assert.Equal(Bits(Scores(first.Transform(data))), Bits(Scores(second.Transform(data))));
    }

    private static NetworkTransformer FitFamily(MLContext ml, string family, string task, ReliabilityData.Row[] rows, int seed)
    {
        if (family == "MLP")
        {
            return Fit(ml, task, rows, o => { o.Seed = seed; o.Dropout = 0.2f; });
        }
        if (family == "RNN")
        {
            // Two stacked LSTM layers with dropout between them: dropout masks must come from the seed too.
            var recurrent = new RecurrentNetworkTrainer.Options
            {
                FeaturesPerStep = 2, HiddenSize = 6, Layers = 2, Dropout = 0.2f, LabelColumnName = LabelOf(task), Epochs = 3, BatchSize = 16, Seed = seed,
            };
            var rnn = task switch
            {
                "multiclass" => ml.MulticlassClassification.Trainers.RecurrentNetwork(recurrent),
                "binary" => ml.BinaryClassification.Trainers.RecurrentNetwork(recurrent),
                _ => ml.Regression.Trainers.RecurrentNetwork(recurrent),
            };
            return rnn.Fit(Prepare(ml, task, ml.Data.LoadFromEnumerable(rows)));
        }
        var options = new ConvolutionalNetworkTrainer.Options { InputShape = [1, 6], LabelColumnName = LabelOf(task), Epochs = 3, BatchSize = 16, Seed = seed };
        var trainer = task switch
        {
            "multiclass" => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options),
            "binary" => ml.BinaryClassification.Trainers.ConvolutionalNetwork(options),
            _ => ml.Regression.Trainers.ConvolutionalNetwork(options),
        };
        return trainer.Fit(Prepare(ml, task, ml.Data.LoadFromEnumerable(rows)));
    }

    [Fact]
    public void Two_fits_seeded_only_by_the_MLContext_predict_the_same_bits_and_another_seed_changes_them()
    {
        var rows = TrainingRows;

        string[] first = DeterminismPipeline.FitAndScore(rows, seed: 3).ToArray();
        string[] second = DeterminismPipeline.FitAndScore(rows, seed: 3).ToArray();
        string[] other = DeterminismPipeline.FitAndScore(rows, seed: 4).ToArray();

        Assert.Equal(DeterminismPipeline.Tasks.Length * rows.Count, first.Length);
        Assert.Equal(first, second);
        foreach (string task in DeterminismPipeline.Tasks)
        {
            Assert.NotEqual(first.Where(l => l.StartsWith(task + ":", StringComparison.Ordinal)), other.Where(l => l.StartsWith(task + ":", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void A_fit_in_a_fresh_process_predicts_the_same_bits_as_in_this_one()
    {
        var rows = TrainingRows;
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-determinism-{Guid.NewGuid():N}.csv");
        try
        {
            DeterminismPipeline.WriteCsv(path, rows);
            Assert.Equal(RowBits(rows), RowBits(DeterminismPipeline.ReadCsv(path)));

            string[] here = DeterminismPipeline.FitAndScore(rows, seed: 5).ToArray();
            string[] there = ProcessHost.Run("fit", path, "5");

            Assert.Equal(DeterminismPipeline.Tasks.Length * rows.Count, here.Length);
            Assert.Equal(here, there);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int[][] RowBits(IEnumerable<DeterminismPipeline.Row> rows)
        => rows.Select(r => r.Features.Append(r.Class).Append(r.Target).Select(BitConverter.SingleToInt32Bits).Append(r.Flag ? 1 : 0).ToArray()).ToArray();

    /// <summary>
    /// The libtorch thread count is part of the recipe (README, "Determinism"): the same seed trains the same CNN with the same
    /// TrainingThreads, and another model with another count: two threads train each batch in two halves whose gradients are added,
    /// not summed over the whole batch at once (and where batches are not split, libtorch splits its reductions by thread).
    /// </summary>
    [Fact]
    public void The_training_thread_count_is_part_of_what_reproduces_a_model()
    {
        var rows = Datasets.DigitRows.ToArray();
        float[] ScoresWith(int threads)
        {
            var ml = new MLContext(seed: 1);
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
            using var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
            {
                InputShape = [1, 8, 8], Epochs = 2, TrainingThreads = threads,
            }).Fit(data);
            return Scores(model.Transform(data)).SelectMany(s => s).ToArray();
        }

        float[] one = ScoresWith(1), again = ScoresWith(1), two = ScoresWith(2);
        double moved = one.Zip(two).Max(p => Math.Abs(p.First - p.Second));
        Console.WriteLine($"CNN on the 1,797 digits, 2 epochs: largest score difference between 1 and 2 training threads {moved:G3}");

        Assert.Equal(Bits([one]), Bits([again]));
        Assert.True(moved > 0, "1 and 2 training threads trained the same bits; update README's Determinism note");
    }
}
