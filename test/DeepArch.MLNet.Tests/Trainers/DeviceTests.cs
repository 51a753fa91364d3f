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

        using var model = ml.Regression.Trainers.MultilayerPerceptron(CudaOptions(fallback: true)).Fit(data);

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

    [Fact]
    public void A_model_trained_for_cuda_loads_and_scores_on_a_cpu_only_machine_with_a_warning()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));
        var (zip, onnx, cpuScores) = GpuTrainedModel(ml, data);
        var server = new MLContext();
        var warnings = new List<string>();
        server.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) { lock (warnings) { warnings.Add(e.Message); } } };

        var loaded = DeepArchModel.Load(server, new MemoryStream(zip), out _);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-device-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        try
        {
            using var standalone = DeepArchModel.LoadOnnx(server, path);
            using var silent = DeepArchModel.LoadOnnx(path);

            var network = Assert.IsType<NetworkTransformer>(loaded);
            Assert.All(new[] { network, standalone, silent }, t => Assert.Equal(ComputeDevice.Cpu, t.ScoringDevice));
            Assert.Equal(cpuScores, ScoreReader.Scores(loaded.Transform(data)));
            Assert.Equal(cpuScores, ScoreReader.Scores(standalone.Transform(data)));
            Assert.Equal(2, warnings.Count);
            Assert.All(warnings, w => Assert.Contains("CUDA execution provider is not usable here", w));
            Assert.All(warnings, w => Assert.Contains("scoring on the CPU instead", w));
            network.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_options_choose_the_device_and_a_missing_provider_is_not_damage()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));
        var (zip, onnx, cpuScores) = GpuTrainedModel(ml, data);
        var server = new MLContext();
        var warnings = new List<string>();
        server.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) { lock (warnings) { warnings.Add(e.Message); } } };

        // Cpu chosen where the model is served: no fallback, no warning; batch size and threads as the server says.
        var onCpu = new ModelLoadOptions { Scoring = new ScoringOverrides { Device = ComputeDevice.Cpu, ScoringBatchSize = 7, ScoringThreads = 1 } };
        using (var loaded = (NetworkTransformer)DeepArchModel.Load(server, new MemoryStream(zip), out _, onCpu))
        {
            Assert.Equal((ComputeDevice.Cpu, 7, 1), (loaded.ScoringDevice, loaded.ScoringBatchSize, loaded.ScoringThreads));
            Assert.Equal(cpuScores, ScoreReader.Scores(loaded.Transform(data)));
        }
        Assert.Empty(warnings);

        // CUDA insisted on: the provider's absence is its own error, never "damaged".
        var strict = new ModelLoadOptions { Scoring = new ScoringOverrides { FallbackToCpu = false } };
        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => DeepArchModel.Load(server, new MemoryStream(zip), out _, strict));
        Assert.Contains("Device is Cuda but ONNX Runtime's CUDA execution provider is not usable here", error.Message);
        Assert.DoesNotContain("damaged", error.Message);
        Assert.Contains("DeepArchGpuScoring", error.Message);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-device-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        try
        {
            Assert.Throws<ExecutionProviderUnavailableException>(() => DeepArchModel.LoadOnnx(path, strict));
        }
        finally
        {
            File.Delete(path);
        }

        // Out of range: named with the option's path.
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => DeepArchModel.Load(server, new MemoryStream(zip), out _,
            new ModelLoadOptions { Scoring = new ScoringOverrides { ScoringBatchSize = 0 } }));
        Assert.Contains("Options.Scoring.ScoringBatchSize must be in [1, 65536]; got 0", bad.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DeepArchModel.Load(server, new MemoryStream(zip), out _,
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
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) { lock (warnings) { warnings.Add(e.Message); } } };
        var data = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));

        using var model = ml.Regression.Trainers.MultilayerPerceptron(CudaOptions(fallback: true)).Fit(data);

        Assert.Contains(warnings, w => w.Contains("Options.Device is Cuda but ONNX Runtime's CUDA execution provider is not usable here"));
    }
}
