using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>The prediction task a supervised trainer is registered for.</summary>
internal enum TaskKind
{
    Multiclass,
    Binary,
    Regression,
}

/// <summary>
/// What the supervised trainers (multilayer perceptron, convolutional, recurrent, stacked autoencoder) share beyond
/// <see cref="NetworkEstimator{TOptions}"/>: a label column whose type gives the prediction task (key for multiclass,
/// <c>Boolean</c> for binary, <c>Single</c> for regression), the feature column (or, for a recurrent network, a sequence
/// column), the standard output columns, and a validation set checked like the training set.
/// </summary>
/// <typeparam name="TOptions">The trainer's options.</typeparam>
public abstract class SupervisedNetworkTrainer<TOptions> : NetworkEstimator<TOptions> where TOptions : NetworkTrainerOptions
{
    private readonly TaskKind _task;

    private protected SupervisedNetworkTrainer(IHostEnvironment environment, TOptions options, TaskKind task, string name)
        : base(environment, options, name) => _task = task;

    /// <summary>The options this trainer was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public TOptions TrainerOptions => LiveOptions;

    /// <summary>For a recurrent network: how the feature column holds time steps; null (default) for a plain feature vector.</summary>
    private protected virtual SequenceInput? Sequence(TOptions options) => null;

    /// <inheritdoc/>
    private protected override bool CanStream => true;

    /// <summary>Checks the feature column against options that size it (a convolutional network's input shape) before any row is read.</summary>
    private protected virtual void CheckFeature(TOptions options, DataViewSchema.Column feature, int size)
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = LiveOptions;
        if (Sequence(o) is null)
        {
            FeatureColumn.Check(inputSchema, o.FeatureColumnName);
        }
        else
        {
            SequenceLayout.Check(inputSchema, o.FeatureColumnName);
        }
        var label = inputSchema.FirstOrDefault(c => c.Name == o.LabelColumnName);
        if (label.Name is null)
        {
            throw SchemaErrors.ColumnNotFound("label", o.LabelColumnName);
        }
        var scalar = SchemaShape.Column.VectorKind.Scalar;
        IEnumerable<SchemaShape.Column> added = _task switch
        {
            TaskKind.Multiclass when label.IsKey && label.Kind == scalar => MulticlassTask.OutputShape(label),
            TaskKind.Multiclass => throw SchemaErrors.Mismatch("label", label.Name, "Key<UInt32> (use MapValueToKey on the label)", SchemaErrors.Describe(label)),
            TaskKind.Binary when !label.IsKey && label.Kind == scalar && label.ItemType == BooleanDataViewType.Instance => BinaryTask.OutputShape(),
            TaskKind.Binary => throw SchemaErrors.Mismatch("label", label.Name, "Boolean", SchemaErrors.Describe(label)),
            TaskKind.Regression when !label.IsKey && label.Kind == scalar && label.ItemType == NumberDataViewType.Single => RegressionTask.OutputShape(),
            TaskKind.Regression => throw SchemaErrors.Mismatch("label", label.Name, "Single", SchemaErrors.Describe(label)),
            _ => throw new InvalidOperationException($"Unknown task {_task}."),
        };
        SchemaShapes.CheckWeightColumn(inputSchema, o.ExampleWeightColumnName);
        return SchemaShapes.With(inputSchema, added);
    }

    private protected override FitData Read(TOptions o, IDataView train, IDataView? validation)
    {
        var ct = o.CancellationToken;
        if (o.BalanceClasses && _task == TaskKind.Regression)
        {
            throw new ArgumentOutOfRangeException("Options.BalanceClasses", true, "Options.BalanceClasses is for classifiers; a regression label has no classes to balance.");
        }
        if (o.ClassWeights is not null && _task == TaskKind.Regression)
        {
            throw new ArgumentOutOfRangeException("Options.ClassWeights", o.ClassWeights.Count, "Options.ClassWeights is for classifiers; a regression label has no classes to weigh.");
        }
        DataViewSchema.Column feature;
        int featureSize;
        SequenceLayout? layout = null;
        if (Sequence(o) is { } sequence)
        {
            (feature, layout) = SequenceLayout.ForTraining(train, o.FeatureColumnName, sequence.FeaturesPerStep, sequence.MaxSteps, ct);
            featureSize = layout.NetworkInputSize;
        }
        else
        {
            (feature, featureSize) = FeatureColumn.Resolve(train.Schema, o.FeatureColumnName);
            CheckFeature(o, feature, featureSize);
        }
        var label = train.Schema.GetColumnOrNull(o.LabelColumnName);
        PredictionTask task = _task switch
        {
            TaskKind.Multiclass => MulticlassTask.FromLabel(label, o.LabelColumnName),
            TaskKind.Binary => BinaryTask.FromLabel(label, o.LabelColumnName),
            _ => RegressionTask.FromLabel(label, o.LabelColumnName),
        };
        DataViewSchema.Column? weight = o.ExampleWeightColumnName is { } weightName ? TrainingDataReader.WeightColumn(train, weightName, "example weight") : null;
        var holding = Holding(o, train, featureSize);
        var trainSet = TrainingDataReader.Read(train, feature, featureSize, label!.Value, task, ct, layout, weight, holding);
        TrainingSet? validationSet = null;
        if (validation is not null)
        {
            var validationFeature = layout?.Resolve(validation.Schema, o.FeatureColumnName, "validation feature")
                ?? FeatureColumn.Resolve(validation.Schema, o.FeatureColumnName, featureSize, "validation feature");
            var validationLabel = validation.Schema.GetColumnOrNull(o.LabelColumnName);
            if (validationLabel is null || !validationLabel.Value.Type.Equals(label.Value.Type))
            {
                throw validationLabel is null
                    ? SchemaErrors.ColumnNotFound("validation label", o.LabelColumnName)
                    : SchemaErrors.Mismatch("validation label", o.LabelColumnName, SchemaErrors.Describe(label.Value.Type), SchemaErrors.Describe(validationLabel.Value.Type));
            }
            // A validation set is weighted when it has the weight column.
            DataViewSchema.Column? validationWeight = weight is null || validation.Schema.GetColumnOrNull(weight.Value.Name) is null
                ? null : TrainingDataReader.WeightColumn(validation, weight.Value.Name, "validation example weight");
            validationSet = TrainingDataReader.Validation(() => TrainingDataReader.Read(validation, validationFeature, featureSize, validationLabel.Value, task, ct, layout, validationWeight, RowHolding.ForValidation(trainSet, Holding(o, validation, featureSize))));
        }
        if (task is BinaryTask)
        {
            CheckBothClasses(trainSet, label.Value.Name);
        }
        return new FitData(feature, featureSize, trainSet, validationSet, task, layout);
    }

    /// <summary>For classifiers with <see cref="NetworkTrainerOptions.BalanceClasses"/>: weighs the training rows by their class's frequency.</summary>
    private protected override FitData Prepare(TOptions options, FitData data, ModelInfo? initial)
    {
        if (options.BalanceClasses || options.ClassWeights is not null)
        {
            // Only the rows that train are weighed by class: rows held out for validation (ValidationFraction) keep their own
            // weight, so the validation loss is not weighted by class.
            bool[] training = TrainingRowMask(data.Train, data.TrainingRows);
            var factor = options.ClassWeights is { } classWeights ? ExplicitFactors(ClassTargets(classWeights, data.Task!)) : BalancedFactors(data.Train, training);
            float[] weights = Enumerable.Range(0, data.Train.Count)
                .Select(r => (data.Train.Weights?[r] ?? 1) * (training[r] ? factor(data.Train.Targets[r]) : 1f)).ToArray();
            if (options.ClassWeights is not null && !Enumerable.Range(0, weights.Length).Any(r => training[r] && weights[r] > 0))
            {
                throw new ArgumentException("Options.ClassWeights gives every training row weight 0: nothing would be learned. Give some class a positive weight.", "Options.ClassWeights");
            }
            data = data with { Train = data.Train.WithWeights(TrainingDataReader.Rescaled(weights)) };
        }
        if (initial is not null)
        {
            CheckSameClasses(data.Task!, initial.Task);
        }
        if (data.Task is not RegressionTask || (initial is null ? !options.StandardizeLabel : !((RegressionTask)initial.Task).IsStandardized))
        {
            return data;
        }
        // A continued model keeps the standardization its network learned in.
        var regression = initial?.Task as RegressionTask ?? RegressionTask.FromLabels(data.Train.Targets, data.TrainingRows);
        regression.Standardize(data.Train.Targets);
        if (data.Validation is not null)
        {
            regression.Standardize(data.Validation.Targets);
        }
        return data with { Task = regression };
    }

    /// <summary>The loss of predicting the class frequencies (classifiers) or the mean (regression) for every training row (<see cref="ConstantPrediction"/>).</summary>
    private protected override (double Loss, string What)? ConstantPredictionLoss(FitData data) => data.Task switch
    {
        MulticlassTask or BinaryTask => ConstantPrediction.ClassFrequencies(data.Train, data.TrainingRows),
        RegressionTask => ConstantPrediction.Mean(data.Train, data.TrainingRows),
        _ => null,
    };

    /// <summary>A continued classifier's label must have the initial model's classes, in its order.</summary>
    private static void CheckSameClasses(PredictionTask task, PredictionTask initial)
    {
        if (task is MulticlassTask multiclass && initial is MulticlassTask before)
        {
            var (keys, initialKeys) = (multiclass.Keys, before.Keys);
            if (keys.Count != initialKeys.Count || keys.FirstDifference(initialKeys) is not null)
            {
                int? at = keys.FirstDifference(initialKeys);
                throw new ArgumentException(
                    $"The label has {keys.Count} classes{(at is { } i ? $" and class {i + 1} is '{keys.Values![i]}'" : "")}, but the initial model was trained on " +
                    $"{initialKeys.Count}{(at is { } j ? $" with class {j + 1} '{initialKeys.Values![j]}'" : "")}: map the label to keys with the initial model's " +
                    "classes (for example MapValueToKey with the same keyData) to continue it.", "initialModel");
            }
        }
        else if (task.GetType() != initial.GetType())
        {
            throw new ArgumentException($"The initial model was trained for another task ({initial.GetType().Name.Replace("Task", "")}).", "initialModel");
        }
    }

    /// <summary>
    /// scikit-learn's "balanced" factor of each class, <c>n / (k * n_c)</c>: n training rows (those of <paramref name="training"/>),
    /// k classes present among them, n_c rows of the class; every class then weighs the same in the loss. A class only in held-out
    /// rows weighs as a class of one row (its rows never reach training).
    /// </summary>
    private static Func<float, float> BalancedFactors(TrainingSet set, bool[] training)
    {
        var counts = new Dictionary<float, int>();
        for (int r = 0; r < set.Count; r++)
        {
            if (training[r])
            {
                counts[set.Targets[r]] = counts.GetValueOrDefault(set.Targets[r]) + 1;
            }
        }
        int total = counts.Values.Sum();
        return target => (float)total / (counts.Count * counts.GetValueOrDefault(target, 1));
    }

    /// <summary>The factor of each class of <see cref="NetworkTrainerOptions.ClassWeights"/> (by training target); 1 for a class not listed.</summary>
    private static Func<float, float> ExplicitFactors(Dictionary<float, float> classWeights) => target => classWeights.GetValueOrDefault(target, 1f);

    /// <summary>Which rows of <paramref name="set"/> train (all, when <paramref name="rows"/> is null: nothing is held out).</summary>
    private static bool[] TrainingRowMask(TrainingSet set, IReadOnlyList<int>? rows)
    {
        var training = new bool[set.Count];
        foreach (int r in rows ?? Enumerable.Range(0, set.Count))
        {
            training[r] = true;
        }
        return training;
    }

    /// <summary>The training target (class index, or 0/1) of each class value of <see cref="NetworkTrainerOptions.ClassWeights"/>, with its weight.</summary>
    private static Dictionary<float, float> ClassTargets(IReadOnlyDictionary<string, float> classWeights, PredictionTask task)
    {
        var targets = new Dictionary<float, float>();
        var names = new Dictionary<float, string>();
        foreach (var (value, weight) in classWeights)
        {
            float target = task is MulticlassTask multiclass
                ? multiclass.Keys.KeyOf(value, "Options.ClassWeights") - 1
                : bool.TryParse(value, out bool flag) ? (flag ? 1 : 0)
                : throw new ArgumentException($"Options.ClassWeights names '{value}', but a binary label's classes are 'true' and 'false'.", "Options.ClassWeights");
            if (names.TryGetValue(target, out string? other))
            {
                // "True" and "true" name one binary class: one of the two weights would win silently.
                throw new ArgumentException($"Options.ClassWeights names one class twice, as '{other}' and as '{value}'.", "Options.ClassWeights");
            }
            names[target] = value;
            targets[target] = weight;
        }
        return targets;
    }

    /// <summary>How a recurrent trainer's feature column holds time steps.</summary>
    /// <param name="FeaturesPerStep">Values per step.</param>
    /// <param name="MaxSteps">For variable-size columns: the most steps a row may hold; 0 takes the longest training row's.</param>
    private protected sealed record SequenceInput(int FeaturesPerStep, int MaxSteps);

    private static void CheckBothClasses(TrainingSet set, string labelName)
    {
        bool anyTrue = set.Targets.Any(t => t > 0.5f), anyFalse = set.Targets.Any(t => t < 0.5f);
        if (!anyTrue || !anyFalse)
        {
            throw new InvalidOperationException(
                $"Label column '{labelName}' holds only {(anyTrue ? "true" : "false")} values; binary classification needs both classes in the training data.");
        }
    }
}
