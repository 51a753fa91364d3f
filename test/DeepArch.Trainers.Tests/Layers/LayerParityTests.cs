using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>Every layer: TorchSharp eval output vs ONNX Runtime (1e-5) and onnx.checker, after a little training.</summary>
public class LayerParityTests
{
    public static TheoryData<string, LayerSpec> Layers => new()
    {
        { "Dense", new Dense(7) },
        { "Dense without bias", new Dense(3, useBias: false) },
        { "Identity", new Activation(ActivationKind.Identity) },
        { "ReLU", new Activation(ActivationKind.ReLU) },
        { "LeakyReLU", new Activation(ActivationKind.LeakyReLU, 0.2f) },
        { "Softplus", new Activation(ActivationKind.Softplus) },
        { "Tanh", new Activation(ActivationKind.Tanh) },
        { "Sigmoid", new Activation(ActivationKind.Sigmoid) },
        { "Softmax", new Activation(ActivationKind.Softmax) },
        { "Dropout", new Dropout(0.5f) },
        { "BatchNorm1d", new BatchNorm1d() },
        { "Sequential", new Sequential(new Dense(8), new BatchNorm1d(), new Activation(ActivationKind.Tanh), new Dropout(0.2f), new Dense(5)) },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void Layer_matches_onnx_runtime_after_training(string name, LayerSpec layer)
    {
        // Wrap the layer so that it sits between trainable layers: its parameters, and any running
        // statistics, then move away from their initial values before the comparison.
        var architecture = new Sequential(new Dense(5), layer, new Dense(5));
        using var network = new Network(architecture, [5], seed: 3);
        new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 3 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(96, features: 5, targets: 5));

        double error = OnnxAssert.Parity(network, rows: 33, seed: 11, inputScale: 30f);

        Assert.True(error <= 1e-5, name);
    }

    [Fact]
    public void Softplus_matches_for_large_inputs()
    {
        using var network = new Network(new Activation(ActivationKind.Softplus), [6], seed: 1);

        OnnxAssert.Parity(network, rows: 50, inputScale: 60f);
    }
}
