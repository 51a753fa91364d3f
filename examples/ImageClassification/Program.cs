// ImageClassification: the handwritten digits through a small convolutional network and through a
// multilayer perceptron, side by side; the CNN's learned first-layer filters and some digits it gets
// wrong as PNGs; then the same CNN trainer on PNG image files read back through ML.NET's own image
// transforms (LoadImages -> ResizeImages -> ExtractPixels).
//
// Data: data/digits.csv, the 1,797 8x8 digits of the UCI Optical Recognition of Handwritten Digits
// data set (Alpaydin & Kaynak, 1998; test part as distributed with scikit-learn; CC BY 4.0). Part two
// writes those same digits as PNG files into a temporary folder and deletes it at the end.
//
// The PNGs are drawn pixel by pixel and written with ML.NET's MLImage rather than with ScottPlot (as
// the other examples do): ScottPlot 5.1 needs SkiaSharp 3, and with SkiaSharp 3 loaded ML.NET 5's
// ExtractPixels fails (MissingMethodException on SKBitmap.GetPixelSpan, dotnet/machinelearning#7413),
// which would break part two. Without ScottPlot, SkiaSharp resolves to the 2.88 line both ML.NET's
// image transforms and TorchSharp were built against.
//
// Run from the repository root:  dotnet run --project examples/ImageClassification
using System.Diagnostics;
using System.Globalization;
using DeepArch.MLNet;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "ImageClassification"));
Directory.CreateDirectory(outputDirectory);
var mlContext = new MLContext(seed: 1);

// ---------------------------------------------------------------------------------------------------
// Part one: 64 pixel values per row, read as a 1x8x8 image by the CNN and as a flat vector by the MLP.
// ---------------------------------------------------------------------------------------------------
var loader = mlContext.Data.CreateTextLoader(
    [new TextLoader.Column("Pixels", DataKind.Single, 0, 63), new TextLoader.Column("Digit", DataKind.Single, 64)],
    separatorChar: ',', hasHeader: true);
var data = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "digits.csv"));
var split = mlContext.Data.TrainTestSplit(data, testFraction: 0.3, seed: 1);

// The grey levels run from 0 to 16: divide by 16 so that every pixel is in [0, 1] on the same scale
// (a per-pixel normalization would give each position its own scale, which a convolution does not expect).
var prepare = mlContext.Transforms.Conversion.MapValueToKey("Label", "Digit")
    .Append(mlContext.Transforms.Expression("Features", "x => x / 16", "Pixels"));

var cnnTrainer = mlContext.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
{
    InputShape = [1, 8, 8],            // channels, height, width
    Preset = ConvolutionalPreset.Default,
    Epochs = 25,
    LearningRate = 2e-3,
});
var mlpTrainer = mlContext.MulticlassClassification.Trainers.MultilayerPerceptron(hiddenLayers: [128, 64], epochs: 30, learningRate: 2e-3);

var results = new List<(string Name, NetworkTransformer Network, MulticlassClassificationMetrics Metrics, TimeSpan Time)>();
ITransformer? cnnModel = null;
foreach (var (name, trainer) in new (string, IEstimator<NetworkTransformer>)[] { ("Small CNN", cnnTrainer), ("MLP 128-64", mlpTrainer) })
{
    Console.WriteLine($"Training the {name} (TorchSharp)...");
    var pipeline = prepare.Append(trainer).Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedDigit", "PredictedLabel"));
    var watch = Stopwatch.StartNew();
    var model = pipeline.Fit(split.TrainSet);
    var time = watch.Elapsed;
    var network = model.OfType<NetworkTransformer>().Single();
    results.Add((name, network, mlContext.MulticlassClassification.Evaluate(model.Transform(split.TestSet)), time));
    cnnModel ??= model;
}

var cnn = results[0].Network;
Console.WriteLine();
Console.WriteLine(cnn.NetworkSummary);
Console.WriteLine();
Console.WriteLine($"{"Model",-12} {"Test accuracy",14} {"Log-loss",9} {"Training time",14} {"Parameters",11}");
foreach (var (name, network, metrics, time) in results)
{
    Console.WriteLine($"{name,-12} {metrics.MicroAccuracy,14:F4} {metrics.LogLoss,9:F4} {time.TotalSeconds,12:F1} s {ParameterCount(network),11:N0}");
}
Console.WriteLine();

// The first convolution's filters, read back from the exported ONNX model's initializers.
string onnxPath = Path.Combine(outputDirectory, "digits-cnn.onnx");
cnn.SaveOnnx(onnxPath);
var (filterShape, filterWeights) = OnnxWeights.FirstConvolution(File.ReadAllBytes(onnxPath));
string filtersPath = Path.Combine(outputDirectory, "filters.png");
PlotFilters(filtersPath, filterShape, filterWeights);
Console.WriteLine($"Wrote {filtersPath}: the {filterShape[0]} learned {filterShape[2]}x{filterShape[3]} filters of the first convolution, read from {Path.GetFileName(onnxPath)} (red > 0 > blue)");

// A few test digits the CNN gets wrong.
var wrong = mlContext.Data.CreateEnumerable<ScoredDigit>(cnnModel!.Transform(split.TestSet), reuseRowObject: false)
    .Where(d => d.PredictedDigit != d.Digit).Take(12).ToArray();
string wrongPath = Path.Combine(outputDirectory, "misclassified.png");
PlotDigits(wrongPath, wrong);
Console.WriteLine($"Wrote {wrongPath}: {wrong.Length} test digits the CNN gets wrong, captioned true>predicted");

// ---------------------------------------------------------------------------------------------------
// Part two: the same digits as PNG files, read back through ML.NET's image transforms.
// ---------------------------------------------------------------------------------------------------
string imageFolder = Path.Combine(Path.GetTempPath(), $"deeparch-digits-{Guid.NewGuid():N}");
Directory.CreateDirectory(imageFolder);
try
{
    var digits = mlContext.Data.CreateEnumerable<DigitPixels>(data, reuseRowObject: false).ToArray();
    var files = digits.Select((digit, i) =>
    {
        string file = $"digit-{i:D4}.png";
        WriteDigitPng(Path.Combine(imageFolder, file), digit.Pixels, scale: 4);   // 32x32, each pixel a 4x4 block
        return new ImageFile { Path = file, Digit = digit.Digit };
    }).ToArray();
    Console.WriteLine();
    Console.WriteLine($"Part two: wrote {files.Length} digits as 32x32 PNG files to {imageFolder}");

    var images = mlContext.Data.LoadFromEnumerable(files);
    var imageSplit = mlContext.Data.TrainTestSplit(images, testFraction: 0.3, seed: 1);
    var imagePipeline = mlContext.Transforms.Conversion.MapValueToKey("Label", nameof(ImageFile.Digit))
        .Append(mlContext.Transforms.LoadImages("Image", imageFolder, nameof(ImageFile.Path)))
        .Append(mlContext.Transforms.ResizeImages("Image", imageWidth: 16, imageHeight: 16))
        // Grey images have R = G = B: one channel is enough. Channel-planar [1, 16, 16], scaled to [0, 1].
        .Append(mlContext.Transforms.ExtractPixels("Features", "Image", ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
        .Append(mlContext.MulticlassClassification.Trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
        {
            InputShape = [1, 16, 16],
            Epochs = 15,
            LearningRate = 3e-3,
        }));
    var watch = Stopwatch.StartNew();
    var imageModel = imagePipeline.Fit(imageSplit.TrainSet);
    var imageTime = watch.Elapsed;
    var imageMetrics = mlContext.MulticlassClassification.Evaluate(imageModel.Transform(imageSplit.TestSet));
    var imageNetwork = imageModel.OfType<NetworkTransformer>().Single();
    Console.WriteLine($"PNG -> LoadImages -> ResizeImages(16x16) -> ExtractPixels -> small CNN: test accuracy {imageMetrics.MicroAccuracy:F4}, " +
        $"log-loss {imageMetrics.LogLoss:F4}, {ParameterCount(imageNetwork):N0} parameters, trained in {imageTime.TotalSeconds:F1} s");
}
finally
{
    Directory.Delete(imageFolder, recursive: true);
}

static long ParameterCount(NetworkTransformer network)
    => long.Parse(network.NetworkSummary.Split("Total parameters: ")[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

static void PlotFilters(string path, long[] shape, float[] weights)
{
    // One square per filter, each weight a block of pixels on a shared symmetric scale: red positive,
    // white zero, blue negative; the strip at the bottom is the scale from -max to +max.
    int filters = (int)shape[0], channels = (int)shape[1], height = (int)shape[2], width = (int)shape[3];
    const int cell = 24, gap = 16, margin = 16;
    int columns = Math.Min(filters, 8), rows = (filters + columns - 1) / columns;
    int tileWidth = width * cell, tileHeight = height * cell;
    float limit = weights.Max(Math.Abs);
    var canvas = new Canvas(2 * margin + columns * tileWidth + (columns - 1) * gap, 2 * margin + rows * (tileHeight + gap + 20) + 30);
    for (int f = 0; f < filters; f++)
    {
        int left = margin + (f % columns) * (tileWidth + gap), top = margin + (f / columns) * (tileHeight + gap + 20);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                float w = weights[((f * channels) * height + y) * width + x];   // channel 0: the grey input
                canvas.Fill(left + x * cell, top + y * cell, cell, cell, Canvas.Diverging(w / limit));
            }
        }
        canvas.Text(left, top + tileHeight + 5, $"{f + 1}", scale: 2);
    }
    int barTop = canvas.Height - margin - 16, barWidth = canvas.Width - 2 * margin;
    for (int x = 0; x < barWidth; x++)
    {
        canvas.Fill(margin + x, barTop, 1, 16, Canvas.Diverging(2f * x / (barWidth - 1) - 1));
    }
    canvas.Save(path);
}

static void PlotDigits(string path, IReadOnlyList<ScoredDigit> digits)
{
    // Each digit's 8x8 grey levels (ink dark on white), with "true>predicted" under it.
    const int cell = 12, gap = 24, margin = 16;
    int columns = Math.Clamp(digits.Count, 1, 6), rows = Math.Max(1, (digits.Count + columns - 1) / columns);
    var canvas = new Canvas(2 * margin + columns * 8 * cell + (columns - 1) * gap, 2 * margin + rows * (8 * cell + 30 + gap));
    for (int i = 0; i < digits.Count; i++)
    {
        int left = margin + (i % columns) * (8 * cell + gap), top = margin + (i / columns) * (8 * cell + 30 + gap);
        for (int p = 0; p < 64; p++)
        {
            byte grey = (byte)Math.Round(255 - digits[i].Pixels[p] / 16f * 255);
            canvas.Fill(left + (p % 8) * cell, top + (p / 8) * cell, cell, cell, (grey, grey, grey));
        }
        canvas.Text(left + 8, top + 8 * cell + 8, $"{digits[i].Digit}>{digits[i].PredictedDigit}", scale: 3);
    }
    canvas.Save(path);
}

static void WriteDigitPng(string path, float[] pixels, int scale)
{
    int side = 8 * scale;
    var bgra = new byte[side * side * 4];
    for (int y = 0; y < side; y++)
    {
        for (int x = 0; x < side; x++)
        {
            byte grey = (byte)Math.Round(pixels[(y / scale) * 8 + x / scale] / 16f * 255);
            int at = (y * side + x) * 4;
            (bgra[at], bgra[at + 1], bgra[at + 2], bgra[at + 3]) = (grey, grey, grey, 255);
        }
    }
    using var image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Bgra32, bgra);
    image.Save(path);
}

/// <summary>A white RGB canvas with filled rectangles and a 3x5 pixel font for digits, saved as PNG by ML.NET's MLImage.</summary>
internal sealed class Canvas(int width, int height)
{
    private static readonly Dictionary<char, string[]> Glyphs = new()
    {
        ['0'] = ["###", "#.#", "#.#", "#.#", "###"], ['1'] = [".#.", "##.", ".#.", ".#.", "###"],
        ['2'] = ["###", "..#", "###", "#..", "###"], ['3'] = ["###", "..#", ".##", "..#", "###"],
        ['4'] = ["#.#", "#.#", "###", "..#", "..#"], ['5'] = ["###", "#..", "###", "..#", "###"],
        ['6'] = ["###", "#..", "###", "#.#", "###"], ['7'] = ["###", "..#", ".#.", ".#.", ".#."],
        ['8'] = ["###", "#.#", "###", "#.#", "###"], ['9'] = ["###", "#.#", "###", "..#", "###"],
        ['>'] = ["#..", ".#.", "..#", ".#.", "#.."],
    };

    private readonly byte[] _bgra = Enumerable.Repeat((byte)255, width * height * 4).ToArray();

    public int Width => width;

    public int Height => height;

    /// <summary>Blue (-1) through white (0) to red (+1).</summary>
    public static (byte R, byte G, byte B) Diverging(float v)
    {
        byte fade = (byte)Math.Round(255 * (1 - Math.Min(1, Math.Abs(v))));
        return v >= 0 ? ((byte)255, fade, fade) : (fade, fade, (byte)255);
    }

    public void Fill(int left, int top, int w, int h, (byte R, byte G, byte B) color)
    {
        for (int y = Math.Max(0, top); y < Math.Min(height, top + h); y++)
        {
            for (int x = Math.Max(0, left); x < Math.Min(width, left + w); x++)
            {
                int at = (y * width + x) * 4;
                (_bgra[at], _bgra[at + 1], _bgra[at + 2]) = (color.B, color.G, color.R);
            }
        }
    }

    public void Text(int left, int top, string text, int scale)
    {
        foreach (char c in text)
        {
            var glyph = Glyphs[c];
            for (int row = 0; row < glyph.Length; row++)
            {
                for (int col = 0; col < 3; col++)
                {
                    if (glyph[row][col] == '#')
                    {
                        Fill(left + col * scale, top + row * scale, scale, scale, (0, 0, 0));
                    }
                }
            }
            left += 4 * scale;
        }
    }

    public void Save(string path)
    {
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, _bgra);
        image.Save(path);
    }
}

internal sealed class DigitPixels
{
    [VectorType(64)]
    public float[] Pixels { get; set; } = [];

    public float Digit { get; set; }
}

internal sealed class ScoredDigit
{
    [VectorType(64)]
    public float[] Pixels { get; set; } = [];

    public float Digit { get; set; }

    public float PredictedDigit { get; set; }
}

internal sealed class ImageFile
{
    public string Path { get; set; } = "";

    public float Digit { get; set; }
}

/// <summary>
/// Reads trained weights out of an ONNX model with Google.Protobuf's wire-format reader (no generated
/// classes needed). Field numbers from onnx.proto: ModelProto.graph = 7; GraphProto.node = 1,
/// initializer = 5; NodeProto.input = 1, op_type = 4; TensorProto.dims = 1, data_type = 2,
/// float_data = 4, name = 8, raw_data = 9.
/// </summary>
internal static class OnnxWeights
{
    /// <summary>The weight tensor of the first <c>Conv</c> node: its shape [filters, channels, kH, kW] and values.</summary>
    public static (long[] Shape, float[] Values) FirstConvolution(byte[] model)
    {
        var graph = Field(model, 7).Single();
        string weightName = Field(graph, 1)
            .Select(node => (OpType: Strings(node, 4).Single(), Inputs: Strings(node, 1).ToArray()))
            .First(node => node.OpType == "Conv").Inputs[1];
        var tensor = Field(graph, 5).First(t => Strings(t, 8).Single() == weightName);
        return (Longs(tensor, 1).ToArray(), Floats(tensor));
    }

    /// <summary>The payloads of every length-delimited field <paramref name="number"/> of a message.</summary>
    private static IEnumerable<byte[]> Field(byte[] message, int number)
    {
        var input = new CodedInputStream(message);
        var found = new List<byte[]>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == number && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }
        return found;
    }

    private static IEnumerable<string> Strings(byte[] message, int number)
        => Field(message, number).Select(b => System.Text.Encoding.UTF8.GetString(b));

    private static IEnumerable<long> Longs(byte[] message, int number)
    {
        var input = new CodedInputStream(message);
        var values = new List<long>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) != number)
            {
                input.SkipLastField();
            }
            else if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.Varint)
            {
                values.Add(input.ReadInt64());
            }
            else
            {
                var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
                while (!packed.IsAtEnd)
                {
                    values.Add(packed.ReadInt64());
                }
            }
        }
        return values;
    }

    private static float[] Floats(byte[] tensor)
    {
        var raw = Field(tensor, 9).SingleOrDefault();
        var bytes = raw ?? Field(tensor, 4).Single();   // raw_data, else packed float_data
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
