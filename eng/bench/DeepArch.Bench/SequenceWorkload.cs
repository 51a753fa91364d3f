using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.Bench;

/// <summary>
/// The encoder–decoder of <c>Transforms.MapSequenceToSequence</c> on grapheme-to-phoneme (data/cmudict_g2p_*.csv), side by side in
/// one process: training (the whole <c>Fit</c>) on the first N training words at the default options but for the epochs and
/// threads, and greedy decoding of the 4,000 validation words through the transformer (scoring batches of 256); then the same
/// network, step and decoding in PyTorch (g2p_reference.py, right after, with as many threads).
/// </summary>
internal sealed class SequenceWorkload(BenchOptions options, TextWriter log) : IWorkload
{
    public List<SummaryRow> Summary { get; } = [];

    public sealed class WordRow
    {
        public string Word { get; set; } = "";

        public string Phonemes { get; set; } = "";
    }

    public (string Report, bool Ok) Run()
    {
        int reps = options.RepetitionsGiven ? options.Repetitions : 3;
        int words = options.Quick ? 2_000 : 8_000, epochs = options.Quick ? 1 : 2;
        int threads = options.TrainingThreads > 0 ? options.TrainingThreads : 1;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        string loadBefore = MachineInfo.LoadAverage();
        var ml = new MLContext(seed: 1);
        var trainRows = Read(BenchOptions.FindInRepository("data/cmudict_g2p_train.csv")).Take(words).ToList();
        var validRows = Read(BenchOptions.FindInRepository("data/cmudict_g2p_valid.csv"));
        var tokens = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Source", "Word", useMarkerCharacters: false)
            .Append(ml.Transforms.Text.TokenizeIntoWords("PhonemeTokens", "Phonemes"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Target", "PhonemeTokens"))
            .Fit(ml.Data.LoadFromEnumerable(trainRows));
        var train = ml.Data.Cache(tokens.Transform(ml.Data.LoadFromEnumerable(trainRows)));
        // Validation words whose phonemes the training words never held cannot be keys of the target: decode the letters only.
        var valid = ml.Data.Cache(ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Source", "Word", useMarkerCharacters: false)
            .Fit(ml.Data.LoadFromEnumerable(trainRows)).Transform(ml.Data.LoadFromEnumerable(validRows)));
        var estimatorOptions = new SequenceToSequenceEstimator.Options { Epochs = epochs, Seed = 1, TrainingThreads = threads };
        double Fit(int trainingThreads)
        {
            var o = new SequenceToSequenceEstimator.Options { Epochs = epochs, Seed = 1, TrainingThreads = trainingThreads };
            using var model = ml.Transforms.MapSequenceToSequence(o).Fit(train);
            return model.History.Epochs[^1].TrainLoss;
        }
        log.WriteLine("seq2seq: training the decoded model (untimed)");
        using var decoder = ml.Transforms.MapSequenceToSequence(estimatorOptions).Fit(train);
        var scored = decoder.Transform(valid);
        double Decode()
        {
            double sum = 0;
            using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
            var score = cursor.GetGetter<float>(scored.Schema["Score"]);
            float value = 0;
            while (cursor.MoveNext())
            {
                score(ref value);
                sum += value;
            }
            return sum;
        }
        var contenders = new List<Contender>
        {
            new("fit-seq2seq", (long)words * epochs, "fit", () => Fit(threads)),
            // Side by side: one libtorch thread per core (TrainingThreads = 0), to choose the estimator's thread default.
            new("fit-seq2seq-all-cores", (long)words * epochs, "fit-all-cores", () => Fit(0)),
            new("decode-seq2seq", validRows.Count, "decode", Decode),
        };
        log.WriteLine($"seq2seq: {words} words x {epochs} epoch(s), decoding {validRows.Count} words, {threads} training thread(s), {reps} repetitions");
        var t = Harness.Run(contenders, options.Warmups, reps, new DisturbancePolicy(options.MaxForeign, TimeSpan.FromSeconds(options.RetryBudgetSeconds)), log);

        var torchRef = new TorchReference(BenchOptions.FindInRepository("eng/bench/reference/g2p_reference.py"), log);
        var py = torchRef.Run("g2p", ["--max-words", Text(words), "--epochs", Text(epochs), "--threads", Text(threads),
            .. (estimatorOptions.Bidirectional ? new[] { "--bidirectional" } : [])]);
        double? Figure(string name) => py is { } r ? r.GetProperty(name).GetDouble() : null;

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# DeepArch sequence-to-sequence benchmark");
        sb.AppendLine();
        MachineInfo.AppendRunHeader(sb, wall.Elapsed, loadBefore);
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Protocol: `Transforms.MapSequenceToSequence` with its default network ({(estimatorOptions.Bidirectional ? "bidirectional " : "")}GRU 256, embeddings 64, scaled attention; batch 64, Adam 1e-3, clipping 1), seed 1, {threads} training thread(s), on the first {words:N0} words of data/cmudict_g2p_train.csv for {epochs} epoch(s); training samples/s = words x epochs / wall seconds of the whole `Fit`. Decoding: the {validRows.Count:N0} validation words through the fitted transformer (greedy decoding inside the ONNX `Loop`, scoring batches of 256), sequences/s. {options.Warmups} warm-up pass(es), {reps} interleaved repetitions."));
        sb.AppendLine();
        sb.AppendLine("PyTorch = g2p_reference.py run right after with as many threads: the same network, batch, optimizer and clipping on the same words (its samples/s cover the training epochs only, without reading data or export), and its greedy decoding of the validation words at batch 256 under `no_grad`.");
        sb.AppendLine();
        sb.AppendLine("| workload | DeepArch | PyTorch | DeepArch / PyTorch |");
        sb.AppendLine("|---|---:|---:|---:|");
        void Row(string section, string name, string id, string unit, double? reference, double? target)
        {
            double ours = t[id].MedianRowsPerSecond;
            string theirs = reference is { } p ? p.ToString("F0", inv) : "not run";
            sb.AppendLine(inv, $"| {name} | {ours:F0} {unit} | {theirs} | {(reference is { } q ? (ours / q).ToString("F3", inv) : "n/a")} |");
            Summary.Add(new(section, name, ours.ToString("F0", inv) + " " + unit, "PyTorch 1.13 (g2p_reference.py)", theirs + (reference is null ? "" : " " + unit),
                reference is { } r ? ours / r : double.NaN, target, target is { } x ? $"{x.ToString("0.0##", inv)}x" : "(speed ratio)"));
        }
        Row("Training", $"seq2seq Fit (G2P), {words:N0} words x {epochs} epochs", "fit-seq2seq", "samples/s", Figure("samples_per_s"), null);
        sb.AppendLine(inv, $"| seq2seq Fit with one thread per core ({Environment.ProcessorCount}), same words and epochs | {t["fit-seq2seq-all-cores"].MedianRowsPerSecond:F0} samples/s | | {t["fit-seq2seq-all-cores"].MedianRowsPerSecond / t["fit-seq2seq"].MedianRowsPerSecond:F3} of {threads} thread(s) |");
        Row("Scoring", $"seq2seq greedy decoding, {validRows.Count:N0} words, batch 256", "decode-seq2seq", "sequences/s", Figure("decode_sequences_per_s"), null);
        sb.AppendLine();
        sb.AppendLine(inv, $"PyTorch runs: {torchRef.Describe()}");
        sb.AppendLine();
        sb.AppendLine("| contender | median s | min s | max s | redone | worst foreign |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var c in contenders)
        {
            var x = t[c.Id];
            sb.AppendLine(inv, $"| `{c.Id}` | {Stats.Median(x.Seconds):F2} | {x.Seconds.Min():F2} | {x.Seconds.Max():F2} | {x.Redone} | {x.Foreign.DefaultIfEmpty(0).Max():P0} |");
        }
        bool ok = contenders.All(c => t[c.Id].ChecksumStable(1e-6));
        if (!ok)
        {
            sb.AppendLine();
            sb.AppendLine("WARNING: a contender's passes computed different values (see the checksums).");
        }
        return (sb.ToString(), ok);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static List<WordRow> Read(string path)
        => File.ReadLines(path).Skip(1).Where(l => l.Length > 0).Select(l =>
        {
            int comma = l.IndexOf(',');
            return new WordRow { Word = l[..comma], Phonemes = l[(comma + 1)..] };
        }).ToList();
}
