using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Evaluation;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;

namespace DeepArch.MLNet;

/// <summary>
/// How close generated rows are to real ones (<c>mlContext.Data.EvaluateGenerated</c>). Every distance but the nearest-row
/// ones is measured in the feature space of a classifier trained on the real rows (the last hidden layer, 64 values), as the
/// Fréchet inception distance uses an image classifier's; without a label the features are the rows scaled to [-1, 1].
/// </summary>
/// <param name="LabelAccuracy">For labelled rows: the share of generated rows the classifier assigns their own label; null without a label.</param>
/// <param name="FrechetDistance">The Fréchet distance between the generated and the real rows; 0 for the same distribution.</param>
/// <param name="FrechetDistanceFloor">The same distance between two random halves of the real rows: what sampling alone gives.</param>
/// <param name="Precision">The share of generated rows inside the 3-nearest-neighbour ball of some real row: how realistic they are.</param>
/// <param name="Recall">The share of real rows inside the 3-nearest-neighbour ball of some generated row: how much of the data they cover.</param>
/// <param name="NearestTrainingDistance">The median distance, in the data's units, of a generated row to its nearest real row.</param>
/// <param name="HeldOutNearestTrainingDistance">
/// The median distance of a held-out real row to its nearest real (training) row; a generated median far below it means the
/// generator copies its training rows. Null when no held-out rows were given.
/// </param>
/// <param name="GaussianBaseline">
/// The same figures for the trivial generator a useful one must beat: a Gaussian with the full covariance of the real rows of each
/// label (of all of them without a label), each value clipped to its feature's range, as many rows with the same labels as the
/// generated ones. Null in the baseline's own metrics.
/// </param>
public sealed record GeneratedDataMetrics(
    double? LabelAccuracy,
    double FrechetDistance,
    double FrechetDistanceFloor,
    double Precision,
    double Recall,
    double NearestTrainingDistance,
    double? HeldOutNearestTrainingDistance,
    GeneratedDataMetrics? GaussianBaseline);

/// <summary>Options of <c>mlContext.Data.EvaluateGenerated</c>.</summary>
public sealed class GeneratedDataEvaluatorOptions
{
    /// <summary>The rows' column, in the real and the generated data: a known-size vector of <c>Single</c>.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>A key-typed label column in both data views; null (default) measures without labels.</summary>
    public string? LabelColumnName { get; set; }

    /// <summary>When the rows are images, [channels, height, width]: the classifier is then convolutional, whose features see strokes and textures.</summary>
    public IReadOnlyList<int>? ImageShape { get; set; }

    /// <summary>The neighbour whose distance is a ball's radius in precision and recall; at least 1.</summary>
    public int NearestNeighbors { get; set; } = 3;

    /// <summary>The seed of the classifier, the halves and the Gaussian baseline; null draws it from the MLContext's seed.</summary>
    public int? Seed { get; set; }

    /// <summary>Passes of the classifier over the real rows; at least 1.</summary>
    public int ClassifierEpochs { get; set; } = 30;
}

/// <summary>Computes <see cref="GeneratedDataMetrics"/>.</summary>
internal static class GeneratedDataEvaluator
{
    private const int FeatureSize = 64;

    public static GeneratedDataMetrics Evaluate(IDataView real, IDataView generated, IDataView? heldOut, GeneratedDataEvaluatorOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(generated);
        ArgumentNullException.ThrowIfNull(options);
        Check(options);
        var (feature, width) = FeatureColumn.Resolve(real.Schema, options.FeatureColumnName, "real feature");
        if (options.ImageShape is { } image && image.Aggregate(1L, (a, d) => a * d) != width)
        {
            throw new ArgumentOutOfRangeException("options.ImageShape", Shapes.Format(image), $"ImageShape {Shapes.Format(image)} does not hold the {width} values of column '{feature.Name}'.");
        }
        var realRows = Read(real, options, width, "real", out var keys);
        var generatedRows = Read(generated, options, width, "generated", out var generatedKeys);
        if (keys is not null && generatedKeys!.Count != keys.Count)
        {
            throw new ArgumentException($"The generated label column has {generatedKeys.Count} keys but the real one has {keys.Count}.", nameof(generated));
        }
        if (keys is not null && keys.FirstDifference(generatedKeys!) is { } key)
        {
            throw new ArgumentException($"Label column '{options.LabelColumnName}': key {key + 1} is '{keys.Values![key]}' in the real rows but '{generatedKeys!.Values![key]}' " +
                "in the generated ones; key both with the same MapValueToKey (Data.Generate keeps the training data's keys).", nameof(generated));
        }
        var heldOutRows = heldOut is null ? null : Read(heldOut, options, width, "held-out", out _);
        int needed = options.NearestNeighbors + 1;
        if (realRows.Count < Math.Max(needed, 4) || generatedRows.Count < needed)
        {
            throw new ArgumentException(
                $"Evaluating generated rows needs at least {Math.Max(needed, 4)} real and {needed} generated rows; got {realRows.Count} and {generatedRows.Count}.");
        }

        var scaling = GanDataScaling.FromRows(realRows.Features, width);
        using var classifier = keys is null ? null : TrainClassifier(realRows, scaling, width, keys.Count, options, seed);
        float[] Embed(float[] rows) => classifier is null ? scaling.ToUnit(rows) : classifier.Features.Predict(scaling.ToUnit(rows), rows.Length / width);
        int embedded = classifier is null ? width : FeatureSize;
        double? heldOutDistance = heldOutRows is null ? null : Median(SampleQuality.NearestDistances(heldOutRows.Features, realRows.Features, width));

        var random = new Random(seed);
        var halves = Enumerable.Range(0, realRows.Count).OrderBy(_ => random.Next()).ToArray();
        var realFeatures = Embed(realRows.Features);
        double floor = SampleQuality.FrechetDistance(Pick(realFeatures, halves[..(halves.Length / 2)], embedded), Pick(realFeatures, halves[(halves.Length / 2)..], embedded), embedded);

        GeneratedDataMetrics Measure(TrainingSet rows, GeneratedDataMetrics? baseline)
        {
            var rowFeatures = Embed(rows.Features);
            double? accuracy = classifier is null ? null : LabelAccuracy(rowFeatures, rows.Targets, classifier.Head);
            var (precision, recall) = SampleQuality.PrecisionRecall(realFeatures, rowFeatures, embedded, options.NearestNeighbors);
            return new GeneratedDataMetrics(accuracy, SampleQuality.FrechetDistance(rowFeatures, realFeatures, embedded), floor, precision, recall,
                Median(SampleQuality.NearestDistances(rows.Features, realRows.Features, width)), heldOutDistance, baseline);
        }

        var gaussian = DrawGaussian(realRows, generatedRows, width, keys?.Count ?? 0, random);
        return Measure(generatedRows, Measure(gaussian, null));
    }

    private static void Check(GeneratedDataEvaluatorOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.FeatureColumnName))
        {
            throw new ArgumentOutOfRangeException("options.FeatureColumnName", options.FeatureColumnName, "options.FeatureColumnName must name a column.");
        }
        if (options.NearestNeighbors < 1)
        {
            throw new ArgumentOutOfRangeException("options.NearestNeighbors", options.NearestNeighbors, $"options.NearestNeighbors must be at least 1; got {options.NearestNeighbors}.");
        }
        if (options.ClassifierEpochs < 1)
        {
            throw new ArgumentOutOfRangeException("options.ClassifierEpochs", options.ClassifierEpochs, $"options.ClassifierEpochs must be at least 1; got {options.ClassifierEpochs}.");
        }
        if (options.ImageShape is { } image && (image.Count != 3 || image[0] < 1 || image[1] < 4 || image[2] < 4))
        {
            throw new ArgumentOutOfRangeException("options.ImageShape", Shapes.Format(image),
                $"options.ImageShape must be [channels, height, width] with height and width at least 4 (the classifier pools twice); got {Shapes.Format(image)}.");
        }
    }

    /// <summary>Reads the rows and, with a label, their 0-based labels as targets.</summary>
    private static TrainingSet Read(IDataView data, GeneratedDataEvaluatorOptions options, int width, string role, out LabelKeys? keys)
    {
        try
        {
            return ReadRows(data, options, width, role, out keys);
        }
        catch (InvalidOperationException e) when (e.GetType() == typeof(InvalidOperationException))
        {
            // The reader's errors name the column, row and slot; which of the three data views holds it is ours to say.
            throw new InvalidOperationException($"The {role} data cannot be evaluated: {e.Message}", e);
        }
    }

    private static TrainingSet ReadRows(IDataView data, GeneratedDataEvaluatorOptions options, int width, string role, out LabelKeys? keys)
    {
        var feature = FeatureColumn.Resolve(data.Schema, options.FeatureColumnName, width, $"{role} feature");
        if (data.GetRowCount() == 0)
        {
            throw new ArgumentException($"The {role} data has no rows: evaluating generated rows needs at least 4 real and 4 generated rows.");
        }
        if (options.LabelColumnName is null)
        {
            keys = null;
            return TrainingSet.WithoutTargets(TrainingDataReader.ReadFeatures(data, feature, width, CancellationToken.None), [width]);
        }
        var label = data.Schema.GetColumnOrNull(options.LabelColumnName);
        keys = LabelKeys.FromColumn(label, options.LabelColumnName, $"{role} label");
        return TrainingDataReader.Read(data, feature, width, label!.Value, new MulticlassTask(keys.Count, keys.ValueType, keys.Values), CancellationToken.None);
    }

    /// <summary>A trained classifier in two parts: up to its last hidden layer (the features), and its output layer.</summary>
    private sealed class Classifier(Network features, Network head) : IDisposable
    {
        public Network Features => features;

        public Network Head => head;

        public void Dispose()
        {
            features.Dispose();
            head.Dispose();
        }
    }

    /// <summary>Trains a classifier on the real rows (scaled to [-1, 1]).</summary>
    private static Classifier TrainClassifier(TrainingSet real, GanDataScaling scaling, int width, int classes, GeneratedDataEvaluatorOptions options, int seed)
    {
        LayerSpec[] body = options.ImageShape is { } image
            ?
            [
                new Reshape(image), new Conv2d(16, 3, padding: ConvPadding.Same), new Activation(ActivationKind.ReLU), new MaxPool2d(2),
                new Conv2d(32, 3, padding: ConvPadding.Same), new Activation(ActivationKind.ReLU), new MaxPool2d(2),
                new Flatten(), new Dense(FeatureSize), new Activation(ActivationKind.ReLU),
            ]
            : [new Dense(128), new Activation(ActivationKind.ReLU), new Dense(FeatureSize), new Activation(ActivationKind.ReLU)];
        using var classifier = new Network(new Sequential([.. body, new Dense(classes)]), [width], seed);
        new TrainingLoop(new TrainingOptions { Epochs = options.ClassifierEpochs, BatchSize = 32, Seed = seed })
            .Fit(new SupervisedObjective(classifier, LossFunction.CrossEntropy), new TrainingSet(scaling.ToUnit(real.Features), [width], real.Targets, 1));
        var features = new Network(new Sequential(body), [width], seed);
        var head = new Network(new Sequential(new Dense(classes)), [FeatureSize], seed);
        for (int layer = 0; layer < body.Length; layer++)
        {
            features.CopyLayer(layer, classifier, layer);
        }
        head.CopyLayer(0, classifier, body.Length);
        return new Classifier(features, head);
    }

    private static double LabelAccuracy(float[] features, float[] labels, Network head)
    {
        float[] logits = head.Predict(features, labels.Length);
        int classes = logits.Length / labels.Length;
        int right = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            right += MulticlassTask.ArgMax(logits.AsSpan(r * classes, classes)) == (int)labels[r] ? 1 : 0;
        }
        return right / (double)labels.Length;
    }

    /// <summary>As many Gaussian rows as <paramref name="generated"/> has, with its labels, each drawn from the real rows of that label.</summary>
    private static TrainingSet DrawGaussian(TrainingSet real, TrainingSet generated, int width, int classes, Random random)
    {
        var rows = new float[generated.Features.Length];
        if (classes == 0)
        {
            SampleQuality.DrawGaussian(real.Features, width, generated.Count, random).CopyTo(rows, 0);
            return TrainingSet.WithoutTargets(rows, [width]);
        }
        for (int c = 0; c < classes; c++)
        {
            int[] targets = Enumerable.Range(0, generated.Count).Where(r => generated.Targets[r] == c).ToArray();
            if (targets.Length == 0)
            {
                continue;
            }
            float[] own = Enumerable.Range(0, real.Count).Where(r => real.Targets[r] == c).SelectMany(r => real.Features.AsSpan(r * width, width).ToArray()).ToArray();
            if (own.Length < 2 * width)
            {
                throw new ArgumentException($"The real rows hold {own.Length / width} rows of label {c + 1}; a Gaussian per label needs at least 2.");
            }
            float[] draws = SampleQuality.DrawGaussian(own, width, targets.Length, random);
            for (int i = 0; i < targets.Length; i++)
            {
                draws.AsSpan(i * width, width).CopyTo(rows.AsSpan(targets[i] * width));
            }
        }
        return new TrainingSet(rows, [width], generated.Targets, 1);
    }

    private static float[] Pick(float[] rows, int[] indices, int width)
        => indices.SelectMany(i => rows.AsSpan(i * width, width).ToArray()).ToArray();

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
