using DeepArch.Trainers.Architectures;

namespace DeepArch.Trainers;

/// <summary>How a <see cref="SequenceToSequence"/> decoder looks at the encoder's outputs.</summary>
public enum Attention
{
    /// <summary>No attention: the decoder sees the input only through the encoder's final state (Sutskever et al., 2014; Cho et al., 2014).</summary>
    None,

    /// <summary>
    /// Luong et al.'s (2015) "general" global attention: <c>score(h_t, h_s) = h_t W_a h_s</c>, a softmax over the valid source steps,
    /// the context <c>c_t</c> their weighted mean, and the output read from <c>tanh(W_c [c_t; h_t])</c>.
    /// </summary>
    General,

    /// <summary><see cref="General"/> with the scores divided by the square root of the hidden size, as in scaled dot-product attention (Vaswani et al., 2017).</summary>
    ScaledGeneral,
}
