using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers;

/// <summary>The element-wise (or, for <see cref="Softmax"/>, per-sample) non-linearities.</summary>
public enum ActivationKind
{
    /// <summary>No change: <c>f(x) = x</c>.</summary>
    Identity,
    /// <summary><c>max(0, x)</c>.</summary>
    ReLU,
    /// <summary><c>x</c> for x &gt;= 0, else <c>alpha * x</c>.</summary>
    LeakyReLU,
    /// <summary><c>log(1 + exp(x))</c>, a smooth ReLU.</summary>
    Softplus,
    /// <summary>The hyperbolic tangent.</summary>
    Tanh,
    /// <summary>The logistic function <c>1 / (1 + exp(-x))</c>.</summary>
    Sigmoid,
    /// <summary>Normalized exponentials over the last dimension (a probability vector per sample).</summary>
    Softmax,
}
