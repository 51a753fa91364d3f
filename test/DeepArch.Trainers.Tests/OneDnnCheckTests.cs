using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Tests;

/// <summary>
/// The choice of libtorch's oneDNN kernels per training (TorchRuntime.UseOneDnnFor): on exactly when every convolution and LSTM
/// configuration of the networks agrees with ATen's on this CPU (OneDnnCheck), whatever this CPU's verdicts are.
/// </summary>
public class OneDnnCheckTests(ITestOutputHelper output)
{
    private static readonly string? Forced = Environment.GetEnvironmentVariable("DEEPARCH_ONEDNN") is "0" or "1" ? Environment.GetEnvironmentVariable("DEEPARCH_ONEDNN") : null;

    public static TheoryData<string> Trainings => ["LeNet-5", "CNN", "convolutional autoencoder", "DCGAN", "conditional DCGAN", "LSTM", "GRU", "MLP"];

    private static List<Network> Networks(string training) => training switch
    {
        "LeNet-5" => [new Network(LeNet5.Create([1, 8, 8], 10), [1, 8, 8], seed: 1)],
        "CNN" => [new Network(ConvolutionalNetwork.Create([1, 8, 8], 10), [1, 8, 8], seed: 1)],
        "convolutional autoencoder" => [new Network(ConvolutionalAutoencoder.Create([1, 8, 8]), [64], seed: 1)],
        "DCGAN" or "conditional DCGAN" => Gan(GenerativeAdversarialNetwork.CreateConvolutional(8, [1, 8, 8], filters: 8, classes: training == "DCGAN" ? 0 : 3)),
        "LSTM" or "GRU" => [new Network(RecurrentNetwork.Create(new Recurrent(training == "LSTM" ? RecurrentCell.Lstm : RecurrentCell.Gru, 16, 8), 10), [64], seed: 1)],
        _ => [new Network(MultilayerPerceptron.Create([32, 16], 10), [64], seed: 1)],
    };

    private static List<Network> Gan(GanNetworks gan) =>
        [new Network(gan.Generator, [gan.NoiseSize], seed: 1), new Network(gan.Discriminator, [gan.DataSize], seed: 2)];

    [Theory]
    [MemberData(nameof(Trainings))]
    public void A_training_runs_on_onednn_exactly_when_every_convolution_and_lstm_of_its_networks_agrees(string training)
    {
        var networks = Networks(training);
        try
        {
            lock (TorchRuntime.TrainingLock)
            {
                bool resting = TorchRuntime.OneDnnEnabled;
                var layers = OneDnnCheck.Layers(networks);
                var verdicts = layers.Select(l => (l.Description, Disagreement: OneDnnCheck.Disagreement(l, TorchRuntime.SetOneDnn))).ToList();
                foreach (var (description, disagreement) in verdicts)
                {
                    output.WriteLine($"{description}: {disagreement ?? "agrees"}");
                }
                TorchRuntime.SetOneDnn(resting);
                bool expected = Forced is { } forced ? forced == "1" : layers.Count == 0 ? resting : verdicts.All(v => v.Disagreement is null);

                using (var choice = TorchRuntime.UseOneDnnFor(networks))
                {
                    Assert.Equal(expected, TorchRuntime.OneDnnEnabled);
                    Assert.Equal(expected, TorchRuntime.OneDnnInLastTraining);
                    Assert.Equal(Forced is null && !expected && layers.Count > 0, choice.OffReason is not null);
                    foreach (var (description, disagreement) in verdicts.Where(v => v.Disagreement is not null && Forced is null))
                    {
                        Assert.Contains(description, choice.OffReason!, StringComparison.Ordinal);
                    }
                }
                Assert.Equal(resting, TorchRuntime.OneDnnEnabled);
            }
        }
        finally
        {
            networks.ForEach(n => n.Dispose());
        }
    }

    [Fact]
    public void Networks_without_convolutions_or_lstms_have_nothing_to_check()
    {
        var networks = Networks("MLP").Concat(Networks("GRU")).ToList();
        Assert.Empty(OneDnnCheck.Layers(networks));
        networks.ForEach(n => n.Dispose());
    }

    /// <summary>Each convolution is checked at its own input size (a transposed convolution of 4 or 8 to 1 channels disagreed on inputs up to 4x4 and agreed from 6x6).</summary>
    [Fact]
    public void Only_the_first_convolution_of_the_network_reading_the_data_is_checked_without_its_input_gradient()
    {
        var lenet = Networks("LeNet-5");
        var dcgan = Networks("DCGAN");
        var conditioned = Networks("conditional DCGAN");
        var autoencoder = Networks("convolutional autoencoder");

        var lenetLayers = OneDnnCheck.Layers(lenet).Select(l => l.Description).ToList();
        Assert.Equal(
        [
            "Conv2d(1 to 6 channels, kernel 5, stride 1, padding 2, dilation 1, groups 1, input 8x8, without input gradient)",
            "Conv2d(6 to 16 channels, kernel 5, stride 1, padding 2, dilation 1, groups 1, input 4x4)",
        ], lenetLayers);
        // The generator starts with a dense layer; the discriminator reads the generator's output; a conditioned network's input holds its label's embedding.
        Assert.Equal(4, OneDnnCheck.Layers(dcgan).Count);
        Assert.DoesNotContain(OneDnnCheck.Layers(dcgan).Concat(OneDnnCheck.Layers(conditioned)), l => l.Description.Contains("without", StringComparison.Ordinal));
        Assert.Contains(OneDnnCheck.Layers(dcgan), l => l.Description == "ConvTranspose2d(16 to 8 channels, kernel 4, stride 2, padding 1, output padding 0, dilation 1, groups 1, input 2x2)");
        Assert.Equal(1, OneDnnCheck.Layers(autoencoder).Count(l => l.Description.Contains("without input gradient", StringComparison.Ordinal)));
        lenet.Concat(dcgan).Concat(conditioned).Concat(autoencoder).ToList().ForEach(n => n.Dispose());
    }

    /// <summary>
    /// An ensemble's members share one architecture and each reads the data (the convolutional autoencoder detector trains them
    /// one by one): they add no configuration to the first one's, so the log line of the whole Fit names the kernels each member trains on.
    /// </summary>
    [Fact]
    public void An_ensembles_members_read_the_data_as_the_first_network_does()
    {
        var spec = ConvolutionalAutoencoder.Create([1, 8, 8]);
        var members = Enumerable.Range(1, 3).Select(seed => new Network(spec, [64], seed)).ToList();
        var copy = new Network(ConvolutionalAutoencoder.Create([1, 8, 8]), [64], seed: 4); // equal, but another spec: not a member

        var alone = OneDnnCheck.Layers(members.Take(1).ToList()).Select(l => l.Description).ToList();

        Assert.Equal(alone, OneDnnCheck.Layers(members).Select(l => l.Description));
        Assert.Contains(OneDnnCheck.Layers([members[0], copy]), l => !alone.Contains(l.Description));
        members.Append(copy).ToList().ForEach(n => n.Dispose());
    }

    /// <summary>An LSTM is checked as it is configured, and by the small LSTM that was wrong where oneDNN's LSTMs were also slow.</summary>
    [Fact]
    public void An_lstm_needs_its_own_configuration_and_the_lstm_family_to_agree()
    {
        var lstm = Networks("LSTM");

        Assert.Equal(
        [
            "LSTM(8 inputs, hidden size 16, 1 layer)",
            "any LSTM, as oneDNN's LSTM(3 inputs, hidden size 4, 1 layer, bidirectional)",
        ], OneDnnCheck.Layers(lstm).Select(l => l.Description));
        lstm.ForEach(n => n.Dispose());
    }

    [Fact]
    public void The_check_finds_kernels_that_differ_between_the_backends_or_from_run_to_run()
    {
        lock (TorchRuntime.TrainingLock)
        {
            bool resting = TorchRuntime.OneDnnEnabled;
            int runs = 0;
            var agreeing = new OneDnnCheck.Layer("test: agreeing", () => [("output", ones(3))]);
            var differing = new OneDnnCheck.Layer("test: differing", () => [("output", full(3, TorchRuntime.OneDnnEnabled ? 1.5f : 1f))]);
            var changing = new OneDnnCheck.Layer("test: changing", () => [("input gradient", full(3, TorchRuntime.OneDnnEnabled ? ++runs * 1e-6f : 0f))]);
            var nan = new OneDnnCheck.Layer("test: NaN", () => [("weight gradient", full(3, TorchRuntime.OneDnnEnabled ? float.NaN : 0f))]);

            Assert.Null(OneDnnCheck.Disagreement(agreeing, TorchRuntime.SetOneDnn));
            Assert.Equal("test: differing: output 0.5 away from ATen's (1 thread)", OneDnnCheck.Disagreement(differing, TorchRuntime.SetOneDnn));
            Assert.Equal("test: changing: input gradient changed from run to run (1 thread)", OneDnnCheck.Disagreement(changing, TorchRuntime.SetOneDnn));
            Assert.Equal("test: NaN: weight gradient NaN where ATen's is not (1 thread)", OneDnnCheck.Disagreement(nan, TorchRuntime.SetOneDnn));
            TorchRuntime.SetOneDnn(resting);
        }
    }
}
