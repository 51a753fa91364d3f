using System.Text.Json.Serialization;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using Xunit;

namespace DeepArch.Trainers.Tests.Layers;

/// <summary>
/// <see cref="LayerSpec.ParameterCount"/> computes, from the configuration alone, what the built module holds: the oracle is
/// <see cref="Network.ParameterCount"/> of the same spec built with TorchSharp, for one configuration or more of every layer kind.
/// </summary>
public class ParameterCountTests
{
    private static readonly int[] Vector = [6];
    private static readonly int[] Image = [2, 7, 6];
    private static readonly int[] Signal = [3, 11];

    public static TheoryData<string, LayerSpec, int[]> Specs => new()
    {
        { "Dense", new Dense(7), Vector },
        { "Dense without bias", new Dense(3, useBias: false), Vector },
        { "Dense over steps", new Sequential(new Reshape(3, 2), new Dense(4)), Vector },
        { "Activation", new Activation(ActivationKind.Tanh), Vector },
        { "Dropout", new Dropout(0.5f), Vector },
        { "Normalization (buffers, no parameters)", new Normalization([1, 2, 3, 4, 5, 6], [1, 1, 2, 2, 3, 3]), Vector },
        { "BatchNorm1d", new BatchNorm1d(), Vector },
        { "TiedDense alone", new TiedDense(4), Vector },
        { "TiedDense alone without bias", new TiedDense(4, useBias: false), Vector },
        { "Sequential", new Sequential(new Dense(8), new BatchNorm1d(), new Activation(ActivationKind.ReLU), new Dense(2)), Vector },
        { "Conv2d", new Conv2d(4, 3), Image },
        { "Conv2d same, no bias", new Conv2d(3, 2, padding: ConvPadding.Same, useBias: false), Image },
        { "Conv1d", new Conv1d(4, 3, stride: 2), Signal },
        { "ConvTranspose2d", new ConvTranspose2d(3, 2, stride: 2), Image },
        { "ConvTranspose2d without bias", new ConvTranspose2d(2, 3, useBias: false), Image },
        { "MaxPool2d", new MaxPool2d(2), Image },
        { "MaxPool1d", new MaxPool1d(2), Signal },
        { "AvgPool2d", new AvgPool2d(2), Image },
        { "AvgPool1d", new AvgPool1d(3), Signal },
        { "GlobalAveragePool", new GlobalAveragePool(), Image },
        { "Flatten", new Flatten(), Image },
        { "BatchNorm2d", new BatchNorm2d(), Image },
        { "Dropout2d", new Dropout2d(0.3f), Image },
        { "Reshape", new Reshape(14, 6), Image },
        { "LSTM", new Recurrent(RecurrentCell.Lstm, 5, 2), [12] },
        { "GRU, 2 layers, bidirectional", new Recurrent(RecurrentCell.Gru, 4, 3, layers: 2, bidirectional: true), [12] },
        { "RNN, 3 layers, sequence", new Recurrent(RecurrentCell.Rnn, 3, 1, layers: 3, output: RecurrentOutput.Sequence), [5] },
        { "LSTM, variable length", new Recurrent(RecurrentCell.Lstm, 4, 2, variableLength: true), [9] },
        { "Autoencoder", Autoencoder.Create([6, 5, 2], batchNorm: true), Vector },
        { "Autoencoder, tied", Autoencoder.Create([6, 5, 2], tiedWeights: true), Vector },
        { "Autoencoder, variational", Autoencoder.CreateVariational([6, 4, 2]), Vector },
        { "Convolutional autoencoder", ConvolutionalAutoencoder.CreateSpec([1, 8, 8], [4, 2]), [64] },
        { "LeNet-5", LeNet5.Create([1, 12, 12], 3), [1, 12, 12] },
        { "Conditioned vector", new Conditioned(5, 3, new Sequential(new Dense(4), new Activation(ActivationKind.ReLU))), Vector },
        { "Conditioned image", new Conditioned(3, 2, new Conv2d(4, 3)), Image },
        { "Recurrent network", RecurrentNetwork.Create(new Recurrent(RecurrentCell.Gru, 4, 2), 3, [5]), [8] },
        { "Sequence to sequence, tokens", new SequenceToSequence(7, 5, 6, 8, RecurrentCell.Lstm, 8, 4, 2, true, Attention.General), [7] },
        { "Sequence to sequence, values", new SequenceToSequence(0, 0, 6, 3, RecurrentCell.Gru, 8, 1, attention: Attention.None, sourceFeatures: 2, targetFeatures: 1), [13] },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void A_spec_counts_the_parameters_its_built_module_holds(string name, LayerSpec spec, int[] inputShape)
    {
        using var network = new Network(spec, inputShape, seed: 1);

        Assert.True(spec.ParameterCount(inputShape) == network.ParameterCount, $"{name}: spec {spec.ParameterCount(inputShape)}, built {network.ParameterCount}");
    }

    [Fact]
    public void Every_layer_kind_is_in_the_table()
    {
        var kinds = typeof(LayerSpec).GetCustomAttributes(typeof(JsonDerivedTypeAttribute), inherit: false)
            .Cast<JsonDerivedTypeAttribute>().Select(a => a.DerivedType).ToHashSet();
        var covered = Specs.Select(row => (LayerSpec)row[1]).SelectMany(Flatten).Select(s => s.GetType()).ToHashSet();

        Assert.Empty(kinds.Except(covered).Select(t => t.Name));
    }

    [Fact]
    public void A_layer_that_does_not_fit_the_input_is_rejected_as_when_building_it()
    {
        Assert.Throws<ArgumentException>(() => new Conv2d(4, 9).ParameterCount(Image));
        Assert.Throws<ArgumentException>(() => new BatchNorm1d().ParameterCount(Image));
    }

    private static IEnumerable<LayerSpec> Flatten(LayerSpec spec) => spec.Sublayers().SelectMany(Flatten).Prepend(spec);
}
