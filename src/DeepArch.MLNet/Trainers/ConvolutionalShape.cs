using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>The checks the autoencoder stages share for <see cref="AutoencoderKind.Convolutional"/>: a declared image shape that fits the network and the feature column.</summary>
internal static class ConvolutionalShape
{
    /// <summary>At construction: the kind has an image shape, and the filters fit it.</summary>
    public static void Validate(AutoencoderKind kind, IReadOnlyList<int>? imageShape, IReadOnlyList<int>? filters)
    {
        if (kind != AutoencoderKind.Convolutional)
        {
            if (imageShape is not null)
            {
                // It would be ignored: a user who meant the convolutional kind would train a dense one without a word.
                throw new ArgumentOutOfRangeException("Options.ImageShape", Shapes.Format(imageShape),
                    $"Options.ImageShape is {Shapes.Format(imageShape)} but Options.Kind is {kind}: only the Convolutional kind reads it. Set Kind = Convolutional, or leave ImageShape null.");
            }
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
            // The architecture's message ends with its own parameter's name ("(Parameter 'inputShape')"); the option is named here.
            string reason = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            throw new ArgumentOutOfRangeException("Options.ImageShape", Shapes.Format(imageShape),
                $"Options.ImageShape {Shapes.Format(imageShape)} does not fit Options.ConvolutionalFilters {Shapes.Format(filters ?? ConvolutionalAutoencoder.DefaultFilters)}: {reason}");
        }
    }

    /// <summary>At <c>Fit</c>, for the convolutional kind: <see cref="CheckImage"/>.</summary>
    public static void Check(AutoencoderKind kind, IReadOnlyList<int>? imageShape, DataViewSchema.Column feature, int featureSize)
    {
        if (kind == AutoencoderKind.Convolutional)
        {
            CheckImage(imageShape!, feature, featureSize);
        }
    }

    /// <summary>
    /// At <c>Fit</c>, for every estimator with an <c>Options.ImageShape</c> (the convolutional autoencoders, the DCGAN): the image shape
    /// holds as many values as the feature column, laid out as its dimensions say.
    /// </summary>
    public static void CheckImage(IReadOnlyList<int> imageShape, DataViewSchema.Column feature, int featureSize)
    {
        long values = imageShape.Aggregate(1L, (a, d) => a * d); // long: a shape read from options may overflow an int
        if (values != featureSize)
        {
            throw new ArgumentOutOfRangeException("Options.ImageShape", Shapes.Format(imageShape),
                $"Options.ImageShape {Shapes.Format(imageShape)} holds {values} values but feature column '{feature.Name}' has {featureSize} " +
                $"({SchemaErrors.Describe(feature.Type)}).");
        }
        CheckLayout("Options.ImageShape", imageShape, feature);
    }

    /// <summary>
    /// A feature column whose type has several dimensions (ExtractPixels writes [channels, height, width], or [height, width,
    /// channels] with <c>interleavePixelColors: true</c>) must be read as those dimensions: the network reads channels first,
    /// row-major, and a shape of the same size in another layout trains quietly on scrambled images (digits read as channels
    /// last: accuracy 0.848 against 0.911). Dimensions of 1 are left out on both sides, so [28, 28] reads as [1, 28, 28], and a
    /// column with one dimension above 1 ([1, 784]) is a flat vector.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The dimensions disagree with <paramref name="shape"/>; the message names both and the fix.</exception>
    public static void CheckLayout(string option, IReadOnlyList<int> shape, DataViewSchema.Column feature)
    {
        if (feature.Type is not VectorDataViewType { Dimensions.Length: > 1 } vector)
        {
            return;
        }
        int[] dimensions = [.. vector.Dimensions];
        // At most one dimension above 1 is a flat vector in all but name ([1, K]: DeepArch's own vector outputs and
        // ApplyOnnxModel's, which no public ML.NET transform can reshape): nothing to check against.
        if (dimensions.Count(d => d != 1) <= 1 || dimensions.Where(d => d != 1).SequenceEqual(shape.Where(d => d != 1)))
        {
            return;
        }
        bool channelsLast = shape.Count == 3 && dimensions.Length == 3 && dimensions[0] == shape[1] && dimensions[1] == shape[2] && dimensions[2] == shape[0];
        throw new ArgumentOutOfRangeException(option, Shapes.Format(shape),
            $"{option} {Shapes.Format(shape)} does not match the layout of feature column '{feature.Name}' ({SchemaErrors.Describe(feature.Type)}): the network reads " +
            "(channels, height, width), row-major, and would train on scrambled images. " +
            (channelsLast
                ? "The column is channels last (ExtractPixels with interleavePixelColors: true): extract the pixels with interleavePixelColors: false."
                : $"Declare {option} as the column's dimensions, {Shapes.Format(dimensions)}, if they are (channels, height, width)."));
    }
}
