using DeepArch.Trainers.Training;

namespace DeepArch.Trainers;

/// <summary>The loss a GAN's generator minimizes.</summary>
public enum GeneratorLoss
{
    /// <summary>
    /// <c>-log D(G(z))</c>: the same fixed point as the minimax game, with strong gradients early in training, when the
    /// discriminator rejects the generator's samples easily (Goodfellow et al., 2014, section 3). The field's default.
    /// </summary>
    NonSaturating,

    /// <summary><c>log(1 - D(G(z)))</c>, the minimax game of the lecture notes as written; its gradient vanishes while D(G(z)) is near 0.</summary>
    Minimax,
}
