using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Training;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Layers;

/// <summary>
/// Per-value standardization with fixed statistics, <c>(x - Mean) / Scale</c>, as the first layer of a network: the network then
/// reads data in its own units, and the exported graph standardizes it the same way (Keras' <c>Normalization</c> layer after
/// <c>adapt</c>). <c>Adapt</c> takes the statistics from training rows. It has no trainable parameters.
/// </summary>
public sealed record Normalization : LayerSpec
{
    /// <summary>Creates the layer from one mean and one positive scale per value of a sample (in row-major order for a shaped input).</summary>
    /// <param name="mean">What is subtracted from each value.</param>
    /// <param name="scale">What each value is then divided by; positive.</param>
    public Normalization(IReadOnlyList<float> mean, IReadOnlyList<float> scale)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(scale);
        if (mean.Count == 0 || mean.Count != scale.Count)
        {
            throw new ArgumentException($"A normalization needs one mean and one scale per value; got {mean.Count} means and {scale.Count} scales.", nameof(scale));
        }
        int bad = Enumerable.Range(0, mean.Count).FirstOrDefault(i => !float.IsFinite(mean[i]) || !(scale[i] > 0) || !float.IsFinite(1 / scale[i]), -1);
        if (bad >= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(scale), $"Value {bad}: the mean must be finite and the scale positive with a finite inverse; got mean {mean[bad]}, scale {scale[bad]}.");
        }
        Mean = mean.ToArray();
        Scale = scale.ToArray();
    }

    /// <summary>What is subtracted from each value.</summary>
    public IReadOnlyList<float> Mean { get; }

    /// <summary>What each value is divided by after the mean is subtracted.</summary>
    public IReadOnlyList<float> Scale { get; }

    /// <summary>
    /// The layer that standardizes <paramref name="rows"/> (row-major, <paramref name="width"/> values per row) to mean 0 and
    /// standard deviation 1 per value, with the statistics of the rows at <paramref name="use"/> (all when null); a value that is
    /// constant over those rows gets a scale of 1 (it is only shifted).
    /// </summary>
    public static Normalization Adapt(ReadOnlySpan<float> rows, int width, IReadOnlyList<int>? use = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (rows.Length % width != 0 || (use?.Count ?? rows.Length / width) == 0)
        {
            throw new ArgumentException($"Adapt needs whole rows of {width} values, at least one; got {rows.Length} values and {use?.Count ?? rows.Length / width} rows to use.", nameof(rows));
        }
        return FromMoments(Moments(rows, width, use));
    }

    /// <summary>
    /// <see cref="Adapt(ReadOnlySpan{float}, int, IReadOnlyList{int}?)"/> for the features of <paramref name="set"/>, in memory or streamed
    /// (<see cref="TrainingSet.Streamed"/>: one pass over its source, taking the rows at <paramref name="use"/> in the source's order,
    /// which is <paramref name="use"/>'s order when it is ascending, as a held-out split leaves it).
    /// </summary>
    public static Normalization Adapt(TrainingSet set, IReadOnlyList<int>? use = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        var moments = new Welford(Shapes.Size(set.SampleShape));
        ForEachRow(set, use, moments.Add);
        return FromMoments(moments.Result());
    }

    /// <summary>
    /// The layer that standardizes each channel of an image or signal (a sample of <paramref name="channels"/> planes, channel-major, as
    /// a convolutional network reads it) with that channel's mean and standard deviation over every position of the rows at
    /// <paramref name="use"/> (all when null): one shift and one scale per channel, as torchvision's <c>Normalize</c> applies, so
    /// that neighbouring positions keep their differences. A channel constant over those rows gets a scale of 1.
    /// </summary>
    /// <param name="set">The training rows, in memory or streamed.</param>
    /// <param name="channels">The number of channels; at least 1, and a divisor of the sample's size.</param>
    /// <param name="use">The rows to take the statistics from; all when null.</param>
    public static Normalization AdaptPerChannel(TrainingSet set, int channels, IReadOnlyList<int>? use = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        int width = Shapes.Size(set.SampleShape);
        if (channels < 1 || width % channels != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Samples of {width} values do not split into {channels} channels.");
        }
        int plane = width / channels;
        var moments = new Welford(channels);
        ForEachRow(set, use, row =>
        {
            for (int c = 0; c < channels; c++)
            {
                moments.Add(c, row.Slice(c * plane, plane));
            }
        });
        return FromPooled(moments.Result(), width, j => j / plane);
    }

    /// <summary>
    /// The layer that standardizes each feature of a sequence (samples of steps of <paramref name="featuresPerStep"/> values, step-major, as
    /// <see cref="Recurrent"/> reads them) with that feature's mean and standard deviation over every real step of the rows at
    /// <paramref name="use"/> (all when null). With <paramref name="variableLength"/> a sample starts with its step count, which is
    /// left as it is, and only the steps it counts are read (the padding after them is not). A feature constant over those steps gets
    /// a scale of 1.
    /// </summary>
    /// <param name="set">The training rows, in memory or streamed.</param>
    /// <param name="featuresPerStep">Values per step; at least 1.</param>
    /// <param name="variableLength">Whether a sample is <c>[steps, x_1 .. x_steps, padding]</c> (<see cref="Recurrent.VariableLength"/>).</param>
    /// <param name="use">The rows to take the statistics from; all when null.</param>
    public static Normalization AdaptPerFeature(TrainingSet set, int featuresPerStep, bool variableLength, IReadOnlyList<int>? use = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        int width = Shapes.Size(set.SampleShape), lead = variableLength ? 1 : 0;
        if (featuresPerStep < 1 || (width - lead) % featuresPerStep != 0 || width - lead < featuresPerStep)
        {
            throw new ArgumentOutOfRangeException(nameof(featuresPerStep), featuresPerStep, $"Samples of {width} values do not split into steps of {featuresPerStep}.");
        }
        int maxSteps = (width - lead) / featuresPerStep;
        var moments = new Welford(featuresPerStep);
        ForEachRow(set, use, row =>
        {
            // A variable-length row's count was checked when it was read; clamp all the same, so that no count reads past the row.
            int steps = variableLength ? (int)Math.Clamp(row[0], 0, maxSteps) : maxSteps;
            for (int t = 0; t < steps; t++)
            {
                moments.Add(row.Slice(lead + t * featuresPerStep, featuresPerStep));
            }
        });
        return FromPooled(moments.Result(), width, j => j < lead ? -1 : (j - lead) % featuresPerStep);
    }

    /// <summary>Calls <paramref name="add"/> with each row of <paramref name="set"/> at <paramref name="use"/> (all when null), in the set's order.</summary>
    private static void ForEachRow(TrainingSet set, IReadOnlyList<int>? use, Action<ReadOnlySpan<float>> add)
    {
        int width = Shapes.Size(set.SampleShape), count = use?.Count ?? set.Count;
        if (count == 0)
        {
            throw new ArgumentException("Adapt needs at least one row to use; got none.", nameof(use));
        }
        if (set.Rows is not { } source)
        {
            float[] features = set.Features;
            for (int r = 0; r < count; r++)
            {
                add(features.AsSpan((use?[r] ?? r) * width, width));
            }
            return;
        }
        var row = new float[width];
        using var pass = new StreamedRows.CheckedPass(source, StreamedRows.IndexOf(set, use), count);
        while (pass.MoveNext(out _))
        {
            pass.Read(row);
            add(row);
        }
    }

    private static Normalization FromMoments((double[] Mean, double[] Deviation) moments)
    {
        var (mean, deviations) = moments;
        int width = mean.Length;
        var scale = new float[width];
        for (int j = 0; j < width; j++)
        {
            scale[j] = ScaleOf(mean[j], deviations[j]);
        }
        return new Normalization(mean.Select(m => (float)m).ToArray(), scale);
    }

    /// <summary>One mean and scale per value from the statistics of its group (<paramref name="groupOf"/>; -1 leaves the value as it is).</summary>
    private static Normalization FromPooled((double[] Mean, double[] Deviation) moments, int width, Func<int, int> groupOf)
    {
        var mean = new float[width];
        var scale = new float[width];
        for (int j = 0; j < width; j++)
        {
            int g = groupOf(j);
            (mean[j], scale[j]) = g < 0 ? (0f, 1f) : ((float)moments.Mean[g], ScaleOf(moments.Mean[g], moments.Deviation[g]));
        }
        return new Normalization(mean, scale);
    }

    // Constant: no deviation, or one below a millionth of the mean (rounding). Relative only: features measured in small units (1e-7
    // and less, as SI quantities come) are standardized like any other, where an absolute floor left them as they were, too small for
    // the network to learn from.
    private static float ScaleOf(double mean, double deviation)
        => deviation > 1e-6 * Math.Abs(mean) && (float)deviation > 0 && float.IsFinite(1 / (float)deviation) ? (float)deviation : 1f;

    /// <summary>
    /// The mean and population standard deviation of each of the <paramref name="width"/> values of the rows at
    /// <paramref name="use"/> (all when null), in double precision by Welford's update (no cancellation for values far from
    /// 0, such as years or prices); a deviation of 0 when there are no rows. Also a regression label's standardization.
    /// </summary>
    internal static (double[] Mean, double[] Deviation) Moments(ReadOnlySpan<float> rows, int width, IReadOnlyList<int>? use)
    {
        int count = use?.Count ?? rows.Length / width;
        var moments = new Welford(width);
        for (int r = 0; r < count; r++)
        {
            moments.Add(rows.Slice((use?[r] ?? r) * width, width));
        }
        return moments.Result();
    }

    /// <summary>
    /// Welford's running mean and sum of squared deviations per group of values: a value of a row (<see cref="Add(ReadOnlySpan{float})"/>),
    /// or a channel's positions or a feature's steps pooled (<see cref="Add(int, ReadOnlySpan{float})"/>, merged by Chan's rule, so that
    /// a call's values are summed once).
    /// </summary>
    private sealed class Welford(int groups)
    {
        private readonly double[] _mean = new double[groups];
        private readonly double[] _squares = new double[groups];
        private readonly long[] _count = new long[groups];

        // Whether every group has counted the same values, _rows of them (only Add(ReadOnlySpan<float>) of all groups was called);
        // _count holds the counts once they differ.
        private bool _sameCounts = true;
        private long _rows;

        /// <summary>Adds the values of one group.</summary>
        public void Add(int group, ReadOnlySpan<float> values)
        {
            if (values.IsEmpty)
            {
                return;
            }
            double sum = 0;
            foreach (float v in values)
            {
                sum += v;
            }
            double mean = sum / values.Length, squares = 0;
            foreach (float v in values)
            {
                squares += (v - mean) * (v - mean);
            }
            CountEachGroup();
            Merge(group, values.Length, mean, squares);
        }

        /// <summary>
        /// Adds one value to each group: value g to group g (Welford's update). While every group has the same count (only this
        /// overload was called, with all groups), eight values at a time in SIMD lanes: the same IEEE operations on each value as
        /// one at a time, so the same bits, several times as fast (a 20,000 x 784 set's statistics took 100 ms or more of a
        /// multilayer perceptron's <c>Fit</c>).
        /// </summary>
        public void Add(ReadOnlySpan<float> values)
        {
            if (!_sameCounts || values.Length != groups)
            {
                CountEachGroup();
                for (int g = 0; g < values.Length; g++)
                {
                    Update(values[g], g, ++_count[g]);
                }
                return;
            }
            long count = ++_rows;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var counts = Vector256.Create((double)count);
                ref double mean = ref MemoryMarshal.GetArrayDataReference(_mean);
                ref double squares = ref MemoryMarshal.GetArrayDataReference(_squares);
                for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var (low, high) = Vector256.Widen(Vector256.Create(values.Slice(i, Vector256<float>.Count)));
                    Update(low, ref Unsafe.Add(ref mean, i), ref Unsafe.Add(ref squares, i), counts);
                    Update(high, ref Unsafe.Add(ref mean, i + Vector256<double>.Count), ref Unsafe.Add(ref squares, i + Vector256<double>.Count), counts);
                }
            }
            for (; i < values.Length; i++)
            {
                Update(values[i], i, count);
            }
        }

        private void Update(double value, int g, long count)
        {
            double delta = value - _mean[g];
            _mean[g] += delta / count;
            _squares[g] += delta * (value - _mean[g]);
        }

        /// <summary>Ends the shared count: from here on each group keeps its own.</summary>
        private void CountEachGroup()
        {
            if (_sameCounts)
            {
                Array.Fill(_count, _rows);
                _sameCounts = false;
            }
        }

        private static void Update(Vector256<double> value, ref double mean, ref double squares, Vector256<double> count)
        {
            var delta = value - Vector256.LoadUnsafe(ref mean);
            var updated = Vector256.LoadUnsafe(ref mean) + delta / count;
            updated.StoreUnsafe(ref mean);
            (Vector256.LoadUnsafe(ref squares) + delta * (value - updated)).StoreUnsafe(ref squares);
        }

        private void Merge(int g, long count, double mean, double squares)
        {
            long total = _count[g] + count;
            double delta = mean - _mean[g];
            _mean[g] += delta * count / total;
            _squares[g] += squares + delta * delta * _count[g] * count / total;
            _count[g] = total;
        }

        public (double[] Mean, double[] Deviation) Result()
        {
            CountEachGroup();
            return (_mean, Enumerable.Range(0, _mean.Length).Select(g => _count[g] > 0 ? Math.Sqrt(_squares[g] / _count[g]) : 0).ToArray());
        }
    }

    /// <inheritdoc/>
    public override string Describe() => $"Normalization({Mean.Count})";

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> inputShape)
    {
        if (Shapes.LongSize(inputShape) != Mean.Count)
        {
            throw new ArgumentException($"Normalization of {Mean.Count} values cannot take samples of {Shapes.Format(inputShape)}.", nameof(inputShape));
        }
        return inputShape.ToArray();
    }

    /// <inheritdoc/>
    internal override bool RowsIndependentInTraining => true;

    internal override nn.Module<Tensor, Tensor> CreateModule(IReadOnlyList<int> inputShape)
    {
        OutputShape(inputShape);
        long[] shape = inputShape.Select(d => (long)d).ToArray();
        return new NormalizationModule(tensor(Mean.ToArray(), shape), tensor(Scale.Select(s => 1 / s).ToArray(), shape));
    }

    internal override string EmitOnnx(OnnxGraphBuilder graph, string input, nn.Module<Tensor, Tensor> module, IReadOnlyList<int> inputShape)
    {
        long[] shape = inputShape.Select(d => (long)d).ToArray();
        return graph.AddNode("Mul", [
            graph.AddNode("Sub", [input, graph.AddInitializer("normalization_mean", Mean.ToArray(), shape)]),
            graph.AddInitializer("normalization_inverse_scale", Scale.Select(s => 1 / s).ToArray(), shape)]);
    }

    /// <summary>Equal when the statistics are equal value for value.</summary>
    public bool Equals(Normalization? other) => other is not null && Mean.SequenceEqual(other.Mean) && Scale.SequenceEqual(other.Scale);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Mean.Count, Mean[0], Scale[0]);

    /// <summary>(x - mean) * (1 / scale), with both as buffers (they follow the module to a device and stay out of the optimizer).</summary>
    private sealed class NormalizationModule : nn.Module<Tensor, Tensor>
    {
        private readonly Tensor mean;
        private readonly Tensor inverse;

        public NormalizationModule(Tensor mean, Tensor inverse) : base(nameof(Normalization))
        {
            this.mean = mean;
            this.inverse = inverse;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => (input - mean) * inverse;
    }
}
