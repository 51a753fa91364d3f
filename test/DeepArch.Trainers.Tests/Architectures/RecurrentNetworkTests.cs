using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Tests.Layers;
using DeepArch.Trainers.Training;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests.Architectures;

/// <summary>Recurrent architectures: many-to-one and many-to-many compositions, and the forecaster, which learns a sine wave.</summary>
public class RecurrentNetworkTests(ITestOutputHelper output)
{
    [Fact]
    public void Many_to_one_network_is_recurrent_dropout_hidden_layers_and_output()
    {
        var recurrent = new Recurrent(RecurrentCell.Lstm, 8, 3, bidirectional: true);

        var network = RecurrentNetwork.Create(recurrent, outputs: 4, hiddenLayers: [6, 5], headDropout: 0.2f);

        Assert.Equal(
            [recurrent, new Dropout(0.2f), new Dense(6), new Activation(ActivationKind.ReLU), new Dense(5), new Activation(ActivationKind.ReLU), new Dense(4)],
            network.Layers);
        Assert.Equal([[15], [16], [16], [6], [6], [5], [5], [4]], network.ShapesThrough([15]));
    }

    [Fact]
    public void Many_to_many_network_applies_the_head_per_step_and_flattens()
    {
        var recurrent = new Recurrent(RecurrentCell.Gru, 8, 3, output: RecurrentOutput.Sequence, variableLength: true);

        var network = RecurrentNetwork.Create(recurrent, outputs: 2, hiddenLayers: [5]);

        Assert.Equal([recurrent, new Dense(5), new Activation(ActivationKind.ReLU), new Dense(2), new Flatten()], network.Layers);
        Assert.Equal([[22], [7, 8], [7, 5], [7, 5], [7, 2], [14]], network.ShapesThrough([1 + 7 * 3]));
    }

    [Fact]
    public void Create_validates_its_arguments()
    {
        var recurrent = new Recurrent(RecurrentCell.Rnn, 4, 2);

        Assert.Equal("outputs", Assert.Throws<ArgumentOutOfRangeException>(() => RecurrentNetwork.Create(recurrent, 0)).ParamName);
        Assert.Equal("headDropout", Assert.Throws<ArgumentOutOfRangeException>(() => RecurrentNetwork.Create(recurrent, 1, headDropout: 1)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => RecurrentNetwork.Create(recurrent, 1, hiddenLayers: [0]));
        Assert.Throws<ArgumentNullException>(() => RecurrentNetwork.Create(null!, 1));
    }

    [Fact]
    public void Forecaster_reads_a_window_and_outputs_the_next_steps_of_every_feature()
    {
        var forecaster = RecurrentNetwork.CreateForecaster(features: 2, window: 12, horizon: 3, RecurrentCell.Lstm, hiddenSize: 8, layers: 2, dropout: 0.1f);

        Assert.Equal([new Recurrent(RecurrentCell.Lstm, 8, 2, layers: 2, dropout: 0.1f), new Dropout(0.1f), new Dense(6)], forecaster.Layers);
        Assert.Equal([6], forecaster.OutputShape([24]));
        Assert.Equal(2, RecurrentNetwork.CreateForecaster(2, 12, 1, RecurrentCell.Gru, 8).Layers.Count);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => RecurrentNetwork.CreateForecaster(2, 0, 1, RecurrentCell.Gru, 8)).ParamName);
        Assert.Equal("horizon", Assert.Throws<ArgumentOutOfRangeException>(() => RecurrentNetwork.CreateForecaster(2, 5, 0, RecurrentCell.Gru, 8)).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentOutOfRangeException>(() => RecurrentNetwork.CreateForecaster(0, 5, 1, RecurrentCell.Gru, 8)).ParamName);
    }

    [Fact]
    public void Forecaster_learns_a_sine_wave_and_matches_onnx_runtime()
    {
        const int features = 2, window = 12, horizon = 2, rows = 384;
        // Windows of (sin, cos) at random phases; the targets are the next two steps of both, step-major.
        var random = new Random(3);
        var x = new float[rows * window * features];
        var y = new float[rows * horizon * features];
        for (int row = 0; row < rows; row++)
        {
            double phase = random.NextDouble() * 2 * Math.PI;
            for (int t = 0; t < window + horizon; t++)
            {
                float[] step = [(float)Math.Sin(0.4 * t + phase), (float)Math.Cos(0.4 * t + phase)];
                if (t < window)
                {
                    step.CopyTo(x, (row * window + t) * features);
                }
                else
                {
                    step.CopyTo(y, (row * horizon + t - window) * features);
                }
            }
        }
        using var network = new Network(RecurrentNetwork.CreateForecaster(features, window, horizon, RecurrentCell.Gru, hiddenSize: 16), [window * features], seed: 3);

        new TrainingLoop(new TrainingOptions { Epochs = 25, BatchSize = 32, LearningRate = 0.01, Seed = 3, Threads = 1 })
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), new TrainingSet(x, [window * features], y, horizon * features));

        float[] forecast = network.Predict(x, rows);
        double error = forecast.Zip(y, (p, t) => (double)(p - t) * (p - t)).Average();
        double power = y.Average(v => (double)v * v);
        output.WriteLine($"forecast MSE {error:G3} against a signal power of {power:G3}");
        Assert.True(error < power / 50, $"Forecast MSE {error:G3} against a signal power of {power:G3}.");
        Assert.True(RecurrentTestData.Parity(network, x.AsSpan(0, 8 * window * features).ToArray(), 8) <= 1e-5);
    }
}
