using System.Globalization;
using System.Text;
using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Onnx.Proto;

namespace DeepArch.MLNet;

/// <summary>
/// A trained network as a model directory of a Triton Inference Server model repository, which any other ONNX engine can also
/// read: <c>1/model.onnx</c> (the standalone ONNX file without the warm-start state), <c>config.pbtxt</c> (Triton's model configuration for its ONNX Runtime
/// backend), <c>labels.txt</c> (a multiclass model's classes) and <c>README.md</c> (the inputs and outputs). docs/scale-out.md
/// shows how to serve it.
/// </summary>
/// <remarks>
/// The configuration is read off the ONNX graph itself (input and output names, element types, dimensions), so it cannot
/// disagree with the file: a graph's first dimension, symbolic in every DeepArch export, is Triton's batch dimension.
/// </remarks>
internal static class ServingBundle
{
    /// <summary>The version folder Triton loads: <c>1</c>.</summary>
    public const string VersionFolder = "1";

    /// <summary>The ONNX file's name in the version folder, Triton's default for its ONNX Runtime backend.</summary>
    public const string ModelFile = "model.onnx";

    public const string ConfigFile = "config.pbtxt";

    public const string LabelsFile = "labels.txt";

    /// <summary>A conditional generator's (or discriminator's) condition classes, one per line in key order: the one-hot input's slots.</summary>
    public const string ConditionLabelsFile = "condition_labels.txt";

    /// <summary>A sequence-to-sequence model's source tokens, one per line: line k is key number k.</summary>
    public const string SourceTokensFile = "source_tokens.txt";

    /// <summary>A sequence-to-sequence model's target tokens, one per line: line k is key number k.</summary>
    public const string TargetTokensFile = "target_tokens.txt";

    public const string ReadmeFile = "README.md";

    /// <summary>Writes the bundle of <paramref name="network"/> into <paramref name="directory"/> (created when missing), named after the directory.</summary>
    /// <param name="network">The network to serve.</param>
    /// <param name="directory">The model's directory; its name is the model's name in Triton.</param>
    /// <param name="upstream">The transforms a pipeline applies before the network (their type names), which a client must apply itself; empty for none.</param>
    public static void Write(NetworkTransformer network, string directory, IReadOnlyList<string> upstream)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string full = Path.GetFullPath(directory);
        // The name is the path's own last part, as given: "models/." or "x/.." would name (and write into) another folder.
        string name = Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        if (name.Length == 0 || name is "." or ".." || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
        {
            throw new ArgumentException(
                $"The serving directory's name is the model's name in Triton and may hold only ASCII letters, digits, '_', '-' and '.'; got '{name}'.", nameof(directory));
        }
        var proto = ModelProto.Parser.ParseFrom(network.OnnxModel);
        var inputs = proto.Graph.Input.Select(Tensor.Of).ToList();
        var outputs = proto.Graph.Output.Select(Tensor.Of).ToList();
        var vocabularies = Vocabularies(network.Info);
        string? labeled = vocabularies.Any(v => v.File == LabelsFile) ? network.Info.Task.OnnxOutputNames[0] : null;

        Directory.CreateDirectory(Path.Combine(full, VersionFolder));
        File.WriteAllBytes(Path.Combine(full, VersionFolder, ModelFile), Servable(proto, network.OnnxModel));
        File.WriteAllText(Path.Combine(full, ConfigFile), Config(name, network.Info, inputs, outputs, labeled));
        foreach (string file in VocabularyFiles)
        {
            string path = Path.Combine(full, file);
            if (vocabularies.Find(v => v.File == file) is { } vocabulary)
            {
                File.WriteAllText(path, string.Join("\n", vocabulary.Lines) + "\n");
            }
            else if (File.Exists(path))
            {
                File.Delete(path); // left by an earlier bundle of another model in the same directory
            }
        }
        File.WriteAllText(Path.Combine(full, ReadmeFile), Readme(name, network, inputs, outputs, upstream, vocabularies));
    }

    /// <summary>A vocabulary file of the bundle: its name, its lines (line k for key number k), and what the bundle's README says it holds.</summary>
    private sealed record Vocabulary(string File, IReadOnlyList<string> Lines, string Holds);

    /// <summary>Every vocabulary file a bundle may hold, in the order its README lists them.</summary>
    private static readonly string[] VocabularyFiles = [LabelsFile, ConditionLabelsFile, SourceTokensFile, TargetTokensFile];

    /// <summary>
    /// The vocabularies a client needs: a multiclass model's classes (<see cref="LabelsFile"/>), a conditional GAN's label classes,
    /// a translation's tokens; each the key values in key order, or the key numbers where the key type has no values.
    /// </summary>
    private static List<Vocabulary> Vocabularies(ModelInfo info)
    {
        static IReadOnlyList<string> Lines(LabelKeys keys) => keys.Values ?? Enumerable.Range(1, keys.Count).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToList();
        var files = new List<Vocabulary>();
        void Add(string file, LabelKeys keys, Func<int, string> holds)
        {
            var lines = Lines(keys);
            files.Add(new(file, lines, holds(lines.Count)));
        }
        if (info.Task is MulticlassTask multiclass)
        {
            Add(LabelsFile, multiclass.Keys, n => $"the {n} classes, one per line, in the order of the probabilities");
        }
        if (info.Condition is { } condition)
        {
            Add(ConditionLabelsFile, condition.Keys, n => $"the {n} label classes, one per line, in the order of the one-hot label input's slots");
        }
        if (info.Translation is { } translation)
        {
            Add(SourceTokensFile, translation.Source.Labels, n => $"the {n} source tokens, one per line: line k is key number k");
            Add(TargetTokensFile, translation.Target.Labels, n => $"the {n} target tokens, one per line: line k is key number k");
        }
        return files;
    }

    /// <summary>
    /// The network without what only training needs: the warm-start state (<see cref="ModelInfo.TrainingStateKey"/>), a copy of
    /// the weights as training left them, which a server never reads. Everything else stays, sealed again, so
    /// <c>DeepArchModel.LoadOnnx</c> still reads the bundle's file (and refuses to continue training from it).
    /// </summary>
    /// <param name="proto"><paramref name="onnx"/>, parsed.</param>
    /// <param name="onnx">The network's bytes.</param>
    private static byte[] Servable(ModelProto proto, byte[] onnx)
        => proto.MetadataProps.Any(p => p.Key == ModelInfo.TrainingStateKey)
            ? ModelInfo.Reseal(proto, metadata => metadata.Remove(ModelInfo.TrainingStateKey))
            : onnx;

    /// <summary>A graph input or output: its name, Triton data type, and dimensions after the batch dimension (-1 where variable).</summary>
    private sealed record Tensor(string Name, string DataType, long[] Dims, bool Batched)
    {
        public static Tensor Of(ValueInfoProto value)
        {
            var type = value.Type?.TensorType ?? throw new InvalidDataException($"The graph's '{value.Name}' is not a tensor.");
            var dims = type.Shape?.Dim.ToList() ?? [];
            bool batched = dims.Count > 0 && dims[0].ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue;
            return new Tensor(value.Name, TritonType(type.ElemType),
                dims.Skip(batched ? 1 : 0).Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L).ToArray(), batched);
        }

        /// <summary>The shape as the README writes it, batch first.</summary>
        public string Shape => "[" + string.Join(", ", (Batched ? ["batch"] : Array.Empty<string>()).Concat(Dims.Select(d => d < 0 ? "n" : d.ToString(CultureInfo.InvariantCulture)))) + "]";
    }

    /// <summary>Triton's <c>DataType</c> for ONNX element type <paramref name="elementType"/> (onnx.proto's <c>TensorProto.DataType</c>).</summary>
    private static string TritonType(int elementType) => elementType switch
    {
        1 => "TYPE_FP32",
        2 => "TYPE_UINT8",
        3 => "TYPE_INT8",
        4 => "TYPE_UINT16",
        5 => "TYPE_INT16",
        6 => "TYPE_INT32",
        7 => "TYPE_INT64",
        8 => "TYPE_STRING",
        9 => "TYPE_BOOL",
        10 => "TYPE_FP16",
        11 => "TYPE_FP64",
        12 => "TYPE_UINT32",
        13 => "TYPE_UINT64",
        16 => "TYPE_BF16",
        _ => throw new NotSupportedException($"ONNX element type {elementType} has no Triton data type."),
    };

    /// <summary>Triton's model configuration (protobuf text format, <c>inference.ModelConfig</c>).</summary>
    private static string Config(string name, ModelInfo info, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs, string? labeled)
    {
        bool batched = inputs.All(t => t.Batched) && outputs.All(t => t.Batched);
        var text = new StringBuilder();
        text.Append("# Written by DeepArch for Triton Inference Server's ONNX Runtime backend (README.md beside it says what each tensor holds).\n");
        text.Append(CultureInfo.InvariantCulture, $"name: {Quote(name)}\n");
        text.Append("backend: \"onnxruntime\"\n");
        // Requests are merged into batches of at most this many rows: the rows per ONNX Runtime call the model was trained to score with.
        text.Append(CultureInfo.InvariantCulture, $"max_batch_size: {(batched ? info.Scoring.BatchSize : 0)}\n");
        // Version 1 only: a version folder left over in the directory (Triton serves the highest by default) is never served.
        text.Append(CultureInfo.InvariantCulture, $"version_policy: {{ specific: {{ versions: [ {VersionFolder} ] }} }}\n");
        foreach (var (section, tensors) in new[] { ("input", inputs), ("output", outputs) })
        {
            text.Append(section).Append(" [\n");
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                text.Append(CultureInfo.InvariantCulture, $"  {{\n    name: {Quote(t.Name)}\n    data_type: {t.DataType}\n    dims: [ {string.Join(", ", t.Dims)} ]\n");
                if (t.Name == labeled)
                {
                    text.Append(CultureInfo.InvariantCulture, $"    label_filename: {Quote(LabelsFile)}\n");
                }
                text.Append(i + 1 < tensors.Count ? "  },\n" : "  }\n");
            }
            text.Append("]\n");
        }
        if (batched)
        {
            text.Append("dynamic_batching { }\n");
        }
        string kind = info.Scoring.Device == ComputeDevice.Cuda ? "KIND_GPU" : "KIND_CPU";
        text.Append(CultureInfo.InvariantCulture, $"instance_group [\n  {{\n    count: 1\n    kind: {kind}\n  }}\n]\n");
        return text.ToString();
    }

    /// <summary>A protobuf text-format string literal.</summary>
    private static string Quote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (char c in value)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                _ when c < ' ' || c > '~' => string.Concat(Encoding.UTF8.GetBytes(c.ToString()).Select(b => $"\\{Convert.ToString(b, 8).PadLeft(3, '0')}")),
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }

    /// <summary>The bundle's README: what the model is, what each tensor holds, and how to serve it.</summary>
    private static string Readme(string name, NetworkTransformer network, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs,
        IReadOnlyList<string> upstream, IReadOnlyList<Vocabulary> vocabularies)
    {
        var info = network.Info;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# {name}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"A {Describe(info.Task)} trained by DeepArch's `{info.Trainer}` ({info.History.Epochs.Count} epochs), ");
        text.Append("exported to ONNX (opset 17). The layout is a Triton Inference Server model directory:\n\n");
        text.Append(CultureInfo.InvariantCulture, $"- `{VersionFolder}/{ModelFile}`: the network, readable by any ONNX runtime (ONNX Runtime in any language, SynapseML's `ONNXModel`).\n");
        text.Append(CultureInfo.InvariantCulture, $"- `{ConfigFile}`: Triton's configuration for its ONNX Runtime backend, with dynamic batching up to {info.Scoring.BatchSize} rows.\n");
        foreach (var vocabulary in vocabularies)
        {
            text.Append(CultureInfo.InvariantCulture, $"- `{vocabulary.File}`: {vocabulary.Holds}.\n");
        }
        text.Append("\n## Inputs\n\n| name | type | shape | holds |\n| --- | --- | --- | --- |\n");
        foreach (var t in inputs)
        {
            text.Append(CultureInfo.InvariantCulture, $"| `{t.Name}` | {t.DataType} | {t.Shape} | {DescribeInput(info, t.Name)} |\n");
        }
        text.Append("\n## Outputs\n\n| name | type | shape | holds |\n| --- | --- | --- | --- |\n");
        foreach (var t in outputs)
        {
            text.Append(CultureInfo.InvariantCulture, $"| `{t.Name}` | {t.DataType} | {t.Shape} | {DescribeOutput(info.Task, t.Name)} |\n");
        }
        text.Append("\nThe graph does everything the ML.NET transformer's network does, feature standardization and a regression label's ");
        text.Append("scaling included; the ML.NET output columns (`PredictedLabel`, key types) are the caller's to derive from these tensors.\n");
        if (inputs.Any(t => t.Dims.Any(d => d < 0)))
        {
            text.Append("\nAn input of variable width (`n`) takes any width up to what the model was trained for; Triton batches two requests together only ");
            text.Append("when their widths agree, so a client that pads every request to one width gets the largest batches.\n");
        }
        if (upstream.Count > 0)
        {
            text.Append("\nIn the ML.NET pipeline it came from, these transforms run before the network, so a client sends their output, not the raw columns: ");
            text.Append(string.Join(", ", upstream.Select(u => $"`{u}`"))).Append(".\n");
        }
        text.Append("\n## Serve it\n\n```\n");
        text.Append(CultureInfo.InvariantCulture, $"docker run --rm -p 8000:8000 -v \"$PWD/..:/models\" nvcr.io/nvidia/tritonserver:<release>-py3 tritonserver --model-repository=/models\n");
        text.Append("```\n\nThis directory goes into the model repository as it is; DeepArch's docs/scale-out.md shows a request, and batch scoring with SynapseML.\n");
        return text.ToString();
    }

    private static string Describe(PredictionTask task) => task switch
    {
        MulticlassTask m => $"multiclass classifier ({m.ClassCount} classes)",
        BinaryTask => "binary classifier",
        RegressionTask => "regression model",
        AnomalyTask => "anomaly detector",
        SequenceTask => "sequence-to-sequence model",
        _ => "network that maps a vector to a vector (an autoencoder's features or reconstruction, or a GAN's generator or discriminator)",
    };

    private static string DescribeInput(ModelInfo info, string name)
    {
        if (info.Task is SequenceTask)
        {
            return $"the source sequence as DeepArch lays it out: its token count, then each token's key number (line k of `{SourceTokensFile}` is key k), as floats";
        }
        if (info.Condition is { } condition && name == condition.Column)
        {
            return $"the label, one-hot over its {condition.Keys.Count} classes, in the order of `{ConditionLabelsFile}`";
        }
        if (info.Sequence is { } sequence)
        {
            return sequence.VariableLength
                ? $"the sequence's length in steps, then up to {sequence.MaxSteps} time steps of {sequence.FeaturesPerStep} values, step after step, zero-padded"
                : $"{sequence.MaxSteps} time steps of {sequence.FeaturesPerStep} values, step after step";
        }
        return $"the values of the ML.NET feature column `{info.FeatureColumn}`, unscaled";
    }

    private static string DescribeOutput(PredictionTask task, string name) => (task, name) switch
    {
        (MulticlassTask, _) => $"the class probabilities (softmax), in the order of `{LabelsFile}`; the largest is the predicted class",
        (BinaryTask, BinaryTask.RawLogit) => "the logit (ML.NET's `Score`)",
        (BinaryTask, BinaryTask.RawProbability) => "the probability of `true` (ML.NET's `Probability`); above 0.5 is `PredictedLabel` true",
        (RegressionTask, _) => "the prediction in the label's units (ML.NET's `Score`)",
        (AnomalyTask, AutoencoderScoringExport.ScoreOutput) => "the anomaly score, ML.NET's `Score` (larger is more anomalous; NaN where an input value is not finite)",
        (AnomalyTask, AutoencoderScoringExport.AnomalyOutput) => "1 where the score is above the trained threshold or NaN, else 0 (ML.NET's `PredictedLabel`)",
        (AnomalyTask, AutoencoderScoringExport.FeatureShareOutput) => "each feature's share of the row's error (summing to 1)",
        (AnomalyTask, AutoencoderScoringExport.ReconstructionOutput) => "the autoencoder's reconstruction of the input",
        (AnomalyTask, AutoencoderScoringExport.CodeOutput) => "the autoencoder's code (its bottleneck)",
        (AnomalyTask, AutoencoderScoringExport.FeatureErrorOutput) => "each feature's reconstruction error",
        (AnomalyTask, ForecasterScoringExport.StepErrorsOutput) => "each time step's prediction error",
        (AnomalyTask, ForecasterScoringExport.ForecastOutput) => "the forecast of the window's last steps",
        (SequenceTask, _) when name.EndsWith("Tokens", StringComparison.Ordinal) => $"the decoded target's key numbers (line k of `{TargetTokensFile}` is key k), then 0 after its end",
        (SequenceTask, _) when name.EndsWith("Score", StringComparison.Ordinal) => "the decoded sequence's log-probability (ML.NET's `Score`)",
        (SequenceTask, _) => "for each decoded step, the attention weights over the source tokens",
        _ => "the output vector: ML.NET's output column (an autoencoder's code or reconstruction, a forecast, a generated row)",
    };
}
