using System.Diagnostics;
using DeepArch.Quality;

// Quality measurements on the bundled data. The Markdown report goes to stdout (and to --out PATH); progress goes to stderr.
const string Usage = """
    Usage: DeepArch.Quality <verb> [--seeds N] [--out PATH]

    Verbs:
      autoencoder-defaults   for each option the anomaly detector's and the autoencoder transforms' options share with
                             different defaults, ROC AUC of the detector and accuracy of a classifier on the transform's
                             code, per candidate value, on data/digits.csv

    Options:
      --seeds N    seeds 1 to N per setting (default 5)
      --out PATH   also write the report to PATH
    """;

string? verb = null;
string? outPath = null;
int seeds = 5;
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
        case "--seeds" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n is >= 1 and <= 100:
            seeds = n;
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
if (verb != "autoencoder-defaults")
{
    Console.Error.WriteLine(verb is null ? "Name a verb." : $"Unknown verb '{verb}'.");
    Console.Error.WriteLine(Usage);
    return 1;
}

var watch = Stopwatch.StartNew();
string loadAtStart = RunInfo.LoadAverage();
var defaults = SharedDefaults.Compare();
var experiment = new AutoencoderDefaults(Digits.Load(), seeds, Console.Error);
var studies = AutoencoderDefaults.Studies.Select(s => (s, experiment.Run(s))).ToList();
var rawPixels = experiment.RawPixelClassifier();
string report = AutoencoderDefaultsReport.Write(RunInfo.Command(args), RunInfo.Commit(), RunInfo.Machine(), $"{loadAtStart}, {RunInfo.LoadAverage()}",
    watch.Elapsed, experiment, defaults, studies, rawPixels);

Console.Out.Write(report);
if (outPath is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
    File.WriteAllText(outPath, report);
    Console.Error.WriteLine($"Report written to {outPath}");
}
return 0;
