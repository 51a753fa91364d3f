
namespace DeepArch.MLNet;

/// <summary>The network outputs of one batch: per ONNX output, <c>Rows x width</c> floats, row-major.</summary>
internal sealed class ScoredBatch
{
    public ScoredBatch(int capacity, IReadOnlyList<int> widths)
    {
        Widths = widths.ToArray();
        Outputs = Widths.Select(w => new float[capacity * w]).ToArray();
    }

    /// <summary>The values of each output.</summary>
    public float[][] Outputs { get; }

    /// <summary>The width (values per row) of each output.</summary>
    public int[] Widths { get; }

    /// <summary>The rows of <paramref name="output"/> for <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Row(int output, int row) => Outputs[output].AsSpan(row * Widths[output], Widths[output]);
}
