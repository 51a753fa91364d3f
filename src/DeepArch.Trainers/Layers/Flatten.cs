using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Flattens each sample to a vector, row-major (so [channels, height, width] becomes
/// [channels * height * width]), typically between the last convolution or pooling layer and the first
/// <see cref="Dense"/> layer. Exported as ONNX <c>Flatten</c> with <c>axis = 1</c>.
/// </summary>
public sealed record Flatten : LayerSpec
{
    /// <inheritdoc/>
    public override string Describe() => nameof(Flatten);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape) => [Shapes.Size(inputShape)];

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape) => nn.Flatten();

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => graph.AddNode("Flatten", [input], ("axis", 1L));
}
