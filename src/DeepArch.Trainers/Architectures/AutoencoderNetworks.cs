using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using static TorchSharp.torch;
using AutoencoderModule = DeepArch.Trainers.Architectures.AutoencoderSpec.AutoencoderModule;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The halves of a trained autoencoder as networks of their own, each exportable with
/// <see cref="Network.ExportOnnx(string, string, IReadOnlyDictionary{string, string})"/>: the encoder (input -> code; the feature-extraction stage's "encode")
/// and the decoder (code -> reconstruction; the generation stage's "decode"). The whole network's own
/// export is the reconstruction. So one trained module gives three graphs from the same parameters.
/// </summary>
/// <remarks>
/// Each extracted network holds a copy of the trained parameters (and batch-norm statistics) taken when
/// it is extracted: extract after training. Tied decoder weights become the stand-alone decoder's own
/// <see cref="TiedDense"/> weights. A variational encoder's extracted encoder gives the mean.
/// </remarks>
public static class AutoencoderNetworks
{
    /// <summary>A network computing the code of <paramref name="autoencoder"/>'s inputs (for a variational one, the mean).</summary>
    /// <param name="autoencoder">A network whose architecture is an <see cref="AutoencoderSpec"/>.</param>
    /// <returns>A new network (the caller disposes it) on the same input shape and device.</returns>
    public static Network ExtractEncoder(this Network autoencoder)
    {
        var (spec, module) = Require(autoencoder);
        var encoder = new Network(spec.Encoder, autoencoder.InputShape, seed: 0, autoencoder.Device);
        return Load(encoder, module.Encoder.state_dict());
    }

    /// <summary>A network reconstructing inputs from codes shaped <see cref="AutoencoderSpec.CodeShape"/>.</summary>
    /// <param name="autoencoder">A network whose architecture is an <see cref="AutoencoderSpec"/>.</param>
    /// <returns>A new network (the caller disposes it) on the code shape and the same device.</returns>
    public static Network ExtractDecoder(this Network autoencoder)
    {
        var (spec, module) = Require(autoencoder);
        var decoder = new Network(spec.Decoder, spec.CodeShape(autoencoder.InputShape), seed: 0, autoencoder.Device);
        return Load(decoder, module.DecoderState());
    }

    private static (AutoencoderSpec Spec, AutoencoderModule Module) Require(Network autoencoder)
    {
        var module = AutoencoderSpec.ModuleOf(autoencoder, "Extracting an encoder or a decoder");
        return ((AutoencoderSpec)autoencoder.Architecture, module);
    }

    private static Network Load(Network part, IReadOnlyDictionary<string, Tensor> state)
    {
        try
        {
            using var _ = no_grad();
            foreach (var (name, target) in part.Module.state_dict())
            {
                if (!state.TryGetValue(name, out var source) || !source.shape.SequenceEqual(target.shape))
                {
                    throw new InvalidOperationException(
                        $"The trained autoencoder has no value '{name}' shaped {Shapes.Format(target.shape.Select(d => (int)d).ToArray())} for its extracted half.");
                }
                target.copy_(source);
            }
            part.Module.eval();
            return part;
        }
        catch
        {
            part.Dispose();
            throw;
        }
    }
}
