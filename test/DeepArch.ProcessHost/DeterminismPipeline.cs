using System.Globalization;
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.ProcessHost;

/// <summary>
/// The pipelines the determinism tests train twice, in the test process and in a fresh one (this host's
/// <c>fit</c> verb); compiled into both, so that both train exactly the same thing. Each task trains in
/// its own <c>new MLContext(seed)</c> with no <c>Options.Seed</c> (the seed comes from the MLContext), with
/// shuffling, a validation split and (for the perceptrons) dropout on, so that every source of randomness
/// is exercised; the convolutional networks read the six features as a one-channel signal.
/// </summary>
internal static class DeterminismPipeline
{
    /// <summary>
    /// The tasks trained, in order: each task with a multilayer perceptron, then with a convolutional network, then the
    /// autoencoder family: a denoising-autoencoder anomaly detector (random noise in training) and a stacked-autoencoder
    /// classifier (layer-wise pretraining, then fine-tuning), then the recurrent family: a stacked LSTM classifier with dropout
    /// between its layers, a bidirectional GRU regressor, and the forecasting anomaly detector with Monte-Carlo dropout; last,
    /// a conditional GAN (noise in every step, two optimizers, the generator's weight average), whose lines are rows it draws.
    /// </summary>
    public static readonly string[] Tasks = ["multiclass", "binary", "regression", "cnn-multiclass", "cnn-binary", "cnn-regression", "ae-anomaly", "ae-stacked",
        "rnn-multiclass", "rnn-regression", "rnn-anomaly", "gan"];

    /// <summary>A training row with a label for each task.</summary>
    public sealed class Row
    {
        /// <summary>The features.</summary>
        [VectorType(6)]
        public float[] Features { get; set; } = [];

        /// <summary>The class (mapped to a key for multiclass).</summary>
        public float Class { get; set; }

        /// <summary>The binary label.</summary>
        public bool Flag { get; set; }

        /// <summary>The regression target.</summary>
        public float Target { get; set; }
    }

    /// <summary>Writes rows as CSV: six features, class, flag (0/1), target; floats round-trip exactly.</summary>
    public static void WriteCsv(string path, IEnumerable<Row> rows)
        => File.WriteAllLines(path, rows.Select(r => string.Join(",",
            r.Features.Append(r.Class).Append(r.Flag ? 1 : 0).Append(r.Target).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));

    /// <summary>Reads rows written by <see cref="WriteCsv"/>.</summary>
    public static Row[] ReadCsv(string path) => File.ReadLines(path).Select(line =>
    {
        float[] v = line.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return new Row { Features = v[..6], Class = v[6], Flag = v[7] != 0, Target = v[8] };
    }).ToArray();

    /// <summary>The estimator of <paramref name="task"/>.</summary>
    public static IEstimator<ITransformer> Create(MLContext ml, string task)
    {
        if (task == "ae-anomaly")
        {
            return ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
            {
                LayerSizes = [8, 3],
                Kind = AutoencoderKind.Denoising,
                GaussianNoise = 0.1f,
                Epochs = 4,
                BatchSize = 16,
                ValidationFraction = 0.2,
            });
        }
        if (task == "ae-stacked")
        {
            return ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class)).Append(ml.MulticlassClassification.Trainers.StackedAutoencoder(
                new StackedAutoencoderTrainer.Options { HiddenLayers = [8, 4], PretrainingEpochs = 2, Epochs = 3, BatchSize = 16, ValidationFraction = 0.2 }));
        }
        if (task.StartsWith("rnn-", StringComparison.Ordinal))
        {
            return CreateRecurrent(ml, task);
        }
        bool convolutional = task.StartsWith("cnn-", StringComparison.Ordinal);
        string label = task switch
        {
            "multiclass" or "cnn-multiclass" => "Label",
            "binary" or "cnn-binary" => nameof(Row.Flag),
            _ => nameof(Row.Target),
        };
        NetworkTrainerOptions options = convolutional
            ? new ConvolutionalNetworkTrainer.Options { InputShape = [1, 6] }
            : new MultilayerPerceptronTrainer.Options { HiddenLayers = [16, 8], Dropout = 0.1f };
        options.Epochs = 4;
        options.BatchSize = 16;
        options.ValidationFraction = 0.2;
        options.LabelColumnName = label;
        var mlp = options as MultilayerPerceptronTrainer.Options;
        var cnn = options as ConvolutionalNetworkTrainer.Options;
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class));
        return task switch
        {
            "multiclass" => keyed.Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(mlp!)),
            "binary" => ml.BinaryClassification.Trainers.MultilayerPerceptron(mlp!),
            "regression" => ml.Regression.Trainers.MultilayerPerceptron(mlp!),
            "cnn-multiclass" => keyed.Append(ml.MulticlassClassification.Trainers.ConvolutionalNetwork(cnn!)),
            "cnn-binary" => ml.BinaryClassification.Trainers.ConvolutionalNetwork(cnn!),
            _ => ml.Regression.Trainers.ConvolutionalNetwork(cnn!),
        };
    }

    /// <summary>The recurrent tasks: the six features read as 3 steps of 2.</summary>
    private static IEstimator<ITransformer> CreateRecurrent(MLContext ml, string task)
    {
        if (task == "rnn-anomaly")
        {
            return ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options
            {
                FeaturesPerStep = 2,
                HiddenSize = 6,
                ScoreBy = DeepArch.Trainers.ForecastScore.PredictiveVariance,
                MonteCarloPasses = 5,
                Epochs = 3,
                BatchSize = 16,
                ValidationFraction = 0.2,
            });
        }
        var options = new RecurrentNetworkTrainer.Options { FeaturesPerStep = 2, HiddenSize = 6, Epochs = 3, BatchSize = 16, ValidationFraction = 0.2 };
        if (task == "rnn-multiclass")
        {
            options.Layers = 2;
            options.Dropout = 0.2f;
            return ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class)).Append(ml.MulticlassClassification.Trainers.RecurrentNetwork(options));
        }
        options.Cell = DeepArch.Trainers.RecurrentCell.Gru;
        options.Bidirectional = true;
        options.LabelColumnName = nameof(Row.Target);
        return ml.Regression.Trainers.RecurrentNetwork(options);
    }

    /// <summary>Trains a small conditional GAN on the rows (labelled by their class) and draws as many rows, with a fixed seed.</summary>
    private static IEnumerable<string> FitAndDraw(MLContext ml, IDataView data, int count)
    {
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class)).Fit(data).Transform(data);
        using var generator = ml.Transforms.GenerateByAdversarialNetwork(new DeepArch.MLNet.GenerativeAdversarialNetworkEstimator.Options
        {
            LabelColumnName = "Label",
            NoiseSize = 4,
            GeneratorLayers = [16],
            DiscriminatorLayers = [16],
            Epochs = 4,
            BatchSize = 16,
            GeneratorAverage = 0.9,
        }).Fit(keyed);
        var drawn = ml.Data.Generate(generator, count, seed: 7);
        return drawn.GetColumn<float[]>("Features").Zip(drawn.GetColumn<uint>("Label"))
            .Select(p => "gan:" + string.Join(",", p.First.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + ":" + p.Second)
            .ToArray();
    }

    /// <summary>
    /// Trains every task on <paramref name="rows"/>, each in a fresh <c>MLContext(seed)</c>, scores the
    /// same rows and returns one line per row: the task, then its Score values written with "R".
    /// </summary>
    public static IEnumerable<string> FitAndScore(IReadOnlyList<Row> rows, int seed)
    {
        foreach (string task in Tasks)
        {
            var ml = new MLContext(seed);
            var data = ml.Data.LoadFromEnumerable(rows);
            if (task == "gan")
            {
                foreach (string line in FitAndDraw(ml, data, rows.Count))
                {
                    yield return line;
                }
                continue;
            }
            var model = Create(ml, task).Fit(data);
            var scored = model.Transform(data);
            var column = scored.Schema["Score"];
            using (var cursor = scored.GetRowCursor([column]))
            {
                if (column.Type is VectorDataViewType)
                {
                    var getter = cursor.GetGetter<VBuffer<float>>(column);
                    VBuffer<float> value = default;
                    while (cursor.MoveNext())
                    {
                        getter(ref value);
                        yield return task + ":" + string.Join(",", value.DenseValues().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
                    }
                }
                else
                {
                    var getter = cursor.GetGetter<float>(column);
                    float value = 0;
                    while (cursor.MoveNext())
                    {
                        getter(ref value);
                        yield return task + ":" + value.ToString("R", CultureInfo.InvariantCulture);
                    }
                }
            }
            (model as IDisposable)?.Dispose();
        }
    }
}
