// Writes a serving bundle (SaveForServing) for every DeepArch architecture into OUT/<model>, and OUT/samples/<model>.json:
// sample inputs (8 rows) and the outputs ONNX Runtime for .NET computes for them from the bundle's model.onnx, for
// eng/serving/run.sh to check with Triton's configuration schema and a second runtime (onnxruntime-node).
// Each model trains for a few epochs on a few hundred rows: what matters is the exported graph, not how well it learned.
//
// Usage: dotnet run --project eng/serving/DeepArch.ServingCheck -- OUT
using System.Globalization;
using System.Text.Json;
using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

if (args.Length != 1)
{
    Console.Error.WriteLine("Usage: DeepArch.ServingCheck OUT");
    return 2;
}
string output = Path.GetFullPath(args[0]);
Directory.CreateDirectory(Path.Combine(output, "samples"));

var ml = new MLContext(seed: 1);
var digitRows = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv")).Skip(1).Take(400).Select(line =>
{
    var v = line.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    return new Digit { Features = v[..64], Label = v[64], IsSeven = v[64] == 7 };
}).ToList();
var digits = ml.Data.LoadFromEnumerable(digitRows);
var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(digits).Transform(digits);
var diabetes = ml.Data.LoadFromEnumerable(File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "diabetes.csv")).Skip(1).Select(line =>
{
    var v = line.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    return new Tabular { Features = v[..10], Label = v[10] };
}).ToList());
var co2 = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "co2_weekly.csv")).Skip(1)
    .Select(line => float.Parse(line.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
var windows = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 300).Select(i => i * 4)
    .Select(start => new Window { Features = co2[start..(start + 26)], Label = co2[(start + 26)..(start + 34)] }).ToList());

const int Epochs = 2;
var random = new Random(1);
float[] sourceKeys = [];
var bundles = new List<(string Name, Func<NetworkTransformer> Fit)>
{
    ("mlp_multiclass", () => ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = Epochs }).Fit(keyed)),
    ("mlp_binary", () => ml.BinaryClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { LabelColumnName = nameof(Digit.IsSeven), Epochs = Epochs }).Fit(digits)),
    ("mlp_regression", () => ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { Epochs = Epochs }).Fit(diabetes)),
    ("cnn", () => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options { InputShape = [1, 8, 8], Epochs = Epochs }).Fit(keyed)),
    ("lenet5", () => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options { InputShape = [1, 8, 8], Preset = ConvolutionalPreset.LeNet5, Epochs = Epochs }).Fit(keyed)),
    ("rnn", () => Recurrent(RecurrentCell.Rnn, layers: 1, bidirectional: false)),
    ("lstm", () => Recurrent(RecurrentCell.Lstm, layers: 1, bidirectional: false)),
    ("gru_bidirectional_stacked", () => Recurrent(RecurrentCell.Gru, layers: 2, bidirectional: true)),
    ("stacked_autoencoder", () => ml.MulticlassClassification.Trainers.StackedAutoencoder(new StackedAutoencoderTrainer.Options { Epochs = Epochs, PretrainingEpochs = 1 }).Fit(keyed)),
    ("autoencoder_deep", () => Detector(AutoencoderKind.Deep)),
    ("autoencoder_tied", () => Detector(AutoencoderKind.Tied)),
    ("autoencoder_sparse", () => Detector(AutoencoderKind.Sparse)),
    ("autoencoder_denoising", () => Detector(AutoencoderKind.Denoising)),
    ("autoencoder_variational", () => Detector(AutoencoderKind.Variational)),
    ("autoencoder_convolutional", () => Detector(AutoencoderKind.Convolutional, imageShape: [1, 8, 8])),
    ("autoencoder_features", () => ml.Transforms.FeaturizeByAutoencoder(new AutoencoderFeaturizingEstimator.Options { OutputColumnName = "Code", InputColumnName = "Features", Epochs = Epochs }).Fit(digits)),
    ("autoencoder_reconstruction", () => ml.Transforms.ReconstructByAutoencoder(new AutoencoderReconstructingEstimator.Options { OutputColumnName = "Reconstructed", InputColumnName = "Features", Epochs = Epochs }).Fit(digits)),
    ("forecaster_detector", () => ml.AnomalyDetection.Trainers.RecurrentForecaster(new ForecastingAnomalyDetectionTrainer.Options { Epochs = Epochs }).Fit(windows)),
    ("encoder_decoder_detector", () => ml.AnomalyDetection.Trainers.EncoderDecoder(new EncoderDecoderAnomalyDetectionTrainer.Options { Epochs = Epochs }).Fit(windows)),
    ("recurrent_forecast", () => ml.Forecasting.ForecastByRecurrentNetwork(new RecurrentForecastingEstimator.Options { Epochs = Epochs }).Fit(windows)),
    ("encoder_decoder_forecast", () => ml.Forecasting.ForecastByEncoderDecoder(new EncoderDecoderForecastingEstimator.Options { Epochs = Epochs }).Fit(windows)),
    ("gan", () => ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options { Epochs = Epochs, BatchSize = 32 }).Fit(digits)),
    ("dcgan_conditional", () => ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options
        { LabelColumnName = "Label", Kind = GanKind.Convolutional, ImageShape = [1, 8, 8], Filters = 8, Epochs = Epochs, BatchSize = 32 }).Fit(keyed)),
    ("gan_discriminator", () =>
    {
        using var generator = ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options { Epochs = Epochs, BatchSize = 32 }).Fit(digits);
        return ml.Transforms.ScoreByDiscriminator(generator).Fit(digits);
    }),
    ("seq2seq", Translator),
};


foreach (var (name, fit) in bundles)
{
    using var model = fit();
    string directory = Path.Combine(output, name);
    model.SaveForServing(directory);
    // A client maps key numbers to tokens with the bundle's vocabularies: they must be there, and cover every key.
    if (name == "seq2seq")
    {
        foreach (string file in new[] { "source_tokens.txt", "target_tokens.txt" })
        {
            if (!File.Exists(Path.Combine(directory, file)) || File.ReadAllLines(Path.Combine(directory, file)).Length < 2)
            {
                throw new InvalidOperationException($"The seq2seq bundle has no {file} (or an empty one).");
            }
        }
    }
    using var session = new InferenceSession(Path.Combine(directory, "1", "model.onnx"));
    const int rows = 8;
    var inputs = session.InputMetadata.Select(i => (i.Key, Tensor: SampleInput(name, i.Key, i.Value, rows))).ToList();
    using var results = session.Run(inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Key, i.Tensor)).ToList());
    var sample = new
    {
        inputs = inputs.ToDictionary(i => i.Key, i => new { dims = i.Tensor.Dimensions.ToArray(), data = i.Tensor.ToArray() }),
        outputs = results.ToDictionary(r => r.Name, r => Values(r)),
    };
    File.WriteAllText(Path.Combine(output, "samples", name + ".json"), JsonSerializer.Serialize(sample));
    Console.WriteLine($"{name}: {string.Join(", ", session.InputMetadata.Keys)} -> {string.Join(", ", session.OutputMetadata.Keys)}");
}
return 0;

NetworkTransformer Recurrent(RecurrentCell cell, int layers, bool bidirectional)
    => ml.MulticlassClassification.Trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
    { FeaturesPerStep = 8, Cell = cell, Layers = layers, Bidirectional = bidirectional, HiddenSize = 16, Epochs = Epochs }).Fit(keyed);

NetworkTransformer Detector(AutoencoderKind kind, int[]? imageShape = null)
    => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options { Kind = kind, ImageShape = imageShape, Epochs = Epochs }).Fit(digits);

NetworkTransformer Translator()
{
    // Spell a word backwards in capitals: characters (keys) in, letters (keys) out.
    var words = Enumerable.Range(0, 200).Select(_ => new string(Enumerable.Range(0, random.Next(1, 6)).Select(_ => (char)('a' + random.Next(6))).ToArray()))
        .Select(w => new Pair { Word = w, Spelling = string.Join(' ', w.Reverse().Select(char.ToUpperInvariant)) }).ToList();
    var pairs = ml.Data.LoadFromEnumerable(words);
    var tokens = ml.Transforms.Text.TokenizeIntoCharactersAsKeys("Source", "Word", useMarkerCharacters: false)
        .Append(ml.Transforms.Text.TokenizeIntoWords("TargetWords", "Spelling"))
        .Append(ml.Transforms.Conversion.MapValueToKey("Target", "TargetWords"));
    var tokenized = tokens.Fit(pairs).Transform(pairs);
    sourceKeys = tokenized.GetColumn<VBuffer<ushort>>("Source").SelectMany(v => v.DenseValues()).Distinct().Order().Select(k => (float)k).ToArray();
    return ml.Transforms.MapSequenceToSequence(new SequenceToSequenceEstimator.Options { HiddenSize = 16, EmbeddingSize = 8, Epochs = Epochs }).Fit(tokenized);
}

// Values that make sense for the input: the source of a sequence-to-sequence model is its token count, then key numbers its
// training sources held; a conditional generator's label is one-hot; everything else is uniform in [-2, 2].
Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float> SampleInput(string model, string input, NodeMetadata metadata, int rows)
{
    int width = metadata.Dimensions.Length > 1 && metadata.Dimensions[1] > 0 ? metadata.Dimensions[1] : 6;
    var values = new float[rows * width];
    for (int r = 0; r < rows; r++)
    {
        var row = values.AsSpan(r * width, width);
        if (model == "seq2seq")
        {
            int count = 1 + r % (width - 1);
            row[0] = count;
            for (int t = 1; t <= count; t++)
            {
                row[t] = sourceKeys[random.Next(sourceKeys.Length)];
            }
        }
        else if (input == "Label")
        {
            row[random.Next(width)] = 1;
        }
        else
        {
            for (int i = 0; i < width; i++)
            {
                row[i] = (float)(random.NextDouble() * 4 - 2);
            }
        }
    }
    return new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(values, [rows, width]);
}

static object Values(DisposableNamedOnnxValue result) => result.Value switch
{
    Microsoft.ML.OnnxRuntime.Tensors.Tensor<float> t => new { type = "float32", dims = t.Dimensions.ToArray(), data = t.ToArray().Select(v => (double)v).ToArray() },
    Microsoft.ML.OnnxRuntime.Tensors.Tensor<long> t => new { type = "int64", dims = t.Dimensions.ToArray(), data = t.ToArray().Select(v => (double)v).ToArray() },
    Microsoft.ML.OnnxRuntime.Tensors.Tensor<bool> t => new { type = "bool", dims = t.Dimensions.ToArray(), data = t.ToArray().Select(v => v ? 1.0 : 0.0).ToArray() },
    var other => throw new NotSupportedException($"Output '{result.Name}' is a {other?.GetType().Name}."),
};

sealed class Digit
{
    [VectorType(64)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }

    public bool IsSeven { get; set; }
}

sealed class Tabular
{
    [VectorType(10)]
    public float[] Features { get; set; } = [];

    public float Label { get; set; }
}

sealed class Window
{
    [VectorType(26)]
    public float[] Features { get; set; } = [];

    [VectorType(8)]
    public float[] Label { get; set; } = [];
}

sealed class Pair
{
    public string Word { get; set; } = "";

    public string Spelling { get; set; } = "";
}
