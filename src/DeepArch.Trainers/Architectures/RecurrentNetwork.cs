using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// Recurrent networks: a <see cref="Recurrent"/> layer (Elman RNN, LSTM or GRU; stacked, bidirectional) followed by a
/// dense head. Many-to-one when the recurrent layer outputs a summary (last state, mean or max), many-to-many when it
/// outputs the sequence (the head then applies to every step).
/// </summary>
public static class RecurrentNetwork
{
    /// <summary>
    /// Composes [<paramref name="recurrent"/>, Dropout(<paramref name="headDropout"/>) when above 0, Dense + ReLU per hidden
    /// layer, Dense(<paramref name="outputs"/>)]. With <see cref="RecurrentOutput.Sequence"/> the dense layers apply to every
    /// step and a final <see cref="Flatten"/> gives <c>[T * outputs]</c> values per sample, step-major.
    /// </summary>
    /// <param name="recurrent">The recurrent layer; it fixes the input layout (see <see cref="Recurrent"/>).</param>
    /// <param name="outputs">The number of outputs (per step with a sequence output); at least 1.</param>
    /// <param name="hiddenLayers">The sizes of the hidden dense layers of the head, in order, each at least 1; none by default.</param>
    /// <param name="headDropout">The dropout rate on the recurrent layer's output, in [0, 1); 0 adds no dropout layer.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or rate is out of its range.</exception>
    public static Sequential Create(Recurrent recurrent, int outputs, IReadOnlyList<int>? hiddenLayers = null, float headDropout = 0)
    {
        ArgumentNullException.ThrowIfNull(recurrent);
        if (outputs < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(outputs), outputs, $"A recurrent network needs at least 1 output; got {outputs}.");
        }
        if (!(headDropout >= 0 && headDropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(headDropout), headDropout, $"headDropout must be in [0, 1); got {headDropout}.");
        }
        var layers = new List<LayerSpec> { recurrent };
        if (headDropout > 0)
        {
            layers.Add(new Dropout(headDropout));
        }
        foreach (int units in hiddenLayers ?? [])
        {
            layers.Add(new Dense(units));
            layers.Add(new Activation(ActivationKind.ReLU));
        }
        layers.Add(new Dense(outputs));
        if (recurrent.Output == RecurrentOutput.Sequence)
        {
            layers.Add(new Flatten());
        }
        return new Sequential(layers);
    }

    /// <summary>
    /// A many-to-one forecaster: it reads a window of <paramref name="window"/> steps of <paramref name="features"/> values
    /// (input shape <c>[window * features]</c>, step-major) and outputs the next <paramref name="horizon"/> steps of every
    /// feature, <c>horizon * features</c> values, step-major. Layers: [recurrent (last state), Dropout(<paramref name="dropout"/>)
    /// when above 0, Dense(horizon * features)].
    /// </summary>
    /// <param name="features">The values per step; at least 1.</param>
    /// <param name="window">The number of steps the forecaster reads; at least 1.</param>
    /// <param name="horizon">The number of steps it forecasts; at least 1.</param>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="hiddenSize">The recurrent hidden size; at least 1.</param>
    /// <param name="layers">The number of stacked recurrent layers; at least 1.</param>
    /// <param name="dropout">
    /// The dropout rate in [0, 1), applied between stacked recurrent layers and on the recurrent summary before the head
    /// (the second layer, which Monte-Carlo dropout scoring uses).
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">A size or rate is out of its range.</exception>
    public static Sequential CreateForecaster(int features, int window, int horizon, RecurrentCell cell, int hiddenSize, int layers = 1, float dropout = 0)
    {
        if (window < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, $"A forecaster's window must be at least 1 step; got {window}.");
        }
        if (horizon < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(horizon), horizon, $"A forecaster's horizon must be at least 1 step; got {horizon}.");
        }
        var recurrent = new Recurrent(cell, hiddenSize, features, layers, dropout: dropout);
        // The window fixes the input shape, [window * features]; check now that the recurrent layer takes it.
        recurrent.Steps([checked(window * features)]);
        return Create(recurrent, checked(horizon * features), headDropout: dropout);
    }
}
