using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

// TorchSharp 0.107's optimizers pass doubles to libtorch through implicit Scalar conversions, e.g.
// param.addcdiv_(exp_avg, denom, value: -step_size). The temporary Scalar is dead as soon as its
// IntPtr handle has been read, so a garbage collection during the native call can let the finalizer
// thread free the native scalar while libtorch still reads it (measured: an intermittent
// "Expected false to be true ... toFloat at c10/core/Scalar.h" from Adam.step under a parallel test
// run). These subclasses perform the same update, operation for operation, with every Scalar held
// by a using declaration until its call has returned. Overloads without a scale (add_(Scalar), add_(Tensor), add(Tensor))
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

/// <summary>PyTorch's Adam (L2 weight decay added to the gradient, bias correction), with Scalars kept alive across native calls.</summary>
internal sealed class ScalarSafeAdam(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, double beta1 = 0.9, double beta2 = 0.999)
    : Adam(parameters, learningRate, beta1, beta2, weight_decay: weightDecay)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
        using Scalar beta1Scalar = beta1.ToScalar(), oneMinusBeta1 = (1 - beta1).ToScalar();
        using Scalar beta2Scalar = beta2.ToScalar(), oneMinusBeta2 = (1 - beta2).ToScalar();
        using Scalar decay = weightDecay.ToScalar(), epsilon = options.eps!.Value.ToScalar();
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
            if (weightDecay != 0)
            {
                grad = grad.add(param, alpha: decay);
            }
            state.exp_avg.mul_(beta1Scalar).add_(grad, alpha: oneMinusBeta1);
            state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad.conj(), value: oneMinusBeta2);
            using Scalar sqrtCorrection2 = Math.Sqrt(correction2).ToScalar();
            var denominator = state.exp_avg_sq.sqrt().div_(sqrtCorrection2).add_(epsilon, Scalars.One);
            using Scalar negativeStep = (-options.LearningRate!.Value / correction1).ToScalar();
            param.addcdiv_(state.exp_avg, denominator, negativeStep);
        }
    }, closure);
}

/// <summary>PyTorch's SGD with momentum (no dampening, not Nesterov) and L2 weight decay, with Scalars kept alive across native calls.</summary>
internal sealed class ScalarSafeSgd(IEnumerable<Parameter> parameters, double learningRate, double momentum, double weightDecay)
    : SGD(parameters, learningRate, momentum: momentum, weight_decay: weightDecay)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double momentum = options.momentum!.Value, weightDecay = options.weight_decay!.Value;
        using Scalar momentumScalar = momentum.ToScalar(), decay = weightDecay.ToScalar();
        using Scalar negativeRate = (-options.LearningRate!.Value).ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null)
            {
                continue;
            }
            var state = (State)_state[param.Handle];
            if (weightDecay != 0)
            {
                grad = grad.add(param, alpha: decay);
            }
            if (momentum != 0)
            {
                if (state.momentum_buffer is null)
                {
                    state.momentum_buffer = grad.clone().detach().DetachFromDisposeScope();
                }
                else
                {
                    state.momentum_buffer.mul_(momentumScalar).add_(grad, Scalars.One);
                }
                grad = state.momentum_buffer;
            }
            param.add_(grad, alpha: negativeRate);
        }
    }, closure);
}
