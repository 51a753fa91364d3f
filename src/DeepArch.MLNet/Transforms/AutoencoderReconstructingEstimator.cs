using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Trains an autoencoder on the input column in <c>Fit</c> and returns a <see cref="NetworkTransformer"/> that
/// writes each row's reconstruction <c>decoder(encoder(x))</c> to the output column. For the denoising kind
/// that is the cleaned signal; the difference from the input is what the autoencoder could not explain.
/// Created by <c>mlContext.Transforms.ReconstructByAutoencoder</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA), unsupervised: no label</description></item>
/// <item><term>Input column</term><description><c>Single</c> or known-size vector of <c>Single</c>; scale it first (<c>NormalizeMinMax</c>, <c>NormalizeMeanVariance</c>)</description></item>
/// <item><term>Output column</term><description>Known-size vector of <c>Single</c>, the input's size: the reconstruction (denoising kind: the cleaned input)</description></item>
/// <item><term>Kinds</term><description>Deep, tied, sparse, denoising, variational, convolutional (<see cref="AutoencoderKind"/>); deep, tied and variational codes must be smaller than the input</description></item>
/// <item><term>Decoder</term><description>The fitted transformer keeps the decoder: <c>mlContext.Transforms.DecodeByAutoencoder(fitted, ...)</c> maps codes to inputs</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// Training reads the input column into memory once (4 bytes per value), or streams it above a memory budget
/// (<c>Options.TrainingData</c>); scoring streams, a batch of rows
/// per ONNX Runtime call. The model saves and loads like a trainer's (<see cref="DeepArchModel"/>);
/// the output column is typed <c>Vector&lt;Single, 1, N&gt;</c>, as ML.NET's <c>OnnxTransformer</c> types it after a plain <c>mlContext.Model.Load</c>, so the
/// trainers fitted after it still accept it. The options are validated when the estimator is created and again when
/// <c>Fit</c> starts, which reads them all then: a change to <c>TransformOptions</c> in between applies in full.
/// </remarks>
public sealed class AutoencoderReconstructingEstimator : AutoencoderTransformEstimator<AutoencoderReconstructingEstimator.Options>
{
    internal AutoencoderReconstructingEstimator(IHostEnvironment environment, Options options) : base(environment, options, AutoencoderOutput.Reconstruction, "ReconstructByAutoencoder")
    {
    }

    /// <summary>Options of <see cref="AutoencoderReconstructingEstimator"/>.</summary>
    public sealed class Options : AutoencoderTransformOptions
    {
    }
}
