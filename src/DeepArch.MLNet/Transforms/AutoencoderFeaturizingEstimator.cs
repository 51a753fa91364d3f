using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Trains an autoencoder on the input column in <c>Fit</c> and returns a <see cref="NetworkTransformer"/> that
/// writes each row's code (the encoder's output; for the variational kind, the mean) to the output column,
/// so that a later trainer in the same pipeline learns from the code. Created by
/// <c>mlContext.Transforms.FeaturizeByAutoencoder</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA), unsupervised: no label</description></item>
/// <item><term>Input column</term><description><c>Single</c> or known-size vector of <c>Single</c>; scale it first (<c>NormalizeMinMax</c>, <c>NormalizeMeanVariance</c>)</description></item>
/// <item><term>Output column</term><description>Known-size vector of <c>Single</c>, the code size: the last of <see cref="AutoencoderOptions.LayerSizes"/> (n / 2 on an input of 2 to 8 values when left at its default), or for the convolutional kind the last convolution's channels times the image halved once per level</description></item>
/// <item><term>Kinds</term><description>Deep, tied, sparse, denoising, variational, convolutional (<see cref="AutoencoderKind"/>); deep, tied and variational codes must be smaller than the input</description></item>
/// <item><term>Decoder</term><description>The fitted transformer keeps the decoder: <c>mlContext.Transforms.DecodeByAutoencoder(fitted, ...)</c> maps codes back to inputs</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// Training reads the input column into memory once (4 bytes per value), or streams it above a memory budget
/// (<c>Options.TrainingData</c>); scoring streams, a batch of rows
/// per ONNX Runtime call. The model saves and loads like a trainer's (<see cref="DeepArchModel"/>);
/// the code column is typed <c>Vector&lt;Single, 1, K&gt;</c>, as ML.NET's <c>OnnxTransformer</c> types it after a plain <c>mlContext.Model.Load</c>, so the
/// trainers fitted after it still accept it. The options are validated when the estimator is created and again when
/// <c>Fit</c> starts, which reads them all then: a change to <c>TransformOptions</c> in between applies in full.
/// </remarks>
public sealed class AutoencoderFeaturizingEstimator : AutoencoderTransformEstimator<AutoencoderFeaturizingEstimator.Options>
{
    internal AutoencoderFeaturizingEstimator(IHostEnvironment environment, Options options) : base(environment, options, AutoencoderOutput.Code, "FeaturizeByAutoencoder")
    {
    }

    /// <summary>Options of <see cref="AutoencoderFeaturizingEstimator"/>.</summary>
    public sealed class Options : AutoencoderTransformOptions
    {
    }
}
