using DeepArch.MLNet.Trainers;
using DeepArch.Trainers;
using Microsoft.ML;
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
}
