using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Onnx.Proto;
using Microsoft.ML;

namespace DeepArch.MLNet;

/// <summary>
/// The decoder of an autoencoder fitted by <c>FeaturizeByAutoencoder</c> or <c>ReconstructByAutoencoder</c>, as a
/// transform from a code column to the reconstruction it decodes to: new samples from chosen latent points
/// (seed 000's "generate new digits from (x, y)"), or codes edited between encoding and decoding.
/// Created by <c>mlContext.Transforms.DecodeByAutoencoder</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>No: <c>Fit</c> only checks the code column and returns the fitted autoencoder's decoder</description></item>
/// <item><term>Input column</term><description>Known-size vector of <c>Single</c> of the code size (<c>Single</c> for a code of one value)</description></item>
/// <item><term>Output column</term><description>Known-size vector of <c>Single</c> of the autoencoder's input size</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> scores with ONNX Runtime's CUDA provider (GPU build); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// The decoder is saved with the fitted autoencoder, so an autoencoder loaded back with
/// <see cref="DeepArchModel.Load(MLContext, string, out Microsoft.ML.DataViewSchema)"/> gives it too. The returned
/// <see cref="NetworkTransformer"/> saves, loads and scores in batches like any other. The options are validated when the
/// estimator is created and again when <c>Fit</c> starts, which reads them then.
/// </remarks>
public sealed class AutoencoderDecodingEstimator : IEstimator<NetworkTransformer>
{
    /// <summary>The decoder's graph input in a fitted autoencoder, until this estimator names it after its code column.</summary>
    internal const string DecoderInput = "__DeepArch_Code";

    /// <summary>The decoder's graph output in a fitted autoencoder, until this estimator names it after its output column.</summary>
    internal const string DecoderOutput = "__DeepArch_Decoded";

    private readonly byte[] _decoder;
    private readonly ModelInfo _decoderInfo;

    internal AutoencoderDecodingEstimator(NetworkTransformer autoencoder, Options options)
    {
        ArgumentNullException.ThrowIfNull(autoencoder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (autoencoder.Info.Decoder is not { } decoder)
        {
            throw new ArgumentException(
                $"DecodeByAutoencoder needs a transformer fitted by FeaturizeByAutoencoder or ReconstructByAutoencoder; this one was made by {autoencoder.Info.Trainer}.",
                nameof(autoencoder));
        }
        TransformOptions = options;
        _decoder = decoder;
        _decoderInfo = ReadInfo(decoder);
    }

    /// <summary>The options this estimator was created with; each <c>Fit</c> validates and reads them as they are when it starts.</summary>
    public Options TransformOptions { get; }

    /// <summary>Values per row of the code column the decoder reads.</summary>
    public int CodeSize => _decoderInfo.FeatureSize;

    /// <summary>Checks the code column of <paramref name="input"/> and returns the decoder over it.</summary>
    public NetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var options = (Options)TransformOptions.Snapshot();
        var column = FeatureColumn.Resolve(input.Schema, options.InputColumn, CodeSize, "input");
        var task = new VectorOutputTask(options.OutputColumnName, column.Name, _decoderInfo.OutputShape[0]);
        var info = _decoderInfo with { FeatureColumn = column.Name, Task = task, Scoring = options.ToScoringSettings() };
        return new NetworkTransformer(Rebind(_decoder, info, task.OnnxOutputName), info);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        FeatureColumn.Check(inputSchema, TransformOptions.InputColumn, "input");
        return SchemaShapes.With(inputSchema, [VectorOutputTask.OutputShape(TransformOptions.OutputColumnName)]);
    }

    private static ModelInfo ReadInfo(byte[] decoder) => ModelInfo.Of(decoder);

    /// <summary>
    /// The decoder with its graph input named after the code column and its output after <paramref name="outputName"/>
    /// (ONNX names a graph's values, so ML.NET's <c>OnnxTransformer</c> in a saved model binds columns by these names),
    /// its metadata replaced by <paramref name="info"/> and sealed again by the exporters' own writer.
    /// </summary>
    private static byte[] Rebind(byte[] decoder, ModelInfo info, string outputName)
    {
        OnnxIntegrity.Verify(decoder);
        var proto = ModelProto.Parser.ParseFrom(decoder);
        var graph = proto.Graph;
        var renames = new Dictionary<string, string>
        {
            [DecoderInput] = info.FeatureColumn,
            [DecoderOutput] = outputName,
        };
        var taken = graph.Node.SelectMany(n => n.Output).Concat(graph.Initializer.Select(t => t.Name)).ToHashSet();
        foreach (string name in renames.Values.Where(taken.Contains))
        {
            throw new ArgumentException($"Column name '{name}' is a value name inside the decoder's graph; choose another column name.");
        }
        string Rename(string name) => renames.TryGetValue(name, out var renamed) ? renamed : name;
        foreach (var value in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
        {
            value.Name = Rename(value.Name);
        }
        foreach (var node in graph.Node)
        {
            for (int i = 0; i < node.Input.Count; i++)
            {
                node.Input[i] = Rename(node.Input[i]);
            }
            for (int i = 0; i < node.Output.Count; i++)
            {
                node.Output[i] = Rename(node.Output[i]);
            }
        }
        return ModelInfo.Restamp(proto, info);
    }

    /// <summary>Options of <see cref="AutoencoderDecodingEstimator"/>: the columns, and how it scores (<see cref="ScoringOptions"/>).</summary>
    public sealed class Options : ScoringOptions
    {
        /// <summary>The column the transform adds, the decoded rows (a known-size vector of <c>Single</c>); required.</summary>
        public string OutputColumnName { get; set; } = "";

        /// <summary>The code column: a known-size vector of <c>Single</c> of the code size; null (default) means <see cref="OutputColumnName"/>.</summary>
        public string? InputColumnName { get; set; }

        internal string InputColumn => InputColumnName ?? OutputColumnName;

        internal override void Validate()
        {
            Check(!string.IsNullOrWhiteSpace(OutputColumnName), nameof(OutputColumnName), OutputColumnName is null ? "null" : $"'{OutputColumnName}'", "must name a column");
            Check(InputColumnName is null || !string.IsNullOrWhiteSpace(InputColumnName), nameof(InputColumnName), $"'{InputColumnName}'", "must name a column, or be null for the output column");
            base.Validate();
        }
    }
}
