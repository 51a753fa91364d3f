using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepArch.MLNet;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Quality;

/// <summary>One candidate for the encoder–decoder's options: what differs from <c>new SequenceToSequenceEstimator.Options()</c>, and the change.</summary>
internal sealed record SequenceSetting(string Id, string Change, Action<SequenceToSequenceEstimator.Options> Apply);

/// <summary>What one setting gave: word and phoneme error rates on the validation words, epochs trained, and the fit's wall time.</summary>
internal sealed record SequenceResult(SequenceSetting Setting, double WordErrorRate, double PhonemeErrorRate, int Epochs, int BestEpoch, double FitMinutes);

/// <summary>
/// The <c>seq2seq-defaults</c> verb: <c>Transforms.MapSequenceToSequence</c> trained on the 40,000 training words of
/// data/cmudict_g2p_train.csv (letters to phonemes) for each candidate setting, measured on the 4,000 validation words by
/// <c>Data.EvaluateSequences</c>. Public API only; the PyTorch reference of the same network is eng/seq2seq/g2p_reference.py.
/// </summary>
internal static class SequenceDefaults
{
    public static readonly SequenceSetting[] Settings =
    [
        new("defaults", "the defaults", _ => { }),
        new("unidirectional", "Bidirectional = false (the default before this measurement)", o => o.Bidirectional = false),
        new("threads1", "TrainingThreads = 1 (the same model as the defaults up to rounding; for the wall time)", o => o.TrainingThreads = 1),
        new("epochs20", "Epochs = 20", o => o.Epochs = 20),
        new("dropout", "Dropout = 0.2", o => o.Dropout = 0.2f),
        new("no-attention", "Attention = None", o => o.Attention = Attention.None),
        new("general", "Attention = General (unscaled)", o => o.Attention = Attention.General),
        new("lstm", "Cell = Lstm", o => o.Cell = RecurrentCell.Lstm),
        new("dropout-epochs20", "Dropout = 0.2, Epochs = 20", o => (o.Dropout, o.Epochs) = (0.2f, 20)),
    ];

    public static IReadOnlyList<SequenceSetting> Select(string? ids)
    {
        if (ids is null)
        {
            return Settings;
        }
        var chosen = ids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(id => Settings.FirstOrDefault(s => s.Id == id) ?? throw new ArgumentException($"Unknown setting '{id}'; expected one of {string.Join(", ", Settings.Select(s => s.Id))}."))
            .ToList();
        return chosen;
    }

    public static IReadOnlyList<SequenceResult> Run(IReadOnlyList<SequenceSetting> settings, TextWriter progress)
    {
        var ml = new MLContext(seed: 1);
        var loader = ml.Data.CreateTextLoader([new TextLoader.Column("Word", DataKind.String, 0), new TextLoader.Column("Phonemes", DataKind.String, 1)],
            separatorChar: ',', hasHeader: true);
        var train = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "cmudict_g2p_train.csv"));
        var valid = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "cmudict_g2p_valid.csv"));
        var tokens = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Source", "Word", useMarkerCharacters: false)
            .Append(ml.Transforms.Text.TokenizeIntoWords("PhonemeTokens", "Phonemes"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Target", "PhonemeTokens"))
            .Fit(train);
        var trainTokens = ml.Data.Cache(tokens.Transform(train));
        var validTokens = ml.Data.Cache(tokens.Transform(valid));
        var results = new List<SequenceResult>();
        foreach (var setting in settings)
        {
            var options = new SequenceToSequenceEstimator.Options { Seed = 1 };
            setting.Apply(options);
            progress.WriteLine($"[{DateTime.Now:HH:mm:ss}] {setting.Id}: {setting.Change}...");
            var watch = Stopwatch.StartNew();
            using var model = ml.Transforms.MapSequenceToSequence(options).Fit(trainTokens);
            double minutes = watch.Elapsed.TotalMinutes;
            var metrics = ml.Data.EvaluateSequences(model.Transform(validTokens));
            var result = new SequenceResult(setting, metrics.SequenceErrorRate, metrics.TokenErrorRate, model.History.Epochs.Count, model.History.BestEpoch, minutes);
            progress.WriteLine($"  WER {result.WordErrorRate:P2}, PER {result.PhonemeErrorRate:P2}, {minutes:F1} min");
            results.Add(result);
        }
        return results;
    }

    public static string Report(string command, string commit, string machine, string load, TimeSpan elapsed, IReadOnlyList<SequenceResult> results)
    {
        var md = new StringBuilder();
        RunInfo.AppendHeader(md, "Sequence-to-sequence defaults: grapheme-to-phoneme", command, commit, machine, load, elapsed, [1], "Options.Seed = 1");
        md.AppendLine("`Transforms.MapSequenceToSequence` trained on the 40,000 words of data/cmudict_g2p_train.csv, letters " +
            "(`TokenizeIntoCharactersAsKeys`) to phonemes (`TokenizeIntoWords` + `MapValueToKey`), evaluated on the 4,000 words of " +
            "data/cmudict_g2p_valid.csv by `Data.EvaluateSequences`: word error rate = share of words not pronounced exactly, phoneme " +
            "error rate = edit distance over reference phonemes.").AppendLine();
        md.AppendLine("| setting | change from the defaults | word error rate | phoneme error rate | epochs | fit (min) |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Setting.Id} | {r.Setting.Change} | {r.WordErrorRate:P2} | {r.PhonemeErrorRate:P2} | {r.Epochs} | {r.FitMinutes:F1} |"));
        }
        return md.ToString();
    }
}
