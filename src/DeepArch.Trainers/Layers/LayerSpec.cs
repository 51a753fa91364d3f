using System.Text.Json.Serialization;
using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// The immutable description of one layer: its configuration, its output shape, the TorchSharp module
/// it builds and the ONNX nodes it emits from that module's trained parameters. Because both back ends
/// come from this one definition, the exported graph cannot drift from the trained network.
/// </summary>
/// <remarks>
/// Shapes are per sample: the batch dimension is never part of them. A spec validates its
/// configuration in its constructor and round-trips through JSON (<see cref="LayerSpecJson"/>).
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(Dense), "dense")]
[JsonDerivedType(typeof(Activation), "activation")]
[JsonDerivedType(typeof(Dropout), "dropout")]
[JsonDerivedType(typeof(BatchNorm1d), "batchnorm1d")]
[JsonDerivedType(typeof(Sequential), "sequential")]
[JsonDerivedType(typeof(Conv1d), "conv1d")]
[JsonDerivedType(typeof(Conv2d), "conv2d")]
[JsonDerivedType(typeof(ConvTranspose2d), "convtranspose2d")]
[JsonDerivedType(typeof(MaxPool1d), "maxpool1d")]
[JsonDerivedType(typeof(MaxPool2d), "maxpool2d")]
[JsonDerivedType(typeof(AvgPool1d), "avgpool1d")]
[JsonDerivedType(typeof(AvgPool2d), "avgpool2d")]
[JsonDerivedType(typeof(GlobalAveragePool), "globalaveragepool")]
[JsonDerivedType(typeof(Flatten), "flatten")]
[JsonDerivedType(typeof(BatchNorm2d), "batchnorm2d")]
[JsonDerivedType(typeof(Dropout2d), "dropout2d")]
[JsonDerivedType(typeof(Reshape), "reshape")]
[JsonDerivedType(typeof(TiedDense), "tieddense")]
[JsonDerivedType(typeof(Recurrent), "recurrent")]
[JsonDerivedType(typeof(Conditioned), "conditioned")]
[JsonDerivedType(typeof(Normalization), "normalization")]
[JsonDerivedType(typeof(Architectures.AutoencoderSpec), "autoencoder")]
[JsonDerivedType(typeof(Architectures.SequenceToSequence), "sequencetosequence")]
public abstract record LayerSpec
{
    /// <summary>A short human-readable name of the layer and its configuration, e.g. <c>Dense(64)</c>.</summary>
    public abstract string Describe();

    /// <summary>The per-sample output shape for the per-sample <paramref name="inputShape"/>, computed without running.</summary>
    /// <exception cref="ArgumentException">The layer cannot take an input of that shape.</exception>
    public abstract int[] OutputShape(IReadOnlyList<int> inputShape);

    /// <summary>
    /// The number of trainable parameters the layer's module holds for inputs of the per-sample <paramref name="inputShape"/>,
    /// computed from the configuration without building the module (what <see cref="Networks.Network.ParameterCount"/> counts
    /// once it is built); 0 for layers without parameters.
    /// </summary>
    /// <exception cref="ArgumentException">The layer cannot take an input of that shape.</exception>
    public virtual long ParameterCount(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return 0;
    }

    /// <summary>
    /// About how many values per sample a training step keeps for the backward pass (each layer's output; a recurrent
    /// layer's gates at every step), for estimating the memory a batch takes; computed without running.
    /// </summary>
    internal virtual long ActivationValues(IReadOnlyList<int> inputShape) => Shapes.LongSize(OutputShape(inputShape));

    /// <summary>
    /// The inputs the layer reads besides its features, in order (a <see cref="Conditioned"/> network's label); none for most
    /// layers. Only a network's outermost layer may have them.
    /// </summary>
    [JsonIgnore]
    public virtual IReadOnlyList<IndexInput> SideInputs => [];

    /// <summary>The layers this one is composed of (a chain's layers, an autoencoder's halves); none for a single layer.</summary>
    internal virtual IEnumerable<LayerSpec> Sublayers() => [];

    /// <summary>
    /// Whether, in training mode, each row's output depends on that row and the parameters alone, drawing no random numbers: then
    /// a batch's rows can run forward and backward in parts on separate threads and their gradients be added
    /// (<see cref="Training.BatchSplit"/>). Batch normalization (the batch's statistics) and dropout (libtorch's global generator)
    /// are not; a layer is not unless it says so.
    /// </summary>
    internal virtual bool RowsIndependentInTraining => false;

    /// <summary>Creates the TorchSharp module for inputs of the per-sample <paramref name="inputShape"/>.</summary>
    internal abstract nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape);

    /// <summary>Emits the ONNX nodes that compute what <paramref name="module"/> computes in eval mode.</summary>
    /// <returns>The name of the value holding the layer's output.</returns>
    internal abstract string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape);

    /// <summary>Throws unless <paramref name="inputShape"/> is one-dimensional; returns its single size.</summary>
    private protected int RequireVector(IReadOnlyList<int> inputShape)
    {
        if (inputShape.Count != 1)
        {
            throw new ArgumentException(
                $"{Describe()} expects a one-dimensional input per sample, got shape [{string.Join(", ", inputShape)}].",
                nameof(inputShape));
        }
        return inputShape[0];
    }

    /// <summary>Copies a parameter tensor to a managed array (row-major, float32).</summary>
    private protected static float[] ToArray(Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return cpu.data<float>().ToArray();
    }
}
