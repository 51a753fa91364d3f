using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepArch.Trainers;

/// <summary>
/// Whether libtorch's oneDNN kernels compute what ATen's own compute on this CPU, for the layers where they were seen not to.
/// On an AMD EPYC with AVX-512 VP2INTERSECT and BF16 (2026-12-05) oneDNN's LSTM gave outputs up to 0.3 away from ATen's and ONNX
/// Runtime's, and its dilated transposed convolution up to 1.1 away (and NaN in training), where the 2-core machines of the days
/// before agreed to 1e-6: a wrong result, not rounding. So, once per process, a small LSTM (forward and backward) and a dilated
/// transposed convolution run on both backends from the same values; oneDNN stays on only where they agree.
/// </summary>
internal static class OneDnnCheck
{
    /// <summary>What agreeing means: rounding in float32 is about 1e-6 here; the disagreements seen were 0.08 and more.</summary>
    private const double Tolerance = 1e-4;

    /// <summary>Null when both backends agree; otherwise what disagreed and by how much. Leaves oneDNN on and the global random state as they were.</summary>
    /// <param name="setOneDnn">Turns libtorch's oneDNN backend on or off.</param>
    public static string? Disagreement(Action<bool> setOneDnn)
    {
        var randomState = get_rng_state();
        try
        {
            using var scope = NewDisposeScope();
            using var lstm = nn.LSTM(3, 4, batchFirst: true, bidirectional: true);
            using var transposed = nn.ConvTranspose2d(2, 2, kernel_size: 3, dilation: 2, bias: false);
            var parameters = lstm.parameters().Concat(transposed.parameters()).ToList();
            void SetParameters(double shift)
            {
                using (no_grad())
                {
                    for (int i = 0; i < parameters.Count; i++)
                    {
                        parameters[i].copy_(Values(parameters[i].shape, 0.3 + 0.1 * i + shift));
                    }
                }
            }
            var sequence = Values([4, 5, 3], 0.7) * 2;
            var image = Values([64, 2, 7, 6], 0.9);
            // Both of oneDNN's LSTM paths, inference (no gradient, as a network predicts) and training (forward and backward), each
            // after the weights changed in place as an optimizer step changes them (a kernel may keep a reordered copy of them).
            (Tensor Lstm, Tensor Gradient, Tensor Transposed) Run(bool oneDnn)
            {
                setOneDnn(oneDnn);
                SetParameters(0);
                using (no_grad())
                {
                    _ = lstm.forward(sequence);
                    _ = transposed.forward(image);
                }
                SetParameters(0.05);
                var input = sequence.clone().requires_grad_(true);
                var trained = lstm.forward(input).Item1;
                trained.sum().backward();
                var picture = image.clone().requires_grad_(true);
                var drawn = transposed.forward(picture);
                drawn.pow(2).sum().backward();
                using (no_grad())
                {
                    return (cat([lstm.forward(sequence).Item1, trained.detach()]), cat([input.grad!.flatten(), picture.grad!.flatten()]),
                        drawn.detach());
                }
            }
            var aten = Run(oneDnn: false);
            var oneDnn = Run(oneDnn: true);
            double lstmError = Error(aten.Lstm, oneDnn.Lstm), gradientError = Error(aten.Gradient, oneDnn.Gradient), transposedError = Error(aten.Transposed, oneDnn.Transposed);
            if (lstmError <= Tolerance && gradientError <= Tolerance && transposedError <= Tolerance)
            {
                return null;
            }
            static string G(double value) => value.ToString("G3", CultureInfo.InvariantCulture);
            return $"libtorch's oneDNN kernels disagree with ATen's on this CPU (largest differences: LSTM output {G(lstmError)}, the input gradients " +
                $"{G(gradientError)}, a dilated transposed convolution {G(transposedError)}; agreeing is at most {G(Tolerance)}), so DeepArch trains on ATen's " +
                "kernels here (slower for convolutions and LSTMs; DEEPARCH_ONEDNN=1 in the process environment keeps oneDNN on regardless).";
        }
        finally
        {
            setOneDnn(true);
            set_rng_state(randomState);
        }
    }

    /// <summary>Fixed values in [-1, 1] of <paramref name="shape"/>, different for each <paramref name="frequency"/>.</summary>
    private static Tensor Values(long[] shape, double frequency)
        => sin(arange(shape.Aggregate(1L, (a, d) => a * d), ScalarType.Float32) * frequency).reshape(shape);

    private static double Error(Tensor expected, Tensor actual)
    {
        double error = (expected - actual).abs().max().item<float>();
        return double.IsNaN(error) ? double.PositiveInfinity : error;
    }
}
