using DeepArch.Trainers.Onnx;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Global average pooling: the mean of each channel over all its positions, turning a [channels, length]
/// or [channels, height, width] sample into a [channels] vector (as Keras's <c>GlobalAveragePooling</c>
/// layers do), ready for a <see cref="Dense"/> layer. Exported as ONNX <c>GlobalAveragePool</c>
/// followed by <c>Flatten</c>.
/// </summary>
public sealed record GlobalAveragePool : LayerSpec
{
    /// <inheritdoc/>
    public override string Describe() => nameof(GlobalAveragePool);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        if (inputShape.Count < 2)
        {
            throw new ArgumentException(
                $"{Describe()} expects a per-sample input shaped [channels, length] or [channels, height, width], got {Shapes.Format(inputShape)}.",
                nameof(inputShape));
        }
        return [inputShape[0]];
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        return new MeanOverPositions(inputShape.Count - 1);
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
        => graph.AddNode("Flatten", [graph.AddNode("GlobalAveragePool", [input])], ("axis", 1L));

    /// <summary>The TorchSharp side: the mean over every dimension after [batch, channels].</summary>
    private sealed class MeanOverPositions : nn.Module<Tensor, Tensor>
    {
        private readonly long[] _dimensions;

        public MeanOverPositions(int spatialRank) : base(nameof(GlobalAveragePool))
        {
            _dimensions = Enumerable.Range(2, spatialRank).Select(d => (long)d).ToArray();
        }

        public override Tensor forward(Tensor input) => input.mean(_dimensions);
    }
}
