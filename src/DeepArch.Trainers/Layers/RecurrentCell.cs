using DeepArch.Trainers.Layers;

namespace DeepArch.Trainers;

/// <summary>The recurrent cell of a <see cref="Recurrent"/> layer.</summary>
public enum RecurrentCell
{
    /// <summary>The Elman cell: <c>h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)</c>, act = <see cref="Recurrent.Nonlinearity"/>.</summary>
    Rnn,
    /// <summary>Long short-term memory (Hochreiter &amp; Schmidhuber, 1997): input, forget and output gates and a cell state.</summary>
    Lstm,
    /// <summary>The gated recurrent unit (Cho et al., 2014): reset and update gates, PyTorch's formulation.</summary>
    Gru,
}

/// <summary>The nonlinearity of an Elman (<see cref="RecurrentCell.Rnn"/>) cell.</summary>
public enum RecurrentNonlinearity
{
    /// <summary>The hyperbolic tangent.</summary>
    Tanh,
    /// <summary>The rectified linear unit.</summary>
    Relu,
}

/// <summary>What a <see cref="Recurrent"/> layer outputs per sample.</summary>
public enum RecurrentOutput
{
    /// <summary>The last layer's final hidden state, [directions * hidden]: forward at the last valid step, backward at step 0.</summary>
    Last,
    /// <summary>The mean of the last layer's outputs over the valid steps, [directions * hidden].</summary>
    Mean,
    /// <summary>The element-wise maximum of the last layer's outputs over the valid steps, [directions * hidden].</summary>
    Max,
    /// <summary>The last layer's output at every step, [steps, directions * hidden], zeros at padded steps.</summary>
    Sequence,
}
