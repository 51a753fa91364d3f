using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML.OnnxRuntime;

namespace DeepArch.Bench;

/// <summary>
/// The anomaly detector's threshold pass, rebuilt from public parts on one trained autoencoder so that its cost can be
/// timed on its own: the plain Contamination pass (export the scoring graph, open a session, score every training row,
/// take the quantile), and the StandardizeError pass as it was before issue 7 (two exports, sessions and passes: the
/// reconstruction for the feature scale, then the scores) and as it is now (one pass; the scores computed from the
/// same reconstruction, on one ONNX Runtime thread per core). The session settings and batch size are those of the
/// trainer (batch 256; before: ScoringThreads 0, ONNX Runtime's default; after: one thread per core).
/// </summary>
internal sealed class ThresholdPass : IDisposable
{
    private const int BatchRows = 256;
    private const double Contamination = 0.05;
    private readonly Network _network;
    private readonly float[] _rows;
    private readonly int _width;
    private float _before = float.NaN;
    private float _after = float.NaN;

    public ThresholdPass(float[] rows, int width, int epochs, int seed)
    {
        _rows = rows;
        _width = width;
        _network = new Network(Autoencoder.Create([width, 256, 32], ActivationKind.ReLU, ActivationKind.Sigmoid), [width], seed);
        new NetworkTrainer(new TrainingOptions { Epochs = epochs, BatchSize = 128, Seed = seed }, LossFunction.MeanSquaredError)
            .Fit(_network, ReconstructionSet.Create(rows, width));
    }

    /// <summary>The relative difference between the StandardizeError thresholds before and after the change.</summary>
    public double ThresholdDifference => Stats.RelDiff(_before, _after);

    /// <summary>The plain Contamination pass as before issue 7 (ONNX Runtime's default threads); returns the threshold.</summary>
    public double Plain() => Quantile(Run(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ScoreOutput, 1));

    /// <summary>The plain Contamination pass now: one ONNX Runtime thread per core; returns the threshold.</summary>
    public double PlainAfter() => Quantile(Run(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ScoreOutput, 1, Environment.ProcessorCount));

    /// <summary>StandardizeError before: reconstruction pass for the scale, then a second export and pass for the scores.</summary>
    public double StandardizedBefore()
    {
        var scale = Scale(Run(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ReconstructionOutput, _width));
        _before = Quantile(Run(_network.ExportScoringOnnx("Features", featureScale: scale), AutoencoderScoringExport.ScoreOutput, 1));
        return _before;
    }

    /// <summary>StandardizeError after: one reconstruction pass gives the scale and the scores.</summary>
    public double StandardizedAfter()
    {
        var reconstruction = Run(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ReconstructionOutput, _width, Environment.ProcessorCount);
        var scale = Scale(reconstruction);
        var scores = new float[_rows.Length / _width];
        for (int r = 0; r < scores.Length; r++)
        {
            double sum = 0;
            for (int j = 0; j < _width; j++)
            {
                float d = (_rows[r * _width + j] - reconstruction[r * _width + j]) / scale[j];
                sum += d * d;
            }
            scores[r] = (float)(sum / _width);
        }
        _after = Quantile(scores);
        return _after;
    }

    private float[] Run(byte[] model, string output, int outputWidth, int threads = 0)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        int count = _rows.Length / _width;
        var result = new float[count * outputWidth];
        var input = new float[BatchRows * _width];
        var outputBuffer = new float[BatchRows * outputWidth];
        for (int start = 0; start < count; start += BatchRows)
        {
            int n = Math.Min(BatchRows, count - start);
            Array.Copy(_rows, start * _width, input, 0, n * _width);
            using var x = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(0, n * _width), [n, _width]);
            using var y = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, outputBuffer.AsMemory(0, n * outputWidth), [n, outputWidth]);
            session.Run(runOptions, ["Features"], [x], [output], [y]);
            Array.Copy(outputBuffer, 0, result, start * outputWidth, n * outputWidth);
        }
        return result;
    }

    /// <summary>Each feature's standard deviation of the reconstruction error, floored as the trainer floors it.</summary>
    private float[] Scale(float[] reconstruction)
    {
        int count = _rows.Length / _width;
        var sum = new double[_width];
        var squares = new double[_width];
        for (int i = 0; i < _rows.Length; i++)
        {
            double e = _rows[i] - reconstruction[i];
            sum[i % _width] += e;
            squares[i % _width] += e * e;
        }
        var std = new double[_width];
        for (int j = 0; j < _width; j++)
        {
            double mean = sum[j] / count;
            std[j] = Math.Sqrt(Math.Max(0, squares[j] / count - mean * mean));
        }
        double floor = Math.Max(1e-6, 0.01 * std.Average());
        return std.Select(s => (float)Math.Max(s, floor)).ToArray();
    }

    private static float Quantile(float[] scores)
    {
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        return sorted[Math.Clamp((int)Math.Ceiling((1 - Contamination) * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public void Dispose() => _network.Dispose();
}
