using System.Globalization;
using System.Text;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Writes the training history as CSV, one row per epoch, appended and flushed as each epoch ends (Keras' <c>CSVLogger</c>):
/// a run that stops or fails keeps the epochs it finished. Columns: <c>epoch, train_loss, validation_loss, learning_rate,
/// elapsed_seconds</c>, then, for an objective with several named losses (a GAN's <c>discriminator</c>, <c>generator</c>,
/// <c>D(x)</c>, <c>D(G(z))</c>), each name and <c>validation_</c> each name. Numbers are invariant-culture round-trip; an empty
/// cell is a value the epoch does not have (no validation data).
/// </summary>
/// <param name="path">The file, created (or replaced) when training begins; its folder is created if missing.</param>
public sealed class CsvHistoryWriter(string path) : TrainingCallback
{
    private IReadOnlyList<string>? _names;

    /// <summary>The file written.</summary>
    public string Path { get; } = !string.IsNullOrWhiteSpace(path) ? System.IO.Path.GetFullPath(path) : throw new ArgumentException("The CSV path must not be empty.", nameof(path));

    /// <summary>Creates (or empties) the file, so that a path that cannot be written fails before the first epoch.</summary>
    public override void OnTrainingBegin(TrainingOptions options)
    {
        _names = null;
        Write(() => File.WriteAllText(Path, ""));
    }

    /// <summary>Appends the epoch's row (and, after the first epoch, when the loss names are known, the header first).</summary>
    public override void OnEpochEnd(EpochReport report)
    {
        var line = new StringBuilder();
        if (_names is null)
        {
            _names = report.Losses is { Count: > 1 } losses ? [.. losses.Keys] : [];
            line.AppendJoin(',', ["epoch", "train_loss", "validation_loss", "learning_rate", "elapsed_seconds",
                .. _names.SelectMany(n => new[] { Quote(n), Quote("validation_" + n) })]).Append('\n');
        }
        line.AppendJoin(',', [report.Epoch.ToString(CultureInfo.InvariantCulture), Number(report.TrainLoss), Number(report.ValidationLoss),
            Number(report.LearningRate), Number(report.Elapsed.TotalSeconds),
            .. _names.SelectMany(n => new[] { Number(Value(report.Losses, n)), Number(Value(report.ValidationLosses, n)) })]).Append('\n');
        Write(() => File.AppendAllText(Path, line.ToString()));
    }

    private void Write(Action write)
    {
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"The training history CSV '{Path}' cannot be written: {e.Message}", e);
        }
    }

    private static double? Value(IReadOnlyDictionary<string, double>? losses, string name) => losses is not null && losses.TryGetValue(name, out double v) ? v : null;

    private static string Number(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static string Quote(string name) => name.IndexOfAny([',', '"', '\n', '\r']) < 0 ? name : "\"" + name.Replace("\"", "\"\"") + "\"";
}

/// <summary>
/// Writes the training history as TensorBoard event files (TorchSharp's <c>SummaryWriter</c>), one scalar per value and epoch:
/// <c>loss/train</c>, <c>loss/validation</c>, <c>learning_rate</c>, and for an objective with several named losses
/// <c>&lt;name&gt;/train</c> and <c>&lt;name&gt;/validation</c>; the step is the epoch. Each event is appended as the epoch ends.
/// Give each run its own folder (<c>runs/mlp-lr1e-3</c>, <c>runs/mlp-lr3e-3</c>) and point <c>tensorboard --logdir runs</c> at
/// their parent to compare them.
/// </summary>
/// <param name="directory">The run's folder; created if missing. A new event file is added to it for each training run.</param>
public sealed class TensorBoardWriter(string directory) : TrainingCallback
{
    private TorchSharp.Modules.SummaryWriter? _writer;

    /// <summary>The run's folder.</summary>
    public string Directory { get; } = !string.IsNullOrWhiteSpace(directory) ? Path.GetFullPath(directory) : throw new ArgumentException("The TensorBoard folder must not be empty.", nameof(directory));

    /// <summary>Creates the folder and the run's event file.</summary>
    public override void OnTrainingBegin(TrainingOptions options)
    {
        try
        {
            _writer = TorchSharp.torch.utils.tensorboard.SummaryWriter(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"The TensorBoard folder '{Directory}' cannot be written: {e.Message}", e);
        }
    }

    /// <summary>Appends the epoch's scalars.</summary>
    public override void OnEpochEnd(EpochReport report)
    {
        var writer = _writer ?? throw new InvalidOperationException("OnTrainingBegin was not called.");
        // TensorBoard reads the wall time in seconds since 1970 (TorchSharp's default is DateTime ticks).
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        void Add(string tag, double? value)
        {
            if (value is { } v)
            {
                writer.add_scalar(tag, (float)v, report.Epoch, now);
            }
        }
        Add("loss/train", report.TrainLoss);
        Add("loss/validation", report.ValidationLoss);
        Add("learning_rate", report.LearningRate);
        if (report.Losses is { Count: > 1 } losses)
        {
            foreach (var (name, value) in losses)
            {
                Add(name + "/train", value);
                Add(name + "/validation", report.ValidationLosses is not null && report.ValidationLosses.TryGetValue(name, out double v) ? v : null);
            }
        }
    }
}
