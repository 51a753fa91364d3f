using System.Diagnostics;
using DeepArch.Trainers.Networks;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.Trainers.Tests;

/// <summary>The two oracles every architecture answers to: ONNX Runtime parity and the official ONNX checker.</summary>
public static class OnnxAssert
{
    /// <summary>Debian's python3-onnx, installed by .ci/run; the pyenv python3 on PATH lacks it.</summary>
    private const string Python = "/usr/bin/python3";

    /// <summary>
    /// Asserts that ONNX Runtime, running the exported model, gives the TorchSharp eval-mode outputs on
    /// <paramref name="rows"/> fresh random inputs (and random indices for its <see cref="Network.SideInputs"/>), within <paramref name="tolerance"/> (max abs error).
    /// </summary>
    /// <returns>The maximum absolute difference seen.</returns>
    public static double Parity(Network network, int rows = 17, int seed = 1, double tolerance = 1e-5, float inputScale = 2f)
    {
        int inputSize = network.InputShape.Aggregate(1, (a, d) => a * d);
        var random = new Random(seed);
        var input = new float[rows * inputSize];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (float)(random.NextDouble() * 2 - 1) * inputScale;
        }
        // One random index per row for each input besides the features (a conditioned network's label).
        long[][] sideInputs = network.SideInputs.Select(side => Enumerable.Range(0, rows).Select(_ => (long)random.Next(side.Count)).ToArray()).ToArray();
        float[] expected = network.Predict(input, rows, sideInputs);

        byte[] model = network.ExportOnnx("input", "output");
        CheckModel(model);
        using var session = new InferenceSession(model);
        int[] dims = [rows, .. network.InputShape];
        var feeds = network.SideInputs.Select((side, i) => NamedOnnxValue.CreateFromTensor(side.Name, new DenseTensor<long>(sideInputs[i], [rows])))
            .Prepend(NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, dims)));
        using var results = session.Run(feeds.ToList());
        float[] actual = results.Single().AsTensor<float>().ToArray();

        Assert.Equal(expected.Length, actual.Length);
        double maxError = expected.Zip(actual, (e, a) => Math.Abs(e - (double)a)).Max();
        Assert.True(maxError <= tolerance, $"Max abs error between TorchSharp and ONNX Runtime is {maxError:G3}, above {tolerance:G3}.");
        return maxError;
    }

    /// <summary>Runs DeepArch's own check of untrusted models (<c>OnnxModelCheck</c>) and <c>onnx.checker.check_model(model, full_check=True)</c> on <paramref name="model"/>.</summary>
    public static void CheckModel(byte[] model)
    {
        // What a loader accepts from an untrusted file: every export must pass it.
        DeepArch.Trainers.Onnx.OnnxModelCheck.Check(model);
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-check-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, model);
        try
        {
            var start = new ProcessStartInfo(Python)
            {
                ArgumentList = { "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('ok')", path },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000), "onnx.checker did not finish within 60 s.");
            Assert.True(process.ExitCode == 0 && stdout.Trim() == "ok",
                $"onnx.checker.check_model(full_check=True) rejected the model (exit {process.ExitCode}): {stderr}");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
