using System.Diagnostics;
using DeepArch.Quality;

// Quality measurements on the bundled data. The Markdown report goes to stdout (and to --out PATH); progress goes to stderr.
string Usage = $"""
    Usage: DeepArch.Quality <verb> [--seeds N] [--out PATH] [--settings IDS]

    Verbs:
      defaults               issue 16's quality benchmark: every DeepArch estimator with default options on every bundled
                             data set it applies to, beside ML.NET's trainers (and scikit-learn's counterparts where
                             python3-sklearn is installed); with --out docs/quality.md it also writes docs/images/quality.svg
      presets                candidates for the defaults that lose in the defaults verb (the stacked autoencoder and
                             the recurrent classifier on the digits, the recurrent forecasting detector on the CO2
                             windows), each beside the current default on the same splits and seeds
      autoencoder-defaults   for each option the anomaly detector's and the autoencoder transforms' options share with
                             different defaults, ROC AUC of the detector and accuracy of a classifier on the transform's
                             code, per candidate value, on data/digits.csv
      gan-defaults           for the defaults of Transforms.GenerateByAdversarialNetwork and one change at a time from
                             them, label accuracy, Frechet distance (and its ratio to a per-label Gaussian's), precision
                             and recall of the digits a conditional GAN draws, against the issue's bar
      forecasting            DeepArch's two forecasters with default options against ML.NET's regression trainers (one per
                             week ahead) and the naive forecast, 8 weeks ahead of 26 on data/co2_weekly.csv
      seq2seq-defaults       for the defaults of Transforms.MapSequenceToSequence and one change at a time from them,
                             word and phoneme error rates of grapheme-to-phoneme on data/cmudict_g2p_*.csv (one seed;
                             about 5 min per setting on 2 cores)

    Options:
      --seeds N        seeds 1 to N per setting (default 5; defaults, presets and forecasting: 3)
      --out PATH       also write the report to PATH
      --settings IDS   gan-defaults, seq2seq-defaults and presets: the settings (presets: the tasks) to run, comma-separated
                       (default all: presets digits-stacked, digits-convolutional, digits-perceptron, wine-perceptron, digits-odd-perceptron,
                       diabetes-perceptron, digits-recurrent, digits-8bit, digits-8bit-offset, digits-0-4-vs-7-detector, digits-5-9-vs-1-detector,
                       digits-0-4-vs-7-ensemble, digits-5-9-vs-1-ensemble,
                       digits-features-autoencoder, co2-forecaster; gan-defaults
                       {string.Join(", ", GanDefaults.Settings.Select(s => s.Id))}; seq2seq-defaults {string.Join(", ", SequenceDefaults.Settings.Select(s => s.Id))})
    """;

string? verb = null;
string? outPath = null;
int seeds = 5;
string? settingIds = null;
bool seedsGiven = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        case "--out" when i + 1 < args.Length:
            outPath = args[++i];
            break;
        case "--settings" when i + 1 < args.Length:
            settingIds = args[++i];
            break;
        case "--seeds" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n is >= 1 and <= 100:
            seeds = n;
            seedsGiven = true;
            i++;
            break;
        case string a when !a.StartsWith('-') && verb is null:
            verb = a;
            break;
        default:
            Console.Error.WriteLine($"Unexpected argument '{args[i]}' (--seeds takes a number from 1 to 100, --out a path).");
            Console.Error.WriteLine(Usage);
            return 1;
    }
}
if (verb is not ("defaults" or "presets" or "autoencoder-defaults" or "gan-defaults" or "seq2seq-defaults" or "forecasting")
    || (settingIds is not null && verb is "autoencoder-defaults" or "defaults" or "forecasting"))
{
    Console.Error.WriteLine(verb is "autoencoder-defaults" or "defaults" or "forecasting" ? "--settings is for gan-defaults, seq2seq-defaults and presets only." :
        verb is null ? "Name a verb." : $"Unknown verb '{verb}'.");
    Console.Error.WriteLine(Usage);
    return 1;
}

var watch = Stopwatch.StartNew();
string loadAtStart = RunInfo.LoadAverage();
string report;
try
{
    report = verb switch
    {
        "gan-defaults" => GanReport(),
        "seq2seq-defaults" => SequenceReport(),
        "defaults" => DefaultsReport(),
        "presets" => PresetReport(),
        "forecasting" => ForecastingReport(),
        _ => AutoencoderReport(),
    };
}
catch (ArgumentException e) when (e.Message.StartsWith("Unknown setting", StringComparison.Ordinal) || e.Message.StartsWith("Unknown task", StringComparison.Ordinal))
{
    // A mistyped --settings is a usage error, not a crash.
    Console.Error.WriteLine(e.Message);
    return 1;
}

Console.Out.Write(report);
if (outPath is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
    File.WriteAllText(outPath, report);
    Console.Error.WriteLine($"Report written to {outPath}");
}
return 0;

string AutoencoderReport()
{
    var defaults = SharedDefaults.Compare();
    var experiment = new AutoencoderDefaults(Digits.Load(), seeds, Console.Error);
    var studies = AutoencoderDefaults.Studies.Select(s => (s, experiment.Run(s))).ToList();
    var rawPixels = experiment.RawPixelClassifier();
    return AutoencoderDefaultsReport.Write(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}",
        watch.Elapsed, experiment, defaults, studies, rawPixels);
}

// The GAN is trained on the grey levels 0 to 16, as the tests train it, so that the nearest-row distances are in their units.
string GanReport()
{
    var experiment = new GanDefaults(Digits.Load(divisor: 1f), seeds, GanDefaults.Select(settingIds), Console.Error);
    var results = experiment.Run();
    return GanDefaultsReport.Write(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}",
        watch.Elapsed, experiment, results);
}

// Every DeepArch default beside ML.NET's trainers; with --out, the chart goes to images/quality.svg beside the report.
string DefaultsReport()
{
    var benchmark = new DefaultsBenchmark(Enumerable.Range(1, seedsGiven ? seeds : 3).ToArray(), Console.Error);
    var tasks = DefaultsBenchmark.Tasks();
    var results = tasks.SelectMany(benchmark.Run).ToList();
    string? chart = null;
    if (outPath is not null)
    {
        string folder = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, "images");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "quality.svg"), DeepArch.Quality.DefaultsReport.Chart(DeepArch.Quality.DefaultsReport.Standings(tasks, results)));
        chart = "images/quality.svg";
    }
    return DeepArch.Quality.DefaultsReport.Write(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}",
        watch.Elapsed, benchmark, tasks, results, chart);
}

string ForecastingReport()
{
    var seedList = Enumerable.Range(1, seedsGiven ? seeds : 3).ToArray();
    var (train, test) = ForecastingStudy.Split();
    var results = ForecastingStudy.Run(train, test, seedList, Console.Error);
    return ForecastingStudy.Write(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}", watch.Elapsed,
        seedList, train, test, results);
}

string PresetReport()
{
    var benchmark = new DefaultsBenchmark(Enumerable.Range(1, seedsGiven ? seeds : 3).ToArray(), Console.Error) { WithScikitLearn = false };
    var all = PresetStudy.Tasks();
    string[] wanted = settingIds?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
    if (settingIds is not null && wanted.Length == 0)
    {
        throw new ArgumentException($"Unknown task ''; --settings names none. Expected some of {string.Join(", ", all.Select(t => t.Id))}.");
    }
    if (wanted.FirstOrDefault(id => all.All(t => t.Id != id)) is { } unknown)
    {
        throw new ArgumentException($"Unknown task '{unknown}'; expected one of {string.Join(", ", all.Select(t => t.Id))}.");
    }
    var tasks = all.Where(t => settingIds is null || wanted.Contains(t.Id)).ToList();
    var results = tasks.SelectMany(benchmark.Run).ToList();
    return PresetStudy.Write(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}", watch.Elapsed,
        benchmark.Seeds, tasks, results);
}

string SequenceReport()
{
    var results = SequenceDefaults.Run(SequenceDefaults.Select(settingIds), Console.Error);
    return SequenceDefaults.Report(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}", watch.Elapsed, results);
}
