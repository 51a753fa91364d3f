using DeepArch.Trainers.Training;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>A callback that records every hook call, and can run an action after a chosen batch.</summary>
internal sealed class RecordingCallback : TrainingCallback
{
    public List<string> Events { get; } = [];

    public List<(int Epoch, int Batch, double Loss)> Batches { get; } = [];

    public List<EpochReport> EpochEnds { get; } = [];

    public TrainingOptions? BeginOptions { get; private set; }

    public TrainingHistory? EndHistory { get; private set; }

    /// <summary>Called with (epoch, batch) after each batch is recorded.</summary>
    public Action<int, int>? AfterBatch { get; init; }

    public override void OnTrainingBegin(TrainingOptions options)
    {
        BeginOptions = options;
        Events.Add("TrainingBegin");
    }

    public override void OnEpochBegin(int epoch) => Events.Add($"EpochBegin {epoch}");

    public override void OnBatchEnd(int epoch, int batch, double loss)
    {
        Events.Add($"BatchEnd {epoch}.{batch}");
        Batches.Add((epoch, batch, loss));
        AfterBatch?.Invoke(epoch, batch);
    }

    public override void OnEpochEnd(EpochReport report)
    {
        Events.Add($"EpochEnd {report.Epoch}");
        EpochEnds.Add(report);
    }

    public override void OnTrainingEnd(TrainingHistory history)
    {
        EndHistory = history;
        Events.Add("TrainingEnd");
    }
}

/// <summary>An <see cref="IProgress{T}"/> that records reports synchronously (unlike <see cref="Progress{T}"/>, which posts them).</summary>
internal sealed class RecordingProgress<T> : IProgress<T>
{
    public List<T> Reports { get; } = [];

    public void Report(T value) => Reports.Add(value);
}
