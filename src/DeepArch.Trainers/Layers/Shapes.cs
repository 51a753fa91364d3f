namespace DeepArch.Trainers.Layers;

/// <summary>Helpers for per-sample shapes (the batch dimension is never part of them).</summary>
internal static class Shapes
{
    /// <summary>Formats a shape as <c>[a, b]</c>.</summary>
    public static string Format(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>The number of values in one sample of <paramref name="shape"/>.</summary>
    public static int Size(IReadOnlyList<int> shape) => shape.Aggregate(1, (a, d) => checked(a * d));

    /// <summary>The number of values in one sample of <paramref name="shape"/>, as a long (for memory estimates of shapes too large for an int).</summary>
    public static long LongSize(IReadOnlyList<int> shape) => shape.Aggregate(1L, (a, d) => checked(a * d));
}
