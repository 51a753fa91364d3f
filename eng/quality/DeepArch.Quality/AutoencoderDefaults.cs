using System.Diagnostics;
using System.Globalization;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Quality;

/// <summary>
/// One combination of option values (the option under study first; each value as <see cref="SharedDefaults"/> formats it),
/// applied to both options classes, which are separate types until they merge.
/// </summary>
internal sealed record Setting(IReadOnlyList<(string Option, string Value)> Values, Action<AutoencoderAnomalyDetectionTrainer.Options> Detector,
    Action<AutoencoderTransformOptions> Transform)
{
    public string Value => Values[0].Value;
}

/// <summary>One table: the values of <paramref name="Option"/> measured under <paramref name="Conditions"/>.</summary>
internal sealed record Study(string Title, string Option, string Conditions, IReadOnlyList<Setting> Settings);

/// <summary>What one setting gave over the seeds: per anomaly split the ROC AUCs, and the classifier's figures on the code.</summary>
internal sealed class SettingResult(Setting setting, int splits)
{
    public Setting Setting { get; } = setting;
    public List<double>[] Auc { get; } = Enumerable.Range(0, splits).Select(_ => new List<double>()).ToArray();
    public List<double> MacroAccuracy { get; } = [];
    public List<double> MicroAccuracy { get; } = [];
    public List<double> ScaledMacroAccuracy { get; } = [];
    public List<double> MeanAbsCode { get; } = [];
    public List<double> CodeSparsity { get; } = [];
}

/// <summary>
/// The <c>autoencoder-defaults</c> verb: for each shared option whose default differs between
/// <c>AnomalyDetection.Trainers.Autoencoder</c> and <c>Transforms.FeaturizeByAutoencoder</c>, measures each candidate value in
/// both uses on the digits, over several seeds, everything else at the defaults a user gets.
/// </summary>
internal sealed class AutoencoderDefaults
{
    /// <summary>Normal digits vs one anomalous digit; the first is the README's split.</summary>
    public static readonly AnomalySplit[] Splits =
    [
        new("0-4 vs 7", [0, 1, 2, 3, 4], 7),
        new("5-9 vs 1", [5, 6, 7, 8, 9], 1),
        new("not 3 vs 3", [0, 1, 2, 4, 5, 6, 7, 8, 9], 3),
    ];

    public static readonly float[] ActivityL1Values = [0f, 1e-4f, 1e-3f, 1e-2f];

    public static readonly int[] EpochValues = [30, 50];

    /// <summary>
    /// ActivityL1 with the sparse kind (the only kind that reads it) at both candidate epoch counts, since the merged options will
    /// have one; Epochs with the default kind.
    /// </summary>
    public static IReadOnlyList<Study> Studies { get; } =
    [
        .. EpochValues.Select(epochs => new Study($"ActivityL1 at Epochs = {epochs}", "ActivityL1", $"Kind = Sparse, Epochs = {epochs} in both uses",
            ActivityL1Values.Select(l1 => Sparse(l1, epochs)).ToArray())),
        new("Epochs", "Epochs", "Kind = Deep (the default kind, which does not read ActivityL1)", EpochValues.Select(Deep).ToArray()),
    ];

    private static Setting Sparse(float activityL1, int epochs) => new(
        [("ActivityL1", SharedDefaults.Format(activityL1)), ("Epochs", SharedDefaults.Format(epochs))],
        o => (o.Kind, o.ActivityL1, o.Epochs) = (AutoencoderKind.Sparse, activityL1, epochs),
        o => (o.Kind, o.ActivityL1, o.Epochs) = (AutoencoderKind.Sparse, activityL1, epochs));

    private static Setting Deep(int epochs) => new([("Epochs", SharedDefaults.Format(epochs))], o => o.Epochs = epochs, o => o.Epochs = epochs);

    private readonly DigitRow[] _train;
    private readonly DigitRow[] _test;
    private readonly (DigitRow[] Train, DigitRow[] Test)[] _splitRows;
    private readonly TextWriter _progress;

    /// <summary>Splits <paramref name="digits"/> 70/30 (stratified, seed 1) and will run seeds 1 to <paramref name="seedCount"/>, reporting each fit to <paramref name="progress"/>.</summary>
    public AutoencoderDefaults(DigitRow[] digits, int seedCount, TextWriter progress)
    {
        (_train, _test) = Digits.StratifiedSplit(digits);
        _splitRows = Splits.Select(s => s.Rows(_train, _test)).ToArray();
        Seeds = Enumerable.Range(1, seedCount).ToArray();
        _progress = progress;
    }

    public IReadOnlyList<int> Seeds { get; }

    public int TrainCount => _train.Length;

    public int TestCount => _test.Length;

    public IReadOnlyList<(DigitRow[] Train, DigitRow[] Test)> SplitRows => _splitRows;

    /// <summary>Runs every setting of <paramref name="study"/> for every seed (seed outermost, so a cut-short run still covers each value).</summary>
    public IReadOnlyList<SettingResult> Run(Study study)
    {
        var results = study.Settings.Select(s => new SettingResult(s, Splits.Length)).ToArray();
        foreach (int seed in Seeds)
        {
            foreach (var result in results)
            {
                var watch = Stopwatch.StartNew();
                for (int i = 0; i < Splits.Length; i++)
                {
                    result.Auc[i].Add(DetectorAuc(result.Setting, _splitRows[i], seed));
                }
                var (macro, micro, scaledMacro, meanAbsCode, sparsity) = CodeClassifier(result.Setting, seed);
                result.MacroAccuracy.Add(macro);
                result.MicroAccuracy.Add(micro);
                result.ScaledMacroAccuracy.Add(scaledMacro);
                result.MeanAbsCode.Add(meanAbsCode);
                result.CodeSparsity.Add(sparsity);
                string aucs = string.Join(" / ", result.Auc.Select(a => a[^1].ToString("F4", CultureInfo.InvariantCulture)));
                _progress.WriteLine(FormattableString.Invariant(
                    $"{study.Title}: {study.Option} = {result.Setting.Value}, seed {seed}: AUC {aucs}, macro accuracy {macro:F4} ({watch.Elapsed.TotalSeconds:F0} s)"));
            }
        }
        return results;
    }

    /// <summary>Macro and micro accuracy of the classifier on the raw pixels, per seed.</summary>
    public (List<double> Macro, List<double> Micro) RawPixelClassifier()
    {
        var (macro, micro) = (new List<double>(), new List<double>());
        foreach (int seed in Seeds)
        {
            var ml = new MLContext(seed);
            var metrics = Classify(ml, ml.Data.LoadFromEnumerable(_train), ml.Data.LoadFromEnumerable(_test), "Features", scale: false);
            macro.Add(metrics.MacroAccuracy);
            micro.Add(metrics.MicroAccuracy);
        }
        return (macro, micro);
    }

    /// <summary>The detector with the setting applied, everything else at its Options defaults, trained on the split's normal train rows: ROC AUC on its test rows.</summary>
    private static double DetectorAuc(Setting setting, (DigitRow[] Train, DigitRow[] Test) rows, int seed)
    {
        var ml = new MLContext(seed);
        var options = new AutoencoderAnomalyDetectionTrainer.Options { FeatureColumnName = "Features", Seed = seed, TrainingThreads = 1 };
        setting.Detector(options);
        using var model = ml.AnomalyDetection.Trainers.Autoencoder(options).Fit(ml.Data.LoadFromEnumerable(rows.Train));
        return ml.AnomalyDetection.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(rows.Test))).AreaUnderRocCurve;
    }

    /// <summary>
    /// FeaturizeByAutoencoder with the setting applied, fitted on the train digits; the classifier trained on the train codes and
    /// evaluated on the test codes, as they come and min-max normalized; and, on the test codes, the mean absolute code value and
    /// the mean of each row's <see cref="Hoyer"/> sparsity.
    /// </summary>
    private (double Macro, double Micro, double ScaledMacro, double MeanAbsCode, double Sparsity) CodeClassifier(Setting setting, int seed)
    {
        var ml = new MLContext(seed);
        var options = new AutoencoderFeaturizingEstimator.Options { OutputColumnName = "Code", InputColumnName = "Features", Seed = seed, TrainingThreads = 1 };
        setting.Transform(options);
        var train = ml.Data.LoadFromEnumerable(_train);
        using var autoencoder = ml.Transforms.FeaturizeByAutoencoder(options).Fit(train);
        // Cached: the classifier passes over its training data many times, and each pass would run the encoder again.
        var trainCodes = ml.Data.Cache(autoencoder.Transform(train));
        var testCodes = ml.Data.Cache(autoencoder.Transform(ml.Data.LoadFromEnumerable(_test)));
        var plain = Classify(ml, trainCodes, testCodes, "Code", scale: false);
        var scaled = Classify(ml, trainCodes, testCodes, "Code", scale: true);
        var codes = testCodes.GetColumn<VBuffer<float>>("Code").Select(v => v.DenseValues().Select(x => (double)x).ToArray()).ToList();
        return (plain.MacroAccuracy, plain.MicroAccuracy, scaled.MacroAccuracy, codes.SelectMany(c => c).Average(Math.Abs), codes.Average(Hoyer));
    }

    /// <summary>
    /// Hoyer's sparsity of one code, (√k - ‖h‖₁ / ‖h‖₂) / (√k - 1): 0 when every unit is equally active, 1 when one is, whatever
    /// the code's scale; so it tells a sparser code from a merely smaller one (an L1 penalty on a linear code can shrink it and let
    /// the decoder scale it back up).
    /// </summary>
    private static double Hoyer(double[] code)
    {
        double l1 = code.Sum(Math.Abs);
        double l2 = Math.Sqrt(code.Sum(x => x * x));
        double root = Math.Sqrt(code.Length);
        return l2 == 0 ? 1 : (root - l1 / l2) / (root - 1);
    }

    /// <summary>LbfgsMaximumEntropy with its default options (deterministic, unlike multi-threaded SDCA) on <paramref name="features"/>.</summary>
    private static MulticlassClassificationMetrics Classify(MLContext ml, IDataView train, IDataView test, string features, bool scale)
    {
        IEstimator<ITransformer> pipeline = ml.Transforms.Conversion.MapValueToKey("Label");
        if (scale)
        {
            pipeline = pipeline.Append(ml.Transforms.NormalizeMinMax("Scaled", features));
            features = "Scaled";
        }
        pipeline = pipeline.Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", features));
        return ml.MulticlassClassification.Evaluate(pipeline.Fit(train).Transform(test));
    }
}
