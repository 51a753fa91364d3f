using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using Microsoft.ML;

namespace DeepArch.MLNet;

/// <summary>The checks the autoencoder stages share for <see cref="AutoencoderKind.Convolutional"/>: a declared image shape that fits the network and the feature column.</summary>
internal static class ConvolutionalShape
{
    /// <summary>At construction: the kind has an image shape, and the filters fit it.</summary>
    public static void Validate(AutoencoderKind kind, IReadOnlyList<int>? imageShape, IReadOnlyList<int>? filters)
    {
        if (kind != AutoencoderKind.Convolutional)
        {
            return;
        }
        if (imageShape is null)
        {
            throw new ArgumentOutOfRangeException("Options.ImageShape", "null", "Options.ImageShape must be set when Kind is Convolutional; got null.");
        }
        try
        {
            ConvolutionalAutoencoder.CodeShape(imageShape, filters);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException("Options.ImageShape", Shapes.Format(imageShape),
                $"Options.ImageShape {Shapes.Format(imageShape)} does not fit Options.ConvolutionalFilters {Shapes.Format(filters ?? ConvolutionalAutoencoder.DefaultFilters)}: {e.Message}");
        }
    }

    /// <summary>At <c>Fit</c>: the image shape holds as many values as the feature column.</summary>
    public static void Check(AutoencoderKind kind, IReadOnlyList<int>? imageShape, DataViewSchema.Column feature, int featureSize)
    {
        if (kind == AutoencoderKind.Convolutional && Shapes.Size(imageShape!) != featureSize)
        {
            throw new ArgumentOutOfRangeException("Options.ImageShape", Shapes.Format(imageShape!),
                $"Options.ImageShape {Shapes.Format(imageShape!)} holds {Shapes.Size(imageShape!)} values but feature column '{feature.Name}' has {featureSize}.");
        }
    }
}
