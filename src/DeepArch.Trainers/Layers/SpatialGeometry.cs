namespace DeepArch.Trainers.Layers;

/// <summary>
/// The arithmetic the convolution and pooling layers share: per-sample shapes [channels, ..spatial]
/// (one spatial dimension for the 1-D layers, two for the 2-D ones), window sizes, and the errors a
/// window that does not fit raises, worded the same way for every layer.
/// </summary>
internal static class SpatialGeometry
{
    private static readonly string[] DimensionNames2d = ["height", "width"];

    /// <summary>The name of spatial dimension <paramref name="index"/>: "length" in 1-D, "height"/"width" in 2-D.</summary>
    public static string DimensionName(int spatialRank, int index) => spatialRank == 1 ? "length" : DimensionNames2d[index];

    /// <summary>The shape a layer with <paramref name="spatialRank"/> spatial dimensions takes, e.g. <c>[channels, height, width]</c>.</summary>
    public static string ExpectedShape(int spatialRank) => spatialRank == 1 ? "[channels, length]" : "[channels, height, width]";

    /// <summary>Throws unless <paramref name="inputShape"/> is [channels, ..spatial] with <paramref name="spatialRank"/> spatial dimensions.</summary>
    public static void RequireRank(string layer, IReadOnlyList<int> inputShape, int spatialRank)
    {
        if (inputShape.Count != spatialRank + 1)
        {
            throw new ArgumentException(
                $"{layer} expects a per-sample input shaped {ExpectedShape(spatialRank)}, got {Shapes.Format(inputShape)}. " +
                "A flat feature vector gets its shape from a Reshape layer placed before it.",
                nameof(inputShape));
        }
    }

    /// <summary>The span of a dilated kernel: <c>dilation * (kernel - 1) + 1</c>.</summary>
    public static int Span(int kernelSize, int dilation) => dilation * (kernelSize - 1) + 1;

    /// <summary>
    /// The output size of a sliding window over <paramref name="input"/> values padded with
    /// <paramref name="padBegin"/> and <paramref name="padEnd"/>: <c>floor((padded - span) / stride) + 1</c>
    /// (PyTorch's and ONNX's formula without ceil mode). Throws when the window is larger than the padded input.
    /// </summary>
    public static int OutputSize(string layer, int spatialRank, int index, int input, int kernelSize, int stride, int padBegin, int padEnd, int dilation = 1)
    {
        int padded = input + padBegin + padEnd;
        int span = Span(kernelSize, dilation);
        if (span > padded)
        {
            string kernel = dilation == 1 ? $"kernelSize {kernelSize}" : $"kernelSize {kernelSize} with dilation {dilation} (span {span})";
            throw new ArgumentException(
                $"{layer}: {kernel} is larger than the padded input {DimensionName(spatialRank, index)} {padded} " +
                $"(input {input} + padding {padBegin} + {padEnd}). Use a smaller kernel, more padding, or fewer pooling layers before this one.");
        }
        return (padded - span) / stride + 1;
    }

    /// <summary>
    /// The explicit (begin, end) padding that reproduces PyTorch's <c>padding='same'</c> (stride 1): a total
    /// of <c>dilation * (kernel - 1)</c>, half of it (rounded down) at the beginning and the rest at the end,
    /// so that an even kernel puts its extra row or column at the bottom and right. ONNX's
    /// <c>auto_pad=SAME_UPPER</c> is meant to do the same, but runtimes have disagreed on it, so DeepArch
    /// always writes explicit <c>pads</c>.
    /// </summary>
    public static (int Begin, int End) SamePadding(int kernelSize, int dilation)
    {
        int total = dilation * (kernelSize - 1);
        return (total / 2, total - total / 2);
    }

    /// <summary>The (begin, end) padding of <paramref name="padding"/> for a kernel of <paramref name="kernelSize"/>.</summary>
    public static (int Begin, int End) Resolve(ConvPadding padding, int kernelSize, int dilation)
        => padding.IsSame ? SamePadding(kernelSize, dilation) : (padding.Size, padding.Size);

    /// <summary>A convolution's description, e.g. <c>Conv2d(16, 3x3, same)</c> or <c>Conv1d(8, 5, stride 2, padding 1)</c>.</summary>
    public static string DescribeConvolution(string kind, int spatialRank, int filters, int kernelSize, int stride, ConvPadding padding,
        int dilation, bool useBias, int outputPadding = 0)
    {
        var parts = new List<string> { filters.ToString(System.Globalization.CultureInfo.InvariantCulture), Window(spatialRank, kernelSize) };
        if (stride != 1)
        {
            parts.Add($"stride {stride}");
        }
        if (padding.IsSame)
        {
            parts.Add("same");
        }
        else if (padding.Size != 0)
        {
            parts.Add($"padding {padding.Size}");
        }
        if (outputPadding != 0)
        {
            parts.Add($"output padding {outputPadding}");
        }
        if (dilation != 1)
        {
            parts.Add($"dilation {dilation}");
        }
        if (!useBias)
        {
            parts.Add("no bias");
        }
        return $"{kind}({string.Join(", ", parts)})";
    }

    /// <summary>A window size as text: <c>3</c> in 1-D, <c>3x3</c> in 2-D.</summary>
    public static string Window(int spatialRank, int size) => spatialRank == 1 ? $"{size}" : $"{size}x{size}";

    /// <summary>Checks a pooling window's configuration as PyTorch does; returns the stride (0 means the kernel size).</summary>
    public static int CheckPooling(string layer, int kernelSize, int stride, int padding)
    {
        RequireAtLeast(kernelSize, 1, nameof(kernelSize), layer);
        RequireAtLeast(stride, 0, nameof(stride), layer);
        RequireAtLeast(padding, 0, nameof(padding), layer);
        if (padding > kernelSize / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding,
                $"{layer} padding must be at most half the kernel size ({kernelSize / 2} for kernelSize {kernelSize}); got {padding}.");
        }
        return stride == 0 ? kernelSize : stride;
    }

    /// <summary>The output shape [channels, ..spatial] of a pooling window over <paramref name="inputShape"/>.</summary>
    public static int[] PoolingOutputShape(string layer, IReadOnlyList<int> inputShape, int spatialRank, int kernelSize, int stride, int padding)
    {
        RequireRank(layer, inputShape, spatialRank);
        var shape = new int[spatialRank + 1];
        shape[0] = inputShape[0];
        for (int i = 0; i < spatialRank; i++)
        {
            shape[i + 1] = OutputSize(layer, spatialRank, i, inputShape[i + 1], kernelSize, stride, padding, padding);
        }
        return shape;
    }

    /// <summary>A pooling layer's description, e.g. <c>MaxPool2d(2)</c> or <c>AvgPool1d(3, stride 1, padding 1)</c>.</summary>
    public static string DescribePooling(string kind, int kernelSize, int stride, int padding, string? extra = null)
    {
        var parts = new List<string> { kernelSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (stride != kernelSize)
        {
            parts.Add($"stride {stride}");
        }
        if (padding != 0)
        {
            parts.Add($"padding {padding}");
        }
        if (extra is not null)
        {
            parts.Add(extra);
        }
        return $"{kind}({string.Join(", ", parts)})";
    }

    /// <summary>Emits ONNX <c>MaxPool</c> or <c>AveragePool</c> (opset 17, no ceil mode, explicit pads).</summary>
    public static string EmitPooling(Onnx.OnnxGraphBuilder graph, string input, string opType, int spatialRank, int kernelSize, int stride, int padding,
        params (string Name, object Value)[] extra)
        => graph.AddNode(opType, [input],
        [
            ("kernel_shape", PerDimension(spatialRank, kernelSize)),
            ("pads", OnnxPads(spatialRank, padding, padding)),
            ("strides", PerDimension(spatialRank, stride)),
            .. extra,
        ]);

    /// <summary>ONNX's <c>pads</c> attribute: all the begin pads, then all the end pads.</summary>
    public static long[] OnnxPads(int spatialRank, int begin, int end)
        => [.. Enumerable.Repeat((long)begin, spatialRank), .. Enumerable.Repeat((long)end, spatialRank)];

    /// <summary><paramref name="value"/> repeated for each spatial dimension, as an ONNX ints attribute.</summary>
    public static long[] PerDimension(int spatialRank, int value) => Enumerable.Repeat((long)value, spatialRank).ToArray();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="value"/> is at least <paramref name="minimum"/>.</summary>
    public static void RequireAtLeast(int value, int minimum, string parameter, string layer)
    {
        if (value < minimum)
        {
            throw new ArgumentOutOfRangeException(parameter, value, $"{layer} {parameter} must be at least {minimum}; got {value}.");
        }
    }
}
