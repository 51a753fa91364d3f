using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Quality;

/// <summary>
/// Issue 16's quality benchmark: every DeepArch estimator with default options (its simple catalog overload, column names
/// only) on every bundled data set it applies to, beside ML.NET's own trainers for the same task with their defaults, and
/// scikit-learn's counterpart where Debian's python3-sklearn has one (eng/quality/reference/sklearn_quality.py), over seeds
/// 1 to N: seed s splits the data (70/30, stratified for classes; windows split by time) and seeds a fresh <c>MLContext</c> for each
/// model, so that every model of a seed trains from the same draw (two rows of the same options give the same figures).
/// </summary>
/// <remarks>
/// What a careful ML.NET user adds is added for ML.NET's trainers: the label mapped to keys (multiclass), and
/// <c>NormalizeMeanVariance</c> before the linear trainers (SDCA and L-BFGS need scaled features; the trees do not). DeepArch's
/// estimators get the raw columns: they standardize what needs it themselves, or their docs ask for a scale that the data
/// already has (the digits' pixels in [0, 1]).
/// </remarks>
internal sealed class DefaultsBenchmark(IReadOnlyList<int> seeds, TextWriter log)
{
    public enum Kind { Multiclass, Binary, Regression, Anomaly }

    /// <summary>Who made a model: DeepArch, ML.NET, or scikit-learn.</summary>
    public enum Family { DeepArch, MLNet, ScikitLearn }

    /// <summary>A benchmark row: features, a numeric value (class, target, or 1 = anomaly) and a flag (binary label).</summary>
    public sealed class Row
    {
        public float[] Features { get; set; } = [];

        public float Value { get; set; }

        public bool Flag { get; set; }
    }

    /// <summary>One estimator of a task: how it is named and made from the task's columns (Label, Features).</summary>
    public sealed record Model(string Name, Family Family, Func<MLContext, IEstimator<ITransformer>> Create);

    /// <summary>One task: a data set, its kind, its split for a seed, and the models that apply.</summary>
    public sealed record DataTask(string Id, string Title, Kind Kind, int FeatureCount, Func<int, (Row[] Train, Row[] Test)> Split, IReadOnlyList<Model> Models)
    {
        /// <summary>Whether scikit-learn has a counterpart of the task's models (default true).</summary>
        public bool HasScikitLearn { get; init; } = true;
    }

    /// <summary>What one model scored on one seed: each metric by name, and Fit's wall time.</summary>
    public sealed record Result(string TaskId, string Model, Family Family, int Seed, IReadOnlyDictionary<string, double> Metrics, double FitSeconds);

    /// <summary>The metrics of a kind, the first being the one the comparison ranks by, and whether higher is better.</summary>
    public static (string Name, bool HigherIsBetter)[] Metrics(Kind kind) => kind switch
    {
        Kind.Multiclass => [("accuracy", true), ("log_loss", false)],
        Kind.Binary => [("auc", true), ("accuracy", true)],
        Kind.Regression => [("r2", true), ("rmse", false)],
        _ => [("auc", true), ("detection_at_10_fp", true)],
    };

    public IReadOnlyList<int> Seeds => seeds;

    /// <summary>Whether <see cref="Run"/> also runs scikit-learn's counterpart of each task (default true).</summary>
    public bool WithScikitLearn { get; init; } = true;

    /// <summary>The tasks, in report order.</summary>
    public static IReadOnlyList<DataTask> Tasks()
    {
        var digits = Digits.Load();
        var wine = Csv.Load("wine.csv");
        var diabetes = Csv.Load("diabetes.csv");
        return
        [
            new("digits", "Digits (1,797 8x8 images, 10 classes), multiclass", Kind.Multiclass, 64,
                seed => Stratified(digits.Select(d => new Row { Features = d.Features, Value = d.Label }).ToArray(), seed),
                [
                    new("MultilayerPerceptron", Family.DeepArch, ml => ml.MulticlassClassification.Trainers.MultilayerPerceptron()),
                    new("ConvolutionalNetwork [1, 8, 8]", Family.DeepArch, ml => ml.MulticlassClassification.Trainers.ConvolutionalNetwork("Label", "Features", [1, 8, 8])),
                    new("RecurrentNetwork (8 steps of 8)", Family.DeepArch, ml => ml.MulticlassClassification.Trainers.RecurrentNetwork(featuresPerStep: 8)),
                    new("StackedAutoencoder", Family.DeepArch, ml => ml.MulticlassClassification.Trainers.StackedAutoencoder()),
                    .. MulticlassMlNet,
                ]),
            new("digits-features", "Digits, an 8-value feature-extraction stage then LbfgsMaximumEntropy, multiclass", Kind.Multiclass, 64,
                seed => Stratified(digits.Select(d => new Row { Features = d.Features, Value = d.Label }).ToArray(), seed),
                [
                    new("FeaturizeByAutoencoder (8-value code) + LbfgsMaximumEntropy", Family.DeepArch, ml => ml.Transforms.FeaturizeByAutoencoder("Code", "Features")
                        .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: "Code"))),
                    new("ProjectToPrincipalComponents (rank 8) + LbfgsMaximumEntropy", Family.MLNet, ml => ml.Transforms.ProjectToPrincipalComponents("Code", "Features", rank: 8)
                        .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(featureColumnName: "Code"))),
                ]) { HasScikitLearn = false },
            new("wine", "Wine (178 wines, 13 measurements in their own units, 3 cultivars), multiclass", Kind.Multiclass, 13,
                seed => Stratified(wine, seed),
                [new("MultilayerPerceptron", Family.DeepArch, ml => ml.MulticlassClassification.Trainers.MultilayerPerceptron()), .. MulticlassMlNet]),
            new("digits-odd", "Digits, odd against even, binary", Kind.Binary, 64,
                seed => Stratified(digits.Select(d => new Row { Features = d.Features, Value = d.Label, Flag = d.Label % 2 == 1 }).ToArray(), seed),
                [new("MultilayerPerceptron", Family.DeepArch, ml => ml.BinaryClassification.Trainers.MultilayerPerceptron()), .. BinaryMlNet]),
            new("diabetes-high", "Diabetes (442 patients, 10 features in their own units), progression above the training median, binary", Kind.Binary, 10,
                seed => AboveMedian(Random(diabetes, seed)),
                [new("MultilayerPerceptron", Family.DeepArch, ml => ml.BinaryClassification.Trainers.MultilayerPerceptron()), .. BinaryMlNet]),
            new("diabetes", "Diabetes, disease progression (25 to 346), regression", Kind.Regression, 10,
                seed => Random(diabetes, seed),
                [
                    new("MultilayerPerceptron", Family.DeepArch, ml => ml.Regression.Trainers.MultilayerPerceptron()),
                    new("Sdca (NormalizeMeanVariance)", Family.MLNet, ml => ml.Transforms.NormalizeMeanVariance("Features").Append(ml.Regression.Trainers.Sdca())),
                    new("FastTree", Family.MLNet, ml => ml.Regression.Trainers.FastTree()),
                    new("FastForest", Family.MLNet, ml => ml.Regression.Trainers.FastForest()),
                    new("LightGbm", Family.MLNet, ml => ml.Regression.Trainers.LightGbm()),
                ]),
            new("digits-0-4-vs-7", "Digits, anomaly detection: trained on 0-4, the 7s are the anomalies", Kind.Anomaly, 64,
                seed => AnomalySplit(digits, seed, [0, 1, 2, 3, 4], 7),
                [new("Autoencoder", Family.DeepArch, ml => ml.AnomalyDetection.Trainers.Autoencoder()), .. AnomalyMlNet]),
            new("digits-5-9-vs-1", "Digits, anomaly detection: trained on 5-9, the 1s are the anomalies", Kind.Anomaly, 64,
                seed => AnomalySplit(digits, seed, [5, 6, 7, 8, 9], 1),
                [new("Autoencoder", Family.DeepArch, ml => ml.AnomalyDetection.Trainers.Autoencoder()), .. AnomalyMlNet]),
            new("co2-windows", "CO2, windows of 26 weeks (relative to their mean): trained on the first 60% of the series; half the later windows carry a 1.5-3 ppm spike at a random week", Kind.Anomaly, Co2Windows.Size,
                Co2Windows.Split,
                [
                    new("RecurrentForecaster", Family.DeepArch, ml => ml.AnomalyDetection.Trainers.RecurrentForecaster()),
                    new("EncoderDecoder", Family.DeepArch, ml => ml.AnomalyDetection.Trainers.EncoderDecoder()),
                    .. AnomalyMlNet,
                ]),
        ];
    }

    private static readonly Model[] MulticlassMlNet =
    [
        new("SdcaMaximumEntropy (NormalizeMeanVariance)", Family.MLNet, ml => ml.Transforms.NormalizeMeanVariance("Features").Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy())),
        new("LbfgsMaximumEntropy (NormalizeMeanVariance)", Family.MLNet, ml => ml.Transforms.NormalizeMeanVariance("Features").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy())),
        new("LightGbm", Family.MLNet, ml => ml.MulticlassClassification.Trainers.LightGbm()),
        new("OneVersusAll(FastTree)", Family.MLNet, ml => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree())),
        new("OneVersusAll(FastForest)", Family.MLNet, ml => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastForest())),
    ];

    private static readonly Model[] BinaryMlNet =
    [
        new("SdcaLogisticRegression (NormalizeMeanVariance)", Family.MLNet, ml => ml.Transforms.NormalizeMeanVariance("Features").Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression())),
        new("LbfgsLogisticRegression (NormalizeMeanVariance)", Family.MLNet, ml => ml.Transforms.NormalizeMeanVariance("Features").Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression())),
        new("FastTree", Family.MLNet, ml => ml.BinaryClassification.Trainers.FastTree()),
        new("FastForest", Family.MLNet, ml => ml.BinaryClassification.Trainers.FastForest()),
        new("LightGbm", Family.MLNet, ml => ml.BinaryClassification.Trainers.LightGbm()),
    ];

    private static readonly Model[] AnomalyMlNet = [new("RandomizedPca", Family.MLNet, ml => ml.AnomalyDetection.Trainers.RandomizedPca())];

    /// <summary>Runs every model of <paramref name="task"/> on every seed, then scikit-learn's counterpart.</summary>
    public List<Result> Run(DataTask task)
    {
        var results = new List<Result>();
        foreach (int seed in seeds)
        {
            var (train, test) = task.Split(seed);
            foreach (var model in task.Models)
            {
                // A fresh context per model: a trainer without a seed of its own draws one from the context, and a shared
                // context gave each model of the list a different draw, so two rows of the same options differed by their seed.
                var ml = new MLContext(seed: seed);
                IDataView trainView = Load(ml, train, task), testView = Load(ml, test, task);
                log.Write($"{task.Id}, seed {seed}: {model.Name}... ");
                var watch = Stopwatch.StartNew();
                var fitted = Labels(ml, task.Kind).Append(model.Create(ml)).Fit(trainView);
                double seconds = watch.Elapsed.TotalSeconds;
                var metrics = Evaluate(ml, task.Kind, fitted.Transform(testView));
                (fitted as IDisposable)?.Dispose();
                foreach (var part in fitted)
                {
                    (part as IDisposable)?.Dispose();
                }
                log.WriteLine($"{string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value:F4}"))} ({seconds:F1} s)");
                results.Add(new Result(task.Id, model.Name, model.Family, seed, metrics, seconds));
            }
            if (WithScikitLearn && task.HasScikitLearn)
            {
                results.AddRange(ScikitLearn(task, seed, train, test));
            }
        }
        return results;
    }

    /// <summary>Why scikit-learn's models are missing from the report, or null when they ran.</summary>
    public string? ScikitLearnMissing { get; private set; }

    private IEnumerable<Result> ScikitLearn(DataTask task, int seed, Row[] train, Row[] test)
    {
        if (ScikitLearnMissing is not null)
        {
            return [];
        }
        string folder = Path.Combine(Path.GetTempPath(), $"deeparch-quality-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        string Write(string name, Row[] rows)
        {
            string path = Path.Combine(folder, name);
            File.WriteAllLines(path, rows.Select(r => string.Join(',', r.Features.Append(task.Kind == Kind.Binary ? (r.Flag ? 1 : 0) : r.Value)
                .Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            return path;
        }
        string trainPath = Write($"{task.Id}-{seed}-train.csv", train), testPath = Write($"{task.Id}-{seed}-test.csv", test);
        string script = Path.Combine(AppContext.BaseDirectory, "reference", "sklearn_quality.py");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { script, task.Kind.ToString().ToLowerInvariant(), trainPath, testPath, seed.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }
        var watch = Stopwatch.StartNew();
        try
        {
            using var python = Process.Start(start)!;
            string output = python.StandardOutput.ReadToEnd();
            string error = python.StandardError.ReadToEnd();
            python.WaitForExit();
            if (python.ExitCode != 0)
            {
                ScikitLearnMissing = $"/usr/bin/python3 {Path.GetFileName(script)} failed ({error.Trim().Split('\n').LastOrDefault()}); `apt-get install python3-sklearn` provides it";
                return [];
            }
            var results = new List<Result>();
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var json = JsonDocument.Parse(line).RootElement;
                var metrics = json.EnumerateObject().Where(p => p.Name != "model").ToDictionary(p => p.Name, p => p.Value.GetDouble());
                string name = json.GetProperty("model").GetString()!;
                log.WriteLine($"{task.Id}, seed {seed}: {name}: {string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value:F4}"))}");
                results.Add(new Result(task.Id, name, Family.ScikitLearn, seed, metrics, watch.Elapsed.TotalSeconds));
            }
            return results;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            ScikitLearnMissing = $"/usr/bin/python3 could not start ({e.Message})";
            return [];
        }
        finally
        {
            File.Delete(trainPath);
            File.Delete(testPath);
        }
    }

    private static IDataView Load(MLContext ml, Row[] rows, DataTask task)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, task.FeatureCount);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>The label column each task's trainers read: a key of the class, the flag, or the value (a target, or 1 = anomaly for Evaluate).</summary>
    private static IEstimator<ITransformer> Labels(MLContext ml, Kind kind) => kind switch
    {
        Kind.Multiclass => ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Value)),
        Kind.Binary => ml.Transforms.CopyColumns("Label", nameof(Row.Flag)),
        _ => ml.Transforms.CopyColumns("Label", nameof(Row.Value)),
    };

    private static Dictionary<string, double> Evaluate(MLContext ml, Kind kind, IDataView scored)
    {
        switch (kind)
        {
            case Kind.Multiclass:
                var multiclass = ml.MulticlassClassification.Evaluate(scored);
                return new() { ["accuracy"] = multiclass.MicroAccuracy, ["log_loss"] = multiclass.LogLoss };
            case Kind.Binary:
                var binary = ml.BinaryClassification.EvaluateNonCalibrated(scored);
                return new() { ["auc"] = binary.AreaUnderRocCurve, ["accuracy"] = binary.Accuracy };
            case Kind.Regression:
                var regression = ml.Regression.Evaluate(scored);
                return new() { ["r2"] = regression.RSquared, ["rmse"] = regression.RootMeanSquaredError };
            default:
                var anomaly = ml.AnomalyDetection.Evaluate(scored, falsePositiveCount: 10);
                return new() { ["auc"] = anomaly.AreaUnderRocCurve, ["detection_at_10_fp"] = anomaly.DetectionRateAtFalsePositiveCount };
        }
    }

    /// <summary>30% of each class's rows to the test part, chosen by <paramref name="seed"/>.</summary>
    private static (Row[] Train, Row[] Test) Stratified(Row[] rows, int seed)
    {
        var random = new Random(seed);
        var (train, test) = (new List<Row>(), new List<Row>());
        foreach (var group in rows.GroupBy(r => r.Value).OrderBy(g => g.Key))
        {
            var members = group.ToArray();
            random.Shuffle(members);
            int count = (int)Math.Round(members.Length * 0.3);
            test.AddRange(members.Take(count));
            train.AddRange(members.Skip(count));
        }
        return (train.ToArray(), test.ToArray());
    }

    private static (Row[] Train, Row[] Test) Random(Row[] rows, int seed)
    {
        var shuffled = rows.ToArray();
        new Random(seed).Shuffle(shuffled);
        int count = (int)Math.Round(rows.Length * 0.3);
        return (shuffled[count..], shuffled[..count]);
    }

    /// <summary>The flag set where the value is above the training rows' median.</summary>
    private static (Row[] Train, Row[] Test) AboveMedian((Row[] Train, Row[] Test) split)
    {
        var sorted = split.Train.Select(r => r.Value).Order().ToArray();
        float median = sorted[sorted.Length / 2];
        Row Flagged(Row r) => new() { Features = r.Features, Value = r.Value, Flag = r.Value > median };
        return (split.Train.Select(Flagged).ToArray(), split.Test.Select(Flagged).ToArray());
    }

    private static (Row[] Train, Row[] Test) AnomalySplit(DigitRow[] digits, int seed, int[] normal, int anomaly)
    {
        var (train, test) = Digits.StratifiedSplit(digits, seed: seed);
        Row ToRow(DigitRow d) => new() { Features = d.Features, Value = (int)d.Label == anomaly ? 1 : 0 };
        return (train.Where(d => normal.Contains((int)d.Label)).Select(ToRow).ToArray(),
            test.Where(d => normal.Contains((int)d.Label) || (int)d.Label == anomaly).Select(ToRow).ToArray());
    }

    /// <summary>The CO2 windows of the tests' <c>EncoderDecoderTests</c>: the first 60% of the weeks train, the windows after it test (every third week), half with a spike.</summary>
    private static class Co2Windows
    {
        public const int Size = 26;

        public static (Row[] Train, Row[] Test) Split(int seed)
        {
            var series = Csv.Load("co2_weekly.csv", dateFirst: true).Select(r => r.Value).ToArray();
            int split = (int)(series.Length * 0.6);
            var random = new Random(seed);
            Row Make(int end, bool fault)
            {
                var values = Enumerable.Range(end - Size, Size).Select(i => series[i]).ToArray();
                float mean = values.Average();
                values = values.Select(v => (v - mean) / 2f).ToArray();
                if (fault)
                {
                    values[random.Next(Size)] += (float)((random.Next(2) * 2 - 1) * (1.5 + 1.5 * random.NextDouble())) / 2f;
                }
                return new Row { Features = values, Value = fault ? 1 : 0 };
            }
            return (Enumerable.Range(Size, split - Size).Select(e => Make(e, false)).ToArray(),
                Enumerable.Range(split + Size, series.Length - split - Size).Where(e => e % 3 == 0).Select((e, i) => Make(e, i % 2 == 1)).ToArray());
        }
    }

    /// <summary>A bundled CSV file: the features, then the value in the last column (or a date, then one value).</summary>
    private static class Csv
    {
        public static Row[] Load(string name, bool dateFirst = false)
            => File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", name)).Skip(1).Select(line =>
            {
                var fields = line.Split(',');
                var values = (dateFirst ? fields[1..] : fields).Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                return new Row { Features = values[..^1], Value = values[^1] };
            }).ToArray();
    }
}
