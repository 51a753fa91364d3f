using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>
/// The encoder–decoder: greedy decoding in TorchSharp and inside the exported graph's <c>Loop</c> give the same tokens (exact),
/// lengths (exact) and scores (1e-5) for every cell, with and without attention, one layer or two with a bidirectional encoder;
/// the graph passes onnx.checker and DeepArch's loader check; a batch decodes as its rows do alone; training learns a toy task.
/// </summary>
public class SequenceToSequenceTests(ITestOutputHelper output)
{
    private const int SourceTokens = 7, TargetTokens = 5, MaxSource = 6, MaxTarget = 8;

    public static TheoryData<RecurrentCell, Attention, int, bool> Cases()
    {
        var data = new TheoryData<RecurrentCell, Attention, int, bool>();
        foreach (var cell in Enum.GetValues<RecurrentCell>())
        {
            foreach (var attention in Enum.GetValues<Attention>())
            {
                data.Add(cell, attention, 1, false);
                data.Add(cell, attention, 2, true);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Greedy_decoding_matches_onnx_runtime(RecurrentCell cell, Attention attention, int layers, bool bidirectional)
    {
        var spec = new SequenceToSequence(SourceTokens, TargetTokens, MaxSource, MaxTarget, cell, hiddenSize: 8, embeddingSize: 5, layers, bidirectional, attention, dropout: 0.1f);
        using var network = new Network(spec, spec.InputShape, seed: 3);
        Assert.Equal(spec.ParameterCount(spec.InputShape), network.ParameterCount);
        // Briefly trained on a toy task, so that rows end at different steps (an untrained decoder rarely emits the end symbol).
        Train(network, epochs: 3);
        float[] sources = Sources(rows: 13, seed: 11);

        var expected = SequenceToSequenceExport.Decode(network, sources, 13);
        byte[] model = SequenceToSequenceExport.ExportOnnx(network);
        var actual = Run(model, sources, 13);

        Assert.Equal(expected.Tokens, actual.Tokens);
        Assert.Equal(expected.Lengths, actual.Lengths);
        double error = expected.Scores.Zip(actual.Scores, (e, a) => Math.Abs(e - (double)a)).Max();
        output.WriteLine($"{spec.Describe()}: lengths {string.Join(",", actual.Lengths)}, max abs score error {error:G3}");
        Assert.True(error <= 1e-5, $"max abs score error {error:G3}");
        Assert.Contains(actual.Lengths, l => l < MaxTarget);
        if (attention != Attention.None)
        {
            // The graph's attention weights are TorchSharp's, step by step, for each row; zeros past the row's end and its source.
            float[] weights = RunAttention(model, sources, 13);
            int longest = Enumerable.Range(0, 13).Max(r => (int)sources[r * (1 + MaxSource)]);
            for (int row = 0; row < 4; row++)
            {
                var map = SequenceToSequenceExport.AttentionMap(network, sources.AsSpan(row * (1 + MaxSource), 1 + MaxSource))!;
                for (int t = 0; t < MaxTarget; t++)
                {
                    for (int s = 0; s < longest; s++)
                    {
                        float expectedWeight = t < map.GetLength(0) && s < map.GetLength(1) ? map[t, s] : 0;
                        Assert.True(Math.Abs(expectedWeight - weights[(row * MaxTarget + t) * longest + s]) <= 1e-5, $"row {row}, step {t}, source {s}");
                    }
                }
            }
        }
        OnnxAssert.CheckModel(model);
        OnnxModelCheck.Check(model);
    }

    public static TheoryData<RecurrentCell, Attention, bool> ValueCases()
    {
        var data = new TheoryData<RecurrentCell, Attention, bool>();
        foreach (var cell in Enum.GetValues<RecurrentCell>())
        {
            data.Add(cell, Attention.None, false);
            data.Add(cell, Attention.ScaledGeneral, true);
        }
        return data;
    }

    /// <summary>Values in, values out (a forecaster's or a reconstructing detector's network): TorchSharp and ONNX Runtime within 1e-5 on variable-length inputs.</summary>
    [Theory]
    [MemberData(nameof(ValueCases))]
    public void Decoding_values_matches_onnx_runtime(RecurrentCell cell, Attention attention, bool bidirectional)
    {
        const int features = 2, outputs = 3, steps = 4;
        var spec = new SequenceToSequence(0, 0, MaxSource, steps, cell, hiddenSize: 8, embeddingSize: 1, layers: 2, bidirectional, attention,
            sourceFeatures: features, targetFeatures: outputs);
        using var network = new Network(spec, spec.InputShape, seed: 2);
        Assert.Equal([1 + MaxSource * features], spec.InputShape);
        Assert.Equal([steps * outputs], network.OutputShape);
        Assert.Equal(spec.ParameterCount(spec.InputShape), network.ParameterCount);
        var random = new Random(5);
        int rows = 7, width = spec.InputShape[0];
        var input = new float[rows * width];
        for (int row = 0; row < rows; row++)
        {
            int length = 1 + row % MaxSource;
            input[row * width] = length;
            for (int i = 1; i < width; i++)
            {
                input[row * width + i] = i <= length * features ? (float)(random.NextDouble() * 2 - 1) : 1e6f; // padding is never read
            }
        }
        float[] expected = network.Predict(input, rows);
        byte[] model = network.ExportOnnx("input", "output");
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, [rows, width]))]);
        float[] actual = results.Single().AsTensor<float>().ToArray();
        double error = expected.Zip(actual, (e, a) => Math.Abs(e - (double)a)).Max();
        output.WriteLine($"{spec.Describe()}: max abs error {error:G3}");
        Assert.True(error <= 1e-5, $"max abs error {error:G3}");
        Assert.All(expected, v => Assert.True(float.IsFinite(v)));
        OnnxAssert.CheckModel(model);
        OnnxModelCheck.Check(model);
    }

    [Fact]
    public void Training_learns_to_continue_a_series()
    {
        // Sines of random frequency and phase: 12 steps in, the next 4 out.
        const int history = 12, horizon = 4;
        var spec = new SequenceToSequence(0, 0, history, horizon, RecurrentCell.Gru, hiddenSize: 32, embeddingSize: 1, attention: Attention.None,
            sourceFeatures: 1, targetFeatures: 1);
        (float[] Inputs, float[] Targets) Series(int rows, int seed)
        {
            var random = new Random(seed);
            var inputs = new float[rows * (1 + history)];
            var targets = new float[rows * horizon];
            for (int row = 0; row < rows; row++)
            {
                double frequency = 0.2 + random.NextDouble() * 0.4, phase = random.NextDouble() * 6;
                inputs[row * (1 + history)] = history;
                for (int t = 0; t < history + horizon; t++)
                {
                    float value = (float)Math.Sin(phase + frequency * t);
                    if (t < history)
                    {
                        inputs[row * (1 + history) + 1 + t] = value;
                    }
                    else
                    {
                        targets[row * horizon + t - history] = value;
                    }
                }
            }
            return (inputs, targets);
        }
        using var network = new Network(spec, spec.InputShape, seed: 1);
        var (trainInputs, trainTargets) = Series(800, seed: 1);
        new TrainingLoop(new TrainingOptions { Epochs = 30, BatchSize = 32, LearningRate = 0.01, Seed = 1, ValidationFraction = 0 })
            .Fit(new SequenceToSequenceObjective(network), new TrainingSet(trainInputs, spec.InputShape, trainTargets, horizon));
        var (testInputs, testTargets) = Series(100, seed: 2);
        float[] predicted = network.Predict(testInputs, 100);
        double mse = predicted.Zip(testTargets, (p, t) => (p - (double)t) * (p - t)).Average();
        output.WriteLine($"test MSE {mse:G3} (the series' variance is about 0.5)");
        Assert.True(mse < 0.01, $"test MSE {mse:G3}");
    }

    [Fact]
    public void The_layer_contract_exports_the_tokens_as_floats()
    {
        var spec = new SequenceToSequence(SourceTokens, TargetTokens, MaxSource, MaxTarget, hiddenSize: 6, embeddingSize: 4);
        using var network = new Network(spec, spec.InputShape, seed: 1);
        Train(network, epochs: 2);
        float[] sources = Sources(rows: 9, seed: 2);
        float[] predicted = network.Predict(sources, 9);
        var decoded = SequenceToSequenceExport.Decode(network, sources, 9);
        Assert.Equal(decoded.Tokens.Select(t => (float)t), predicted);
        using var session = new InferenceSession(network.ExportOnnx("input", "output"));
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(sources, [9, 1 + MaxSource]))]);
        Assert.Equal(predicted, results.Single().AsTensor<float>().ToArray());
    }

    [Fact]
    public void A_batch_decodes_as_each_row_alone()
    {
        var spec = new SequenceToSequence(SourceTokens, TargetTokens, MaxSource, MaxTarget, RecurrentCell.Lstm, hiddenSize: 8, embeddingSize: 4, bidirectional: true);
        using var network = new Network(spec, spec.InputShape, seed: 4);
        Train(network, epochs: 3);
        float[] sources = Sources(rows: 10, seed: 5);
        byte[] model = SequenceToSequenceExport.ExportOnnx(network);
        var batch = Run(model, sources, 10);
        for (int row = 0; row < 10; row++)
        {
            var alone = Run(model, sources.AsSpan(row * (1 + MaxSource), 1 + MaxSource).ToArray(), 1);
            Assert.Equal(batch.Tokens.AsSpan(row * MaxTarget, MaxTarget).ToArray(), alone.Tokens);
            Assert.Equal(batch.Lengths[row], alone.Lengths[0]);
            Assert.Equal(batch.Scores[row], alone.Scores[0], 5);
        }
    }

    [Fact]
    public void Training_learns_to_reverse_sequences()
    {
        var spec = new SequenceToSequence(SourceTokens, SourceTokens, MaxSource, MaxSource, RecurrentCell.Gru, hiddenSize: 32, embeddingSize: 16);
        using var network = new Network(spec, spec.InputShape, seed: 7);
        var (train, _) = ReversalSet(rows: 1200, seed: 1);
        var history = new TrainingLoop(new TrainingOptions { Epochs = 25, BatchSize = 32, LearningRate = 0.01, Seed = 1, ValidationFraction = 0 })
            .Fit(new SequenceToSequenceObjective(network), train);
        var (test, expected) = ReversalSet(rows: 200, seed: 2);
        var decoded = SequenceToSequenceExport.Decode(network, test.Features, test.Count);
        int exact = Enumerable.Range(0, test.Count).Count(row => decoded.Tokens.AsSpan(row * MaxSource, MaxSource).SequenceEqual(expected[row]));
        output.WriteLine($"loss {history.Epochs[0].TrainLoss:F3} -> {history.Epochs[^1].TrainLoss:F3}; exact {exact} of {test.Count}");
        Assert.True(exact >= 180, $"only {exact} of {test.Count} reversed exactly");
    }

    [Fact]
    public void Bad_sources_and_targets_are_clear_errors()
    {
        var spec = new SequenceToSequence(SourceTokens, TargetTokens, MaxSource, MaxTarget, hiddenSize: 4, embeddingSize: 3);
        using var network = new Network(spec, spec.InputShape, seed: 1);
        float[] source = [2, 1, SourceTokens, 0, 0, 0, 0];
        var error = Assert.Throws<ArgumentException>(() => SequenceToSequenceExport.Decode(network, source, 1));
        Assert.Contains($"source token {SourceTokens} at step 1", error.Message);
        error = Assert.Throws<ArgumentException>(() => SequenceToSequenceExport.Decode(network, [0, 1, 1, 0, 0, 0, 0], 1));
        Assert.Contains("source length 0", error.Message);

        var objective = new SequenceToSequenceObjective(network);
        float[] noEnd = Enumerable.Repeat(1f, MaxTarget + 1).ToArray();
        var set = new TrainingSet([2, 1, 1, 0, 0, 0, 0], spec.InputShape, noEnd, MaxTarget + 1);
        var loop = new TrainingLoop(new TrainingOptions { Epochs = 1, ValidationFraction = 0 });
        error = Assert.Throws<ArgumentException>(() => loop.Fit(objective, set));
        Assert.Contains("no end symbol", error.Message);
        float[] badToken = [9, TargetTokens, -1, -1, -1, -1, -1, -1, -1];
        error = Assert.Throws<ArgumentException>(() => loop.Fit(objective, new TrainingSet([2, 1, 1, 0, 0, 0, 0], spec.InputShape, badToken, MaxTarget + 1)));
        Assert.Contains("target value 9 at step 0", error.Message);
        Assert.Contains("either sourceTokens or sourceFeatures", Assert.Throws<ArgumentException>(() => new SequenceToSequence(0, 3, 4, 4)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceToSequence(3, 3, 0, 4));
    }

    [Fact]
    public void The_architecture_round_trips_through_json()
    {
        var spec = new SequenceToSequence(30, 40, 12, 14, RecurrentCell.Lstm, 64, 16, 2, true, Attention.General, 0.2f);
        string json = System.Text.Json.JsonSerializer.Serialize<LayerSpec>(spec, LayerSpecJson.Options);
        Assert.Equal(spec, System.Text.Json.JsonSerializer.Deserialize<LayerSpec>(json, LayerSpecJson.Options));
    }

    /// <summary>Trains <paramref name="network"/> a few epochs on reversing source tokens (as target tokens modulo the target vocabulary).</summary>
    private static void Train(Network network, int epochs)
    {
        var spec = (SequenceToSequence)network.Architecture;
        var random = new Random(3);
        int rows = 256, width = 1 + spec.MaxSourceLength;
        var features = new float[rows * width];
        var targets = new float[rows * spec.TargetWidth];
        for (int row = 0; row < rows; row++)
        {
            int length = random.Next(1, Math.Min(spec.MaxSourceLength, spec.MaxTargetLength) + 1);
            features[row * width] = length;
            for (int t = 0; t < length; t++)
            {
                features[row * width + 1 + t] = random.Next(spec.SourceTokens);
            }
            for (int t = 0; t < spec.TargetWidth; t++)
            {
                targets[row * spec.TargetWidth + t] = t < length ? features[row * width + length - t] % spec.TargetTokens : t == length ? spec.EndToken : SequenceToSequence.Padding;
            }
        }
        new TrainingLoop(new TrainingOptions { Epochs = epochs, BatchSize = 32, LearningRate = 0.01, Seed = 2, ValidationFraction = 0 })
            .Fit(new SequenceToSequenceObjective(network), new TrainingSet(features, spec.InputShape, targets, spec.TargetWidth));
    }

    /// <summary>Random sources of lengths 1 to MaxSource, padded with garbage that must never be read.</summary>
    private static float[] Sources(int rows, int seed)
    {
        var random = new Random(seed);
        var values = new float[rows * (1 + MaxSource)];
        for (int row = 0; row < rows; row++)
        {
            int length = 1 + row % MaxSource;
            values[row * (1 + MaxSource)] = length;
            for (int t = 1; t <= MaxSource; t++)
            {
                values[row * (1 + MaxSource) + t] = t <= length ? random.Next(SourceTokens) : 1000 + t;
            }
        }
        return values;
    }

    private static (TrainingSet Set, long[][] Expected) ReversalSet(int rows, int seed)
    {
        var random = new Random(seed);
        int width = 1 + MaxSource, targetWidth = MaxSource + 1;
        var features = new float[rows * width];
        var targets = new float[rows * targetWidth];
        var expected = new long[rows][];
        for (int row = 0; row < rows; row++)
        {
            int length = random.Next(1, MaxSource + 1);
            features[row * width] = length;
            expected[row] = Enumerable.Repeat((long)SequenceToSequence.Padding, MaxSource).ToArray();
            for (int t = 0; t < length; t++)
            {
                features[row * width + 1 + t] = random.Next(SourceTokens);
            }
            for (int t = 0; t < targetWidth; t++)
            {
                float value = t < length ? features[row * width + length - t] : t == length ? SourceTokens : SequenceToSequence.Padding;
                targets[row * targetWidth + t] = value;
                if (t < length)
                {
                    expected[row][t] = (long)value;
                }
            }
        }
        return (new TrainingSet(features, [width], targets, targetWidth), expected);
    }

    private static float[] RunAttention(byte[] model, float[] sources, int rows)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("source", new DenseTensor<float>(sources, [rows, 1 + MaxSource]))], [SequenceToSequenceExport.AttentionOutput]);
        return results.Single().AsTensor<float>().ToArray();
    }

    private static DecodedSequences Run(byte[] model, float[] sources, int rows)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("source", new DenseTensor<float>(sources, [rows, 1 + MaxSource]))]);
        var byName = results.ToDictionary(r => r.Name);
        return new DecodedSequences(
            byName[SequenceToSequenceExport.TokensOutput].AsTensor<long>().ToArray(),
            byName[SequenceToSequenceExport.LengthsOutput].AsTensor<long>().ToArray(),
            byName[SequenceToSequenceExport.ScoresOutput].AsTensor<float>().ToArray());
    }
}
