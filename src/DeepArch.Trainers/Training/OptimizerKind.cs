namespace DeepArch.Trainers;

/// <summary>The optimization algorithm.</summary>
public enum OptimizerKind
{
    /// <summary>Adam (Kingma &amp; Ba, 2015), with L2 weight decay added to the gradient as in PyTorch's <c>Adam</c>.</summary>
    Adam,
    /// <summary>Stochastic gradient descent with (optionally Nesterov) momentum.</summary>
    Sgd,
}
