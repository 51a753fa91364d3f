using System.Text.Json.Serialization;

using DeepArch.Trainers.Training;

namespace DeepArch.Trainers;

/// <summary>
/// How the learning rate changes from epoch to epoch. A schedule is an immutable description; each
/// training run gets its own stateful <see cref="LearningRateScheduler"/> from <see cref="CreateScheduler"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(ConstantLearningRate), "constant")]
[JsonDerivedType(typeof(StepDecay), "step")]
[JsonDerivedType(typeof(CosineAnnealing), "cosine")]
[JsonDerivedType(typeof(ReduceOnPlateau), "plateau")]
public abstract record LearningRateSchedule
{
    /// <summary>Creates the per-run scheduler for a run of <paramref name="epochs"/> epochs starting at <paramref name="initialRate"/>.</summary>
    public abstract LearningRateScheduler CreateScheduler(double initialRate, int epochs);

    /// <summary>Checks the schedule's settings; <paramref name="name"/> prefixes the messages.</summary>
    public virtual void Validate(string name)
    {
    }

    private protected static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}; got {TrainingOptions.Format(value)}.");
        }
    }
}

/// <summary>The per-run state of a learning-rate schedule.</summary>
public abstract class LearningRateScheduler
{
    /// <summary>The learning rate for the 0-based <paramref name="epoch"/>, given the previous epoch's monitored loss (validation loss when there is one, else training loss).</summary>
    public abstract double RateForEpoch(int epoch, double? previousLoss);
}

/// <summary>The same learning rate for every epoch.</summary>
public sealed record ConstantLearningRate : LearningRateSchedule
{
    /// <inheritdoc/>
    public override LearningRateScheduler CreateScheduler(double initialRate, int epochs) => new Scheduler(initialRate);

    private sealed class Scheduler(double rate) : LearningRateScheduler
    {
        public override double RateForEpoch(int epoch, double? previousLoss) => rate;
    }
}

/// <summary>Multiplies the learning rate by <see cref="Gamma"/> every <see cref="StepSize"/> epochs (PyTorch's <c>StepLR</c>).</summary>
/// <param name="StepSize">Epochs between decays; at least 1.</param>
/// <param name="Gamma">The decay factor, in (0, 1].</param>
public sealed record StepDecay(int StepSize = 10, double Gamma = 0.1) : LearningRateSchedule
{
    /// <inheritdoc/>
    public override void Validate(string name)
    {
        Check(StepSize >= 1, $"{name}.{nameof(StepSize)}", StepSize, "must be at least 1");
        Check(Gamma > 0 && Gamma <= 1, $"{name}.{nameof(Gamma)}", Gamma, "must be in (0, 1]");
    }

    /// <inheritdoc/>
    public override LearningRateScheduler CreateScheduler(double initialRate, int epochs) => new Scheduler(this, initialRate);

    private sealed class Scheduler(StepDecay schedule, double initialRate) : LearningRateScheduler
    {
        public override double RateForEpoch(int epoch, double? previousLoss)
            => initialRate * Math.Pow(schedule.Gamma, epoch / schedule.StepSize);
    }
}

/// <summary>Cosine annealing from the initial rate down to <see cref="MinimumRate"/> over the run (PyTorch's <c>CosineAnnealingLR</c> with T_max = epochs - 1, so the last epoch runs at the minimum).</summary>
/// <param name="MinimumRate">The rate of the last epoch; at least 0.</param>
public sealed record CosineAnnealing(double MinimumRate = 0) : LearningRateSchedule
{
    /// <inheritdoc/>
    public override void Validate(string name)
        => Check(MinimumRate >= 0 && double.IsFinite(MinimumRate), $"{name}.{nameof(MinimumRate)}", MinimumRate, "must be finite and at least 0");

    /// <inheritdoc/>
    public override LearningRateScheduler CreateScheduler(double initialRate, int epochs) => new Scheduler(MinimumRate, initialRate, epochs);

    private sealed class Scheduler(double minimum, double initialRate, int epochs) : LearningRateScheduler
    {
        public override double RateForEpoch(int epoch, double? previousLoss)
            => epochs <= 1 ? initialRate : minimum + (initialRate - minimum) * (1 + Math.Cos(Math.PI * epoch / (epochs - 1))) / 2;
    }
}

/// <summary>
/// Multiplies the learning rate by <see cref="Factor"/> when the monitored loss has not improved for
/// <see cref="Patience"/> epochs, relative threshold 1e-4: as Keras's <c>ReduceLROnPlateau</c> counts; PyTorch's lowers the
/// rate one epoch later, after <c>patience + 1</c> epochs without improvement (pass Patience + 1 for PyTorch's schedule).
/// </summary>
/// <param name="Factor">The decay factor, in (0, 1).</param>
/// <param name="Patience">Epochs without improvement before a decay; at least 1.</param>
/// <param name="MinimumRate">The rate is never lowered below this; at least 0.</param>
public sealed record ReduceOnPlateau(double Factor = 0.1, int Patience = 5, double MinimumRate = 0) : LearningRateSchedule
{
    /// <inheritdoc/>
    public override void Validate(string name)
    {
        Check(Factor > 0 && Factor < 1, $"{name}.{nameof(Factor)}", Factor, "must be in (0, 1)");
        Check(Patience >= 1, $"{name}.{nameof(Patience)}", Patience, "must be at least 1");
        Check(MinimumRate >= 0 && double.IsFinite(MinimumRate), $"{name}.{nameof(MinimumRate)}", MinimumRate, "must be finite and at least 0");
    }

    /// <inheritdoc/>
    public override LearningRateScheduler CreateScheduler(double initialRate, int epochs) => new Scheduler(this, initialRate);

    private sealed class Scheduler(ReduceOnPlateau schedule, double initialRate) : LearningRateScheduler
    {
        private double _rate = initialRate;
        private double _best = double.PositiveInfinity;
        private int _badEpochs;

        public override double RateForEpoch(int epoch, double? previousLoss)
        {
            if (previousLoss is double loss)
            {
                if (loss < _best * (1 - 1e-4))
                {
                    _best = loss;
                    _badEpochs = 0;
                }
                else if (++_badEpochs > schedule.Patience - 1)
                {
                    // A floor above the current rate must not raise it (PyTorch only ever lowers it too).
                    _rate = Math.Min(_rate, Math.Max(_rate * schedule.Factor, schedule.MinimumRate));
                    _badEpochs = 0;
                }
            }
            return _rate;
        }
    }
}
