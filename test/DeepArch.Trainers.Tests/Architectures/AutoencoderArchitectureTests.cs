using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;
using AutoencoderModule = DeepArch.Trainers.Architectures.AutoencoderSpec.AutoencoderModule;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>
/// The fully connected autoencoders: their composition, JSON round trip and errors; and, for every kind,
/// the three exported graphs (reconstruction, encoder, decoder) against TorchSharp (1e-5) and onnx.checker.
/// </summary>
public class AutoencoderArchitectureTests(ITestOutputHelper output)
{
    [Fact]
    public void Create_builds_a_symmetric_encoder_and_decoder_from_the_layer_sizes()
    {
        var spec = Autoencoder.Create([16, 8, 3], ActivationKind.Tanh, ActivationKind.Sigmoid, dropout: 0.1f, batchNorm: true);

        LayerSpec[] encoder = [new Dense(8), new BatchNorm1d(), new Activation(ActivationKind.Tanh), new Dropout(0.1f), new Dense(3), new Activation(ActivationKind.Identity)];
        LayerSpec[] decoder = [new Dense(8), new BatchNorm1d(), new Activation(ActivationKind.Tanh), new Dropout(0.1f), new Dense(16), new Activation(ActivationKind.Sigmoid)];
        Assert.Equal(encoder, spec.Encoder.Layers);
        Assert.Equal(decoder, spec.Decoder.Layers);
        Assert.Equal([3], spec.CodeShape([16]));
        Assert.Equal([16], spec.OutputShape([16]));
        Assert.False(spec.Variational);
        Assert.False(spec.TiedWeights);
    }

    [Fact]
    public void Tied_weights_use_tied_dense_layers_in_the_decoder()
    {
        var spec = Autoencoder.Create([16, 8, 3], tiedWeights: true);

        Assert.Equal([new TiedDense(8), new Activation(ActivationKind.ReLU), new TiedDense(16), new Activation(ActivationKind.Identity)], spec.Decoder.Layers);
        Assert.True(spec.TiedWeights);
    }

    [Fact]
    public void Variational_encoder_ends_with_the_mean_layer()
    {
        var spec = Autoencoder.CreateVariational([16, 8, 2]);

        Assert.Equal([new Dense(8), new Activation(ActivationKind.ReLU), new Dense(2)], spec.Encoder.Layers);
        Assert.True(spec.Variational);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Specs_round_trip_through_json(bool tied, bool variational)
    {
        var spec = variational ? Autoencoder.CreateVariational([12, 6, 2], batchNorm: true) : Autoencoder.Create([12, 6, 2], dropout: 0.2f, tiedWeights: tied);

        var back = Assert.IsType<AutoencoderSpec>(LayerSpecJson.Deserialize(LayerSpecJson.Serialize(spec)));

        Assert.Equal(spec.Encoder.Layers, back.Encoder.Layers);
        Assert.Equal(spec.Decoder.Layers, back.Decoder.Layers);
        Assert.Equal(variational, back.Variational);
        Assert.Equal(tied, back.TiedWeights);
    }

    [Fact]
    public void Bad_configurations_are_rejected_with_the_reason()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Autoencoder.Create([16]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Autoencoder.Create([16, 0]));
        var mismatch = Assert.Throws<ArgumentException>(() => new AutoencoderSpec(new Sequential(new Dense(4), new Dense(2)), new Sequential(new TiedDense(8))));
        Assert.Contains("mirror", mismatch.Message);
        var notMean = Assert.Throws<ArgumentException>(() => new AutoencoderSpec(new Sequential(new Dense(2), new Activation(ActivationKind.Tanh)), new Sequential(new Dense(8)), variational: true));
        Assert.Contains("mean", notMean.Message);
        var wrongSize = Assert.Throws<ArgumentException>(() => Autoencoder.Create([16, 4]).OutputShape([10]));
        Assert.Contains("[10]", wrongSize.Message);
    }

    public static TheoryData<string> Kinds => new() { "deep", "tied", "sparse", "denoising", "variational" };

    private static readonly string[] KindNames = ["deep", "tied", "sparse", "denoising", "variational"];

    public static TheoryData<string, string> KindsAndGraphs
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string kind in KindNames)
            {
                foreach (string graph in new[] { "reconstruction", "encoder", "decoder" })
                {
                    data.Add(kind, graph);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(KindsAndGraphs))]
    public void Every_exported_graph_matches_onnx_runtime_after_training(string kind, string graph)
    {
        using var network = Train(kind, seed: 5);
        using var part = graph switch
        {
            "encoder" => network.ExtractEncoder(),
            "decoder" => network.ExtractDecoder(),
            _ => null,
        };

        double error = OnnxAssert.Parity(part ?? network, rows: 21, seed: 7);

        output.WriteLine($"{kind} {graph}: max abs error {error:G3}");
        Assert.True(error <= 1e-5, $"{kind} {graph}: {error:G3}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Extracted_halves_compose_to_the_trained_reconstruction(string kind)
    {
        using var network = Train(kind, seed: 6);
        using var encoder = network.ExtractEncoder();
        using var decoder = network.ExtractDecoder();
        float[] x = AutoencoderData.Signals(13, 16, seed: 99);

        float[] codes = encoder.Predict(x, 13);
        float[] composed = decoder.Predict(codes, 13);
        float[] whole = network.Predict(x, 13);

        Assert.Equal(13 * 3, codes.Length);
        Assert.Equal(whole.Length, composed.Length);
        Assert.True(whole.Zip(composed, (a, b) => Math.Abs(a - b)).Max() <= 1e-6);
    }

    [Fact]
    public void Tied_decoder_shares_the_encoder_weights_and_counts_them_once()
    {
        using var tied = new Network(Autoencoder.Create([16, 8, 3], tiedWeights: true), [16], seed: 1);
        using var untied = new Network(Autoencoder.Create([16, 8, 3]), [16], seed: 1);
        new TrainingLoop(new TrainingOptions { Epochs = 2, BatchSize = 16, LearningRate = 0.01, Seed = 1 })
            .Fit(new SupervisedObjective(tied, LossFunction.MeanSquaredError), AutoencoderData.Set(64, 16, seed: 1));

        var module = (AutoencoderModule)tied.Module;
        var first = (TorchSharp.Modules.Linear)module.Encoder[0];
        var last = (TiedDense.TiedDenseModule)module.Decoder[2];
        Assert.Same(first.weight, last.Weight);
        Assert.Equal(untied.ParameterCount - (8 * 16 + 3 * 8), tied.ParameterCount);
        Assert.DoesNotContain(module.state_dict().Keys, k => k.StartsWith("decoder.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal));
    }

    [Fact]
    public void Tied_dense_alone_matches_onnx_runtime_after_training()
    {
        using var network = new Network(new Sequential(new Dense(5), new TiedDense(6), new Activation(ActivationKind.Tanh), new TiedDense(5, useBias: false)), [5], seed: 3);
        new TrainingLoop(new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 3 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(96, features: 5, targets: 5));

        OnnxAssert.Parity(network, rows: 33, seed: 11, inputScale: 30f);
        Assert.Equal(5 * 5 + 5 + 5 * 6 + 6 + 6 * 5, network.ParameterCount);
    }

    [Fact]
    public void Extracting_from_a_network_that_is_not_an_autoencoder_names_its_architecture()
    {
        using var network = new Network(new Dense(3), [4], seed: 0);

        var error = Assert.Throws<ArgumentException>(() => network.ExtractEncoder());
        Assert.Contains("Dense(3)", error.Message);
    }

    /// <summary>Builds and briefly trains the kind's [16, 8, 3] autoencoder with its trainer, batch norm and dropout included where the kind allows.</summary>
    internal static Network Train(string kind, int seed)
    {
        var spec = kind switch
        {
            "deep" => Autoencoder.Create([16, 8, 3], ActivationKind.Tanh, batchNorm: true, dropout: 0.1f),
            "tied" => Autoencoder.Create([16, 8, 3], ActivationKind.LeakyReLU, tiedWeights: true, batchNorm: true),
            "sparse" => Autoencoder.Create([16, 8, 3], codeActivation: ActivationKind.Sigmoid, outputActivation: ActivationKind.Tanh),
            "denoising" => Autoencoder.Create([16, 8, 3], ActivationKind.ReLU, dropout: 0.1f),
            "variational" => Autoencoder.CreateVariational([16, 8, 3], ActivationKind.Tanh, batchNorm: true),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown kind."),
        };
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = seed, Threads = 1 };
        var network = new Network(spec, [16], seed);
        try
        {
            TrainingObjective objective = kind switch
            {
                "sparse" => new SparseObjective(network, activityL1: 1e-3f, sparsityTarget: 0.1f, sparsityWeight: 0.1f),
                "denoising" => new DenoisingObjective(network, gaussianNoise: 0.2f, maskingProbability: 0.1f),
                "variational" => new VariationalObjective(network),
                _ => new SupervisedObjective(network, LossFunction.MeanSquaredError),
            };
            new TrainingLoop(options).Fit(objective, AutoencoderData.Set(96, 16, seed));
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}
