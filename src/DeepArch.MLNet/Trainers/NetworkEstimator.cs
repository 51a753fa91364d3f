using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>The network an estimator's options make, and the options that size it, as errors name them.</summary>
/// <param name="Architecture">The layers.</param>
/// <param name="Names">The options that set its sizes and layers.</param>
/// <param name="InputShape">The per-sample input shape; null means a row of the data read, [<see cref="FitData.InputSize"/>].</param>
internal sealed record NetworkPlan(LayerSpec Architecture, NetworkOptionNames Names, int[]? InputShape = null)
{
    /// <summary>The networks trained together with this one, after it in the objective's order (a GAN's discriminator after its generator).</summary>
    public IReadOnlyList<NetworkPlan> Others { get; init; } = [];

    /// <summary>What <c>Fit</c> warns about in <c>mlContext.Log</c> before it trains: options that are valid but do nothing on this data.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
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
    public NetworkTransformer Fit(IDataView input) => FitCore(input, null, null);

    /// <summary>Trains on <paramref name="trainData"/> and validates every epoch on <paramref name="validationData"/>.</summary>
    public NetworkTransformer Fit(IDataView trainData, IDataView validationData)
    {
        ArgumentNullException.ThrowIfNull(validationData);
        return FitCore(trainData, validationData, null);
    }

    /// <summary>
    /// Continues training <paramref name="initialModel"/> on <paramref name="trainData"/> (warm start, as ML.NET's trainers take
    /// <c>modelParameters</c>): its networks start from the weights it was exported with instead of a fresh initialization, and
    /// train for this estimator's <see cref="NetworkOptions.Epochs"/> more epochs with these options (the optimizer starts afresh;
    /// a smaller <see cref="NetworkOptions.LearningRate"/> fine-tunes more gently).
    /// </summary>
    /// <param name="trainData">The new training rows, with the columns the initial model was trained on.</param>
    /// <param name="initialModel">A transformer this kind of estimator fitted, or one loaded from disk
    /// (<c>DeepArchModel.Load</c>, <c>DeepArchModel.LoadOnnx</c>).</param>
    /// <returns>
    /// A new transformer with the initial model's schema: the same network, statistics taken from the training data (a label's or
    /// the features' standardization) and classes; its <see cref="NetworkTransformer.History"/> is the initial model's followed by
    /// the new epochs. What is computed after training (an anomaly detector's threshold) is computed anew on <paramref name="trainData"/>.
    /// </returns>
    /// <exception cref="ArgumentException">The initial model was trained by another estimator, with a network these options do not
    /// make (other sizes or layers), on other classes, or holds no training state (written before DeepArch kept one).</exception>
    /// <exception cref="NotSupportedException">This estimator cannot continue a fitted model (a GAN, the stacked autoencoder, a sequence-to-sequence transform).</exception>
    public NetworkTransformer Fit(IDataView trainData, NetworkTransformer initialModel)
    {
        ArgumentNullException.ThrowIfNull(initialModel);
        return FitCore(trainData, null, initialModel);
    }

    /// <summary>Continues training <paramref name="initialModel"/> on <paramref name="trainData"/>, validating every epoch on <paramref name="validationData"/>; see <see cref="Fit(IDataView, NetworkTransformer)"/>.</summary>
    public NetworkTransformer Fit(IDataView trainData, IDataView validationData, NetworkTransformer initialModel)
    {
        ArgumentNullException.ThrowIfNull(validationData);
        ArgumentNullException.ThrowIfNull(initialModel);
        return FitCore(trainData, validationData, initialModel);
    }

    /// <summary>Whether the estimator can train on streamed rows (<see cref="NetworkOptions.TrainingData"/>); false (the default) when it needs them in memory.</summary>
    private protected virtual bool CanStream => false;

    /// <summary>
    /// How this <c>Fit</c> holds its rows: as <see cref="NetworkOptions.TrainingData"/> says, and for Auto, streamed when
    /// <paramref name="featureSize"/> values per row over the view's rows take more than the memory budget; a view that does not
    /// know its row count is read into memory up to the budget, and streamed if it passes it (no extra pass to count the rows).
    /// </summary>
    private protected RowHolding Holding(TOptions options, IDataView train, int featureSize) => options.TrainingData switch
    {
        TrainingDataMode.InMemory => RowHolding.InMemory,
        TrainingDataMode.Streamed => RowHolding.Streamed,
        _ when !CanStream => RowHolding.InMemory,
        _ => train.GetRowCount() is { } rows
            ? new RowHolding(rows * featureSize * (long)sizeof(float) > options.MemoryBudgetBytes)
            : new RowHolding(false, options.MemoryBudgetBytes),
    };

    /// <summary>The option that sets how many networks the estimator trains, for the error a warm start with another count gets; null (the default) when none does.</summary>
    private protected virtual string? NetworkCountOption => null;

    /// <summary>Why this estimator cannot continue training a fitted model, or null (the default) when it can.</summary>
    private protected virtual string? WarmStartRefusal => null;

    /// <inheritdoc/>
    public abstract SchemaShape GetOutputSchema(SchemaShape inputSchema);

    private NetworkTransformer FitCore(IDataView train, IDataView? validation, NetworkTransformer? initial)
    {
        ArgumentNullException.ThrowIfNull(train);
        var options = NetworkOptions.Snapshot(LiveOptions);
        options.CheckEarlyStoppingHasValidation(validation is not null);
        if (options.TrainingData == TrainingDataMode.Streamed && !CanStream)
        {
            throw new NotSupportedException($"Options.TrainingData is Streamed, but {Name} trains on rows held in memory: set it to Auto or InMemory.");
        }
        var initialInfo = initial is null ? null : CheckInitialModel(initial.Info);
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
        data = Prepare(options, data, initialInfo);
        if (data.Input.Name.Length > ModelInfo.MaxColumnNameLength)
        {
            // A model file holds column names of at most 1,024 characters (ModelInfo.CheckLoaded): the model would not load back.
            throw new ArgumentException(
                $"Feature column name has {data.Input.Name.Length:N0} characters; DeepArch's model files hold column names of at most {ModelInfo.MaxColumnNameLength:N0}. Copy the column to a shorter name.",
                "Options.FeatureColumnName");
        }
        if (GraphOutputNames(options, data).FirstOrDefault(name => name == data.Input.Name) is { } clash)
        {
            // Found after training, at export, this cost every epoch: "The graph already has a value named 'Score'".
            throw new ArgumentException(
                $"Feature column '{clash}' has the name of an output of the network's ONNX graph, which cannot also read a value of that name. " +
                $"Copy the column to another name first (mlContext.Transforms.CopyColumns(\"Features\", \"{clash}\")) and train on that one.",
                "Options.FeatureColumnName");
        }
        var device = TorchRuntime.ResolveDevice(options.Device, options.FallbackToCpu, "Options.Device");
        var training = options.ToTrainingOptions(seed);
        var scoring = options.ToScoringSettings();
        var plan = Plan(options, data);
        var networks = plan.Others.Prepend(plan).Select(p => (p.Architecture, p.InputShape ?? [data.InputSize])).ToList();
        var initialState = initialInfo is null ? null : InitialState(initialInfo, networks);
        if (initialInfo?.TrainingState is { } startingState)
        {
            // A warm start's checkpoints belong to runs from this initial model only.
            training.StartingState = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(startingState));
        }
        if (initialState is not null)
        {
            // The initial model's networks, with the statistics their layers took from its training data.
            networks = initialState.Select(e => (e.Architecture, e.InputShape)).ToList();
        }
        using var log = _environment.Start(Name);
        void Warn(string message) => log.Warning(MessageSensitivity.None, $"{Name}: {message}");
        if (options.Device == ComputeDevice.Cuda && device.type == TorchSharp.DeviceType.CPU)
        {
            Warn("Options.Device is Cuda but libtorch has no usable CUDA device here; training on the CPU (Options.FallbackToCpu).");
        }
        foreach (string warning in plan.Warnings)
        {
            Warn(warning);
        }
        if (ReadsFeaturesAsTheyCome(options) && FeatureScale.Warning(data.Train, data.TrainingRows, data.Input.Name, data.Layout, LeadingLengthSlots) is { } scale)
        {
            Warn(scale);
        }
        if (initialInfo is not null)
        {
            log.Info(MessageSensitivity.None, $"{Name}: continuing the model trained for {initialInfo.History.Epochs.Count} epochs.");
        }
        int trainingRows = data.TrainingRows?.Count ?? data.Train.Count;
        log.Info(MessageSensitivity.None, $"{Name}: {trainingRows:N0} training rows of {data.InputSize:N0} values" +
            (data.Validation is not null ? $", {data.Validation.Count:N0} validation rows" : trainingRows < data.Train.Count ? $", {data.Train.Count - trainingRows:N0} held out for validation" : "") +
            $"; {training.Epochs} epochs on {device}, seed {seed}" +
            (data.Train.Rows is null ? "." : $"; the features are streamed from the data at every epoch (Options.TrainingData), not held in memory."));
        // Not for a model trained on: its first batch is already a trained network's, one batch of a converged model says little.
        training.Callbacks.Add(new LogProgress(log, Name, training.Epochs)
        {
            WarnWhenLossRises = LossFallsWhenTrainingWorks && initialInfo is null,
            ConstantPrediction = ConstantPredictionLoss(data),
        });
        var (built, history) = TrainingGuard.Train(networks, seed, device, training, data.Train, data.Validation, plan.Names, scoring,
            built =>
            {
                for (int i = 0; i < (initialState?.Count ?? 0); i++)
                {
                    RestoreInitial(built[i], initialState![i]);
                }
                return Train(options, built, data, training);
            }, options.CancellationToken, oneDnnOff: reason => log.Info(MessageSensitivity.None, $"{Name}: {reason}"));
        try
        {
            if (initialInfo is not null)
            {
                history = Continued(initialInfo.History, history);
            }
            byte[]? state = WarmStartRefusal is null ? NetworkState.Write(built) : null;
            var transformer = Export(new Fitted(Name, options, data, built, history, seed, scoring)
            {
                TrainingState = state,
                Warn = Warn,
            });
            log.Info(MessageSensitivity.None, $"{Name}: exported to ONNX; the transformer scores in batches of {scoring.BatchSize} on {transformer.ScoringDevice}.");
            if (transformer.ScoringDevice != scoring.Device)
            {
                Warn($"Options.Device is {scoring.Device} but ONNX Runtime's CUDA execution provider is not usable here; " +
                    "the transformer scores on the CPU (Options.FallbackToCpu).");
            }
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
    private protected sealed class LogProgress(IChannel log, string name, int epochs, string? stage = null) : TrainingCallback
    {
        /// <summary>How many trainings of the stage have ended: a stage that trains several networks in turn (the levels of a stacked autoencoder) numbers them.</summary>
        private int _ended;

        /// <summary>The loss of the first batch of the training under way (the network before any step), and its last epoch.</summary>
        private double? _start;
        private EpochReport? _last;
        private int? _firstEpoch;

        /// <summary>
        /// Whether a training loss that ends at least twice the first batch's (the network before any step) is a warning: it is
        /// for every objective that minimizes one loss; a GAN's losses rise and fall by design.
        /// </summary>
        public bool WarnWhenLossRises { get; init; } = true;

        /// <summary>
        /// The same log for another stage of the training, of <paramref name="stageEpochs"/> epochs each time it runs: its lines read
        /// "<paramref name="stageName"/> 1", "<paramref name="stageName"/> 2"... (a stacked autoencoder's pretraining, level by level).
        /// </summary>
        public LogProgress ForStage(string stageName, int stageEpochs, int firstNumber = 1)
            => new(log, name, stageEpochs, stageName) { FirstNumber = firstNumber, WarnWhenLossRises = WarnWhenLossRises };

        /// <summary>
        /// The training loss of the best prediction that ignores the features (the training labels' class frequencies, or their
        /// mean, for every row) and what that prediction is, or null: a training loss that ends less than 1 % below it is a warning,
        /// the network having learned nothing, or almost nothing, from its features (inputs far from unit scale do that quietly to a
        /// convolutional or recurrent network).
        /// </summary>
        public (double Loss, string What)? ConstantPrediction { get; init; }

        /// <summary>The number of the stage's first training ("network 2" for an ensemble's second network).</summary>
        public int FirstNumber { get; init; } = 1;

        private string Stage => stage is null ? "" : $"{stage} {FirstNumber + _ended}, ";

        public override void OnBatchEnd(int epoch, int batch, double loss) => _start ??= loss;

        public override void OnWarning(string message) => log.Warning(MessageSensitivity.None, $"{name}: {Stage}{message}");

        public override void OnInfo(string message) => log.Info(MessageSensitivity.None, $"{name}: {Stage}{message}");

        public override void OnEpochEnd(EpochReport report)
        {
            _firstEpoch ??= report.Epoch;
            _last = report;
            log.Info(MessageSensitivity.None, $"{name}: {Stage}epoch {report.Epoch}/{epochs}, train loss {report.TrainLoss:G5}" +
                // An objective of several losses (a GAN's discriminator and generator losses, D(x), D(G(z))...) shows each of them.
                (report.Losses is { Count: > 1 } losses ? $" ({string.Join(", ", losses.Select(l => $"{l.Key} {l.Value:G5}"))})" : "") +
                (report.ValidationLoss is { } v ? $", validation loss {v:G5}" : "") + $", learning rate {report.LearningRate:G3}, {report.Elapsed.TotalSeconds:F1} s.");
        }

        public override void OnTrainingEnd(TrainingHistory history)
        {
            // An early-stopped run keeps the weights of its best epoch: that epoch's loss is the model's. A run resumed from a
            // checkpoint (its first epoch here is not the first) has no untrained first batch to compare with.
            var last = history.StopReason == StopReason.EarlyStopped && history.BestEpoch >= 1 && history.BestEpoch <= history.Epochs.Count
                ? history.Epochs[history.BestEpoch - 1] : _last;
            if (WarnWhenLossRises && _firstEpoch == 1 && _start is > 0 and { } start && double.IsFinite(start) && last is not null && last.TrainLoss > 2 * start)
            {
                // Finite but rising: the divergence check (NaN or infinity) does not stop it, and the model scores garbage quietly.
                log.Warning(MessageSensitivity.None, $"{name}: {Stage}the training loss ended at {last.TrainLoss:G5} (epoch {last.Epoch}), more than twice " +
                    $"the {start:G5} of the first batch, before any step: training is not converging. A smaller Options.LearningRate (it ended at " +
                    $"{last.LearningRate:G3}) or features on a common scale (ml.Transforms.NormalizeMeanVariance) usually fix it.");
            }
            if (ConstantPrediction is { Loss: > 0 } constant && last is not null && last.TrainLoss >= 0.99 * constant.Loss)
            {
                // A network stuck at the loss of ignoring its inputs: one class for every row, or the mean; Fit looked like success.
                // Independent of the rising-loss warning: a loss can rise and end at the constant prediction's too.
                log.Warning(MessageSensitivity.None, $"{name}: {Stage}the training loss ended at {last.TrainLoss:G5} (epoch {last.Epoch}), not even 1 % below " +
                    $"{constant.Loss:G5}, the loss of {constant.What} for every row: the network learned nothing, " +
                    "or almost nothing, from its features. Features far from unit scale (tiny values, or a large offset; for a forecaster, labels " +
                    "far from it too) do this quietly: put ml.Transforms.NormalizeMeanVariance (or NormalizeMinMax) before the trainer; otherwise try " +
                    "another Options.LearningRate or more Options.Epochs, or the features hold little about the label.");
            }
            _start = null;
            _last = null;
            _firstEpoch = null;
            log.Info(MessageSensitivity.None, stage is not null ? $"{name}: {Stage}trained {history.Epochs.Count} epochs."
                : history.StopReason == StopReason.EarlyStopped
                ? $"{name}: early stopping after epoch {history.Epochs.Count}; restored the weights of epoch {history.BestEpoch}."
                : $"{name}: trained {history.Epochs.Count} epochs.");
            _ended++;
        }
    }

    /// <summary>The names the network's ONNX graph gives its outputs, known before training (the task's, by default); the graph's inputs are column names and may not be one of them.</summary>
    private protected virtual IEnumerable<string> GraphOutputNames(TOptions options, FitData data) => data.Task?.OnnxOutputNames ?? [];

    /// <summary>
    /// The training loss of the best prediction that ignores the features, and what that prediction is (see
    /// <see cref="LogProgress.ConstantPrediction"/>); null by default, where the objective has no such baseline.
    /// </summary>
    private protected virtual (double Loss, string What)? ConstantPredictionLoss(FitData data) => null;

    /// <summary>
    /// Whether the network reads its features as they come, without scaling them itself: then features far from a common scale
    /// are a warning (<see cref="FeatureScale"/>). True by default; false for the networks that standardize or scale their input,
    /// and for those that read tokens.
    /// </summary>
    private protected virtual bool ReadsFeaturesAsTheyCome(TOptions options) => true;

    /// <summary>Values at the start of each training row that are not the feature column's (an encoder–decoder's step count): the scale check skips them.</summary>
    private protected virtual int LeadingLengthSlots => 0;

    /// <summary>Whether training that works lowers the training loss (false for a GAN, whose losses rise and fall by design): a rise is then a warning in the log.</summary>
    private protected virtual bool LossFallsWhenTrainingWorks => true;

    /// <summary>
    /// Prepares the rows read for training once the rows it learns from are known (<see cref="FitData.TrainingRows"/>); by default
    /// nothing. When training continues <paramref name="initial"/>, statistics come from it rather than from the rows, and the task
    /// must be the initial model's (the same classes).
    /// </summary>
    private protected virtual FitData Prepare(TOptions options, FitData data, ModelInfo? initial) => data;

    /// <summary>The initial model's info, when this estimator can continue it.</summary>
    private ModelInfo CheckInitialModel(ModelInfo info)
    {
        if (WarmStartRefusal is { } refusal)
        {
            throw new NotSupportedException($"{Name} cannot continue training a fitted model: {refusal}");
        }
        if (info.Trainer != Name)
        {
            throw new ArgumentException($"The initial model was trained by {info.Trainer}; {Name} continues only a model it trained.", "initialModel");
        }
        if (info.TrainingState is null)
        {
            throw new ArgumentException(
                "The initial model holds no training state (a model written before DeepArch kept one): train it again with Fit(data) to continue it later.", "initialModel");
        }
        return info;
    }

    /// <summary>The initial model's networks, checked against those these options make for the data.</summary>
    private List<NetworkState.Entry> InitialState(ModelInfo info, IReadOnlyList<(LayerSpec Architecture, int[] InputShape)> planned)
    {
        IReadOnlyList<NetworkState.Entry> entries;
        try
        {
            entries = NetworkState.Read(info.TrainingState!);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"The initial model's training state is damaged: {e.Message}", e);
        }
        if (entries.Count != planned.Count)
        {
            throw new ArgumentException(
                $"The initial model holds {entries.Count} networks but these options make {planned.Count}{(NetworkCountOption is { } option ? $" ({option})" : "")}: " +
                "continue it with the options it was trained with.", "initialModel");
        }
        for (int i = 0; i < planned.Count; i++)
        {
            var (architecture, inputShape) = planned[i];
            if (!entries[i].InputShape.SequenceEqual(inputShape) || !NetworkState.SameStructure(architecture, entries[i].Architecture))
            {
                string where = entries[i].InputShape.SequenceEqual(inputShape)
                    ? $" They differ at {NetworkState.FirstDifference(architecture, entries[i].Architecture)}."
                    : "";
                throw new ArgumentException(
                    $"The initial model's network ({entries[i].Architecture.Describe()} on [{string.Join(", ", entries[i].InputShape)}]) is not the one these options " +
                    $"make for the data ({architecture.Describe()} on [{string.Join(", ", inputShape)}]): continue it with the options and the columns it was trained with.{where}", "initialModel");
            }
        }
        return entries.ToList();
    }

    private static void RestoreInitial(Network network, NetworkState.Entry entry)
    {
        try
        {
            NetworkState.Restore(network, entry);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"The initial model's training state is damaged: {e.Message}", e);
        }
    }

    /// <summary>The initial model's history followed by the new epochs, numbered after it.</summary>
    private static TrainingHistory Continued(TrainingHistory before, TrainingHistory added)
    {
        int offset = before.Epochs.Count;
        var elapsed = before.Epochs.Count == 0 ? TimeSpan.Zero : before.Epochs[^1].Elapsed;
        var epochs = before.Epochs.Concat(added.Epochs.Select(e => e with { Epoch = e.Epoch + offset, Elapsed = elapsed + e.Elapsed })).ToList();
        return new TrainingHistory(epochs, added.BestEpoch + offset, added.StopReason);
    }

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

        /// <summary>The trained networks' state, kept with the model for warm start (<see cref="ModelInfo.TrainingState"/>); null when the estimator cannot continue.</summary>
        public byte[]? TrainingState { get; init; }

        /// <summary>Writes a warning about the export (a degenerate calibration, say) to <c>mlContext.Log</c>.</summary>
        public Action<string> Warn { get; init; } = _ => { };

        /// <summary>
        /// The transformer of the model <paramref name="export"/> writes (given the metadata to store) for <paramref name="task"/>;
        /// <paramref name="exported"/> is the network the model holds (the trained one, or a part of it), whose shape and summary the model info records
        /// unless <paramref name="outputShape"/> says what the model outputs per row; <paramref name="inputSize"/>, when the model reads more than the network
        /// (a forecaster's scoring graph reads whole windows); <paramref name="decoder"/>, an autoencoder's decoder stored beside the model info;
        /// <paramref name="summary"/>, the summary when the model holds more than <paramref name="exported"/>'s (an ensemble).
        /// </summary>
        public NetworkTransformer Transformer(PredictionTask task, Network exported, Func<IReadOnlyDictionary<string, string>, byte[]> export,
            int[]? outputShape = null, int? inputSize = null, byte[]? decoder = null, string? summary = null)
        {
            var info = new ModelInfo(Name, Data.Input.Name, inputSize ?? Data.InputSize, outputShape ?? exported.OutputShape.ToArray(), task, History,
                summary ?? exported.Summarize().ToString(), Scoring, Data.Layout) { Format = ModelInfo.CurrentFormat, Decoder = decoder, TrainingState = TrainingState };
            return new NetworkTransformer(export(info.ToMetadata()), info);
        }
    }
}
