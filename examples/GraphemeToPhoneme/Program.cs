// GraphemeToPhoneme: an encoder-decoder that spells out how English words are pronounced, as an ML.NET transform.
//   1. Trains mlContext.Transforms.MapSequenceToSequence with its default options on 40,000 words (letters in, phonemes out).
//   2. Reports the word error rate and the phoneme error rate on 4,000 words it never saw (mlContext.Data.EvaluateSequences),
//      overall and by the length of the pronunciation.
//   3. Prints the pronunciations it gives for real words and for invented ones.
//   4. Saves the pipeline, loads it back, and checks that the loaded one says the same.
//   5. Writes the training loss per epoch and the attention map of one word as PNG.
//
// Data: data/cmudict_g2p_train.csv and cmudict_g2p_valid.csv, words with one pronunciation from the CMU Pronouncing
// Dictionary (Carnegie Mellon University; BSD-style licence), stress marks removed, split at random by word.
//
// Run from the repository root:  dotnet run -c Release --project examples/GraphemeToPhoneme [output folder] [--words N]
using System.Diagnostics;
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

string outputDirectory = Path.GetFullPath(args.FirstOrDefault(a => !a.StartsWith("--")) ?? Path.Combine("artifacts", "examples", "GraphemeToPhoneme"));
int words = args.SkipWhile(a => a != "--words").Skip(1).Select(int.Parse).FirstOrDefault();
Directory.CreateDirectory(outputDirectory);
var mlContext = new MLContext(seed: 1);
// Fit writes each epoch to ML.NET's log; show those lines.
mlContext.Log += (_, e) =>
{
    if (e.Kind == ChannelMessageKind.Info && e.Message.Contains("SequenceToSequence:", StringComparison.Ordinal))
    {
        Console.WriteLine("  " + e.Message[(e.Message.IndexOf("SequenceToSequence:", StringComparison.Ordinal) + 20)..]);
    }
};

var loader = mlContext.Data.CreateTextLoader([new TextLoader.Column("Word", DataKind.String, 0), new TextLoader.Column("Phonemes", DataKind.String, 1)],
    separatorChar: ',', hasHeader: true);
var train = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "cmudict_g2p_train.csv"));
if (words > 0)
{
    train = mlContext.Data.TakeRows(train, words);
}
var valid = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "cmudict_g2p_valid.csv"));

// Letters as keys (one per character), phonemes as keys (one per space-separated symbol).
var tokens = mlContext.Transforms.Text.TokenizeIntoCharactersAsKeys("Source", "Word", useMarkerCharacters: false)
    .Append(mlContext.Transforms.Text.TokenizeIntoWords("PhonemeTokens", "Phonemes"))
    .Append(mlContext.Transforms.Conversion.MapValueToKey("Target", "PhonemeTokens"))
    .Fit(train);

// 1. Train with the default options: a GRU encoder-decoder, 256 hidden units, scaled Luong attention.
long trainWords = mlContext.Data.CreateEnumerable<Pronunciation>(train, reuseRowObject: true).LongCount();
Console.WriteLine($"Training an encoder-decoder (default options) on {trainWords:N0} words...");
var watch = Stopwatch.StartNew();
var progress = FitProgress.Show(mlContext, "encoder-decoder"); // a progress bar from the epochs DeepArch writes to mlContext.Log
using var model = mlContext.Transforms.MapSequenceToSequence().Fit(tokens.Transform(train));
progress.Dispose();
Console.WriteLine($"Trained in {watch.Elapsed.TotalMinutes:F1} min on {Environment.ProcessorCount} cores.");
Console.WriteLine(model.NetworkSummary);

// 2. Word and phoneme error rates on the validation words.
var scored = model.Transform(tokens.Transform(valid));
var metrics = mlContext.Data.EvaluateSequences(scored, labelColumnName: "Target", predictedColumnName: "PredictedSequence");
Console.WriteLine();
Console.WriteLine($"On {metrics.Count:N0} words it never saw: word error rate {metrics.SequenceErrorRate:P1}, phoneme error rate {metrics.TokenErrorRate:P1}.");
Console.WriteLine("By the number of phonemes in the pronunciation:");
Console.WriteLine("  phonemes   words   word error   phoneme error");
foreach (var (length, m) in metrics.ByLength)
{
    Console.WriteLine($"  {length,8} {m.Count,7:N0} {1 - m.SequenceAccuracy,12:P1} {m.TokenErrorRate,15:P1}");
}

// 3. Pronunciations of real words and of invented ones.
var pipeline = tokens.Append(model).Append(mlContext.Transforms.Conversion.MapKeyToValue("Pronounced", "PredictedSequence").Fit(scored));
var examples = mlContext.Data.CreateEnumerable<Pronunciation>(valid, reuseRowObject: false).Take(6)
    .Concat(new[] { "blorft", "zibbertine", "quaffle", "snorkify", "deeparch" }.Select(w => new Pronunciation { Word = w }))
    .ToArray();
using var engine = mlContext.Model.CreatePredictionEngine<Pronunciation, Spoken>(pipeline);
Console.WriteLine();
foreach (var example in examples)
{
    var spoken = engine.Predict(example);
    Console.WriteLine($"  {example.Word,-12} {string.Join(' ', spoken.Pronounced),-28} {(example.Phonemes.Length > 0 ? $"(dictionary: {example.Phonemes})" : "(invented)")}");
}

// 4. Save the pipeline, load it back, and check that it says the same.
string modelPath = Path.Combine(outputDirectory, "g2p.zip");
DeepArchModel.Save(mlContext, pipeline, train.Schema, modelPath);
var loaded = DeepArchModel.Load(new MLContext(), modelPath, out _);
using var loadedEngine = mlContext.Model.CreatePredictionEngine<Pronunciation, Spoken>(loaded);
bool same = examples.All(e => engine.Predict(e).Pronounced.SequenceEqual(loadedEngine.Predict(e).Pronounced));
Console.WriteLine();
Console.WriteLine($"Saved to {modelPath} ({new FileInfo(modelPath).Length / 1024.0:N0} KB) and loaded back: {(same ? "the same pronunciations" : "DIFFERENT pronunciations")}.");

// 5. The training loss per epoch, and the attention map of one word.
var loss = new ScottPlot.Plot();
loss.Add.ScatterLine(model.History.Epochs.Select(e => (double)e.Epoch).ToArray(), model.History.Epochs.Select(e => e.TrainLoss).ToArray()).LegendText = "training loss";
loss.Title("Cross-entropy per target token, per epoch");
loss.XLabel("epoch");
loss.ShowLegend();
string lossPath = Path.Combine(outputDirectory, "loss.png");
loss.SavePng(lossPath, 800, 400);
Console.WriteLine($"Wrote {lossPath}");

string word = "photographer";
var one = tokens.Transform(mlContext.Data.LoadFromEnumerable(new[] { new Pronunciation { Word = word } }));
var map = model.GetAttentionWeights(one)[0];
string[] phonemes = engine.Predict(new Pronunciation { Word = word }).Pronounced.Append("</s>").ToArray();
var grid = new double[map.GetLength(0), map.GetLength(1)];
for (int t = 0; t < grid.GetLength(0); t++)
{
    for (int s = 0; s < grid.GetLength(1); s++)
    {
        grid[t, s] = map[t, s];
    }
}
var attention = new ScottPlot.Plot();
attention.Add.Heatmap(grid).Colormap = new ScottPlot.Colormaps.Viridis();
attention.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
    Enumerable.Range(0, word.Length).Select(i => new ScottPlot.Tick(i, word[i].ToString())).ToArray());
attention.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
    Enumerable.Range(0, phonemes.Length).Select(i => new ScottPlot.Tick(phonemes.Length - 1 - i, phonemes[i])).ToArray());
attention.Title($"Attention while pronouncing '{word}'");
attention.XLabel("letter read");
attention.YLabel("phoneme written");
string attentionPath = Path.Combine(outputDirectory, "attention.png");
attention.SavePng(attentionPath, 600, 520);
Console.WriteLine($"Wrote {attentionPath}");

internal sealed class Pronunciation
{
    public string Word { get; set; } = "";

    public string Phonemes { get; set; } = "";
}

internal sealed class Spoken
{
    public string[] Pronounced { get; set; } = [];
}
