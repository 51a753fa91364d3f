using DeepArch.Trainers.Training;

namespace DeepArch.MLNet;

/// <summary>
/// The options every DeepArch trainer shares: the label and feature columns, plus the training, scoring
/// and device options of <see cref="NetworkOptions"/>. Each trainer's nested <c>Options</c> class adds its
/// architecture's settings.
/// </summary>
public abstract class NetworkTrainerOptions : NetworkOptions
{
    /// <summary>The label column; must exist in the training data.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The feature column: <c>Single</c> or a known-size vector of <c>Single</c>.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>
    /// A <c>Single</c> column of per-row weights that scale each row's loss (ML.NET's <c>ExampleWeightColumnName</c>): a weight of
    /// 2 counts a row as if it were there twice, 0 leaves it out; weights must be finite, at least 0 and not all 0. Null
    /// (default) weighs every row the same. A <c>Fit(train, validation)</c> validation set is weighted too when it has the column.
    /// </summary>
    public string? ExampleWeightColumnName { get; set; }

    /// <summary>
    /// Classifiers only: weighs each training row by <c>n / (k * n_c)</c> (scikit-learn's and Keras users' "balanced" class
    /// weights: n training rows, k classes, n_c rows of the row's class), times its example weight if any, so that every class
    /// counts the same in the loss; raises a rare class's recall, usually at some cost in its precision. Default false. The
    /// validation loss stays unweighted by class.
    /// </summary>
    public bool BalanceClasses { get; set; }

    /// <summary>
    /// Classifiers only: a weight per class, keyed by the label's value as text (a multiclass label's key value, such as <c>"9"</c>
    /// or <c>"setosa"</c>; <c>"true"</c> and <c>"false"</c> for a binary label), Keras's <c>class_weight</c>: each training row's
    /// loss is scaled by its class's weight (times its example weight if any); classes not listed weigh 1. Weights must be finite
    /// and at least 0. Null (default) weighs every class the same; not together with <see cref="BalanceClasses"/>.
    /// </summary>
    public IReadOnlyDictionary<string, float>? ClassWeights { get; set; }

    /// <summary>
    /// Regression only: train on the label standardized by the training rows' mean and standard deviation (not the rows ValidationFraction holds out), with the exported
    /// graph scaling predictions back, so that <c>Score</c> is in the label's units (default true). A label in natural units
    /// (hundreds, thousands) otherwise starts the network's output far from its targets and its mean squared error in the
    /// thousands; the README's MLP section has the measurement. The training history's losses are then in
    /// standardized units (a loss of 1 is predicting the mean). Ignored by classifiers.
    /// </summary>
    public bool StandardizeLabel { get; set; } = true;

    /// <summary>
    /// Whether <c>Fit</c> holds the training rows' features in memory or streams them: reads them again from the <c>IDataView</c> at
    /// every epoch, shuffled through a buffer of <see cref="ShuffleBufferRows"/> rows, so that training memory stays flat however
    /// many rows there are (the labels and weights, one or two values per row, are held either way). <see cref="TrainingDataMode.Auto"/>
    /// (default) streams when the feature column would take more than <see cref="TrainingDataMemoryBudget"/> in memory. A
    /// <c>Fit(train, validation)</c> validation set is streamed with the training rows. Streaming reads the data once more per epoch
    /// (and once for the validation rows), which costs what reading the <c>IDataView</c> costs: the README's "Training on data larger
    /// than memory" has the figures. The stacked autoencoder, which trains layer by layer on codes it computes, holds its rows in memory.
    /// </summary>
    public TrainingDataMode TrainingData { get; set; } = TrainingDataMode.Auto;

    /// <summary>
    /// With <see cref="TrainingData"/> <see cref="TrainingDataMode.Auto"/>: the most bytes the training features (rows x values x 4)
    /// may take in memory before <c>Fit</c> streams them instead. 0 (default): one eighth of the memory the process may use (the GC's
    /// <c>TotalAvailableMemoryBytes</c>, a container's limit where there is one). Training in memory holds about 3.5 bytes per byte of
    /// features at its peak (the features, libtorch's copy, their shuffled batches; eng/bench's memory step), so the default keeps an
    /// in-memory <c>Fit</c> under about half of that memory and streams beyond.
    /// </summary>
    public long TrainingDataMemoryBudget { get; set; }

    /// <summary>
    /// For streamed training (<see cref="TrainingData"/>): how many rows the shuffle buffer holds. Each epoch reads the rows in their
    /// order into the buffer, shuffles what it holds and trains on it batch by batch, so a row is only mixed with rows near it in the
    /// data: shuffle data sorted by class or by time first (for example <c>mlContext.Data.ShuffleRows</c> with a seed, saved to a
    /// binary file). 0 (default): as many rows as 64 MiB hold, and at least 8 batches; otherwise at least 2 x <see cref="NetworkOptions.BatchSize"/>.
    /// When the buffer holds every row, streamed training is exactly in-memory training.
    /// </summary>
    public int ShuffleBufferRows { get; set; }

    /// <summary>Checks every option, naming the first one out of range ("Options.BatchSize must be positive; got 0.").</summary>
    internal override void Validate()
    {
        CheckColumnName(nameof(LabelColumnName), LabelColumnName);
        CheckColumnName(nameof(FeatureColumnName), FeatureColumnName);
        if (ExampleWeightColumnName is not null)
        {
            CheckColumnName(nameof(ExampleWeightColumnName), ExampleWeightColumnName);
        }
        if (ClassWeights is not null)
        {
            Check(!BalanceClasses, nameof(ClassWeights), $"{ClassWeights.Count} classes", "must be null when BalanceClasses is true (choose one way to weigh the classes)");
            foreach (var (label, weight) in ClassWeights)
            {
                Check(label is not null && weight >= 0 && float.IsFinite(weight), nameof(ClassWeights), $"'{label}' = {weight}", "must map class values to finite weights of at least 0");
            }
        }
        Check(Enum.IsDefined(TrainingData), nameof(TrainingData), TrainingData, "must be Auto, InMemory or Streamed");
        Check(TrainingDataMemoryBudget >= 0, nameof(TrainingDataMemoryBudget), TrainingDataMemoryBudget, "must be at least 0 (0 = one eighth of the memory available)");
        base.Validate();
    }

    private protected override int StreamBufferRows => ShuffleBufferRows;

    /// <summary>The budget <see cref="TrainingDataMemoryBudget"/> sets, in bytes.</summary>
    internal long MemoryBudgetBytes => TrainingDataMemoryBudget > 0 ? TrainingDataMemoryBudget : TrainingMemory.AvailableBytes / 8;

    private protected override void CopyLists()
    {
        base.CopyLists();
        ClassWeights = ClassWeights?.ToDictionary(p => p.Key, p => p.Value);
    }
}
