using DeepArch.Trainers;
using DeepArch.Trainers.Onnx.Proto;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary>No GPU is attached to this project's machines: CUDA must fail clearly, or fall back to the CPU when asked to.</summary>
public class DeviceTests
{
    private static MultilayerPerceptronTrainer.Options CudaOptions(bool fallback) => new()
    {
        HiddenLayers = [8],
        Epochs = 2,
        Device = ComputeDevice.Cuda,
        FallbackToCpu = fallback,
        TrainingThreads = 1,
    };

    [Fact]
    public void Cuda_without_a_gpu_is_a_clear_error_when_fallback_is_off()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));

        var error = Assert.Throws<InvalidOperationException>(() => ml.Regression.Trainers.MultilayerPerceptron(CudaOptions(fallback: false)).Fit(data));

        Assert.Contains("Options.Device is Cuda", error.Message);
        Assert.Contains("no usable CUDA device", error.Message);
    }

    [Fact]
    public void Cuda_without_a_gpu_trains_and_scores_on_the_cpu_when_fallback_is_on()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));

        var warnings = Fixtures.Warnings(ml);

        using var model = ml.Regression.Trainers.MultilayerPerceptron(CudaOptions(fallback: true)).Fit(data);

        Assert.Contains(warnings, w => w.Contains("training on the CPU (Options.FallbackToCpu)"));
        Assert.Equal(ComputeDevice.Cpu, model.Scorer.Device);
        var metrics = ml.Regression.Evaluate(model.Transform(data));
        Assert.True(double.IsFinite(metrics.RootMeanSquaredError));
    }

    /// <summary>
    /// A model as a GPU machine writes it: trained here on the CPU, its file then saying <c>Device = Cuda, FallbackToCpu = false</c>
    /// (what training with those options on a GPU stores), saved whole (zip) and as a standalone ONNX file.
    /// </summary>
    private static (byte[] Zip, byte[] Onnx, float[][] CpuScores) GpuTrainedModel(MLContext ml, IDataView data)
    {
        var options = CudaOptions(fallback: true);
        options.Device = ComputeDevice.Cpu;
        using var trained = ml.Regression.Trainers.MultilayerPerceptron(options).Fit(data);
        var cuda = trained.Info.Scoring with { Device = ComputeDevice.Cuda, FallbackToCpu = false };
        byte[] onnx = ModelInfo.Restamp(ModelProto.Parser.ParseFrom(trained.OnnxModel), trained.Info with { Scoring = cuda });
        // Built here with CPU settings (CUDA without fallback cannot open on this machine); the file it saves says Cuda.
        using var asSaved = new NetworkTransformer(onnx, trained.Info with { Scoring = cuda with { Device = ComputeDevice.Cpu } });
        Assert.Equal(ComputeDevice.Cuda, NetworkFile.Open(onnx, null, "test").Scoring.Device);
        using var zip = new MemoryStream();
        ml.Model.Save(asSaved, data.Schema, zip);
        return (zip.ToArray(), onnx, ScoreReader.Scores(trained.Transform(data)));
    }

    /// <summary>
    /// <see cref="GpuTrainedModel"/> as a CPU-only server gets it: the zip, the standalone file on disk (deleted on dispose), the
    /// CPU scores to expect, and a fresh context whose warnings are collected.
    /// </summary>
    private sealed class Served : IDisposable
    {
        public Served()
        {
            var ml = new MLContext(seed: 1);
            Data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));
            (Zip, byte[] onnx, CpuScores) = GpuTrainedModel(ml, Data);
            File.WriteAllBytes(OnnxPath, onnx);
            Server.Log += (_, e) =>
            {
                if (e.Kind == ChannelMessageKind.Warning)
                {
                    lock (Warnings)
                    {
                        Warnings.Add(e.Message);
                    }
                }
            };
        }

        public IDataView Data { get; }
        public byte[] Zip { get; }
        public float[][] CpuScores { get; }
        public string OnnxPath { get; } = Path.Combine(Path.GetTempPath(), $"deeparch-device-{Guid.NewGuid():N}.onnx");
        public MLContext Server { get; } = new();
        public List<string> Warnings { get; } = [];

        public void Dispose() => File.Delete(OnnxPath);
    }

    [Fact]
    public void A_model_trained_for_cuda_loads_and_scores_on_a_cpu_only_machine_with_a_warning()
    {
        using var served = new Served();

        using var network = Assert.IsType<NetworkTransformer>(DeepArchModel.Load(served.Server, new MemoryStream(served.Zip), out _));
        using var standalone = DeepArchModel.LoadOnnx(served.Server, served.OnnxPath);
        using var silent = DeepArchModel.LoadOnnx(served.OnnxPath);

        Assert.All(new[] { network, standalone, silent }, t => Assert.Equal(ComputeDevice.Cpu, t.ScoringDevice));
        Assert.Equal(served.CpuScores, ScoreReader.Scores(network.Transform(served.Data)));
        Assert.Equal(served.CpuScores, ScoreReader.Scores(standalone.Transform(served.Data)));
        Assert.Equal(2, served.Warnings.Count);
        Assert.All(served.Warnings, w => Assert.Contains("CUDA execution provider is not usable here", w));
        Assert.All(served.Warnings, w => Assert.Contains("scoring on the CPU instead", w));
    }

    [Fact]
    public void Load_options_choose_the_device_and_a_missing_provider_is_not_damage()
    {
        using var served = new Served();

        // Cpu chosen where the model is served: no fallback, no warning; batch size and threads as the server says.
        var onCpu = new ModelLoadOptions { Scoring = new ScoringOverrides { Device = ComputeDevice.Cpu, ScoringBatchSize = 7, ScoringThreads = 1 } };
        using (var loaded = (NetworkTransformer)DeepArchModel.Load(served.Server, new MemoryStream(served.Zip), out _, onCpu))
        {
            Assert.Equal((ComputeDevice.Cpu, 7, 1), (loaded.ScoringDevice, loaded.ScoringBatchSize, loaded.ScoringThreads));
            Assert.Equal(served.CpuScores, ScoreReader.Scores(loaded.Transform(served.Data)));
        }
        Assert.Empty(served.Warnings);

        // CUDA insisted on: the provider's absence is its own error, never "damaged".
        var strict = new ModelLoadOptions { Scoring = new ScoringOverrides { FallbackToCpu = false } };
        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => DeepArchModel.Load(served.Server, new MemoryStream(served.Zip), out _, strict));
        Assert.Contains("Device is Cuda but ONNX Runtime's CUDA execution provider is not usable here", error.Message);
        Assert.DoesNotContain("damaged", error.Message);
        Assert.Contains("DeepArchGpuScoring", error.Message);
        Assert.Throws<ExecutionProviderUnavailableException>(() => DeepArchModel.LoadOnnx(served.OnnxPath, strict));

        // Out of range: named with the option's path.
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => DeepArchModel.Load(served.Server, new MemoryStream(served.Zip), out _,
            new ModelLoadOptions { Scoring = new ScoringOverrides { ScoringBatchSize = 0 } }));
        Assert.Contains("Options.Scoring.ScoringBatchSize must be in [1, 65536]; got 0", bad.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DeepArchModel.Load(served.Server, new MemoryStream(served.Zip), out _,
            new ModelLoadOptions { Scoring = new ScoringOverrides { GpuDeviceId = -1 } }));
    }

    [Fact]
    public void A_transformer_rescored_with_other_settings_gives_the_same_scores()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));
        using var model = ml.Regression.Trainers.MultilayerPerceptron(CudaOptions(fallback: true)).Fit(data);

        using var rescored = model.WithScoring(new ScoringOverrides { Device = ComputeDevice.Cpu, ScoringBatchSize = 4, ScoringThreads = 1 });

        Assert.Equal((4, 1, ComputeDevice.Cpu), (rescored.ScoringBatchSize, rescored.ScoringThreads, rescored.ScoringDevice));
        Assert.Equal(256, model.ScoringBatchSize);
        Assert.Equal(ScoreReader.Scores(model.Transform(data)), ScoreReader.Scores(rescored.Transform(data)));
        var strict = Assert.Throws<ExecutionProviderUnavailableException>(() => model.WithScoring(new ScoringOverrides { Device = ComputeDevice.Cuda, FallbackToCpu = false }));
        Assert.Contains("FallbackToCpu", strict.Message);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => model.WithScoring(new ScoringOverrides { ScoringThreads = 999 }));
        Assert.Contains("overrides.ScoringThreads must be in [0, 256]", bad.Message);
    }

    [Fact]
    public void A_fit_that_falls_back_says_so_in_the_log()
    {
        var ml = new MLContext(seed: 1);
        var warnings = Fixtures.Warnings(ml);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));

        using var model = ml.Regression.Trainers.MultilayerPerceptron(CudaOptions(fallback: true)).Fit(data);

        Assert.Contains(warnings, w => w.Contains("Options.Device is Cuda but ONNX Runtime's CUDA execution provider is not usable here"));
    }
}
