using DeepArch.MLNet.Trainers;
using DeepArch.Trainers;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Every option out of its range is rejected by the catalog call (the estimator's constructor), before
/// any data is seen, with an <see cref="ArgumentOutOfRangeException"/> whose parameter and message name
/// the option and whose message echoes the value: "Options.BatchSize must be positive; got 0.".
/// </summary>
public class BadOptionsTests
{
    /// <summary>One bad setting: what to change, the option's name and how its value is echoed.</summary>
    public sealed record BadOption(string Option, string Echo, Action<MultilayerPerceptronTrainer.Options> Apply)
    {
        public override string ToString() => $"{Option} = {Echo}";
    }

    /// <summary>Every option of <see cref="MultilayerPerceptronTrainer.Options"/> and its base <see cref="NetworkTrainerOptions"/> with each kind of bad value.</summary>
    public static IEnumerable<BadOption> Table =>
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
        new("ScoringBatchSize", "0", o => o.ScoringBatchSize = 0),
        new("ScoringThreads", "-2", o => o.ScoringThreads = -2),
        new("Device", "5", o => o.Device = (ComputeDevice)5),
        new("HiddenLayers", "null", o => o.HiddenLayers = null!),
        new("HiddenLayers", "[4, 0]", o => o.HiddenLayers = [4, 0]),
        new("HiddenLayers", "[-8]", o => o.HiddenLayers = [-8]),
        new("Activation", "99", o => o.Activation = (ActivationKind)99),
        new("Dropout", "-0.1", o => o.Dropout = -0.1f),
        new("Dropout", "1", o => o.Dropout = 1),
        new("Dropout", "NaN", o => o.Dropout = float.NaN),
    ];

    /// <summary>The estimators: every catalog's Options overload.</summary>
    public static IEnumerable<(string Name, Func<MLContext, MultilayerPerceptronTrainer.Options, object> Create)> Estimators =>
    [
        ("multiclass MLP", (ml, o) => ml.MulticlassClassification.Trainers.MultilayerPerceptron(o)),
        ("binary MLP", (ml, o) => ml.BinaryClassification.Trainers.MultilayerPerceptron(o)),
        ("regression MLP", (ml, o) => ml.Regression.Trainers.MultilayerPerceptron(o)),
    ];

    /// <summary>Every estimator with every bad setting, named so that each case shows as its own test.</summary>
    public static TheoryData<string, string> Cases
    {
        get
        {
            var cases = new TheoryData<string, string>();
            foreach (var (estimator, _) in Estimators)
            {
                foreach (var bad in Table)
                {
                    cases.Add(estimator, bad.ToString());
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
        var create = Estimators.Single(e => e.Name == estimator).Create;
        var bad = Table.Single(b => b.ToString() == setting);
        var options = new MultilayerPerceptronTrainer.Options();
        bad.Apply(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => create(ml, options));

        Assert.Equal($"Options.{bad.Option}", error.ParamName);
        Assert.StartsWith($"Options.{bad.Option} ", error.Message);
        Assert.Contains($"; got {bad.Echo}.", error.Message);
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

        foreach (var (_, create) in Estimators)
        {
            Assert.NotNull(create(ml, options));
        }
    }
}
