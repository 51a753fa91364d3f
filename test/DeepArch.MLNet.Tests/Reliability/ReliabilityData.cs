using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>The three supervised tasks, small seeded data for each, and readers of their scores.</summary>
public static class ReliabilityData
{
    /// <summary>The tasks every estimator is tested for.</summary>
    public static TheoryData<string> Tasks => ["multiclass", "binary", "regression"];

    /// <summary>A row with a label for each task: <c>Class</c> (mapped to the key <c>Label</c>), <c>Flag</c> and <c>Target</c>.</summary>
    public sealed class Row
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];

        public float Class { get; set; }

        public bool Flag { get; set; }

        public float Target { get; set; }
    }

    /// <summary>A row with only the feature column, as a scoring client would send it.</summary>
    public sealed class FeatureRow
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
    }

    /// <summary><paramref name="count"/> seeded rows of three Gaussian blobs (see <see cref="Fixtures.Rows"/>).</summary>
    public static Row[] Rows(int count, int seed = 0)
        => Fixtures.Rows(count, seed).Select(r => new Row
        {
            Features = r.Features,
            Class = r.Label,
            Flag = r.Label == 1,
            Target = r.Label * 0.5f + r.Features[0] * 0.1f,
        }).ToArray();

    /// <summary>The label column each task trains on.</summary>
    public static string LabelOf(string task) => task switch
    {
        "multiclass" => "Label",
        "binary" => nameof(Row.Flag),
        _ => nameof(Row.Target),
    };

    /// <summary>Small, fast options for <paramref name="task"/>; <paramref name="configure"/> adjusts them.</summary>
    public static MultilayerPerceptronTrainer.Options Options(string task, Action<MultilayerPerceptronTrainer.Options>? configure = null)
    {
        var options = new MultilayerPerceptronTrainer.Options { LabelColumnName = LabelOf(task), HiddenLayers = [8], Epochs = 3, BatchSize = 16 };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>The trainer of <paramref name="task"/> from its catalog.</summary>
    public static MultilayerPerceptronTrainer Trainer(MLContext ml, string task, MultilayerPerceptronTrainer.Options options) => task switch
    {
        "multiclass" => ml.MulticlassClassification.Trainers.MultilayerPerceptron(options),
        "binary" => ml.BinaryClassification.Trainers.MultilayerPerceptron(options),
        "regression" => ml.Regression.Trainers.MultilayerPerceptron(options),
        _ => throw new ArgumentException($"Unknown task '{task}'.", nameof(task)),
    };

    /// <summary>The data the trainer of <paramref name="task"/> reads: for multiclass, <c>Class</c> mapped to the key <c>Label</c>.</summary>
    public static IDataView Prepare(MLContext ml, string task, IDataView data)
        => task == "multiclass" ? ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class)).Fit(data).Transform(data) : data;

    /// <summary>Fits the trainer of <paramref name="task"/> on <paramref name="rows"/>.</summary>
    public static NetworkTransformer Fit(MLContext ml, string task, IEnumerable<Row> rows, Action<MultilayerPerceptronTrainer.Options>? configure = null)
        => Trainer(ml, task, Options(task, configure)).Fit(Prepare(ml, task, ml.Data.LoadFromEnumerable(rows)));

    /// <summary>The bits of every score, for bit-for-bit comparisons that also treat NaN as equal to itself.</summary>
    public static int[][] Bits(float[][] scores) => scores.Select(r => r.Select(BitConverter.SingleToInt32Bits).ToArray()).ToArray();

    /// <summary>Wraps rows in an enumerable that counts how many were read.</summary>
    public sealed class CountingRows<T>(IEnumerable<T> rows)
    {
        public int Reads { get; private set; }

        public IEnumerable<T> Rows => rows.Select(r =>
        {
            Reads++;
            return r;
        });
    }
}
