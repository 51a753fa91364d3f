using DeepArch.MLNet.Data;
using DeepArch.MLNet.Heads;
using DeepArch.MLNet.Schema;
using DeepArch.MLNet.Scoring;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using DeepArch.MLNet.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet.Transforms;

/// <summary>What an autoencoder transform outputs.</summary>
internal enum AutoencoderOutput
{
    /// <summary>The code (a variational encoder's mean).</summary>
    Code,

    /// <summary>The reconstruction <c>decoder(encoder(x))</c>.</summary>
    Reconstruction,
}

/// <summary>
/// What the autoencoder transforms do in <c>Fit</c>: check the input column and the sizes, read the
/// column, train the autoencoder of the options' kind (through <see cref="TrainingGuard"/>), and export the
/// part they output (the encoder or the whole network) plus the decoder, which
/// <see cref="AutoencoderDecodingEstimator"/> can take later. A transform makes one for each <c>Fit</c>, over
/// the snapshot of its options that <c>Fit</c> reads, and one over its live options for <c>GetOutputSchema</c>.
/// </summary>
internal sealed class AutoencoderTransformFitter
{
    /// <summary>The decoder's graph input until <see cref="AutoencoderDecodingEstimator"/> names it after its code column.</summary>
    internal const string DecoderInput = "__DeepArch_Code";

    /// <summary>The decoder's graph output until <see cref="AutoencoderDecodingEstimator"/> names it after its output column.</summary>
    internal const string DecoderOutput = "__DeepArch_Decoded";

    private readonly IHostEnvironment _environment;
    private readonly AutoencoderTransformOptions _options;
    private readonly AutoencoderOutput _output;
    private readonly string _transformName;

    public AutoencoderTransformFitter(IHostEnvironment environment, AutoencoderTransformOptions options, AutoencoderOutput output, string transformName)
    {
        _environment = environment;
        _options = options;
        _output = output;
        _transformName = transformName;
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, _options.InputColumn, "input");
        return SchemaShapes.With(inputSchema, [VectorOutputHead.OutputShape(_options.OutputColumnName)]);
    }

    public NetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var (column, size) = FeatureColumn.Resolve(input.Schema, o.InputColumn, "input");
        ConvolutionalShape.Check(o.Kind, o.ImageShape, column, size);
        int code = o.LayerSizes[^1];
        if (o.Kind is AutoencoderKind.Deep or AutoencoderKind.Tied or AutoencoderKind.Variational && code >= size)
        {
            throw new ArgumentOutOfRangeException("Options.LayerSizes", $"[{string.Join(", ", o.LayerSizes)}]",
                $"Options.LayerSizes ends with a code size of {code}, which must be smaller than the {size} values of input column '{column.Name}' " +
                $"for the {o.Kind} kind (an undercomplete autoencoder); choose a code size below {size}, or the Sparse or Denoising kind.");
        }
        if (o.EarlyStoppingPatience > 0 && o.ValidationFraction == 0)
        {
            throw new InvalidOperationException(
                $"Options.EarlyStoppingPatience is {o.EarlyStoppingPatience} but there is no validation data: set Options.ValidationFraction above 0, or EarlyStoppingPatience to 0.");
        }
        var ct = o.CancellationToken;
        float[] features = TrainingDataReader.ReadFeatures(input, column, size, ct);

        int seed = o.Seed ?? CatalogEnvironment.Seed(_environment);
        var device = TorchRuntime.ResolveDevice(o.Device, o.FallbackToCpu, "Options.Device");
        var training = o.ToTrainingOptions(seed);
        var trainSet = ReconstructionSet.Create(features, size);
        var (network, history) = TrainingGuard.Train(o.CreateSpec([size, .. o.LayerSizes]), [size], seed, device, training, trainSet, null,
            AutoencoderAnomalyDetectionTrainer.AutoencoderNames(o.Kind, o.LayerSizes, o.ImageShape, o.ConvolutionalFilters, size), o.ToScoringSettings(),
            built => new TrainingLoop(training).Fit(o.CreateObjective(built), trainSet, null, o.Progress, ct));
        using var _ = network;

        var scoring = o.ToScoringSettings();
        byte[] decoder = ExportDecoder(network, history, scoring);
        using var encoder = _output == AutoencoderOutput.Code ? network.ExtractEncoder() : null;
        var exported = encoder ?? network;
        var head = new VectorOutputHead(o.OutputColumnName, column.Name, exported.OutputShape[0], decoder);
        var info = new ModelInfo(_transformName, column.Name, size, exported.OutputShape.ToArray(), head, history, exported.Summarize().ToString(), scoring);
        byte[] onnx = exported.ExportOnnx(column.Name, head.AddOnnxOutputs, new Dictionary<string, string> { [ModelInfo.MetadataKey] = info.ToJson() });
        return new NetworkTransformer(onnx, info);
    }

    /// <summary>The trained decoder as a DeepArch ONNX model over placeholder names (<see cref="DecoderInput"/>, <see cref="DecoderOutput"/>).</summary>
    private static byte[] ExportDecoder(Network autoencoder, TrainingHistory history, ScoringSettings scoring)
    {
        using var decoder = autoencoder.ExtractDecoder();
        var head = new VectorOutputHead(DecoderOutput, DecoderInput, decoder.OutputShape[0]);
        var info = new ModelInfo("DecodeByAutoencoder", DecoderInput, decoder.InputShape[0], decoder.OutputShape.ToArray(), head, history,
            decoder.Summarize().ToString(), scoring);
        return decoder.ExportOnnx(DecoderInput, head.AddOnnxOutputs, new Dictionary<string, string> { [ModelInfo.MetadataKey] = info.ToJson() });
    }
}
