
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
        base.Validate();
    }


    private protected override void CopyLists()
    {
        base.CopyLists();
        ClassWeights = ClassWeights?.ToDictionary(p => p.Key, p => p.Value);
    }
}
