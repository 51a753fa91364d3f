using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;
using StackedAutoencoderTrainer = DeepArch.MLNet.StackedAutoencoderTrainer;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Every option of every estimator (multilayer perceptron and convolutional network, in each of the
/// three catalogs) out of its range is rejected by the catalog call (the estimator's constructor), before
/// any data is seen, with an <see cref="ArgumentOutOfRangeException"/> whose parameter and message name
/// the option and whose message echoes the value: "Options.BatchSize must be positive; got 0.".
/// </summary>
public class BadOptionsTests
{
    /// <summary>One bad setting: what to change, the option's name and how its value is echoed.</summary>
    public sealed record BadOption(string Option, string Echo, Action<NetworkTrainerOptions> Apply)
    {
        public override string ToString() => $"{Option} = {Echo}";
    }

    private static BadOption Mlp(string option, string echo, Action<MultilayerPerceptronTrainer.Options> apply)
        => new(option, echo, o => apply((MultilayerPerceptronTrainer.Options)o));

    private static BadOption Cnn(string option, string echo, Action<ConvolutionalNetworkTrainer.Options> apply)
        => new(option, echo, o => apply((ConvolutionalNetworkTrainer.Options)o));

    /// <summary>Every option of the shared base, <see cref="NetworkTrainerOptions"/>, with each kind of bad value.</summary>
    public static IEnumerable<BadOption> Shared =>
    [
        new("LabelColumnName", "''", o => o.LabelColumnName = ""),
        new("LabelColumnName", "'  '", o => o.LabelColumnName = "  "),
        new("LabelColumnName", "null", o => o.LabelColumnName = null!),
        new("FeatureColumnName", "''", o => o.FeatureColumnName = ""),
        new("FeatureColumnName", "null", o => o.FeatureColumnName = null!),
        new("Epochs", "0", o => o.Epochs = 0),
        new("Epochs", "-3", o => o.Epochs = -3),
        new("BatchSize", "0", o => o.BatchSize = 0),
        new("BatchSize", "-1", o => o.BatchSize = -1),
        new("LearningRate", "0", o => o.LearningRate = 0),
        new("LearningRate", "-0.001", o => o.LearningRate = -0.001),
        new("LearningRate", "NaN", o => o.LearningRate = double.NaN),
        new("LearningRate", "Infinity", o => o.LearningRate = double.PositiveInfinity),
        new("WeightDecay", "-0.1", o => o.WeightDecay = -0.1),
        new("WeightDecay", "NaN", o => o.WeightDecay = double.NaN),
        new("WeightDecay", "Infinity", o => o.WeightDecay = double.PositiveInfinity),
        new("Optimizer", "7", o => o.Optimizer = (OptimizerKind)7),
        new("Momentum", "-0.1", o => o.Momentum = -0.1),
        new("Momentum", "1", o => o.Momentum = 1),
        new("Momentum", "NaN", o => o.Momentum = double.NaN),
        new("Schedule", "null", o => o.Schedule = null!),
        new("Schedule.StepSize", "0", o => o.Schedule = new StepDecay(StepSize: 0)),
        new("Schedule.Gamma", "0", o => o.Schedule = new StepDecay(Gamma: 0)),
        new("Schedule.Gamma", "1.5", o => o.Schedule = new StepDecay(Gamma: 1.5)),
        new("Schedule.Gamma", "NaN", o => o.Schedule = new StepDecay(Gamma: double.NaN)),
        new("Schedule.MinimumRate", "-1", o => o.Schedule = new CosineAnnealing(MinimumRate: -1)),
        new("Schedule.MinimumRate", "Infinity", o => o.Schedule = new CosineAnnealing(MinimumRate: double.PositiveInfinity)),
        new("Schedule.Factor", "0", o => o.Schedule = new ReduceOnPlateau(Factor: 0)),
        new("Schedule.Factor", "1", o => o.Schedule = new ReduceOnPlateau(Factor: 1)),
        new("Schedule.Patience", "0", o => o.Schedule = new ReduceOnPlateau(Patience: 0)),
        new("Schedule.MinimumRate", "-0.5", o => o.Schedule = new ReduceOnPlateau(MinimumRate: -0.5)),
        new("ValidationFraction", "-0.1", o => o.ValidationFraction = -0.1),
        new("ValidationFraction", "1", o => o.ValidationFraction = 1),
        new("ValidationFraction", "NaN", o => o.ValidationFraction = double.NaN),
        new("EarlyStoppingPatience", "-1", o => o.EarlyStoppingPatience = -1),
        new("TrainingThreads", "-1", o => o.TrainingThreads = -1),
        new("TrainingThreads", "257", o => o.TrainingThreads = 257),
        new("ScoringBatchSize", "0", o => o.ScoringBatchSize = 0),
        new("ScoringBatchSize", "65537", o => o.ScoringBatchSize = 65_537),
        new("ScoringBatchSize", "2147483647", o => o.ScoringBatchSize = int.MaxValue),
        new("ScoringThreads", "-2", o => o.ScoringThreads = -2),
        new("ScoringThreads", "3000", o => o.ScoringThreads = 3000),
        new("Device", "5", o => o.Device = (ComputeDevice)5),
    ];

    /// <summary>The options only <see cref="MultilayerPerceptronTrainer.Options"/> has.</summary>
    public static IEnumerable<BadOption> MultilayerPerceptronOnly =>
    [
        Mlp("HiddenLayers", "null", o => o.HiddenLayers = null!),
        Mlp("HiddenLayers", "[4, 0]", o => o.HiddenLayers = [4, 0]),
        Mlp("HiddenLayers", "[-8]", o => o.HiddenLayers = [-8]),
        Mlp("Activation", "99", o => o.Activation = (ActivationKind)99),
        Mlp("Dropout", "-0.1", o => o.Dropout = -0.1f),
        Mlp("Dropout", "1", o => o.Dropout = 1),
        Mlp("Dropout", "NaN", o => o.Dropout = float.NaN),
    ];

    private static BadOption Stacked(string option, string echo, Action<StackedAutoencoderTrainer.Options> apply)
        => new(option, echo, o => apply((StackedAutoencoderTrainer.Options)o));

    /// <summary>The options only <see cref="StackedAutoencoderTrainer.Options"/> has.</summary>
    public static IEnumerable<BadOption> StackedAutoencoderOnly =>
    [
        Stacked("HiddenLayers", "null", o => o.HiddenLayers = null!),
        Stacked("HiddenLayers", "[]", o => o.HiddenLayers = []),
        Stacked("HiddenLayers", "[8, 0]", o => o.HiddenLayers = [8, 0]),
        Stacked("Activation", "99", o => o.Activation = (ActivationKind)99),
        Stacked("PretrainingEpochs", "0", o => o.PretrainingEpochs = 0),
        Stacked("PretrainingEpochs", "-2", o => o.PretrainingEpochs = -2),
        Stacked("PretrainingNoise", "-0.1", o => o.PretrainingNoise = -0.1f),
        Stacked("PretrainingNoise", "NaN", o => o.PretrainingNoise = float.NaN),
        Stacked("PretrainingNoise", "Infinity", o => o.PretrainingNoise = float.PositiveInfinity),
    ];

    /// <summary>The options only <see cref="ConvolutionalNetworkTrainer.Options"/> has.</summary>
    public static IEnumerable<BadOption> ConvolutionalNetworkOnly =>
    [
        Cnn("InputShape", "null", o => o.InputShape = null!),
        Cnn("InputShape", "[]", o => o.InputShape = []),
        Cnn("InputShape", "[8]", o => o.InputShape = [8]),
        Cnn("InputShape", "[1, 0, 8]", o => o.InputShape = [1, 0, 8]),
        Cnn("InputShape", "[1, 2, 3, 4]", o => o.InputShape = [1, 2, 3, 4]),
        Cnn("Preset", "9", o => o.Preset = (ConvolutionalPreset)9),
        Cnn("Activation", "99", o => o.Activation = (ActivationKind)99),
        Cnn("Layers", "0 layers", o => o.Layers = []),
        Cnn("Layers", "2 layers", o => o.Layers = [new Flatten(), null!]),
        Cnn("Preset", "LeNet5", o => { o.Layers = [new Flatten()]; o.Preset = ConvolutionalPreset.LeNet5; }),
    ];

    private static BadOption Rnn(string option, string echo, Action<RecurrentNetworkTrainer.Options> apply)
        => new(option, echo, o => apply((RecurrentNetworkTrainer.Options)o));

    /// <summary>The options only <see cref="RecurrentNetworkTrainer.Options"/> has.</summary>
    public static IEnumerable<BadOption> RecurrentNetworkOnly =>
    [
        Rnn("FeaturesPerStep", "0", o => o.FeaturesPerStep = 0),
        Rnn("Cell", "9", o => o.Cell = (RecurrentCell)9),
        Rnn("Nonlinearity", "4", o => o.Nonlinearity = (RecurrentNonlinearity)4),
        Rnn("Nonlinearity", "Relu", o => o.Nonlinearity = RecurrentNonlinearity.Relu),
        Rnn("HiddenSize", "0", o => o.HiddenSize = 0),
        Rnn("Layers", "0", o => o.Layers = 0),
        Rnn("Dropout", "1", o => o.Dropout = 1),
        Rnn("Dropout", "NaN", o => o.Dropout = float.NaN),
        Rnn("Pooling", "Sequence", o => o.Pooling = RecurrentOutput.Sequence),
        Rnn("Pooling", "9", o => o.Pooling = (RecurrentOutput)9),
        Rnn("HiddenLayers", "null", o => o.HiddenLayers = null!),
        Rnn("HiddenLayers", "[0]", o => o.HiddenLayers = [0]),
        Rnn("HeadDropout", "-0.5", o => o.HeadDropout = -0.5f),
        Rnn("GradientClipNorm", "-1", o => o.GradientClipNorm = -1),
        Rnn("GradientClipNorm", "NaN", o => o.GradientClipNorm = double.NaN),
        Rnn("TruncatedSteps", "-1", o => o.TruncatedSteps = -1),
        Rnn("TruncatedSteps", "2", o => { o.Bidirectional = true; o.TruncatedSteps = 2; }),
        Rnn("MaxSequenceLength", "-1", o => o.MaxSequenceLength = -1),
    ];

    /// <summary>One bad setting of the anomaly detector, whose options have no label column (they derive from <see cref="NetworkOptions"/>).</summary>
    public sealed record BadAnomalyOption(string Option, string Echo, Action<AutoencoderAnomalyDetectionTrainer.Options> Apply)
    {
        public override string ToString() => $"{Option} = {Echo}";
    }

    private static BadAnomalyOption Anomaly(string option, string echo, Action<AutoencoderAnomalyDetectionTrainer.Options> apply) => new(option, echo, apply);

    /// <summary>The anomaly detector's options: a sample of the shared ones, then every option of its own.</summary>
    public static IEnumerable<BadAnomalyOption> AutoencoderAnomaly =>
    [
        Anomaly("FeatureColumnName", "''", o => o.FeatureColumnName = ""),
        Anomaly("FeatureColumnName", "null", o => o.FeatureColumnName = null!),
        Anomaly("Epochs", "0", o => o.Epochs = 0),
        Anomaly("BatchSize", "-1", o => o.BatchSize = -1),
        Anomaly("LearningRate", "NaN", o => o.LearningRate = double.NaN),
        Anomaly("ValidationFraction", "1", o => o.ValidationFraction = 1),
        Anomaly("TrainingThreads", "-1", o => o.TrainingThreads = -1),
        Anomaly("ScoringBatchSize", "0", o => o.ScoringBatchSize = 0),
        Anomaly("ScoringBatchSize", "65537", o => o.ScoringBatchSize = 65_537),
        Anomaly("ScoringThreads", "257", o => o.ScoringThreads = 257),
        Anomaly("MissingValues", "4", o => o.MissingValues = (MissingValuePolicy)4),
        Anomaly("Device", "5", o => o.Device = (ComputeDevice)5),
        Anomaly("LayerSizes", "null", o => o.LayerSizes = null!),
        Anomaly("LayerSizes", "[]", o => o.LayerSizes = []),
        Anomaly("LayerSizes", "[16, 0]", o => o.LayerSizes = [16, 0]),
        Anomaly("Activation", "99", o => o.Activation = (ActivationKind)99),
        Anomaly("OutputActivation", "99", o => o.OutputActivation = (ActivationKind)99),
        Anomaly("Dropout", "1", o => o.Dropout = 1),
        Anomaly("Kind", "9", o => o.Kind = (AutoencoderKind)9),
        Anomaly("ActivityL1", "-1", o => o.ActivityL1 = -1),
        Anomaly("SparsityTarget", "1", o => o.SparsityTarget = 1),
        Anomaly("SparsityWeight", "NaN", o => o.SparsityWeight = float.NaN),
        Anomaly("GaussianNoise", "-0.1", o => o.GaussianNoise = -0.1f),
        Anomaly("MaskingProbability", "1", o => o.MaskingProbability = 1),
        Anomaly("Beta", "Infinity", o => o.Beta = float.PositiveInfinity),
        Anomaly("VariationalScore", "NegativeElbo", o => o.VariationalScore = DeepArch.Trainers.AutoencoderScore.NegativeElbo),
        Anomaly("ThresholdSource", "7", o => o.ThresholdSource = (AnomalyThresholdSource)7),
        Anomaly("Contamination", "0", o => o.Contamination = 0),
        Anomaly("Contamination", "0.6", o => o.Contamination = 0.6),
        Anomaly("Threshold", "null", o => o.ThresholdSource = AnomalyThresholdSource.Explicit),
        Anomaly("Threshold", "NaN", o => { o.ThresholdSource = AnomalyThresholdSource.Explicit; o.Threshold = float.NaN; }),
        Anomaly("FalsePositiveRate", "0", o => o.FalsePositiveRate = 0),
        Anomaly("FeatureContributionsColumnName", "' '", o => o.FeatureContributionsColumnName = " "),
        Anomaly("FeatureContributionsColumnName", "'Score'", o => o.FeatureContributionsColumnName = "Score"),
    ];

    /// <summary>One bad setting of the forecasting anomaly detector.</summary>
    public sealed record BadForecasterOption(string Option, string Echo, Action<ForecastingAnomalyDetectionTrainer.Options> Apply)
    {
        public override string ToString() => $"{Option} = {Echo}";
    }

    private static BadForecasterOption Forecaster(string option, string echo, Action<ForecastingAnomalyDetectionTrainer.Options> apply) => new(option, echo, apply);

    /// <summary>The forecasting anomaly detector's options: a sample of the shared ones, then every option of its own.</summary>
    public static IEnumerable<BadForecasterOption> ForecastingAnomaly =>
    [
        Forecaster("FeatureColumnName", "null", o => o.FeatureColumnName = null!),
        Forecaster("Epochs", "0", o => o.Epochs = 0),
        Forecaster("FeaturesPerStep", "0", o => o.FeaturesPerStep = 0),
        Forecaster("Horizon", "0", o => o.Horizon = 0),
        Forecaster("Cell", "9", o => o.Cell = (RecurrentCell)9),
        Forecaster("HiddenSize", "-1", o => o.HiddenSize = -1),
        Forecaster("Layers", "0", o => o.Layers = 0),
        Forecaster("Dropout", "1", o => o.Dropout = 1),
        Forecaster("HiddenLayers", "[0]", o => o.HiddenLayers = [0]),
        Forecaster("HeadDropout", "1", o => o.HeadDropout = 1),
        Forecaster("HeadDropout", "0", o => { o.ScoreBy = DeepArch.Trainers.ForecastScore.PredictiveVariance; o.HeadDropout = 0; }),
        Forecaster("GradientClipNorm", "Infinity", o => o.GradientClipNorm = double.PositiveInfinity),
        Forecaster("ScoreBy", "5", o => o.ScoreBy = (DeepArch.Trainers.ForecastScore)5),
        Forecaster("MonteCarloPasses", "1", o => o.MonteCarloPasses = 1),
        Forecaster("ThresholdSource", "7", o => o.ThresholdSource = (AnomalyThresholdSource)7),
        Forecaster("Contamination", "0.6", o => o.Contamination = 0.6),
        Forecaster("Threshold", "null", o => o.ThresholdSource = AnomalyThresholdSource.Explicit),
        Forecaster("FalsePositiveRate", "0", o => o.FalsePositiveRate = 0),
    ];

    /// <summary>Every bad setting of the forecasting anomaly detector.</summary>
    public static TheoryData<string> ForecasterCases => new(ForecastingAnomaly.Select(b => b.ToString()));

    [Theory]
    [MemberData(nameof(ForecasterCases))]
    public void A_forecasting_anomaly_detector_option_out_of_range_is_rejected_by_the_catalog_call(string setting)
    {
        var ml = new MLContext(seed: 1);
        var bad = ForecastingAnomaly.Single(b => b.ToString() == setting);
        var options = new ForecastingAnomalyDetectionTrainer.Options();
        bad.Apply(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.RecurrentForecaster(options));

        Assert.Equal($"Options.{bad.Option}", error.ParamName);
        Assert.StartsWith($"Options.{bad.Option} ", error.Message);
        Assert.Contains($"; got {bad.Echo}.", error.Message);
    }

    /// <summary>One bad setting of the GAN estimator.</summary>
    public sealed record BadGanOption(string Option, string Echo, Action<GenerativeAdversarialNetworkEstimator.Options> Apply)
    {
        public override string ToString() => $"{Option} = {Echo}";
    }

    private static BadGanOption Gan(string option, string echo, Action<GenerativeAdversarialNetworkEstimator.Options> apply) => new(option, echo, apply);

    /// <summary>The GAN estimator's options: a sample of the shared ones, then every option of its own.</summary>
    public static IEnumerable<BadGanOption> GenerativeAdversarial =>
    [
        Gan("Epochs", "0", o => o.Epochs = 0),
        Gan("LearningRate", "-1", o => o.LearningRate = -1),
        Gan("FeatureColumnName", "null", o => o.FeatureColumnName = null!),
        Gan("NoiseColumnName", "' '", o => o.NoiseColumnName = " "),
        Gan("LabelColumnName", "''", o => o.LabelColumnName = ""),
        Gan("LabelColumnName", "'Noise'", o => o.LabelColumnName = "Noise"),
        Gan("OutputColumnName", "''", o => o.OutputColumnName = ""),
        Gan("OutputColumnName", "'Label'", o => (o.LabelColumnName, o.OutputColumnName) = ("Label", "Label")),
        Gan("Kind", "4", o => o.Kind = (GanKind)4),
        Gan("ImageShape", "null", o => o.Kind = GanKind.Convolutional),
        Gan("ImageShape", "[1, 6, 8]", o => { o.Kind = GanKind.Convolutional; o.ImageShape = [1, 6, 8]; }),
        Gan("ImageShape", "[1, 4, 4]", o => o.ImageShape = [1, 4, 4]), // Kind Dense would ignore it
        Gan("NoiseSize", "0", o => o.NoiseSize = 0),
        Gan("GeneratorLayers", "[0]", o => o.GeneratorLayers = [0]),
        Gan("DiscriminatorLayers", "null", o => o.DiscriminatorLayers = null!),
        Gan("Filters", "0", o => o.Filters = 0),
        Gan("EmbeddingSize", "-1", o => o.EmbeddingSize = -1),
        Gan("GeneratorLoss", "7", o => o.GeneratorLoss = (DeepArch.Trainers.GeneratorLoss)7),
        Gan("DiscriminatorSteps", "0", o => o.DiscriminatorSteps = 0),
        Gan("RealLabel", "0.5", o => o.RealLabel = 0.5f),
        Gan("AdamBeta1", "1", o => o.AdamBeta1 = 1),
        Gan("GeneratorAverage", "1", o => o.GeneratorAverage = 1),
        Gan("EarlyStoppingPatience", "3", o => o.EarlyStoppingPatience = 3),
        Gan("Schedule", "ReduceOnPlateau", o => o.Schedule = new DeepArch.Trainers.ReduceOnPlateau()),
        Gan("BatchSize", "1", o => o.BatchSize = 1),
    ];

    /// <summary>Every bad setting of the GAN estimator.</summary>
    public static TheoryData<string> GanCases => new(GenerativeAdversarial.Select(b => b.ToString()));

    [Theory]
    [MemberData(nameof(GanCases))]
    public void A_gan_option_out_of_range_is_rejected_by_the_catalog_call(string setting)
    {
        var ml = new MLContext(seed: 1);
        var bad = GenerativeAdversarial.Single(b => b.ToString() == setting);
        var options = new GenerativeAdversarialNetworkEstimator.Options();
        bad.Apply(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.GenerateByAdversarialNetwork(options));

        Assert.Equal($"Options.{bad.Option}", error.ParamName);
        Assert.StartsWith($"Options.{bad.Option} ", error.Message);
        Assert.Contains($"; got {bad.Echo}.", error.Message);
    }

    /// <summary>An estimator: its catalog call, valid default options, and the settings only it has.</summary>
    public sealed record Estimator(string Name, Func<NetworkTrainerOptions> NewOptions, Func<MLContext, NetworkTrainerOptions, object> Create, IEnumerable<BadOption> Own);

    /// <summary>Every catalog's Options overload of every estimator.</summary>
    public static IEnumerable<Estimator> Estimators =>
    [
        new("multiclass MLP", () => new MultilayerPerceptronTrainer.Options(),
            (ml, o) => ml.MulticlassClassification.Trainers.MultilayerPerceptron((MultilayerPerceptronTrainer.Options)o), MultilayerPerceptronOnly),
        new("binary MLP", () => new MultilayerPerceptronTrainer.Options(),
            (ml, o) => ml.BinaryClassification.Trainers.MultilayerPerceptron((MultilayerPerceptronTrainer.Options)o), MultilayerPerceptronOnly),
        new("regression MLP", () => new MultilayerPerceptronTrainer.Options(),
            (ml, o) => ml.Regression.Trainers.MultilayerPerceptron((MultilayerPerceptronTrainer.Options)o), MultilayerPerceptronOnly),
        new("multiclass stacked autoencoder", () => new StackedAutoencoderTrainer.Options(),
            (ml, o) => ml.MulticlassClassification.Trainers.StackedAutoencoder((StackedAutoencoderTrainer.Options)o), StackedAutoencoderOnly),
        new("binary stacked autoencoder", () => new StackedAutoencoderTrainer.Options(),
            (ml, o) => ml.BinaryClassification.Trainers.StackedAutoencoder((StackedAutoencoderTrainer.Options)o), StackedAutoencoderOnly),
        new("multiclass CNN", () => new ConvolutionalNetworkTrainer.Options { InputShape = [1, 8, 8] },
            (ml, o) => ml.MulticlassClassification.Trainers.ConvolutionalNetwork((ConvolutionalNetworkTrainer.Options)o), ConvolutionalNetworkOnly),
        new("binary CNN", () => new ConvolutionalNetworkTrainer.Options { InputShape = [1, 8, 8] },
            (ml, o) => ml.BinaryClassification.Trainers.ConvolutionalNetwork((ConvolutionalNetworkTrainer.Options)o), ConvolutionalNetworkOnly),
        new("regression CNN", () => new ConvolutionalNetworkTrainer.Options { InputShape = [1, 8, 8] },
            (ml, o) => ml.Regression.Trainers.ConvolutionalNetwork((ConvolutionalNetworkTrainer.Options)o), ConvolutionalNetworkOnly),
        new("multiclass RNN", () => new RecurrentNetworkTrainer.Options(),
            (ml, o) => ml.MulticlassClassification.Trainers.RecurrentNetwork((RecurrentNetworkTrainer.Options)o), RecurrentNetworkOnly),
        new("binary RNN", () => new RecurrentNetworkTrainer.Options(),
            (ml, o) => ml.BinaryClassification.Trainers.RecurrentNetwork((RecurrentNetworkTrainer.Options)o), RecurrentNetworkOnly),
        new("regression RNN", () => new RecurrentNetworkTrainer.Options(),
            (ml, o) => ml.Regression.Trainers.RecurrentNetwork((RecurrentNetworkTrainer.Options)o), RecurrentNetworkOnly),
    ];

    /// <summary>Every estimator with every bad setting, named so that each case shows as its own test.</summary>
    public static TheoryData<string, string> Cases
    {
        get
        {
            var cases = new TheoryData<string, string>();
            foreach (var estimator in Estimators)
            {
                foreach (var bad in Shared.Concat(estimator.Own))
                {
                    cases.Add(estimator.Name, bad.ToString());
                }
            }
            return cases;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_option_out_of_range_is_rejected_by_the_catalog_call_naming_the_option_and_echoing_the_value(string estimator, string setting)
    {
        var ml = new MLContext(seed: 1);
        var chosen = Estimators.Single(e => e.Name == estimator);
        var bad = Shared.Concat(chosen.Own).Single(b => b.ToString() == setting);
        var options = chosen.NewOptions();
        bad.Apply(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => chosen.Create(ml, options));

        Assert.Equal($"Options.{bad.Option}", error.ParamName);
        Assert.StartsWith($"Options.{bad.Option} ", error.Message);
        Assert.Contains($"; got {bad.Echo}.", error.Message);
    }

    /// <summary>Every bad setting of the anomaly detector.</summary>
    public static TheoryData<string> AnomalyCases => new(AutoencoderAnomaly.Select(b => b.ToString()));

    [Theory]
    [MemberData(nameof(AnomalyCases))]
    public void An_anomaly_detector_option_out_of_range_is_rejected_by_the_catalog_call_naming_the_option_and_echoing_the_value(string setting)
    {
        var ml = new MLContext(seed: 1);
        var bad = AutoencoderAnomaly.Single(b => b.ToString() == setting);
        var options = new AutoencoderAnomalyDetectionTrainer.Options();
        bad.Apply(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.AnomalyDetection.Trainers.Autoencoder(options));

        Assert.Equal($"Options.{bad.Option}", error.ParamName);
        Assert.StartsWith($"Options.{bad.Option} ", error.Message);
        Assert.Contains($"; got {bad.Echo}.", error.Message);
    }

    /// <summary>
    /// A feature column named as one of the graph's outputs (stacking on another model's Score, say) trained every epoch and
    /// then failed at export ("The graph already has a value named 'Score'"); now Fit refuses it before training, naming the
    /// option and the fix. The binary and regression MLPs write temporary names and train on such a column.
    /// </summary>
    [Theory]
    [InlineData("multiclass", "Score", false)]
    [InlineData("detector", "Score", false)]
    [InlineData("detector", "Anomaly", false)]
    [InlineData("detector-contributions", "FeatureShare", false)]
    [InlineData("binary", "Score", true)]
    [InlineData("regression", "Score", true)]
    [InlineData("detector", "FeatureShare", true)]
    public void A_feature_column_named_as_a_graph_output_is_refused_before_training(string estimator, string name, bool trains)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.CopyColumns(name, "Features").Fit(ml.Data.LoadFromEnumerable(Rows(40))).Transform(ml.Data.LoadFromEnumerable(Rows(40)));
        var reports = new List<DeepArch.Trainers.EpochReport>();
        var progress = new Progress(reports.Add);
        Func<ITransformer> fit = estimator switch
        {
            "multiclass" or "binary" or "regression" => () => Trainer(ml, estimator, Options(estimator, o => (o.FeatureColumnName, o.Progress) = (name, progress)))
                .Fit(Prepare(ml, estimator, data)),
            _ => () => ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
            {
                FeatureColumnName = name, LayerSizes = [4, 2], Epochs = 2, EnsembleSize = 1, Progress = progress,
                FeatureContributionsColumnName = estimator == "detector-contributions" ? "Contributions" : null,
            }).Fit(data),
        };

        if (trains)
        {
            (fit() as IDisposable)?.Dispose();
            Assert.NotEmpty(reports);
            return;
        }
        var error = Assert.Throws<ArgumentException>(() => fit());

        Assert.Equal("Options.FeatureColumnName", error.ParamName);
        Assert.StartsWith($"Feature column '{name}' has the name of an output of the network's ONNX graph", error.Message);
        Assert.Empty(reports);
    }

    private sealed class Progress(Action<DeepArch.Trainers.EpochReport> report) : IProgress<DeepArch.Trainers.EpochReport>
    {
        public void Report(DeepArch.Trainers.EpochReport value) => report(value);
    }

    [Fact]
    public void A_convolutional_preset_that_does_not_fit_the_input_shape_is_rejected_by_the_catalog_call()
    {
        var ml = new MLContext(seed: 1);
        var options = new ConvolutionalNetworkTrainer.Options { InputShape = [1, 2, 2], Preset = ConvolutionalPreset.LeNet5 };

        var error = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options));

        Assert.StartsWith("Options.Preset LeNet5 does not fit Options.InputShape [1, 2, 2]", error.Message);
    }

    [Fact]
    public void The_simple_overloads_check_their_arguments_the_same_way()
    {
        var ml = new MLContext(seed: 1);

        var epochs = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.MultilayerPerceptron(epochs: 0));
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.MultilayerPerceptron(batchSize: -4));
        var rate = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(learningRate: double.NaN));
        var hidden = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(hiddenLayers: [0]));
        var label = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.MultilayerPerceptron(labelColumnName: ""));

        Assert.StartsWith("Options.Epochs must be at least 1; got 0.", epochs.Message);
        Assert.StartsWith("Options.BatchSize must be positive; got -4.", batch.Message);
        Assert.StartsWith("Options.LearningRate must be positive and finite; got NaN.", rate.Message);
        Assert.StartsWith("Options.HiddenLayers must hold sizes of at least 1; got [0].", hidden.Message);
        Assert.StartsWith("Options.LabelColumnName must name a column; got ''.", label.Message);
    }

    [Fact]
    public void Valid_edge_values_are_accepted()
    {
        var ml = new MLContext(seed: 1);
        var options = new MultilayerPerceptronTrainer.Options
        {
            HiddenLayers = [],
            Epochs = 1,
            BatchSize = 1,
            LearningRate = double.Epsilon,
            WeightDecay = 0,
            Momentum = 0,
            ValidationFraction = 0,
            EarlyStoppingPatience = 0,
            TrainingThreads = 0,
            ScoringBatchSize = 1,
            ScoringThreads = 0,
            Dropout = 0.999f,
            Seed = int.MinValue,
            Schedule = new ReduceOnPlateau(Factor: 0.999, Patience: 1, MinimumRate: 0),
        };

        foreach (var estimator in Estimators.Where(e => e.Name.EndsWith("MLP", StringComparison.Ordinal)))
        {
            Assert.NotNull(estimator.Create(ml, options));
        }
    }

    private sealed class WideRow
    {
        [Microsoft.ML.Data.VectorType(8192)]
        public float[] Features { get; set; } = [];

        public float Target { get; set; }
    }

    [Fact]
    public void A_scoring_batch_buffer_over_its_bound_fails_at_Fit_before_training_naming_the_option_and_the_sizes()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(i => new WideRow { Features = new float[8192], Target = i }));
        int epochs = 0;
        var options = new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = "Target", HiddenLayers = [2], Epochs = 1, ScoringBatchSize = 65_536,
            Progress = new Progress<EpochReport>(_ => epochs++),
        };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Regression.Trainers.MultilayerPerceptron(options).Fit(data));

        Assert.Equal("Options.ScoringBatchSize", error.ParamName);
        Assert.StartsWith("Options.ScoringBatchSize is too large for this network: 65,536 rows of 8,192 values make a batch buffer of 536,870,912 values, more than the 268,435,456 (1 GiB of floats) allowed.", error.Message);
        Assert.Equal(0, epochs);
    }
}
