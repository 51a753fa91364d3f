using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>What an autoencoder transform outputs.</summary>
internal enum AutoencoderOutput
{
    /// <summary>The code (a variational encoder's mean).</summary>
    Code,

    /// <summary>The reconstruction <c>decoder(encoder(x))</c>.</summary>
    Reconstruction,
}

/// <summary>
/// What the autoencoder transforms (<see cref="AutoencoderFeaturizingEstimator"/>, <see cref="AutoencoderReconstructingEstimator"/>)
/// share: they read one input column, train the autoencoder of the options' kind on it, and output either the code or the
/// reconstruction; the fitted transformer also keeps the decoder, which <see cref="AutoencoderDecodingEstimator"/> can take later.
/// </summary>
/// <typeparam name="TOptions">The transform's options.</typeparam>
public abstract class AutoencoderTransformEstimator<TOptions> : NetworkEstimator<TOptions> where TOptions : AutoencoderTransformOptions
{
    private readonly AutoencoderOutput _output;

    private protected AutoencoderTransformEstimator(IHostEnvironment environment, TOptions options, AutoencoderOutput output, string name)
        : base(environment, options, name) => _output = output;

    /// <summary>The options this estimator was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public TOptions TransformOptions => LiveOptions;

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TransformOptions.InputColumn, "input");
        return SchemaShapes.With(inputSchema, [VectorOutputTask.OutputShape(TransformOptions.OutputColumnName)]);
    }

    /// <inheritdoc/>
    private protected override bool CanStream => true;

    private protected override FitData Read(TOptions o, IDataView train, IDataView? validation)
    {
        var (column, size) = FeatureColumn.Resolve(train.Schema, o.InputColumn, "input");
        ConvolutionalShape.Check(o.Kind, o.ImageShape, column, size);
        var layerSizes = o.LayerSizesFor(size);
        int code = layerSizes[^1];
        if (o.Kind is AutoencoderKind.Deep or AutoencoderKind.Tied or AutoencoderKind.Variational && code >= size)
        {
            throw new ArgumentOutOfRangeException("Options.LayerSizes", $"[{string.Join(", ", layerSizes)}]",
                $"Options.LayerSizes ends with a code size of {code}, which must be smaller than the {size} values of input column '{column.Name}' " +
                $"for the {o.Kind} kind (an undercomplete autoencoder); " + (size > 1
                    ? $"choose a code size below {size}, or the Sparse or Denoising kind."
                    : "one value has no smaller code: use the Sparse or Denoising kind, or give the autoencoder more values (mlContext.Transforms.Concatenate)."));
        }
        var ct = o.CancellationToken;
        var holding = Holding(o, train, size);
        var trainSet = TrainingDataReader.ReadReconstruction(train, column, size, null, ct, holding);
        var validationSet = validation is null ? null
            : TrainingDataReader.Validation(() => TrainingDataReader.ReadReconstruction(validation, FeatureColumn.Resolve(validation.Schema, o.InputColumn, size, "validation input"), size, null, ct, RowHolding.ForValidation(trainSet, Holding(o, validation, size))));
        return new FitData(column, size, trainSet, validationSet, Task: null);
    }

    private protected override NetworkPlan Plan(TOptions o, FitData data) => o.Plan(data.InputSize);

    private protected override TrainingObjective Objective(TOptions o, IReadOnlyList<Network> networks, FitData data) => o.CreateObjective(networks[0]);

    /// <summary>The encoder (or the whole autoencoder), with the decoder kept in its task.</summary>
    private protected override NetworkTransformer Export(Fitted fitted)
    {
        byte[] decoder = ExportDecoder(fitted.Network, fitted.History, fitted.Scoring);
        using var encoder = _output == AutoencoderOutput.Code ? fitted.Network.ExtractEncoder() : null;
        var exported = encoder ?? fitted.Network;
        var task = new VectorOutputTask(fitted.Options.OutputColumnName, fitted.Data.Input.Name, exported.OutputShape[0]);
        return fitted.Transformer(task, exported, metadata => exported.ExportOnnx(fitted.Data.Input.Name, task.AddOnnxOutputs, metadata), decoder: decoder);
    }

    /// <summary>The trained decoder as a DeepArch ONNX model over placeholder names (<see cref="AutoencoderDecodingEstimator.DecoderInput"/>, <see cref="AutoencoderDecodingEstimator.DecoderOutput"/>).</summary>
    private static byte[] ExportDecoder(Network autoencoder, TrainingHistory history, ScoringSettings scoring)
    {
        using var decoder = autoencoder.ExtractDecoder();
        var task = new VectorOutputTask(AutoencoderDecodingEstimator.DecoderOutput, AutoencoderDecodingEstimator.DecoderInput, decoder.OutputShape[0]);
        var info = new ModelInfo("DecodeByAutoencoder", AutoencoderDecodingEstimator.DecoderInput, decoder.InputShape[0], decoder.OutputShape.ToArray(), task, history,
            decoder.Summarize().ToString(), scoring) { Format = ModelInfo.CurrentFormat };
        return decoder.ExportOnnx(AutoencoderDecodingEstimator.DecoderInput, task.AddOnnxOutputs, info.ToMetadata());
    }
}
