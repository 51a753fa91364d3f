using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

// TorchSharp 0.107's optimizers pass doubles to libtorch through implicit Scalar conversions, e.g.
// param.addcdiv_(exp_avg, denom, value: -step_size). The temporary Scalar is dead as soon as its
// IntPtr handle has been read, so a garbage collection during the native call can let the finalizer
// thread free the native scalar while libtorch still reads it (measured: an intermittent
// "Expected false to be true ... toFloat at c10/core/Scalar.h" from Adam.step under a parallel test
// run). These subclasses perform the same update, operation for operation (or, for Adam on one thread of an x86-64 CPU with AVX2
// and FMA, in AdamKernel's two passes, with the same bits), with every Scalar held by a using declaration until its call has returned. Overloads without a scale (add_(Scalar), add_(Tensor), add(Tensor))
// pass a temporary Scalar 1 of their own, so they are called with Scalars.One (measured: the same error from
// add_(epsilon) in a full test run).

/// <summary>Scalars held for the life of the process, for TorchSharp overloads that would otherwise create a temporary one per call.</summary>
internal static class Scalars
{
    /// <summary>0, as an integer (a fill value, a bound or a comparison that would otherwise pass the number 0).</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>1, the scale of a plain addition.</summary>
    public static readonly Scalar One = 1.ToScalar();
}

/// <summary>
/// An optimizer whose update is elementwise, so that two threads can each update a part of every parameter at once (the training's
/// batch split, <see cref="BatchSplit"/>); each element gets the operations, and the bits, it gets on one thread.
/// </summary>
internal interface IStepsInParts
{
    /// <summary>
    /// Runs its argument with 0 on the calling thread and with 1 on a second thread at once, returning when both have returned;
    /// null (the default) steps every parameter on the calling thread.
    /// </summary>
    Action<Action<int>>? InParts { get; set; }
}

/// <summary>The two parts of a parameter that two threads update (<see cref="IStepsInParts"/>).</summary>
internal static class ParameterParts
{
    /// <summary>
    /// Parts start at a multiple of this many elements: libtorch's vectorized loops then meet the same remainder at the end of a
    /// parameter whether it is updated whole or in parts, so each element takes the same code path either way.
    /// </summary>
    private const long Alignment = 1024;

    /// <summary>Where the second of a tensor of <paramref name="elements"/> elements' two parts starts; <paramref name="elements"/> (no second part) below two alignments.</summary>
    public static long Boundary(long elements) => elements < 2 * Alignment ? elements : elements / 2 / Alignment * Alignment;

    /// <summary>Part <paramref name="part"/> (0 or 1) of <paramref name="tensor"/>, a flat view from <paramref name="boundary"/>'s side; null when the part is empty.</summary>
    public static Tensor? Of(Tensor tensor, int part, long boundary)
    {
        var (start, length) = Range(tensor.numel(), part, boundary);
        return length == 0 ? null : tensor.view(-1).narrow(0, start, length);
    }

    /// <summary>
    /// Runs <paramref name="update"/> on every parameter's part, on two threads through <paramref name="inParts"/> when given (with
    /// gradients off on both, as an optimizer step runs), or on whole parameters on this thread.
    /// </summary>
    public static void Run<T>(IReadOnlyList<T> items, Func<T, Tensor> parameter, Action<T, int, long> update, Action<Action<int>>? inParts)
    {
        if (inParts is null)
        {
            foreach (var item in items)
            {
                update(item, -1, 0);
            }
            return;
        }
        inParts(part =>
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            foreach (var item in items)
            {
                long elements = parameter(item).numel(), boundary = Boundary(elements);
                if (part == 0 || boundary < elements)
                {
                    update(item, part, boundary);
                }
            }
        });
    }

    /// <summary>Where the elements of a tensor's <paramref name="part"/> (-1: the whole; 0 or 1, as <see cref="Of"/>) start and how many there are.</summary>
    public static (long Start, long Length) Range(long elements, int part, long boundary)
        => part < 0 ? (0, elements) : part == 0 ? (0, boundary) : (boundary, elements - boundary);

    /// <summary><paramref name="tensor"/> whole (<paramref name="part"/> -1) or its part (<see cref="Of"/>).</summary>
    public static Tensor Slice(Tensor tensor, int part, long boundary) => part < 0 ? tensor : Of(tensor, part, boundary)!;
}

/// <summary>
/// PyTorch's Adam (L2 weight decay added to the gradient, bias correction), with Scalars kept alive across native calls; on one
/// libtorch thread of an x86-64 CPU with AVX2 and FMA, each CPU float parameter is updated by <see cref="AdamKernel"/>, with the same bits.
/// </summary>
internal sealed class ScalarSafeAdam(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.999)
    : Adam(parameters, learningRate, beta1, beta2, weight_decay: weightDecay), IStepsInParts
{
    /// <inheritdoc/>
    public Action<Action<int>>? InParts { get; set; }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
        using Scalar beta1Scalar = beta1.ToScalar(), oneMinusBeta1 = (1 - beta1).ToScalar();
        using Scalar beta2Scalar = beta2.ToScalar(), oneMinusBeta2 = (1 - beta2).ToScalar();
        using Scalar decay = weightDecay.ToScalar(), epsilon = options.eps!.Value.ToScalar();
        var updates = new List<(Parameter Param, Tensor Grad, State State, double SqrtCorrection2, double NegativeStep, AdamKernel.Coefficients? Fused)>();
        bool kernel = AdamKernel.Usable();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null)
            {
                continue;
            }
            var state = (State)_state[param.Handle];
            state.step += 1;
            double correction1 = 1 - Math.Pow(beta1, state.step);
            double correction2 = 1 - Math.Pow(beta2, state.step);
            double sqrtCorrection2 = Math.Sqrt(correction2), negativeStep = -options.LearningRate!.Value / correction1;
            AdamKernel.Coefficients? fused = kernel && AdamKernel.Applies(param, grad, state.exp_avg, state.exp_avg_sq)
                ? new(beta1, beta2, weightDecay, sqrtCorrection2, negativeStep, options.eps!.Value) : null;
            updates.Add((param, grad, state, sqrtCorrection2, negativeStep, fused));
        }
        ParameterParts.Run(updates, u => u.Param, (u, part, boundary) =>
        {
            if (u.Fused is { } coefficients)
            {
                var (start, length) = ParameterParts.Range(u.Param.numel(), part, boundary);
                AdamKernel.Step(coefficients, u.Param, u.Grad, u.State.exp_avg, u.State.exp_avg_sq, start, length);
                return;
            }
            Tensor Part(Tensor t) => ParameterParts.Slice(t, part, boundary);
            var (param, grad, expAvg, expAvgSq) = (Part(u.Param), Part(u.Grad), Part(u.State.exp_avg), Part(u.State.exp_avg_sq));
            if (weightDecay != 0)
            {
                grad = grad.add(param, alpha: decay);
            }
            expAvg.mul_(beta1Scalar).add_(grad, alpha: oneMinusBeta1);
            expAvgSq.mul_(beta2Scalar).addcmul_(grad, grad.conj(), value: oneMinusBeta2);
            using Scalar sqrtCorrection2 = u.SqrtCorrection2.ToScalar(), negativeStep = u.NegativeStep.ToScalar();
            var denominator = expAvgSq.sqrt().div_(sqrtCorrection2).add_(epsilon, Scalars.One);
            param.addcdiv_(expAvg, denominator, negativeStep);
        }, InParts);
    }, closure);
}

/// <summary>PyTorch's SGD with momentum (no dampening, not Nesterov) and L2 weight decay, with Scalars kept alive across native calls.</summary>
internal sealed class ScalarSafeSgd(IEnumerable<Parameter> parameters, double learningRate, double momentum, double weightDecay)
    : SGD(parameters, learningRate, momentum: momentum, weight_decay: weightDecay), IStepsInParts
{
    /// <inheritdoc/>
    public Action<Action<int>>? InParts { get; set; }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double momentum = options.momentum!.Value, weightDecay = options.weight_decay!.Value;
        using Scalar momentumScalar = momentum.ToScalar(), decay = weightDecay.ToScalar();
        using Scalar negativeRate = (-options.LearningRate!.Value).ToScalar();
        var updates = new List<(Parameter Param, Tensor Grad, State State)>();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null)
            {
                continue;
            }
            var state = (State)_state[param.Handle];
            if (momentum != 0 && state.momentum_buffer is null)
            {
                // The first step starts the momentum buffer from the gradient: whole, on this thread.
                if (weightDecay != 0)
                {
                    grad = grad.add(param, alpha: decay);
                }
                state.momentum_buffer = grad.clone().detach().DetachFromDisposeScope();
                param.add_(state.momentum_buffer, alpha: negativeRate);
                continue;
            }
            updates.Add((param, grad, state));
        }
        ParameterParts.Run(updates, u => u.Param, (u, part, boundary) =>
        {
            Tensor Part(Tensor t) => ParameterParts.Slice(t, part, boundary);
            var (param, grad) = (Part(u.Param), Part(u.Grad));
            if (weightDecay != 0)
            {
                grad = grad.add(param, alpha: decay);
            }
            if (momentum != 0)
            {
                grad = Part(u.State.momentum_buffer!).mul_(momentumScalar).add_(grad, Scalars.One);
            }
            param.add_(grad, alpha: negativeRate);
        }, InParts);
    }, closure);
}
