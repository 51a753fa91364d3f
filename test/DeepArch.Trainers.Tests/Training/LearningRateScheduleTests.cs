using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Xunit;

namespace DeepArch.Trainers.Tests.Training;

/// <summary>The learning rate each epoch runs with, against the schedules' formulas.</summary>
public class LearningRateScheduleTests
{
    [Fact]
    public void Step_decay_halves_the_rate_every_two_epochs()
    {
        double[] rates = RatesUsed(new StepDecay(2, 0.5), initialRate: 0.1, epochs: 6);

        Assert.Equal([0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rates, (a, b) => Math.Abs(a - b) <= 1e-15);
    }

    [Fact]
    public void Cosine_annealing_runs_from_the_initial_rate_to_the_minimum()
    {
        const double initial = 0.1, minimum = 0.001;
        const int epochs = 5;

        double[] rates = RatesUsed(new CosineAnnealing(minimum), initial, epochs);

        double[] expected = Enumerable.Range(0, epochs).Select(e => minimum + (initial - minimum) * (1 + Math.Cos(Math.PI * e / (epochs - 1))) / 2).ToArray();
        Assert.Equal(expected, rates, (a, b) => Math.Abs(a - b) <= 1e-15);
        Assert.Equal(initial, rates[0]);
        Assert.Equal(minimum, rates[^1]);
        Assert.Equal(rates.OrderByDescending(r => r), rates);
    }

    [Fact]
    public void Cosine_annealing_over_one_epoch_keeps_the_initial_rate()
        => Assert.Equal(0.1, new CosineAnnealing(0.001).CreateScheduler(0.1, 1).RateForEpoch(0, null));

    [Fact]
    public void Reduce_on_plateau_follows_its_rule_on_a_loss_sequence()
    {
        // Factor 0.5, patience 2, floor 0.2, relative threshold 1e-4: the rate drops after two
        // consecutive epochs whose loss is not below best * (1 - 1e-4), never below the floor.
        var scheduler = new ReduceOnPlateau(Factor: 0.5, Patience: 2, MinimumRate: 0.2).CreateScheduler(1.0, 20);
        (double? Loss, double Rate)[] steps =
        [
            (null, 1.0), // first epoch: no loss yet
            (1.0, 1.0), // improvement over +inf: best = 1.0
            (1.0, 1.0), // 1 bad epoch
            (0.99995, 0.5), // 2 bad epochs (the decrease is under the threshold): halve, reset
            (0.5, 0.5), // improvement: best = 0.5
            (0.6, 0.5), // 1 bad
            (0.7, 0.25), // 2 bad: halve
            (0.4, 0.25), // improvement
            (0.4, 0.25), // 1 bad
            (0.4, 0.2), // 2 bad: 0.125 is below the floor, so 0.2
            (0.4, 0.2),
            (0.4, 0.2), // 2 bad again: stays at the floor
        ];

        for (int epoch = 0; epoch < steps.Length; epoch++)
        {
            Assert.Equal(steps[epoch].Rate, scheduler.RateForEpoch(epoch, steps[epoch].Loss), 1e-15);
        }
    }

    [Fact]
    public void Reduce_on_plateau_never_raises_the_rate_to_a_floor_above_it()
    {
        var scheduler = new ReduceOnPlateau(Factor: 0.5, Patience: 1, MinimumRate: 0.1).CreateScheduler(0.01, 10);

        double[] rates = [scheduler.RateForEpoch(0, null), .. Enumerable.Range(1, 5).Select(e => scheduler.RateForEpoch(e, 1.0))];

        Assert.All(rates, r => Assert.Equal(0.01, r));
    }

    [Fact]
    public void Reduce_on_plateau_decays_when_training_cannot_improve()
    {
        // A learning rate of 1e-9 moves the parameters by about 1e-9 per step: the loss changes far
        // less than the 1e-4 relative threshold, so every epoch after the first is a bad one.
        const double rate = 1e-9;

        double[] rates = RatesUsed(new ReduceOnPlateau(Factor: 0.5, Patience: 2), rate, epochs: 6);

        Assert.Equal([rate, rate, rate, rate / 2, rate / 2, rate / 4], rates, (a, b) => Math.Abs(a - b) <= 1e-24);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Schedules_see_the_previous_epochs_validation_loss_or_else_its_training_loss(bool withValidation)
    {
        var schedule = new RecordingSchedule(_ => 0.01);
        var options = new TrainingOptions { Epochs = 4, BatchSize = 16, Schedule = schedule, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var history = new TrainingLoop(options)
            .Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(48), withValidation ? Fixtures.Regression(16, seed: 1) : null);

        double?[] expected = [null, .. history.Epochs.SkipLast(1).Select(e => withValidation ? e.ValidationLoss : e.TrainLoss)];
        Assert.Equal(expected, schedule.Calls.Select(c => c.PreviousLoss));
        Assert.Equal([0, 1, 2, 3], schedule.Calls.Select(c => c.Epoch));
    }

    [Fact]
    public void The_scheduled_rate_is_the_one_the_optimizer_uses()
    {
        // A rate of 1e10 in the third epoch only: SGD must diverge there, not before.
        var schedule = new RecordingSchedule(epoch => epoch == 2 ? 1e10 : 1e-3);
        var options = new TrainingOptions { Epochs = 5, BatchSize = 16, Optimizer = OptimizerKind.Sgd, Momentum = 0, Schedule = schedule, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);

        var error = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(64)));

        Assert.Equal(3, error.Epoch);
    }

    private static double[] RatesUsed(LearningRateSchedule schedule, double initialRate, int epochs)
    {
        var options = new TrainingOptions { Epochs = epochs, BatchSize = 16, LearningRate = initialRate, Schedule = schedule, Shuffle = false, Seed = 1 };
        using var network = new Network(MultilayerPerceptron.Create([8], 1), [4], seed: 1);
        var history = new TrainingLoop(options).Fit(new SupervisedObjective(network, LossFunction.MeanSquaredError), Fixtures.Regression(32));
        return history.Epochs.Select(e => e.LearningRate).ToArray();
    }

    /// <summary>A schedule given by a function of the epoch, recording what the trainer asks it.</summary>
    private sealed record RecordingSchedule(Func<int, double> Rate) : LearningRateSchedule
    {
        public List<(int Epoch, double? PreviousLoss)> Calls { get; } = [];

        public override LearningRateScheduler CreateScheduler(double initialRate, int epochs) => new Scheduler(this);

        private sealed class Scheduler(RecordingSchedule schedule) : LearningRateScheduler
        {
            public override double RateForEpoch(int epoch, double? previousLoss)
            {
                schedule.Calls.Add((epoch, previousLoss));
                return schedule.Rate(epoch);
            }
        }
    }
}
