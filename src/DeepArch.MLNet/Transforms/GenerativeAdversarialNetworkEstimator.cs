using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>The networks of a <see cref="GenerativeAdversarialNetworkEstimator"/>.</summary>
public enum GanKind
{
    /// <summary>Dense layers (<see cref="GenerativeAdversarialNetwork.CreateDense"/>): any vector of features.</summary>
    Dense,

    /// <summary>A DCGAN (<see cref="GenerativeAdversarialNetwork.CreateConvolutional"/>): images, with <see cref="GenerativeAdversarialNetworkEstimator.Options.ImageShape"/>.</summary>
    Convolutional,
}

/// <summary>
/// Trains a generative adversarial network on a feature column (and, for a conditional GAN, a key-typed label column) and
/// returns its generator as a <see cref="NetworkTransformer"/>: from a noise column (and a label column) to rows like the
/// training rows, in their units. Created by <c>mlContext.Transforms.GenerateByAdversarialNetwork</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description>The estimator scales each feature's training range onto [-1, 1] for the generator's tanh output, and the
/// exported generator scales back, so generated rows are in the training data's units.</description></item>
/// <item><description><c>mlContext.Data.Generate(generator, count)</c> draws rows with the training data's feature and label
/// columns, seeded, ready to append to real rows (<c>mlContext.Data.AppendRows</c>); <c>mlContext.Transforms.ScoreByDiscriminator(generator)</c>
/// scores rows with the trained discriminator (the probability that a row is real).</description></item>
/// <item><description>The fitted transformer reads <see cref="Options.NoiseColumnName"/>, a vector of <see cref="Options.NoiseSize"/>
/// standard-normal values per row, and the label column (a key of the training label's type) for a conditional GAN.
/// It scores in batches, saves and loads like every DeepArch transformer.</description></item>
/// <item><description>Each epoch's history holds both losses and the mean D(x) and D(G(z)) (<see cref="AdversarialObjective"/>):
/// D(x) near 1 with D(G(z)) near 0 for many epochs means the discriminator wins (lower its learning rate, use fewer or smaller
/// discriminator layers, or a larger <see cref="Options.DiscriminatorSteps"/> the other way round); D(G(z)) near 0.5 with samples that stop
/// varying (check the drawn rows) is mode collapse.</description></item>
/// </list>
/// The defaults are measured in docs/gan-defaults.md.
/// </remarks>
public sealed class GenerativeAdversarialNetworkEstimator : NetworkEstimator<GenerativeAdversarialNetworkEstimator.Options>
{
    internal const string EstimatorName = "GenerativeAdversarialNetwork";

    internal GenerativeAdversarialNetworkEstimator(IHostEnvironment environment, Options options) : base(environment, options, EstimatorName)
    {
    }

    /// <summary>The options this estimator was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options EstimatorOptions => LiveOptions;

    /// <summary>
    /// Checks the training columns; the schema given is the training data's. The fitted generator adds the generated column to data
    /// that holds the noise column (and the label column), so the shape returned is the input's with that column added.
    /// </summary>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var o = LiveOptions;
        FeatureColumn.Check(inputSchema, o.FeatureColumnName);
        if (o.LabelColumnName is not null)
        {
            var label = inputSchema.FirstOrDefault(c => c.Name == o.LabelColumnName);
            if (label.Name is null)
            {
                throw SchemaErrors.ColumnNotFound("label", o.LabelColumnName);
            }
            if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            {
                throw SchemaErrors.Mismatch("label", o.LabelColumnName, "Key<UInt32> (use MapValueToKey on the label)", SchemaErrors.Describe(label));
            }
        }
        return SchemaShapes.With(inputSchema, [VectorOutputTask.OutputShape(o.OutputColumn)]);
    }

    private protected override FitData Read(Options o, IDataView train, IDataView? validation)
    {
        var (feature, size) = FeatureColumn.Resolve(train.Schema, o.FeatureColumnName);
        if (o.Kind == GanKind.Convolutional)
        {
            ConvolutionalShape.CheckImage(o.ImageShape!, feature, size);
        }
        var ct = o.CancellationToken;
        if (o.LabelColumnName is null)
        {
            var rows = TrainingSet.WithoutTargets(TrainingDataReader.ReadFeatures(train, feature, size, ct), [size]);
            var held = validation is null ? null
                : TrainingSet.WithoutTargets(TrainingDataReader.Validation(() => TrainingDataReader.ReadFeatures(validation, FeatureColumn.Resolve(validation.Schema, o.FeatureColumnName, size, "validation feature"), size, ct)), [size]);
            return CheckRows(new FitData(feature, size, rows, held, Task: null), o);
        }
        var label = train.Schema.GetColumnOrNull(o.LabelColumnName);
        var task = MulticlassTask.FromLabel(label, o.LabelColumnName);
        var trainSet = TrainingDataReader.Read(train, feature, size, label!.Value, task, ct);
        TrainingSet? validationSet = null;
        if (validation is not null)
        {
            var validationLabel = validation.Schema.GetColumnOrNull(o.LabelColumnName);
            if (validationLabel is null || !validationLabel.Value.Type.Equals(label.Value.Type))
            {
                throw validationLabel is null
                    ? SchemaErrors.ColumnNotFound("validation label", o.LabelColumnName)
                    : SchemaErrors.Mismatch("validation label", o.LabelColumnName, SchemaErrors.Describe(label.Value.Type), SchemaErrors.Describe(validationLabel.Value.Type));
            }
            validationSet = TrainingDataReader.Validation(() => TrainingDataReader.Read(validation, FeatureColumn.Resolve(validation.Schema, o.FeatureColumnName, size, "validation feature"),
                size, validationLabel.Value, task, ct));
        }
        return CheckRows(new FitData(feature, size, trainSet, validationSet, task), o);
    }

    /// <summary>A GAN's batches are of real rows, so the training rows must fill at least one batch.</summary>
    private static FitData CheckRows(FitData data, Options o)
    {
        int rows = data.Validation is null ? data.Train.Count - TrainingLoop.ValidationCount(data.Train.Count, o.ValidationFraction) : data.Train.Count;
        if (rows < o.BatchSize)
        {
            throw new InvalidOperationException(
                $"Feature column '{data.Input.Name}' has {rows} training rows, fewer than Options.BatchSize ({o.BatchSize}): a GAN learns from batches of real rows. " +
                "Give it more rows or lower Options.BatchSize.");
        }
        return data;
    }

    /// <inheritdoc/>
    private protected override bool LossFallsWhenTrainingWorks => false;

    /// <summary>The GAN scales each feature onto the generator's range itself.</summary>
    private protected override bool ReadsFeaturesAsTheyCome(Options options) => false;

    /// <summary>None: the generator's output is its own column and the discriminator is never scored, so no feature column name collides (a conditional GAN's multiclass task does not name its graph outputs).</summary>
    private protected override IEnumerable<string> GraphOutputNames(Options options, FitData data) => [];

    /// <inheritdoc/>
    private protected override string? WarmStartRefusal
        => "a GAN's model holds its generator's weight average and not the optimizers' balance between the two networks; train it again with more Options.Epochs.";

    private protected override NetworkPlan Plan(Options o, FitData data)
    {
        int classes = (data.Task as MulticlassTask)?.ClassCount ?? 0;
        var gan = o.Kind == GanKind.Convolutional
            ? GenerativeAdversarialNetwork.CreateConvolutional(o.NoiseSize, o.ImageShape!, o.Filters, classes, o.EmbeddingSize)
            : GenerativeAdversarialNetwork.CreateDense(o.NoiseSize, data.InputSize, o.GeneratorLayers, o.DiscriminatorLayers, classes, o.EmbeddingSize);
        var names = o.Kind == GanKind.Convolutional
            ? new NetworkOptionNames($"Options.Filters {o.Filters} on images {Shapes.Format(o.ImageShape!)}", "Options.Filters")
            : new NetworkOptionNames($"Options.GeneratorLayers {Shapes.Format(o.GeneratorLayers)} and Options.DiscriminatorLayers {Shapes.Format(o.DiscriminatorLayers)} " +
                $"on {data.InputSize} features", "Options.GeneratorLayers and Options.DiscriminatorLayers");
        return new NetworkPlan(gan.Generator, names, [o.NoiseSize]) { Others = [new NetworkPlan(gan.Discriminator, names, [data.InputSize])] };
    }

    /// <summary>Scales the rows for the generator's tanh, initializes a DCGAN as its paper does, and trains both networks with Adam's beta1 from the options.</summary>
    private protected override TrainingHistory Train(Options o, IReadOnlyList<Network> networks, FitData data, TrainingOptions training)
    {
        if (o.Kind == GanKind.Convolutional)
        {
            GenerativeAdversarialNetwork.InitializeWeights(networks[0], training.Seed);
            GenerativeAdversarialNetwork.InitializeWeights(networks[1], training.Seed + 1);
        }
        training.AdamBeta1 = o.AdamBeta1;
        var scaling = GanDataScaling.FromRows(data.Train.Features, data.InputSize);
        var objective = new AdversarialObjective(networks[0], networks[1], o.GeneratorLoss, o.DiscriminatorSteps, o.RealLabel, o.GeneratorAverage);
        return new TrainingLoop(training).Fit(objective, Scaled(data.Train, scaling), data.Validation is null ? null : Scaled(data.Validation, scaling),
            o.Progress, o.CancellationToken);
    }

    private static TrainingSet Scaled(TrainingSet set, GanDataScaling scaling)
        => new(scaling.ToUnit(set.Features), set.SampleShape, set.Targets, set.TargetWidth);

    /// <summary>The generator, in the data's units, with the discriminator stored beside its model info.</summary>
    private protected override NetworkTransformer Export(Fitted fitted)
    {
        var (o, data) = (fitted.Options, fitted.Data);
        var (generator, discriminator) = (fitted.Networks[0], fitted.Networks[1]);
        var scaling = GanDataScaling.FromRows(data.Train.Features, data.InputSize);
        var condition = data.Task is MulticlassTask task ? new ConditionInput(o.LabelColumnName!, task.Keys) : null;

        var discriminatorTask = new BinaryTask();
        var discriminatorInfo = new ModelInfo(Name, data.Input.Name, data.InputSize, [1], discriminatorTask, fitted.History,
            discriminator.Summarize().ToString(), fitted.Scoring) { Format = ModelInfo.CurrentFormat, Condition = condition };
        byte[] discriminatorModel = discriminator.ExportDiscriminatorOnnx(data.Input.Name, condition?.Column, scaling, discriminatorTask.AddOnnxOutputs,
            discriminatorInfo.ToMetadata());

        var generatorTask = new VectorOutputTask(o.OutputColumn, o.NoiseColumnName, data.InputSize);
        double[]? frequencies = condition is null ? null
            : Enumerable.Range(0, condition.Keys.Count).Select(c => data.Train.Targets.Count(t => t == c) / (double)data.Train.Count).ToArray();
        var generatorInfo = new ModelInfo(Name, o.NoiseColumnName, o.NoiseSize, [data.InputSize], generatorTask, fitted.History,
            generator.Summarize().ToString(), fitted.Scoring)
        {
            Format = ModelInfo.CurrentFormat,
            Condition = condition,
            Generation = new GenerationInfo(data.Input.Name, data.InputSize, frequencies),
            Discriminator = discriminatorModel,
        };
        return new NetworkTransformer(generator.ExportGeneratorOnnx(o.NoiseColumnName, condition?.Column, scaling, generatorTask.OnnxOutputName,
            generatorInfo.ToMetadata()), generatorInfo);
    }

    /// <summary>Options of <see cref="GenerativeAdversarialNetworkEstimator"/>.</summary>
    /// <remarks>Besides the GAN's own options, those every DeepArch estimator has (<see cref="NetworkOptions"/>), with a GAN's defaults: 64 rows per batch, the learning rate and epochs of docs/gan-defaults.md.</remarks>
    public sealed class Options : NetworkOptions
    {
        /// <summary>
        /// Creates the options with a GAN's defaults: 200 epochs, batches of 64 and learning rate 1e-3. Like every DeepArch estimator it
        /// trains on one thread by default: a GAN's networks are small and each batch is dozens of small operations, for which waking
        /// libtorch's other threads costs more than they give. Measured on the digits (eng/bench <c>gan</c>, 2 cores): the
        /// dense GAN trained 2.7 times and the DCGAN 2.0 times as fast as with one thread per core (docs/performance.md).
        /// </summary>
        public Options()
        {
            Epochs = 200;
            BatchSize = 64;
            LearningRate = 1e-3;
        }

        /// <summary>The training rows: a known-size vector of <c>Single</c>.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>A key-typed label column (<c>MapValueToKey</c>) to condition on (a conditional GAN); null (default) for an unconditional GAN.</summary>
        public string? LabelColumnName { get; set; }

        /// <summary>The column the fitted generator reads its noise from: a vector of <see cref="NoiseSize"/> <c>Single</c> values, drawn from N(0, 1).</summary>
        public string NoiseColumnName { get; set; } = "Noise";

        /// <summary>The generated column the fitted generator adds; null (default) names it after <see cref="FeatureColumnName"/>.</summary>
        public string? OutputColumnName { get; set; }

        /// <summary>The networks: <see cref="GanKind.Dense"/> (default) or <see cref="GanKind.Convolutional"/> (a DCGAN, which needs <see cref="ImageShape"/>).</summary>
        public GanKind Kind { get; set; } = GanKind.Dense;

        /// <summary>For <see cref="GanKind.Convolutional"/>: how each row is an image, [channels, height, width], height and width divisible by 4 (e.g. [1, 8, 8]).</summary>
        public IReadOnlyList<int>? ImageShape { get; set; }

        /// <summary>Noise values per generated row (the size of z); at least 1.</summary>
        public int NoiseSize { get; set; } = 32;

        /// <summary>For <see cref="GanKind.Dense"/>: the generator's hidden layer sizes.</summary>
        public IReadOnlyList<int> GeneratorLayers { get; set; } = [256, 256];

        /// <summary>For <see cref="GanKind.Dense"/>: the discriminator's hidden layer sizes.</summary>
        public IReadOnlyList<int> DiscriminatorLayers { get; set; } = [256, 256];

        /// <summary>For <see cref="GanKind.Convolutional"/>: the maps of the generator's last hidden layer and the discriminator's first; at least 1.</summary>
        public int Filters { get; set; } = 32;

        /// <summary>For a conditional GAN: the size of a label's embedding in the generator (and a dense discriminator); 0 (default) uses the number of labels.</summary>
        public int EmbeddingSize { get; set; }

        /// <summary>The generator's loss: the non-saturating <c>-log D(G(z))</c> (default) or the minimax <c>log(1 - D(G(z)))</c>.</summary>
        public GeneratorLoss GeneratorLoss { get; set; } = GeneratorLoss.NonSaturating;

        /// <summary>Discriminator steps per generator step (k in Goodfellow et al.); at least 1.</summary>
        public int DiscriminatorSteps { get; set; } = 1;

        /// <summary>The target of real rows in the discriminator's loss, in (0.5, 1]: 0.9 (default) is one-sided label smoothing; 1 turns it off.</summary>
        public float RealLabel { get; set; } = 0.9f;

        /// <summary>
        /// The decay of the moving average of the generator's weights that the fitted generator keeps instead of its last weights,
        /// in [0, 1); 0 keeps the last weights. The average lies nearer the middle of the circles a GAN's generator runs around its
        /// equilibrium. The default 0.99 (an average over about the last 100 generator steps) met the recall bar on every seed of
        /// docs/gan-defaults.md where 0.999 and the last weights did not.
        /// </summary>
        public double GeneratorAverage { get; set; } = 0.99;

        /// <summary>Adam's beta1 for both networks, in [0, 1); 0.5, the DCGAN paper's, by default. Only Adam (the default <c>Optimizer</c>) reads it.</summary>
        public double AdamBeta1 { get; set; } = 0.5;

        internal string OutputColumn => OutputColumnName ?? FeatureColumnName;

        internal override void Validate()
        {
            CheckColumnName(nameof(FeatureColumnName), FeatureColumnName);
            CheckColumnName(nameof(NoiseColumnName), NoiseColumnName);
            Check(LabelColumnName is null || !string.IsNullOrWhiteSpace(LabelColumnName), nameof(LabelColumnName), $"'{LabelColumnName}'", "must name a column, or be null for an unconditional GAN");
            Check(OutputColumnName is null || !string.IsNullOrWhiteSpace(OutputColumnName), nameof(OutputColumnName), $"'{OutputColumnName}'", "must name a column, or be null for the feature column's name");
            Check(LabelColumnName is null || (LabelColumnName != NoiseColumnName && LabelColumnName != FeatureColumnName), nameof(LabelColumnName), $"'{LabelColumnName}'",
                "must differ from NoiseColumnName and FeatureColumnName");
            // The generator's graph reads the label under its name: an output of the same name could not be written (found at export, after training).
            Check(LabelColumnName is null || OutputColumn != LabelColumnName, nameof(OutputColumnName), $"'{OutputColumn}'",
                $"must differ from LabelColumnName ('{LabelColumnName}'): the generator reads the label and writes its rows beside it");
            Check(Enum.IsDefined(Kind), nameof(Kind), Kind, "must be Dense or Convolutional");
            Check(Kind != GanKind.Convolutional || ImageShape is { Count: 3 } shape && shape.All(d => d >= 1) && shape[1] % 4 == 0 && shape[2] % 4 == 0, nameof(ImageShape),
                ImageShape is null ? "null" : Shapes.Format(ImageShape), "must be [channels, height, width] with height and width divisible by 4 for the Convolutional kind");
            Check(Kind == GanKind.Convolutional || ImageShape is null, nameof(ImageShape), ImageShape is null ? "null" : Shapes.Format(ImageShape),
                "is read only by the Convolutional kind, but Kind is Dense: set Kind = Convolutional for a DCGAN, or leave ImageShape null");
            Check(NoiseSize >= 1, nameof(NoiseSize), NoiseSize, "must be at least 1");
            Check(GeneratorLayers is not null && GeneratorLayers.All(u => u >= 1), nameof(GeneratorLayers), GeneratorLayers is null ? "null" : Shapes.Format(GeneratorLayers), "must hold sizes of at least 1");
            Check(DiscriminatorLayers is not null && DiscriminatorLayers.All(u => u >= 1), nameof(DiscriminatorLayers), DiscriminatorLayers is null ? "null" : Shapes.Format(DiscriminatorLayers), "must hold sizes of at least 1");
            Check(Filters >= 1, nameof(Filters), Filters, "must be at least 1");
            Check(EmbeddingSize >= 0, nameof(EmbeddingSize), EmbeddingSize, "must be at least 0 (0 = the number of labels)");
            Check(Enum.IsDefined(GeneratorLoss), nameof(GeneratorLoss), GeneratorLoss, "must be NonSaturating or Minimax");
            Check(DiscriminatorSteps >= 1, nameof(DiscriminatorSteps), DiscriminatorSteps, "must be at least 1");
            Check(RealLabel > 0.5f && RealLabel <= 1, nameof(RealLabel), RealLabel, "must be in (0.5, 1]");
            Check(AdamBeta1 >= 0 && AdamBeta1 < 1, nameof(AdamBeta1), AdamBeta1, "must be in [0, 1)");
            Check(GeneratorAverage >= 0 && GeneratorAverage < 1, nameof(GeneratorAverage), GeneratorAverage, "must be in [0, 1) (0 = the last weights)");
            Check(EarlyStoppingPatience == 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience,
                "must be 0: a GAN has no validation loss that falls as it learns (the two losses are a game); train for a number of epochs instead");
            Check(Schedule is not ReduceOnPlateau, nameof(Schedule), Schedule?.GetType().Name ?? "null",
                "must not be ReduceOnPlateau: a GAN's losses do not fall as it learns (the two are a game), so no plateau means anything; use a constant, StepDecay or CosineAnnealing schedule");
            Check(CheckpointDirectory is null, nameof(CheckpointDirectory), $"'{CheckpointDirectory}'",
                "must be null: a GAN's generator weight average lives outside what a checkpoint holds (not supported yet)");
            Check(BatchSize >= 2, nameof(BatchSize), BatchSize, "must be at least 2 (the DCGAN's batch normalization and the discriminator's batches need two rows)");
            base.Validate();
        }

        private protected override void CopyLists()
        {
            GeneratorLayers = GeneratorLayers?.ToArray()!;
            DiscriminatorLayers = DiscriminatorLayers?.ToArray()!;
            ImageShape = ImageShape?.ToArray();
        }
    }
}
