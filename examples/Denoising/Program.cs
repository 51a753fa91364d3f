// Denoising: a denoising autoencoder (ReconstructByAutoencoder, Kind = Denoising) cleans noisy spectrogram
// frames, in the spirit of seed 000's speech enhancement: it is trained on clean frames that it corrupts
// itself with Gaussian noise, and applied to noisy frames it outputs the cleaned frames.
//
// Data: synthetic, generated here with a fixed seed. Each "utterance" is a sequence of 64-bin spectrogram
// frames (log-magnitude-like values) with three formant-like Gaussian bumps gliding slowly over time above a
// sloped noise floor, plus harmonics; the noisy copy adds white Gaussian noise of standard deviation 0.15.
//
// Run from the repository root:  dotnet run --project examples/Denoising
using DeepArch.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

string outputDirectory = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("artifacts", "examples", "Denoising"));
Directory.CreateDirectory(outputDirectory);
var mlContext = new MLContext(seed: 1);
const float noise = 0.15f;

var trainFrames = Spectrogram.Utterances(count: 60, framesEach: 50, noise, seed: 1);   // 3,000 frames
var testFrames = Spectrogram.Utterances(count: 6, framesEach: 50, noise, seed: 2);     //   300 frames
// At test time the autoencoder sees only the noisy frames, in its input column "Frame".
var test = mlContext.Data.LoadFromEnumerable(testFrames.Select(f => new Frame { Clean = f.Clean, Frame_ = f.Noisy }));

Console.WriteLine("Training a denoising autoencoder 64 -> 48 -> 24 -> 48 -> 64 on clean frames corrupted on the fly...");
using var denoiser = mlContext.Transforms.ReconstructByAutoencoder(new AutoencoderReconstructingEstimator.Options
{
    OutputColumnName = "Denoised",
    InputColumnName = "Frame",
    Kind = AutoencoderKind.Denoising,
    GaussianNoise = noise,
    LayerSizes = [48, 24],
    Epochs = 60,
    BatchSize = 64,
    LearningRate = 2e-3,
}).Fit(mlContext.Data.LoadFromEnumerable(trainFrames.Select(f => new Frame { Clean = f.Clean, Frame_ = f.Clean })));
Console.WriteLine(denoiser.NetworkSummary);

var scored = mlContext.Data.CreateEnumerable<ScoredFrame>(denoiser.Transform(test), reuseRowObject: false).ToArray();
double noisyError = scored.Average(f => Mse(f.Frame, f.Clean));
double denoisedError = scored.Average(f => Mse(f.Denoised, f.Clean));
Console.WriteLine($"Mean squared error against the clean frames: noisy {noisyError:F5}, denoised {denoisedError:F5}");
Console.WriteLine($"Error reduction: {1 - denoisedError / noisyError:P1} (the denoised error is {denoisedError / noisyError:P1} of the noise's)");

// Before/after: three test frames, clean, noisy and denoised.
string framesPath = Path.Combine(outputDirectory, "frames.png");
var framesPlot = new ScottPlot.Plot();
double[] bins = Enumerable.Range(0, Spectrogram.Bins).Select(i => (double)i).ToArray();
int[] shown = [10, 130, 260];
for (int i = 0; i < shown.Length; i++)
{
    // Each frame drawn 1.5 above the previous one.
    var frame = scored[shown[i]];
    double offset = 1.5 * (shown.Length - 1 - i);
    var noisyLine = framesPlot.Add.Scatter(bins, frame.Frame.Select(v => v + offset).ToArray());
    var cleanLine = framesPlot.Add.Scatter(bins, frame.Clean.Select(v => v + offset).ToArray());
    var denoisedLine = framesPlot.Add.Scatter(bins, frame.Denoised.Select(v => v + offset).ToArray());
    noisyLine.Color = ScottPlot.Colors.Gray.WithAlpha(0.7);
    noisyLine.MarkerSize = 0;
    cleanLine.Color = ScottPlot.Colors.Black;
    cleanLine.LineWidth = 2;
    cleanLine.MarkerSize = 0;
    denoisedLine.Color = ScottPlot.Colors.OrangeRed;
    denoisedLine.LineWidth = 2;
    denoisedLine.MarkerSize = 0;
    if (i == 0)
    {
        noisyLine.LegendText = "noisy input";
        cleanLine.LegendText = "clean";
        denoisedLine.LegendText = "denoised";
    }
}
framesPlot.Title($"Three test frames (offset vertically): denoising error {denoisedError / noisyError:P0} of the noise's");
framesPlot.XLabel("frequency bin");
framesPlot.YLabel("magnitude (+ offset)");
framesPlot.ShowLegend(ScottPlot.Alignment.UpperRight);
framesPlot.SavePng(framesPath, 900, 800);
Console.WriteLine($"Wrote {framesPath}");

// Before/after as spectrograms: the first test utterance (50 frames), clean, noisy and denoised, stacked.
string spectrogramPath = Path.Combine(outputDirectory, "spectrograms.png");
const int frames = 50;
var image = new double[Spectrogram.Bins * 3 + 4, frames];
for (int t = 0; t < frames; t++)
{
    for (int b = 0; b < Spectrogram.Bins; b++)
    {
        // Row 0 is drawn at the top: high frequencies up, clean on top, then noisy, then denoised.
        image[Spectrogram.Bins - 1 - b, t] = scored[t].Clean[b];
        image[2 * Spectrogram.Bins + 2 - b, t] = scored[t].Frame[b];
        image[3 * Spectrogram.Bins + 3 - b, t] = scored[t].Denoised[b];
    }
}
for (int t = 0; t < frames; t++)
{
    image[Spectrogram.Bins, t] = image[2 * Spectrogram.Bins + 1, t] = double.NaN;
}
var spectrogramPlot = new ScottPlot.Plot();
var heatmap = spectrogramPlot.Add.Heatmap(image);
heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
spectrogramPlot.Add.ColorBar(heatmap);
spectrogramPlot.Title("Clean (top), noisy (middle) and denoised (bottom) spectrogram of a test utterance");
spectrogramPlot.XLabel("frame (time)");
spectrogramPlot.YLabel("frequency bin, per panel");
spectrogramPlot.SavePng(spectrogramPath, 900, 900);
Console.WriteLine($"Wrote {spectrogramPath}");

static double Mse(float[] a, float[] b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Average();

internal sealed class Frame
{
    [VectorType(Spectrogram.Bins)]
    public float[] Clean { get; set; } = [];

    [VectorType(Spectrogram.Bins)]
    [ColumnName("Frame")]
    public float[] Frame_ { get; set; } = [];
}

internal sealed class ScoredFrame
{
    public float[] Clean { get; set; } = [];

    public float[] Frame { get; set; } = [];

    public float[] Denoised { get; set; } = [];
}

/// <summary>Synthetic spectrogram frames: gliding formants and harmonics over a sloped floor.</summary>
internal static class Spectrogram
{
    public const int Bins = 64;

    public static List<(float[] Clean, float[] Noisy)> Utterances(int count, int framesEach, float noise, int seed)
    {
        var random = new Random(seed);
        var frames = new List<(float[], float[])>();
        for (int u = 0; u < count; u++)
        {
            // Three formants with start and end positions; they glide linearly through the utterance.
            var start = new[] { 6 + random.NextDouble() * 8, 20 + random.NextDouble() * 10, 38 + random.NextDouble() * 12 };
            var end = start.Select(s => s + (random.NextDouble() - 0.5) * 10).ToArray();
            var width = Enumerable.Range(0, 3).Select(_ => 1.5 + random.NextDouble() * 2.5).ToArray();
            var height = Enumerable.Range(0, 3).Select(k => (0.9 - 0.2 * k) * (0.7 + 0.3 * random.NextDouble())).ToArray();
            double pitch = 3 + random.NextDouble() * 2;
            for (int t = 0; t < framesEach; t++)
            {
                double progress = t / (double)(framesEach - 1);
                double loudness = Math.Sin(Math.PI * (0.1 + 0.8 * progress));
                var clean = new float[Bins];
                for (int b = 0; b < Bins; b++)
                {
                    double value = 0.15 * (1 - b / (double)Bins);
                    for (int k = 0; k < 3; k++)
                    {
                        double centre = start[k] + (end[k] - start[k]) * progress;
                        value += loudness * height[k] * Math.Exp(-0.5 * Math.Pow((b - centre) / width[k], 2));
                    }
                    value *= 0.85 + 0.15 * Math.Cos(2 * Math.PI * b / pitch);
                    clean[b] = (float)value;
                }
                float[] noisy = clean.Select(v => v + noise * (float)Gaussian(random)).ToArray();
                frames.Add((clean, noisy));
            }
        }
        return frames;
    }

    private static double Gaussian(Random random)
        => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
