using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>Every option out of its range is rejected by name, echoing the value.</summary>
public class TrainingOptionsTests
{
    /// <summary>(option as named in the message, the value as echoed, how to set it).</summary>
    private static readonly Dictionary<string, (string Option, string Echo, Action<TrainingOptions> Set)> Cases = new()
    {
        ["Epochs 0"] = ("Epochs", "0", o => o.Epochs = 0),
        ["Epochs -1"] = ("Epochs", "-1", o => o.Epochs = -1),
        ["BatchSize 0"] = ("BatchSize", "0", o => o.BatchSize = 0),
        ["LearningRate 0"] = ("LearningRate", "0", o => o.LearningRate = 0),
        ["LearningRate -0.5"] = ("LearningRate", "-0.5", o => o.LearningRate = -0.5),
        ["LearningRate NaN"] = ("LearningRate", "NaN", o => o.LearningRate = double.NaN),
        ["LearningRate +inf"] = ("LearningRate", "Infinity", o => o.LearningRate = double.PositiveInfinity),
        ["WeightDecay -1"] = ("WeightDecay", "-1", o => o.WeightDecay = -1),
        ["WeightDecay NaN"] = ("WeightDecay", "NaN", o => o.WeightDecay = double.NaN),
        ["Optimizer 7"] = ("Optimizer", "7", o => o.Optimizer = (OptimizerKind)7),
        ["Momentum 1"] = ("Momentum", "1", o => o.Momentum = 1),
        ["Momentum -0.1"] = ("Momentum", "-0.1", o => o.Momentum = -0.1),
        ["Schedule null"] = ("Schedule", "null", o => o.Schedule = null!),
        ["ValidationFraction 1"] = ("ValidationFraction", "1", o => o.ValidationFraction = 1),
        ["ValidationFraction -0.1"] = ("ValidationFraction", "-0.1", o => o.ValidationFraction = -0.1),
        ["ValidationFraction NaN"] = ("ValidationFraction", "NaN", o => o.ValidationFraction = double.NaN),
        ["EarlyStoppingPatience -1"] = ("EarlyStoppingPatience", "-1", o => o.EarlyStoppingPatience = -1),
        ["EarlyStoppingMinDelta -1"] = ("EarlyStoppingMinDelta", "-1", o => o.EarlyStoppingMinDelta = -1),
        ["EarlyStoppingMinDelta +inf"] = ("EarlyStoppingMinDelta", "Infinity", o => o.EarlyStoppingMinDelta = double.PositiveInfinity),
        ["Threads -1"] = ("Threads", "-1", o => o.Threads = -1),
        ["Device 5"] = ("Device", "5", o => o.Device = (ComputeDevice)5),
        ["StepDecay.StepSize 0"] = ("Schedule.StepSize", "0", o => o.Schedule = new StepDecay(StepSize: 0)),
        ["StepDecay.Gamma 0"] = ("Schedule.Gamma", "0", o => o.Schedule = new StepDecay(Gamma: 0)),
        ["StepDecay.Gamma 1.5"] = ("Schedule.Gamma", "1.5", o => o.Schedule = new StepDecay(Gamma: 1.5)),
        ["CosineAnnealing.MinimumRate -1"] = ("Schedule.MinimumRate", "-1", o => o.Schedule = new CosineAnnealing(-1)),
        ["CosineAnnealing.MinimumRate NaN"] = ("Schedule.MinimumRate", "NaN", o => o.Schedule = new CosineAnnealing(double.NaN)),
        ["ReduceOnPlateau.Factor 0"] = ("Schedule.Factor", "0", o => o.Schedule = new ReduceOnPlateau(Factor: 0)),
        ["ReduceOnPlateau.Factor 1"] = ("Schedule.Factor", "1", o => o.Schedule = new ReduceOnPlateau(Factor: 1)),
        ["ReduceOnPlateau.Patience 0"] = ("Schedule.Patience", "0", o => o.Schedule = new ReduceOnPlateau(Patience: 0)),
        ["ReduceOnPlateau.MinimumRate -0.5"] = ("Schedule.MinimumRate", "-0.5", o => o.Schedule = new ReduceOnPlateau(MinimumRate: -0.5)),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void An_option_out_of_range_is_named_with_its_value(string caseName)
    {
        var (option, echo, set) = Cases[caseName];
        var options = new TrainingOptions();
        set(options);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingLoop(options));

        Assert.Equal($"TrainingOptions.{option}", error.ParamName);
        Assert.Contains($"TrainingOptions.{option} ", error.Message);
        Assert.Contains($"got {echo}.", error.Message);
    }

    [Fact]
    public void The_owner_name_prefixes_the_option_in_messages()
    {
        var options = new TrainingOptions { BatchSize = 0 };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => options.Validate("Options"));

        Assert.StartsWith("Options.BatchSize must be positive; got 0.", error.Message);
    }

    [Fact]
    public void The_defaults_and_the_range_boundaries_are_valid()
    {
        new TrainingOptions().Validate();
        new TrainingOptions
        {
            Epochs = 1, BatchSize = 1, LearningRate = double.Epsilon, WeightDecay = 0, Momentum = 0, ValidationFraction = 0,
            EarlyStoppingPatience = 0, EarlyStoppingMinDelta = 0, Threads = 0, Schedule = new StepDecay(1, 1),
        }.Validate();
        new TrainingOptions { Momentum = 0.999, ValidationFraction = 0.999, Schedule = new ReduceOnPlateau(0.999, 1, 0) }.Validate();
        new TrainingOptions { Schedule = new CosineAnnealing(0) }.Validate();
    }

    [Fact]
    public void An_unknown_loss_function_is_rejected()
    {
        using var network = new Network(MultilayerPerceptron.Create([2], 1), [2], seed: 0);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new SupervisedObjective(network, (LossFunction)9));

        Assert.Equal("loss", error.ParamName);
    }
}
