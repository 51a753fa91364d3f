namespace DeepArch.MLNet;

/// <summary>How <c>Fit</c> holds the training rows' features (<see cref="NetworkOptions.TrainingData"/>).</summary>
public enum TrainingDataMode
{
    /// <summary>
    /// In memory while they take at most <see cref="NetworkOptions.TrainingDataMemoryBudget"/>, streamed above it
    /// (the default).
    /// </summary>
    Auto,

    /// <summary>Read once into memory (4 bytes per value), then shuffled in full every epoch.</summary>
    InMemory,

    /// <summary>
    /// Read again from the <c>IDataView</c> at every epoch, shuffled through a buffer of
    /// <see cref="NetworkOptions.ShuffleBufferRows"/> rows: memory no longer grows with the features (a few bytes per row remain). The data
    /// must give the same rows in the same order at every pass (every ML.NET loader and deterministic transform does).
    /// </summary>
    Streamed,
}
