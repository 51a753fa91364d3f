using System.Diagnostics;
using Microsoft.ML;
using Xunit;
using Xunit.Abstractions;
using static DeepArch.MLNet.Tests.Reliability.ModelFiles;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Seeded mutations of a valid saved model: every DeepArchModel.Load either throws an
/// <see cref="InvalidDataException"/> with a message, or returns a model that scores the same as the
/// original (1e-5); none crashes the process or hangs (each load and score is time-boxed).
/// </summary>
/// <remarks>
/// Half the mutations hit the zip's bytes as stored (bit flips, byte overwrites, truncations, chunk
/// deletions anywhere: headers, compressed data, central directory). The other half decompress the zip,
/// mutate one entry's content — the ONNX network, its length prefix, or one of ML.NET's own entries —
/// and zip it again, so that sizes and CRC-32s are right and only the content checks stand between the
/// damage and ONNX Runtime. A failing case is reproduced from its number alone.
/// </remarks>
public class ModelFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 600;
    private const int Seed = 20261123;
    private static readonly TimeSpan TimeBox = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Seeded_mutations_of_a_saved_model_are_rejected_clearly_or_load_and_score_the_same()
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "multiclass", Rows(40), o => { o.HiddenLayers = [4]; o.Epochs = 1; });
        byte[] zip = Save(ml, network);
        var entries = Entries(zip);
        var scoring = ml.Data.LoadFromEnumerable(Rows(8, seed: 5).Select(r => new FeatureRow { Features = r.Features }));
        float[][] expected = Scores(network.Transform(scoring));

        var failures = new List<string>();
        var tally = new SortedDictionary<string, (int Loaded, int Rejected)>(StringComparer.Ordinal);
        var reasons = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var examples = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Cases; i++)
        {
            var (kind, mutated) = Mutate(i, zip, entries);
            var run = Task.Run(() => LoadAndScore(mutated, scoring));
            if (await Task.WhenAny(run, Task.Delay(TimeBox)) != run)
            {
                failures.Add($"case {i} ({kind}): no answer within {TimeBox.TotalSeconds} s");
                continue;
            }
            var (scores, error) = await run;
            var (loaded, rejected) = tally.GetValueOrDefault(kind);
            if (error is null)
            {
                tally[kind] = (loaded + 1, rejected);
                if (!SameScores(expected, scores!))
                {
                    failures.Add($"case {i} ({kind}): loaded but scores differently");
                }
            }
            else
            {
                tally[kind] = (loaded, rejected + 1);
                if (error is not InvalidDataException || string.IsNullOrWhiteSpace(error.Message))
                {
                    failures.Add($"case {i} ({kind}): {error.GetType().Name}: {error.Message}");
                }
                string reason = Reason(error.Message);
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                examples.TryAdd(reason, error.Message);
            }
        }
        clock.Stop();

        output.WriteLine($"{Cases} mutations in {clock.Elapsed.TotalSeconds:F1} s: {tally.Values.Sum(t => t.Loaded)} loaded and scored the same, {tally.Values.Sum(t => t.Rejected)} rejected");
        foreach (var (kind, (loaded, rejected)) in tally)
        {
            output.WriteLine($"  {kind,-28} loaded {loaded,4}  rejected {rejected,4}");
        }
        output.WriteLine("Rejections by check:");
        foreach (var (reason, count) in reasons)
        {
            output.WriteLine($"  {count,4}  {reason}  (e.g. {examples[reason]})");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {Cases} cases failed:\n" + string.Join("\n", failures.Take(20)));
    }

    private const int InfoCases = 120;

    /// <summary>
    /// Seeded changes of one value of the model info (the JSON metadata of the network) to an extreme: zero, negative,
    /// huge, empty, a 100 KB string, null, another type. The network is sealed again, as anyone can, so only the bounds
    /// and the bindings stand in the way. Standalone (<c>FromOnnx</c>) every case is rejected or scores the same; inside a
    /// saved model every changed network is rejected (its saved chain names the original network).
    /// </summary>
    [Fact]
    public async Task Seeded_changes_of_model_info_values_are_rejected_clearly_or_load_and_score_the_same()
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "multiclass", Rows(40), o => { o.HiddenLayers = [4]; o.Epochs = 1; });
        byte[] zip = Save(ml, network);
        byte[] onnx = OnnxOf(Entries(zip).Single(e => e.Name == OnnxEntry).Content);
        var scoring = ml.Data.LoadFromEnumerable(Rows(8, seed: 5).Select(r => new FeatureRow { Features = r.Features }));
        float[][] expected = Scores(network.Transform(scoring));

        var failures = new List<string>();
        int loaded = 0, rejected = 0;
        for (int i = 0; i < InfoCases; i++)
        {
            var (path, value, mutated) = MutateInfo(onnx, new Random(Seed + 7919 * i));
            var standalone = Task.Run(() => ScoreStandalone(mutated, scoring));
            var zipped = Task.Run(() => LoadAndScore(WithOnnx(zip, _ => mutated), scoring));
            if (await Task.WhenAny(Task.WhenAll(standalone, zipped), Task.Delay(TimeBox)) is not Task<(float[][]?, Exception?)[]>)
            {
                failures.Add($"case {i} ({path} = {value}): no answer within {TimeBox.TotalSeconds} s");
                continue;
            }
            var (scores, error) = await standalone;
            var (zipScores, zipError) = await zipped;
            if (error is null)
            {
                loaded++;
                if (!SameScores(expected, scores!))
                {
                    failures.Add($"case {i} ({path} = {value}): loaded but scores differently");
                }
            }
            else
            {
                rejected++;
                if (error is not InvalidDataException || string.IsNullOrWhiteSpace(error.Message))
                {
                    failures.Add($"case {i} ({path} = {value}): {error.GetType().Name}: {error.Message}");
                }
            }
            bool unchanged = mutated.AsSpan().SequenceEqual(onnx);
            if (unchanged ? zipError is not null || !SameScores(expected, zipScores!) : zipError is not InvalidDataException)
            {
                failures.Add($"case {i} ({path} = {value}) in a saved model: {(zipError is null ? "loaded" : $"{zipError.GetType().Name}: {zipError.Message}")}");
            }
        }

        output.WriteLine($"{InfoCases} model-info changes: standalone {loaded} loaded and scored the same, {rejected} rejected; in a saved model every changed network rejected");
        Assert.True(failures.Count == 0, $"{failures.Count} of {InfoCases} cases failed:\n" + string.Join("\n", failures.Take(20)));
    }

    /// <summary>The network with one value of its model info changed to an extreme, sealed again: the path, the value and the bytes.</summary>
    private static (string Path, string Value, byte[] Onnx) MutateInfo(byte[] onnx, Random random)
    {
        string json = DeepArch.Trainers.Onnx.Proto.ModelProto.Parser.ParseFrom(onnx).MetadataProps.Single(p => p.Key == DeepArch.MLNet.ModelInfo.MetadataKey).Value;
        var leaves = new List<string>();
        void Collect(System.Text.Json.Nodes.JsonNode? node, string path)
        {
            switch (node)
            {
                case System.Text.Json.Nodes.JsonObject o:
                    foreach (var (key, child) in o)
                    {
                        Collect(child, path.Length == 0 ? key : $"{path}.{key}");
                    }
                    break;
                case System.Text.Json.Nodes.JsonArray a:
                    for (int i = 0; i < a.Count; i++)
                    {
                        Collect(a[i], $"{path}.{i}");
                    }
                    leaves.Add(path);
                    break;
                default:
                    leaves.Add(path);
                    break;
            }
        }
        Collect(System.Text.Json.Nodes.JsonNode.Parse(json), "");
        string target = leaves[random.Next(leaves.Count)];
        string[] extremes = ["0", "-1", "1", "3000", "2147483647", "-2147483648", "9223372036854775807", "1e300", "\"\"", $"\"{new string('x', 100_000)}\"", "null", "true", "[]", "{}"];
        string value = extremes[random.Next(extremes.Length)];
        byte[] mutated = UntrustedModelTests.Reseal(onnx, proto =>
        {
            var entry = proto.MetadataProps.Single(p => p.Key == DeepArch.MLNet.ModelInfo.MetadataKey);
            var root = System.Text.Json.Nodes.JsonNode.Parse(entry.Value)!;
            string[] keys = target.Split('.');
            var parent = keys[..^1].Aggregate(root, (node, key) => node is System.Text.Json.Nodes.JsonArray array ? array[int.Parse(key)]! : node[key]!);
            var replacement = System.Text.Json.Nodes.JsonNode.Parse(value);
            if (parent is System.Text.Json.Nodes.JsonArray list)
            {
                list[int.Parse(keys[^1])] = replacement;
            }
            else
            {
                parent[keys[^1]] = replacement;
            }
            entry.Value = root.ToJsonString();
        });
        return (target, value.Length > 20 ? value[..20] + "..." : value, mutated);
    }

    /// <summary>Loads a saved model in a fresh MLContext and scores; returns the scores, or the exception.</summary>
    private static (float[][]? Scores, Exception? Error) LoadAndScore(byte[] zip, IDataView scoring)
        => LoadAndScore(() => DeepArchModel.Load(new MLContext(), new MemoryStream(zip), out _), scoring);

    /// <summary>Loads a standalone network and scores; returns the scores, or the exception.</summary>
    private static (float[][]? Scores, Exception? Error) ScoreStandalone(byte[] onnx, IDataView scoring)
        => LoadAndScore(() => DeepArchModel.FromOnnx(onnx), scoring);

    private static (float[][]? Scores, Exception? Error) LoadAndScore(Func<ITransformer> load, IDataView scoring)
    {
        ITransformer? model = null;
        try
        {
            model = load();
        }
        catch (Exception e)
        {
            return (null, e);
        }
        try
        {
            return (Scores(model.Transform(scoring)), null);
        }
        catch (Exception e)
        {
            return (null, new Exception($"loaded, then scoring failed: {e.GetType().Name}: {e.Message}", e));
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private static bool SameScores(float[][] expected, float[][] actual)
        => expected.Length == actual.Length
            && expected.Zip(actual).All(p => p.First.Length == p.Second.Length && p.First.Zip(p.Second).All(v => Math.Abs(v.First - v.Second) <= 1e-5f));

    /// <summary>The check that rejected a case, from the start of its message (names and numbers dropped).</summary>
    private static string Reason(string message)
    {
        string[] known =
        [
            "failed its integrity check", "has no 'deeparch.sha256' integrity entry", "is not well-formed", "declares",
            "The model file is not an intact zip archive", "is damaged: its CRC-32", "is damaged: it holds",
            "The model could not be loaded", "The model does not accept the input schema", "The DeepArch network in the model is damaged",
            "is damaged:",
        ];
        return known.FirstOrDefault(message.Contains) ?? message[..Math.Min(60, message.Length)];
    }

    /// <summary>Mutation number <paramref name="index"/>: its kind and the mutated file.</summary>
    private static (string Kind, byte[] Zip) Mutate(int index, byte[] zip, List<(string Name, byte[] Content)> entries)
    {
        var random = new Random(Seed + index);
        switch (index % 10)
        {
            case 0:
                return ("zip: bit flip", FlipBit(zip, random));
            case 1:
                return ("zip: byte overwrite", Overwrite(zip, random));
            case 2:
                return ("zip: truncation", zip[..random.Next(zip.Length)]);
            case 3:
                return ("zip: chunk deletion", DeleteChunk(zip, random));
            case 4:
                return ("onnx: bit flip", WithOnnx(zip, onnx => FlipBit(onnx, random)));
            case 5:
                return ("onnx: byte overwrite", WithOnnx(zip, onnx => Overwrite(onnx, random)));
            case 6:
                return ("onnx: truncation", WithOnnx(zip, onnx => onnx[..random.Next(onnx.Length)]));
            case 7:
                return random.Next(2) == 0
                    ? ("onnx: chunk deletion", WithOnnx(zip, onnx => DeleteChunk(onnx, random)))
                    : ("onnx: chunk duplication", WithOnnx(zip, onnx => DuplicateChunk(onnx, random)));
            case 8:
                return ("other entry: bit flip/overwrite", WithEntry(entries, random, (content, r) => r.Next(2) == 0 ? FlipBit(content, r) : Overwrite(content, r)));
            default:
                return ("other entry: cut/delete", WithEntry(entries, random, (content, r) => r.Next(2) == 0 ? content[..r.Next(content.Length)] : DeleteChunk(content, r)));
        }
    }

    /// <summary>Rezips with one entry other than the ONNX model's bytes changed; the ONNX entry's 4-byte length prefix counts as "other".</summary>
    private static byte[] WithEntry(List<(string Name, byte[] Content)> entries, Random random, Func<byte[], Random, byte[]> change)
    {
        int target = random.Next(entries.Count);
        return Zip(entries.Select((e, i) =>
        {
            if (i != target)
            {
                return e;
            }
            if (e.Name != OnnxEntry)
            {
                return (e.Name, change(e.Content, random));
            }
            byte[] prefix = change(e.Content[..sizeof(int)], random);
            return (e.Name, [.. prefix, .. e.Content[sizeof(int)..]]);
        }));
    }

    private static byte[] FlipBit(byte[] bytes, Random random)
    {
        byte[] copy = (byte[])bytes.Clone();
        if (copy.Length > 0)
        {
            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
        }
        return copy;
    }

    private static byte[] Overwrite(byte[] bytes, Random random)
    {
        byte[] copy = (byte[])bytes.Clone();
        if (copy.Length > 0)
        {
            int at = random.Next(copy.Length);
            byte value;
            do
            {
                value = (byte)random.Next(256);
            }
            while (value == copy[at]);
            copy[at] = value;
        }
        return copy;
    }

    private static byte[] DeleteChunk(byte[] bytes, Random random)
    {
        if (bytes.Length < 2)
        {
            return [];
        }
        int start = random.Next(bytes.Length - 1);
        int length = 1 + random.Next(Math.Min(64, bytes.Length - start));
        return [.. bytes[..start], .. bytes[(start + length)..]];
    }

    private static byte[] DuplicateChunk(byte[] bytes, Random random)
    {
        int start = random.Next(bytes.Length);
        int length = 1 + random.Next(Math.Min(64, bytes.Length - start));
        return [.. bytes[..(start + length)], .. bytes[start..]];
    }
}
