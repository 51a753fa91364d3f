using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// How a GAN's data is scaled for the tanh output of its generator: each feature's range in the training rows maps onto
/// [-1, 1], <c>unit = (x - Offset) / Scale</c>, and back, <c>x = unit * Scale + Offset</c>. A feature with one value in
/// every row has Scale 0: it maps to 0 and back to its value.
/// </summary>
/// <param name="Scale">Half of each feature's range.</param>
/// <param name="Offset">The middle of each feature's range.</param>
public sealed record GanDataScaling(float[] Scale, float[] Offset)
{
    /// <summary>The scaling of <paramref name="rows"/> (row-major, <paramref name="width"/> values each): each feature's minimum to -1, maximum to 1.</summary>
    public static GanDataScaling FromRows(ReadOnlySpan<float> rows, int width)
    {
        if (width < 1 || rows.Length == 0 || rows.Length % width != 0)
        {
            throw new ArgumentException($"Expected whole rows of {width} values, got {rows.Length} values.", nameof(rows));
        }
        var min = rows[..width].ToArray();
        var max = rows[..width].ToArray();
        for (int start = width; start < rows.Length; start += width)
        {
            for (int f = 0; f < width; f++)
            {
                min[f] = Math.Min(min[f], rows[start + f]);
                max[f] = Math.Max(max[f], rows[start + f]);
            }
        }
        return new(min.Zip(max, (lo, hi) => (hi - lo) / 2).ToArray(), min.Zip(max, (lo, hi) => lo + (hi - lo) / 2).ToArray());
    }

    /// <summary>Each feature's factor from the data's units to the unit range: 1 / Scale, or 0 for a constant feature.</summary>
    public float[] InverseScale => Scale.Select(s => s > 0 ? 1 / s : 0).ToArray();

    /// <summary>Returns <paramref name="rows"/> in the unit range.</summary>
    public float[] ToUnit(ReadOnlySpan<float> rows)
    {
        var inverse = InverseScale;
        var unit = new float[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            int f = i % Scale.Length;
            unit[i] = (rows[i] - Offset[f]) * inverse[f];
        }
        return unit;
    }
}

/// <summary>
/// The scoring graphs of a trained GAN for serving: the generator writing rows in the data's units, and the discriminator
/// reading them, from the same trained parameters as <see cref="Network.ExportOnnx(string, string, IReadOnlyDictionary{string, string})"/>.
/// A conditional network's label is a float input [batch, classes] holding a one-hot vector (the form ML.NET's
/// <c>MapKeyToVector</c> gives a key); a row whose label is not one-hot (a missing key gives zeros) gets NaN outputs.
/// </summary>
public static class GanScoringExport
{
    /// <summary>Writes the generator's scoring graph: noise [batch, noise] (and a one-hot label) to rows [batch, ..output shape] in the data's units.</summary>
    /// <param name="generator">The trained generator (tanh outputs).</param>
    /// <param name="noiseInput">The noise input's name.</param>
    /// <param name="labelInput">The one-hot label input's name, for a conditional generator; null otherwise.</param>
    /// <param name="scaling">The data's scaling, one entry per output value.</param>
    /// <param name="outputName">The output's name.</param>
    /// <param name="metadata">Extra string metadata stored in the model.</param>
    public static byte[] ExportGeneratorOnnx(this Network generator, string noiseInput, string? labelInput, GanDataScaling scaling, string outputName,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(scaling);
        CheckScaling(scaling, Layers.Shapes.Size(generator.OutputShape));
        var graph = new OnnxGraphBuilder();
        string noise = graph.AddInput(noiseInput, generator.InputShape);
        string? valid = BindLabel(graph, generator, labelInput);
        string unit = generator.Architecture.EmitOnnx(graph, noise, generator.Module, generator.InputShape);
        string rows = graph.AddNode("Add", [
            graph.AddNode("Mul", [unit, graph.AddInitializer("gan_scale", scaling.Scale, scaling.Scale.Length)]),
            graph.AddInitializer("gan_offset", scaling.Offset, scaling.Offset.Length)]);
        graph.AddOutput(NaNUnless(graph, valid, rows), outputName, generator.OutputShape);
        return graph.ToModelBytes(generator, metadata);
    }

    /// <summary>Writes the discriminator's scoring graph: rows [batch, ..input shape] in the data's units (and a one-hot label) to its logit, on which <paramref name="addOutputs"/> builds the outputs.</summary>
    /// <param name="discriminator">The trained discriminator.</param>
    /// <param name="input">The rows' input name.</param>
    /// <param name="labelInput">The one-hot label input's name, for a conditional discriminator; null otherwise.</param>
    /// <param name="scaling">The data's scaling, one entry per input value.</param>
    /// <param name="addOutputs">Adds the outputs on top of the logit value [batch, 1] (a sigmoid for a probability).</param>
    /// <param name="metadata">Extra string metadata stored in the model.</param>
    internal static byte[] ExportDiscriminatorOnnx(this Network discriminator, string input, string? labelInput, GanDataScaling scaling,
        Action<OnnxGraphBuilder, string, IReadOnlyList<int>> addOutputs, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(discriminator);
        ArgumentNullException.ThrowIfNull(scaling);
        ArgumentNullException.ThrowIfNull(addOutputs);
        CheckScaling(scaling, Layers.Shapes.Size(discriminator.InputShape));
        var graph = new OnnxGraphBuilder();
        string rows = graph.AddInput(input, discriminator.InputShape);
        string? valid = BindLabel(graph, discriminator, labelInput);
        string unit = graph.AddNode("Mul", [
            graph.AddNode("Sub", [rows, graph.AddInitializer("gan_offset", scaling.Offset, scaling.Offset.Length)]),
            graph.AddInitializer("gan_inverse_scale", scaling.InverseScale, scaling.Scale.Length)]);
        string logit = discriminator.Architecture.EmitOnnx(graph, unit, discriminator.Module, discriminator.InputShape);
        addOutputs(graph, NaNUnless(graph, valid, logit), discriminator.OutputShape);
        return graph.ToModelBytes(discriminator, metadata);
    }

    /// <summary>
    /// For a conditional network, declares the one-hot label input, binds its arg max as the network's label, and returns the
    /// value [batch, 1] that is true where the row's label is one-hot (its largest value above 0.5); null for a network without a label.
    /// </summary>
    private static string? BindLabel(OnnxGraphBuilder graph, Network network, string? labelInput)
    {
        var sides = network.SideInputs;
        if (sides.Count == 0 || labelInput is null)
        {
            return sides.Count == 0 && labelInput is null ? null
                : throw new ArgumentException(sides.Count == 0
                    ? $"The network reads no label, but a label input '{labelInput}' was given."
                    : $"The network reads the label '{sides[0].Name}': give its one-hot input's name.", nameof(labelInput));
        }
        string oneHot = graph.AddInput(labelInput, [sides[0].Count]);
        graph.BindSideInput(sides[0].Name, graph.AddNode("ArgMax", [oneHot], ("axis", 1L), ("keepdims", 0L)));
        string largest = graph.AddNode("ReduceMax", [oneHot], ("axes", new long[] { 1 }), ("keepdims", 1L));
        return graph.AddNode("Greater", [largest, graph.AddInitializer("gan_half", [0.5f])]);
    }

    private static string NaNUnless(OnnxGraphBuilder graph, string? valid, string value)
        => valid is null ? value : graph.AddNode("Where", [valid, value, graph.AddInitializer("gan_nan", [float.NaN])]);

    private static void CheckScaling(GanDataScaling scaling, int size)
    {
        if (scaling.Scale.Length != size || scaling.Offset.Length != size)
        {
            throw new ArgumentException($"The scaling has {scaling.Scale.Length} scales and {scaling.Offset.Length} offsets for rows of {size} values.", nameof(scaling));
        }
    }
}
