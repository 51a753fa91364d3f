using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Training;

/// <summary>
/// Adam's update of a float parameter in the CPU's memory in two passes over it, with libtorch's square root between them, where
/// libtorch's own operations take eight (nine with weight decay; <see cref="ScalarSafeAdam"/>): each of those is a dispatch and a
/// pass over the parameter, and the step of a multilayer perceptron 784-256-128-10 took 350 to 450 µs of a 2,200 µs batch that
/// way, against about 230 µs this way. Each element gets the same float operations, in the same order and with the same fused
/// multiply-adds, as the AVX2 kernels of libtorch 2.10 (libtorch-cpu-linux-x64, the package DeepArch ships) give it, so the same
/// bits (<c>ScalarSafeOptimizerTests</c> compares them with TorchSharp's Adam):
/// <list type="bullet">
/// <item><c>exp_avg.mul_(b1).add_(g, alpha: 1 - b1)</c>: <c>fma(g, 1 - b1, m * b1)</c> (ATen's vectorized add with an alpha is a fused multiply-add);</item>
/// <item><c>exp_avg_sq.mul_(b2).addcmul_(g, g, value: 1 - b2)</c>: <c>fma((1 - b2) * g, g, v * b2)</c>;</item>
/// <item><c>sqrt</c>: libtorch's own operation, whose results on x86-64 (MKL's) differ from a correctly rounded square root in
/// about one element in five, so it is not recomputed here;</item>
/// <item><c>p.addcdiv_(m, sqrt(v) / sqrt(c2) + eps, value: -step)</c>: <c>p + (-step * m) / (sqrt(v) / sqrt(c2) + eps)</c>;</item>
/// <item>L2 weight decay, <c>g.add(p, alpha: decay)</c>: <c>fma(p, decay, g)</c>.</item>
/// </list>
/// Every coefficient is a double rounded once to float, as libtorch rounds a Scalar for a float tensor. Another libtorch (one
/// bound with <c>DeepArchSystemLibTorch</c>) may round some of its operations differently: the kernel's update is then Adam's
/// all the same, in bits that can differ in the last place from what that libtorch's operations would give.
/// </summary>
internal static class AdamKernel
{
    /// <summary>
    /// Whether the kernel can run this step on the calling thread: an x86-64 CPU with AVX2 and fused multiply-add, where libtorch
    /// runs the AVX2 kernels the kernel reproduces (<c>ATEN_CPU_CAPABILITY</c> unset, or avx2 or avx512), and one libtorch thread
    /// on the calling thread (a training's default, and each half of a batch split on two threads). With more, libtorch spreads
    /// an update over its threads, which the kernel does not.
    /// </summary>
    public static bool Usable()
        => Fma.IsSupported && Avx2.IsSupported && s_capabilityMatches && get_num_threads() == 1;

    private static readonly bool s_capabilityMatches =
        Environment.GetEnvironmentVariable("ATEN_CPU_CAPABILITY") is null or "" or "avx2" or "avx512";

    /// <summary>Whether the kernel updates this parameter: float tensors in the CPU's memory, each contiguous and within a span's reach.</summary>
    public static bool Applies(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq)
        => param.numel() <= int.MaxValue / sizeof(float)
           && IsPlainCpuFloat(param) && IsPlainCpuFloat(grad) && IsPlainCpuFloat(expAvg) && IsPlainCpuFloat(expAvgSq);

    private static bool IsPlainCpuFloat(Tensor tensor)
        => tensor.device_type == TorchSharp.DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous();

    /// <summary>Updates elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) of the flattened parameter and its moments.</summary>
    public static void Step(in Coefficients c, Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long start, long length)
    {
        Span<float> Part(Tensor tensor) => Floats(tensor).Slice((int)start, (int)length);
        Span<float> p = Part(param), m = Part(expAvg);
        Moments(c, Part(grad), p, m, Part(expAvgSq));
        using var root = expAvgSq.view(-1).narrow(0, start, length).sqrt();
        Update(c, p, m, Floats(root));
    }

    private static Span<float> Floats(Tensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.bytes);

    /// <summary>The first pass: the moments from the gradient (with weight decay, from the gradient plus decay times the parameter).</summary>
    private static void Moments(in Coefficients c, ReadOnlySpan<float> grad, ReadOnlySpan<float> param, Span<float> expAvg, Span<float> expAvgSq)
    {
        ref float g = ref MemoryMarshal.GetReference(grad);
        ref float p = ref MemoryMarshal.GetReference(param);
        ref float m = ref MemoryMarshal.GetReference(expAvg);
        ref float v = ref MemoryMarshal.GetReference(expAvgSq);
        var beta1 = Vector256.Create(c.Beta1);
        var oneMinusBeta1 = Vector256.Create(c.OneMinusBeta1);
        var beta2 = Vector256.Create(c.Beta2);
        var oneMinusBeta2 = Vector256.Create(c.OneMinusBeta2);
        var decay = Vector256.Create(c.Decay);
        int n = grad.Length, i = 0;
        for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var gradient = Vector256.LoadUnsafe(ref g, (nuint)i);
            if (c.HasDecay)
            {
                gradient = Fma.MultiplyAdd(Vector256.LoadUnsafe(ref p, (nuint)i), decay, gradient);
            }
            Fma.MultiplyAdd(gradient, oneMinusBeta1, Vector256.LoadUnsafe(ref m, (nuint)i) * beta1).StoreUnsafe(ref m, (nuint)i);
            Fma.MultiplyAdd(oneMinusBeta2 * gradient, gradient, Vector256.LoadUnsafe(ref v, (nuint)i) * beta2).StoreUnsafe(ref v, (nuint)i);
        }
        for (; i < n; i++)
        {
            float gradient = c.HasDecay ? MathF.FusedMultiplyAdd(param[i], c.Decay, grad[i]) : grad[i];
            expAvg[i] = MathF.FusedMultiplyAdd(gradient, c.OneMinusBeta1, expAvg[i] * c.Beta1);
            expAvgSq[i] = MathF.FusedMultiplyAdd(c.OneMinusBeta2 * gradient, gradient, expAvgSq[i] * c.Beta2);
        }
    }

    /// <summary>The second pass: the parameter, from the first moment and the second's square root.</summary>
    private static void Update(in Coefficients c, Span<float> param, ReadOnlySpan<float> expAvg, ReadOnlySpan<float> root)
    {
        ref float p = ref MemoryMarshal.GetReference(param);
        ref float m = ref MemoryMarshal.GetReference(expAvg);
        ref float r = ref MemoryMarshal.GetReference(root);
        var negativeStep = Vector256.Create(c.NegativeStep);
        var sqrtCorrection2 = Vector256.Create(c.SqrtCorrection2);
        var epsilon = Vector256.Create(c.Epsilon);
        int n = param.Length, i = 0;
        for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var denominator = Vector256.LoadUnsafe(ref r, (nuint)i) / sqrtCorrection2 + epsilon;
            (Vector256.LoadUnsafe(ref p, (nuint)i) + negativeStep * Vector256.LoadUnsafe(ref m, (nuint)i) / denominator).StoreUnsafe(ref p, (nuint)i);
        }
        for (; i < n; i++)
        {
            param[i] += c.NegativeStep * expAvg[i] / (root[i] / c.SqrtCorrection2 + c.Epsilon);
        }
    }

    /// <summary>One step's coefficients, each rounded to float as libtorch rounds a Scalar for a float tensor.</summary>
    public readonly struct Coefficients(double beta1, double beta2, double weightDecay, double sqrtCorrection2, double negativeStep, double epsilon)
    {
        public float Beta1 { get; } = (float)beta1;
        public float OneMinusBeta1 { get; } = (float)(1 - beta1);
        public float Beta2 { get; } = (float)beta2;
        public float OneMinusBeta2 { get; } = (float)(1 - beta2);
        public bool HasDecay { get; } = weightDecay != 0;
        public float Decay { get; } = (float)weightDecay;
        public float SqrtCorrection2 { get; } = (float)sqrtCorrection2;
        public float NegativeStep { get; } = (float)negativeStep;
        public float Epsilon { get; } = (float)epsilon;
    }
}
