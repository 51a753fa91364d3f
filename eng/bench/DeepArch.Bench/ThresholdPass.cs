using DeepArch.MLNet.Scoring;
using DeepArch.MLNet.Trainers;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML.OnnxRuntime;

namespace DeepArch.Bench;

/// <summary>
/// The anomaly detector's threshold pass on one trained autoencoder, so that its cost can be timed on its own: the plain
/// Contamination pass (export the scoring graph, open a session, score every training row, take the quantile), and the
/// StandardizeError pass as it was before issue 7 (two exports, sessions and passes: the reconstruction for the feature
/// scale, then the scores) and as it is now (one pass; the scores computed from the same reconstruction). The passes
/// "after" call the detector's own code (ThresholdScores, FeatureErrorScale, StandardizedErrors: batch 256, one ONNX
/// Runtime thread per core); the passes "before" replay the old session settings (ONNX Runtime's default threads) on a
/// raw session, with the same scale and quantile.
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
        new TrainingLoop(new TrainingOptions { Epochs = epochs, BatchSize = 128, Seed = seed })
            .Fit(new SupervisedObjective(_network, LossFunction.MeanSquaredError), ReconstructionSet.Create(rows, width));
    }

    /// <summary>The relative difference between the StandardizeError thresholds before and after the change.</summary>
    public double ThresholdDifference => Stats.RelDiff(_before, _after);

    /// <summary>The plain Contamination pass as before issue 7 (ONNX Runtime's default threads); returns the threshold.</summary>
    public double Plain() => Quantile(RunBefore(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ScoreOutput, 1));

    /// <summary>The plain Contamination pass now: one ONNX Runtime thread per core; returns the threshold.</summary>
    public double PlainAfter() => Quantile(RunAfter(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ScoreOutput, 1));

    /// <summary>StandardizeError before: reconstruction pass for the scale, then a second export and pass for the scores.</summary>
    public double StandardizedBefore()
    {
        var scale = AutoencoderAnomalyDetectionTrainer.FeatureErrorScale(
            RunBefore(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ReconstructionOutput, _width), _rows, _width);
        _before = Quantile(RunBefore(_network.ExportScoringOnnx("Features", featureScale: scale), AutoencoderScoringExport.ScoreOutput, 1));
        return _before;
    }

    /// <summary>StandardizeError after: one reconstruction pass gives the scale and the scores.</summary>
    public double StandardizedAfter()
    {
        var reconstruction = RunAfter(_network.ExportScoringOnnx("Features"), AutoencoderScoringExport.ReconstructionOutput, _width);
        var scale = AutoencoderAnomalyDetectionTrainer.FeatureErrorScale(reconstruction, _rows, _width);
        _after = Quantile(AutoencoderAnomalyDetectionTrainer.StandardizedErrors(reconstruction, _rows, _width, scale));
        return _after;
    }

    /// <summary>The detector's pass now: ThresholdScores with its settings (ScoringThreads 0 = one thread per core).</summary>
    private float[] RunAfter(byte[] model, string output, int outputWidth)
        => ThresholdScores.Run(model, "Features", _rows, _width, output, outputWidth, new ScoringSettings(BatchRows, 0, ComputeDevice.Cpu, false));

    /// <summary>The pass before issue 7: the same batches on a session with ONNX Runtime's default thread count.</summary>
    private float[] RunBefore(byte[] model, string output, int outputWidth)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 0,
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

    private static float Quantile(float[] scores) => ThresholdScores.UpperQuantile(scores, Contamination);

    public void Dispose() => _network.Dispose();
}
