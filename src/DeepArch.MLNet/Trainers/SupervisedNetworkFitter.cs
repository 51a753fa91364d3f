using DeepArch.MLNet.Data;
using DeepArch.MLNet.Heads;
using DeepArch.MLNet.Schema;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet.Trainers;

/// <summary>The prediction task a supervised trainer is registered for.</summary>
internal enum PredictionTask
{
    Multiclass,
    Binary,
    Regression,
}

/// <summary>
/// Trains a freshly built network in place and returns the history stored with the model.
/// </summary>
/// <param name="network">The network built from the trainer's architecture.</param>
/// <param name="train">The training rows.</param>
/// <param name="validation">The validation rows of <c>Fit(train, validation)</c>; null leaves validation to <paramref name="options"/>' ValidationFraction.</param>
/// <param name="options">The training-loop options drawn from the trainer's options and seed.</param>
/// <param name="loss">The head's loss.</param>
internal delegate TrainingHistory NetworkTraining(Network network, TrainingSet train, TrainingSet? validation, TrainingOptions options, LossFunction loss);

/// <summary>The network a trainer's options make for a feature size and an output count, and the options that size it.</summary>
/// <param name="Architecture">The layers.</param>
/// <param name="Names">The options that set its sizes and layers, as errors name them.</param>
internal sealed record NetworkPlan(LayerSpec Architecture, NetworkOptionNames Names);

/// <summary>
/// What every supervised DeepArch trainer does in <c>Fit</c>, whatever its architecture: check the
/// schema, read the data, build and train the network (through <see cref="TrainingGuard"/>), export it to
/// ONNX and return the scoring transformer. A trainer supplies its architecture and, when one
/// <see cref="TrainingLoop"/> run is not how it trains (the stacked autoencoder pretrains level by level
/// first), its training. A trainer makes one for each <c>Fit</c>, over the snapshot of its options that
/// <c>Fit</c> reads (<see cref="NetworkOptions.Snapshot"/>), and one over its live options for <c>GetOutputSchema</c>.
/// </summary>
internal sealed class SupervisedNetworkFitter
{
    private readonly IHostEnvironment _environment;
    private readonly NetworkTrainerOptions _options;
    private readonly PredictionTask _task;
    private readonly string _trainerName;
    private readonly Func<int, int, NetworkPlan> _architecture;
    private readonly NetworkTraining _training;
    private readonly SequenceInput? _sequence;

    /// <param name="environment">The MLContext.</param>
    /// <param name="options">The options: for <c>Fit</c>, the validated snapshot it reads.</param>
    /// <param name="task">The prediction task.</param>
    /// <param name="trainerName">The trainer's name, stored with the model.</param>
    /// <param name="architecture">Builds the layers from (feature size, network outputs), naming the options that size them.</param>
    /// <param name="training">Trains the built network; null (default) runs one <see cref="TrainingLoop"/> with the options' progress and cancellation token.</param>
    /// <param name="sequence">For recurrent networks: how the feature column holds time steps; null for a plain feature vector.</param>
    public SupervisedNetworkFitter(IHostEnvironment environment, NetworkTrainerOptions options, PredictionTask task, string trainerName,
        Func<int, int, NetworkPlan> architecture, NetworkTraining? training = null, SequenceInput? sequence = null)
    {
        _sequence = sequence;
        _environment = environment;
        _options = options;
        _task = task;
        _trainerName = trainerName;
        _architecture = architecture;
        _training = training ?? ((network, train, validation, trainingOptions, loss) =>
            new TrainingLoop(trainingOptions).Fit(new SupervisedObjective(network, loss), train, validation, options.Progress, options.CancellationToken));
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        if (_sequence is null)
        {
            FeatureColumn.Check(inputSchema, _options.FeatureColumnName);
        }
        else
        {
            SequenceLayout.Check(inputSchema, _options.FeatureColumnName);
        }
        var label = inputSchema.FirstOrDefault(c => c.Name == _options.LabelColumnName);
        if (label.Name is null)
        {
            throw SchemaErrors.ColumnNotFound("label", _options.LabelColumnName);
        }
        var scalar = SchemaShape.Column.VectorKind.Scalar;
        IEnumerable<SchemaShape.Column> added = _task switch
        {
            PredictionTask.Multiclass when label.IsKey && label.Kind == scalar => MulticlassHead.OutputShape(label),
            PredictionTask.Multiclass => throw SchemaErrors.Mismatch("label", label.Name, "Key<UInt32> (use MapValueToKey on the label)", SchemaErrors.Describe(label)),
            PredictionTask.Binary when !label.IsKey && label.Kind == scalar && label.ItemType == BooleanDataViewType.Instance => BinaryHead.OutputShape(),
            PredictionTask.Binary => throw SchemaErrors.Mismatch("label", label.Name, "Boolean", SchemaErrors.Describe(label)),
            PredictionTask.Regression when !label.IsKey && label.Kind == scalar && label.ItemType == NumberDataViewType.Single => RegressionHead.OutputShape(),
            PredictionTask.Regression => throw SchemaErrors.Mismatch("label", label.Name, "Single", SchemaErrors.Describe(label)),
            _ => throw new InvalidOperationException($"Unknown task {_task}."),
        };
        return SchemaShapes.With(inputSchema, added);
    }

    public NetworkTransformer Fit(IDataView train, IDataView? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        _options.CheckEarlyStoppingHasValidation(validation is not null);
        var ct = _options.CancellationToken;
        DataViewSchema.Column feature;
        int featureSize;
        SequenceLayout? layout = null;
        if (_sequence is { } sequence)
        {
            (feature, layout) = SequenceLayout.ForTraining(train, _options.FeatureColumnName, sequence.FeaturesPerStep, sequence.MaxSteps, ct);
            featureSize = layout.NetworkInputSize;
        }
        else
        {
            (feature, featureSize) = FeatureColumn.Resolve(train.Schema, _options.FeatureColumnName);
        }
        var label = train.Schema.GetColumnOrNull(_options.LabelColumnName);
        PredictionHead head = _task switch
        {
            PredictionTask.Multiclass => MulticlassHead.FromLabel(label, _options.LabelColumnName),
            PredictionTask.Binary => CheckThen(() => BinaryHead.CheckLabel(label, _options.LabelColumnName), new BinaryHead()),
            _ => CheckThen(() => RegressionHead.CheckLabel(label, _options.LabelColumnName), new RegressionHead()),
        };
        var trainSet = TrainingDataReader.Read(train, feature, featureSize, label!.Value, head, ct, layout);
        TrainingSet? validationSet = null;
        if (validation is not null)
        {
            var validationFeature = layout?.Resolve(validation.Schema, _options.FeatureColumnName, "validation feature")
                ?? FeatureColumn.Resolve(validation.Schema, _options.FeatureColumnName, featureSize, "validation feature");
            var validationLabel = validation.Schema.GetColumnOrNull(_options.LabelColumnName);
            if (validationLabel is null || !validationLabel.Value.Type.Equals(label.Value.Type))
            {
                throw validationLabel is null
                    ? SchemaErrors.ColumnNotFound("validation label", _options.LabelColumnName)
                    : SchemaErrors.Mismatch("validation label", _options.LabelColumnName, SchemaErrors.Describe(label.Value.Type), SchemaErrors.Describe(validationLabel.Value.Type));
            }
            validationSet = TrainingDataReader.Read(validation, validationFeature, featureSize, validationLabel.Value, head, ct, layout);
        }
        if (head is BinaryHead)
        {
            CheckBothClasses(trainSet, label.Value.Name);
        }

        int seed = _options.Seed ?? CatalogEnvironment.Seed(_environment);
        var trainingOptions = _options.ToTrainingOptions(seed);
        var device = TorchRuntime.ResolveDevice(_options.Device, _options.FallbackToCpu, "Options.Device");
        var plan = layout is null ? _architecture(featureSize, head.NetworkOutputs) : _sequence!.Architecture(layout, head.NetworkOutputs);
        var (network, history) = TrainingGuard.Train(plan.Architecture, [featureSize], seed, device, trainingOptions, trainSet, validationSet, plan.Names, _options.ToScoringSettings(),
            built => _training(built, trainSet, validationSet, trainingOptions, head.Loss));
        using var _ = network;

        var scoring = _options.ToScoringSettings();
        var info = new ModelInfo(_trainerName, feature.Name, featureSize, network.OutputShape.ToArray(), head, history,
            network.Summarize().ToString(), scoring, layout);
        byte[] onnx = network.ExportOnnx(feature.Name, head.AddOnnxOutputs,
            new Dictionary<string, string> { [ModelInfo.MetadataKey] = info.ToJson() });
        return new NetworkTransformer(onnx, info);
    }

    /// <summary>How a recurrent trainer's feature column holds time steps.</summary>
    /// <param name="FeaturesPerStep">Values per step.</param>
    /// <param name="MaxSteps">For variable-size columns: the most steps a row may hold; 0 takes the longest training row's.</param>
    /// <param name="Architecture">Builds the layers from the column's layout and the network's output count (used instead of the fitter's architecture).</param>
    public sealed record SequenceInput(int FeaturesPerStep, int MaxSteps, Func<SequenceLayout, int, NetworkPlan> Architecture);

    private static PredictionHead CheckThen(Action check, PredictionHead head)
    {
        check();
        return head;
    }

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
