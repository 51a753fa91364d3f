using System.Collections;
using System.Globalization;
using DeepArch.MLNet;
using Microsoft.ML;

namespace DeepArch.Quality;

/// <summary>
/// The defaults of every option that the anomaly detector's options and the autoencoder transforms' options share, read
/// through the public API from four places: each options class as constructed, and the options each simple catalog
/// overload builds (<c>AnomalyDetection.Trainers.Autoencoder()</c>, <c>Transforms.FeaturizeByAutoencoder(...)</c>).
/// </summary>
internal static class SharedDefaults
{
    /// <summary>One shared option: its default in the detector's Options, the detector's simple overload, the transforms' Options and <c>FeaturizeByAutoencoder</c>'s simple overload.</summary>
    public sealed record Row(string Option, string Detector, string DetectorSimple, string Transform, string TransformSimple)
    {
        public bool Differs => new[] { Detector, DetectorSimple, Transform, TransformSimple }.Distinct().Count() > 1;
    }

    public static IReadOnlyList<Row> Compare()
    {
        var ml = new MLContext(seed: 0);
        var detector = new AutoencoderAnomalyDetectionTrainer.Options();
        var detectorSimple = ml.AnomalyDetection.Trainers.Autoencoder().TrainerOptions;
        var transform = new AutoencoderFeaturizingEstimator.Options();
        var transformSimple = ml.Transforms.FeaturizeByAutoencoder("Code", "Features").TransformOptions;

        Row Autoencoder(string name, Func<AutoencoderAnomalyDetectionTrainer.Options, object?> d, Func<AutoencoderTransformOptions, object?> t)
            => new(name, Format(d(detector)), Format(d(detectorSimple)), Format(t(transform)), Format(t(transformSimple)));
        Row Network(string name, Func<NetworkOptions, object?> get) => Autoencoder(name, o => get(o), o => get(o));

        return
        [
            Autoencoder("LayerSizes", o => o.LayerSizes, o => o.LayerSizes),
            Autoencoder("Activation", o => o.Activation, o => o.Activation),
            Autoencoder("OutputActivation", o => o.OutputActivation, o => o.OutputActivation),
            Autoencoder("Dropout", o => o.Dropout, o => o.Dropout),
            Autoencoder("BatchNorm", o => o.BatchNorm, o => o.BatchNorm),
            Autoencoder("Kind", o => o.Kind, o => o.Kind),
            Autoencoder("ImageShape", o => o.ImageShape, o => o.ImageShape),
            Autoencoder("ConvolutionalFilters", o => o.ConvolutionalFilters, o => o.ConvolutionalFilters),
            Autoencoder("ActivityL1", o => o.ActivityL1, o => o.ActivityL1),
            Autoencoder("SparsityTarget", o => o.SparsityTarget, o => o.SparsityTarget),
            Autoencoder("SparsityWeight", o => o.SparsityWeight, o => o.SparsityWeight),
            Autoencoder("GaussianNoise", o => o.GaussianNoise, o => o.GaussianNoise),
            Autoencoder("MaskingProbability", o => o.MaskingProbability, o => o.MaskingProbability),
            Autoencoder("Beta", o => o.Beta, o => o.Beta),
            Network("Epochs", o => o.Epochs),
            Network("BatchSize", o => o.BatchSize),
            Network("LearningRate", o => o.LearningRate),
            Network("WeightDecay", o => o.WeightDecay),
            Network("Optimizer", o => o.Optimizer),
            Network("Momentum", o => o.Momentum),
            Network("Schedule", o => o.Schedule),
            Network("ValidationFraction", o => o.ValidationFraction),
            Network("EarlyStoppingPatience", o => o.EarlyStoppingPatience),
            Network("Seed", o => o.Seed),
            Network("Shuffle", o => o.Shuffle),
            Network("TrainingThreads", o => o.TrainingThreads),
            Network("ScoringBatchSize", o => o.ScoringBatchSize),
            Network("ScoringThreads", o => o.ScoringThreads),
            Network("Device", o => o.Device),
            Network("FallbackToCpu", o => o.FallbackToCpu),
        ];
    }

    /// <summary>An option value as the report writes it: invariant culture, lists in brackets.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(Format)) + "]",
        _ => value.ToString() ?? "",
    };
}
