using DeepArch.MLNet.Data;
using DeepArch.MLNet.Tasks;
using DeepArch.MLNet.Schema;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet.Trainers;

/// <summary>The network an estimator's options make, and the options that size it, as errors name them.</summary>
/// <param name="Architecture">The layers.</param>
/// <param name="Names">The options that set its sizes and layers.</param>
/// <param name="InputShape">The per-sample input shape; null means a row of the data read, [<see cref="FitData.InputSize"/>].</param>
internal sealed record NetworkPlan(LayerSpec Architecture, NetworkOptionNames Names, int[]? InputShape = null)
{
    /// <summary>The networks trained together with this one, after it in the objective's order (a GAN's discriminator after its generator).</summary>
    public IReadOnlyList<NetworkPlan> Others { get; init; } = [];
}

/// <summary>What one <c>Fit</c> read: the network's input column and size, the training and validation rows, and the task.</summary>
/// <param name="Input">The column the network reads.</param>
/// <param name="InputSize">Values per row the network reads.</param>
/// <param name="Train">The training rows.</param>
/// <param name="Validation">The rows of <c>Fit(train, validation)</c>, or null (the options' ValidationFraction may hold some out).</param>
/// <param name="Task">The task's task, when reading decides it (the label's key values, the output column); null when export does.</param>
/// <param name="Layout">For a sequence column: how it holds time steps.</param>
internal sealed record FitData(DataViewSchema.Column Input, int InputSize, TrainingSet Train, TrainingSet? Validation, PredictionTask? Task, SequenceLayout? Layout = null)
{
    /// <summary>
    /// The rows of <see cref="Train"/> that training learns from: null for all of them, or the rows left when the options'
    /// ValidationFraction holds some out (the loop's own split). Statistics taken from the data (a label's or the features'
    /// standardization) come from these rows only, so that the held-out rows stay unseen.
    /// </summary>
    public IReadOnlyList<int>? TrainingRows { get; init; }
}

/// <summary>
/// What every DeepArch estimator is. Its options are validated when it is created and again when each <c>Fit</c> starts,
/// which reads them all at that moment (a copy: a change while it runs applies to the next <c>Fit</c>). <c>Fit</c> is one
/// template for every architecture: read the data -> plan the network -> train it (through <see cref="TrainingGuard"/> and
/// the <see cref="TrainingLoop"/>) -> export it to ONNX -> the scoring <see cref="NetworkTransformer"/>. An estimator
/// supplies the steps that differ; docs/architecture.md walks through them.
/// </summary>
/// <typeparam name="TOptions">The estimator's options.</typeparam>
public abstract class NetworkEstimator<TOptions> : IEstimator<NetworkTransformer> where TOptions : NetworkOptions
{
    private readonly IHostEnvironment _environment;

    private protected NetworkEstimator(IHostEnvironment environment, TOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _environment = environment;
        LiveOptions = options;
        Name = name;
    }

    /// <summary>The options object the estimator was created with, as the user may still change it.</summary>
    private protected TOptions LiveOptions { get; }

    /// <summary>The estimator's name, stored with the model (for example <c>MultilayerPerceptron</c>).</summary>
    private protected string Name { get; }

    /// <summary>Trains on <paramref name="input"/>; validation, if any, uses <see cref="NetworkOptions.ValidationFraction"/> of it.</summary>
    public NetworkTransformer Fit(IDataView input) => FitCore(input, null);

    /// <summary>Trains on <paramref name="trainData"/> and validates every epoch on <paramref name="validationData"/>.</summary>
    public NetworkTransformer Fit(IDataView trainData, IDataView validationData)
    {
        ArgumentNullException.ThrowIfNull(validationData);
        return FitCore(trainData, validationData);
    }

    /// <inheritdoc/>
    public abstract SchemaShape GetOutputSchema(SchemaShape inputSchema);

    private NetworkTransformer FitCore(IDataView train, IDataView? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        var options = NetworkOptions.Snapshot(LiveOptions);
        options.CheckEarlyStoppingHasValidation(validation is not null);
        var data = Read(options, train, validation);
        int seed = options.Seed ?? CatalogEnvironment.Seed(_environment);
        if (validation is null && options.ValidationFraction > 0)
        {
            // The loop's own split; one that leaves no rows on a side is the loop's error to report, with all rows used here.
            var heldOut = TrainingLoop.ValidationRows(data.Train.Count, options.ValidationFraction, seed).ToHashSet();
            if (heldOut.Count > 0 && heldOut.Count < data.Train.Count)
            {
                data = data with { TrainingRows = Enumerable.Range(0, data.Train.Count).Where(r => !heldOut.Contains(r)).ToArray() };
            }
        }
        data = Prepare(options, data);
        var device = TorchRuntime.ResolveDevice(options.Device, options.FallbackToCpu, "Options.Device");
        var training = options.ToTrainingOptions(seed);
        var scoring = options.ToScoringSettings();
        var plan = Plan(options, data);
        var networks = plan.Others.Prepend(plan).Select(p => (p.Architecture, p.InputShape ?? [data.InputSize])).ToList();
        using var log = _environment.Start(Name);
        int trainingRows = data.TrainingRows?.Count ?? data.Train.Count;
        log.Info(MessageSensitivity.None, $"{Name}: {trainingRows:N0} training rows of {data.InputSize:N0} values" +
            (data.Validation is not null ? $", {data.Validation.Count:N0} validation rows" : trainingRows < data.Train.Count ? $", {data.Train.Count - trainingRows:N0} held out for validation" : "") +
            $"; {training.Epochs} epochs on {device}, seed {seed}.");
        training.Callbacks.Add(new LogProgress(log, Name, training.Epochs));
        var (built, history) = TrainingGuard.Train(networks, seed, device, training, data.Train, data.Validation, plan.Names, scoring,
            built => Train(options, built, data, training));
        try
        {
            var transformer = Export(new Fitted(Name, options, data, built, history, seed, scoring));
            log.Info(MessageSensitivity.None, $"{Name}: exported to ONNX; the transformer scores in batches of {scoring.BatchSize}.");
            return transformer;
        }
        finally
        {
            foreach (var network in built)
            {
                network.Dispose();
            }
        }
    }

    /// <summary>Checks the schema of <paramref name="train"/> (and <paramref name="validation"/>) against the options and reads the rows.</summary>
    private protected abstract FitData Read(TOptions options, IDataView train, IDataView? validation);

    /// <summary>
    /// Writes each epoch to ML.NET's log (<c>mlContext.Log</c>) as an Info message of the estimator's channel, and how training
    /// ended, so that a user watching <c>Fit</c> sees its progress with the options they already have.
    /// </summary>
    private sealed class LogProgress(IChannel log, string name, int epochs) : TrainingCallback
    {
        public override void OnEpochEnd(EpochReport report)
            => log.Info(MessageSensitivity.None, $"{name}: epoch {report.Epoch}/{epochs}, train loss {report.TrainLoss:G5}" +
                (report.ValidationLoss is { } v ? $", validation loss {v:G5}" : "") + $", learning rate {report.LearningRate:G3}, {report.Elapsed.TotalSeconds:F1} s.");

        public override void OnTrainingEnd(TrainingHistory history)
            => log.Info(MessageSensitivity.None, history.StopReason == StopReason.EarlyStopped
                ? $"{name}: early stopping after epoch {history.Epochs.Count}; restored the weights of epoch {history.BestEpoch}."
                : $"{name}: trained {history.Epochs.Count} epochs.");
    }

    /// <summary>Prepares the rows read for training once the rows it learns from are known (<see cref="FitData.TrainingRows"/>); by default nothing.</summary>
    private protected virtual FitData Prepare(TOptions options, FitData data) => data;

    /// <summary>The network to train for the data read.</summary>
    private protected abstract NetworkPlan Plan(TOptions options, FitData data);

    /// <summary>What training minimizes, given the networks built from the plan in its order; by default the task's loss of the network's output against the targets.</summary>
    private protected virtual TrainingObjective Objective(TOptions options, IReadOnlyList<Network> networks, FitData data) => new SupervisedObjective(networks[0], data.Task!.Loss);

    /// <summary>Trains the built networks and returns the history; by default one run of the loop with <see cref="Objective"/>.</summary>
    private protected virtual TrainingHistory Train(TOptions options, IReadOnlyList<Network> networks, FitData data, TrainingOptions training)
        => new TrainingLoop(training).Fit(Objective(options, networks, data), data.Train, data.Validation, options.Progress, options.CancellationToken);

    /// <summary>The scoring transformer of the trained network; by default the network as it is, with the task's outputs.</summary>
    private protected virtual NetworkTransformer Export(Fitted fitted)
        => fitted.Transformer(fitted.Data.Task!, fitted.Network, metadata => fitted.Network.ExportOnnx(fitted.Data.Input.Name, fitted.Data.Task!.AddOnnxOutputs, metadata));

    /// <summary>A trained network with what its <c>Fit</c> read and decided, for <see cref="Export"/>.</summary>
    /// <param name="Name">The estimator's name.</param>
    /// <param name="Options">The options <c>Fit</c> read.</param>
    /// <param name="Data">The data it read.</param>
    /// <param name="Networks">The trained networks, in the plan's order (disposed after export).</param>
    /// <param name="History">The training history.</param>
    /// <param name="Seed">The seed it used.</param>
    /// <param name="Scoring">How the transformer scores.</param>
    private protected sealed record Fitted(string Name, TOptions Options, FitData Data, IReadOnlyList<Network> Networks, TrainingHistory History, int Seed, ScoringSettings Scoring)
    {
        /// <summary>The planned network: the first one.</summary>
        public Network Network => Networks[0];

        /// <summary>
        /// The transformer of the model <paramref name="export"/> writes (given the metadata to store) for <paramref name="task"/>;
        /// <paramref name="exported"/> is the network the model holds (the trained one, or a part of it), whose shape and summary the model info records
        /// unless <paramref name="outputShape"/> says what the model outputs per row; <paramref name="inputSize"/>, when the model reads more than the network
        /// (a forecaster's scoring graph reads whole windows); <paramref name="decoder"/>, an autoencoder's decoder stored beside the model info.
        /// </summary>
        public NetworkTransformer Transformer(PredictionTask task, Network exported, Func<IReadOnlyDictionary<string, string>, byte[]> export,
            int[]? outputShape = null, int? inputSize = null, byte[]? decoder = null)
        {
            var info = new ModelInfo(Name, Data.Input.Name, inputSize ?? Data.InputSize, outputShape ?? exported.OutputShape.ToArray(), task, History,
                exported.Summarize().ToString(), Scoring, Data.Layout) { Format = ModelInfo.CurrentFormat, Decoder = decoder };
            return new NetworkTransformer(export(info.ToMetadata()), info);
        }
    }
}
