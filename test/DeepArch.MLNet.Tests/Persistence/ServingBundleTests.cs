using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;

namespace DeepArch.MLNet.Tests.Persistence;

/// <summary>
/// <c>SaveForServing</c>: a Triton model directory (ONNX file, config.pbtxt, labels, README) that Triton's configuration schema
/// accepts and that scores as the transformer does. Every architecture's bundle is checked by eng/serving/run.sh (CI), in a
/// second runtime too; these pin the layout, the labels, the pipeline case and the errors.
/// </summary>
public sealed class ServingBundleTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"deeparch-serving-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>Iris with text labels, keyed in the order the rows first show them (virginica, setosa, versicolor): labels.txt must follow the key order, not the alphabet.</summary>
    private static (MLContext Ml, IDataView Data, ITransformer Model) IrisPipeline()
    {
        var ml = new MLContext(seed: 4);
        var loader = ml.Data.CreateTextLoader(
            [new TextLoader.Column("Features", DataKind.Single, 0, 3), new TextLoader.Column("Label", DataKind.String, 4)],
            separatorChar: ',', hasHeader: true);
        var rows = loader.Load(Path.Combine(AppContext.BaseDirectory, "data", "iris.csv"));
        var data = ml.Data.ShuffleRows(rows, seed: 2);
        var model = ml.Transforms.Conversion.MapValueToKey("LabelKey", "Label")
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(labelColumnName: "LabelKey", hiddenLayers: [8], epochs: 5))
            .Fit(data);
        return (ml, data, model);
    }

    [Fact]
    public void A_pipeline_bundle_is_a_triton_model_directory_that_scores_as_the_transformer()
    {
        var (ml, data, model) = IrisPipeline();
        string directory = Path.Combine(_root, "iris");

        DeepArchModel.SaveForServing(model, directory);

        Assert.Equal(["1/model.onnx", "README.md", "config.pbtxt", "labels.txt"],
            Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(directory, f).Replace('\\', '/')).Order(StringComparer.Ordinal));
        var keys = default(VBuffer<ReadOnlyMemory<char>>);
        model.GetOutputSchema(data.Schema)["LabelKey"].Annotations.GetValue("KeyValues", ref keys);
        Assert.Equal(keys.DenseValues().Select(k => k.ToString()), File.ReadAllLines(Path.Combine(directory, "labels.txt")));
        Assert.NotEqual(["setosa", "versicolor", "virginica"], File.ReadAllLines(Path.Combine(directory, "labels.txt")));
        string config = File.ReadAllText(Path.Combine(directory, "config.pbtxt"));
        Assert.Contains("name: \"iris\"", config);
        Assert.Contains("backend: \"onnxruntime\"", config);
        Assert.Contains("max_batch_size: 256", config);
        Assert.Contains("version_policy: { specific: { versions: [ 1 ] } }", config);
        Assert.Contains("dims: [ 4 ]", config);
        Assert.Contains("dims: [ 3 ]", config);
        Assert.Contains("label_filename: \"labels.txt\"", config);
        Assert.Contains("dynamic_batching { }", config);
        Assert.Contains("kind: KIND_CPU", config);
        string readme = File.ReadAllText(Path.Combine(directory, "README.md"));
        Assert.Contains("| `Features` | TYPE_FP32 | [batch, 4] |", readme);
        Assert.Contains("| `Score` | TYPE_FP32 | [batch, 3] | the class probabilities (softmax), in the order of `labels.txt`", readme);
        Assert.Contains("`ValueToKeyMappingTransformer`", readme);

        // The bundle's model, run by a plain ONNX Runtime session, gives the transformer's Score column.
        var features = data.GetColumn<float[]>("Features").ToArray();
        using var session = new InferenceSession(Path.Combine(directory, "1", "model.onnx"));
        var input = new DenseTensor<float>(features.SelectMany(f => f).ToArray(), [features.Length, 4]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", input)]);
        float[] scores = results.Single(r => r.Name == "Score").AsTensor<float>().ToArray();
        Assert.Equal(ScoreReader.Scores(model.Transform(data)).SelectMany(s => s), scores);

        // Without the warm-start state (a second copy of the weights), still a DeepArch network that loads and scores the same.
        byte[] served = File.ReadAllBytes(Path.Combine(directory, "1", "model.onnx"));
        var network = ((TransformerChain<NetworkTransformer>)model).LastTransformer;
        Assert.NotNull(network.Info.TrainingState);
        Assert.Equal(network.OnnxModel.Length - served.Length, ModelFileBytesOf(network.Info.TrainingState!));
        using var reloaded = DeepArchModel.FromOnnx(served);
        Assert.Null(reloaded.Info.TrainingState);
        Assert.Equal(scores, ScoreReader.Scores(reloaded.Transform(model.Transform(data))).SelectMany(s => s));

        TritonConfigCheck(directory);
    }

    [Fact]
    public void Bundles_of_other_tasks_pass_the_triton_schema_check()
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(Fixtures.Rows(60));
        using var regression = ml.Regression.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { HiddenLayers = [4], Epochs = 2 }).Fit(rows);
        using var detector = ml.AnomalyDetection.Trainers.Autoencoder(new AutoencoderAnomalyDetectionTrainer.Options
        {
            Epochs = 2,
            LayerSizes = [3],
            FeatureContributionsColumnName = "Contributions",
        }).Fit(rows);
        using var generator = ml.Transforms.GenerateByAdversarialNetwork(new DeepArch.MLNet.GenerativeAdversarialNetworkEstimator.Options
        {
            LabelColumnName = "Label", Epochs = 1, BatchSize = 16,
        }).Fit(ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows));

        regression.SaveForServing(Path.Combine(_root, "regression"));
        detector.SaveForServing(Path.Combine(_root, "detector"));
        generator.SaveForServing(Path.Combine(_root, "conditional_gan"));

        Assert.False(File.Exists(Path.Combine(_root, "regression", "labels.txt")));
        Assert.Contains("the prediction in the label's units", File.ReadAllText(Path.Combine(_root, "regression", "README.md")));
        Assert.Contains("each feature's share of the row's error", File.ReadAllText(Path.Combine(_root, "detector", "README.md")));
        Assert.Contains("the label, one-hot over its 3 classes, in the order of `condition_labels.txt`", File.ReadAllText(Path.Combine(_root, "conditional_gan", "README.md")));
        string[] conditionLabels = File.ReadAllLines(Path.Combine(_root, "conditional_gan", "condition_labels.txt"));
        Assert.Equal(3, conditionLabels.Length);
        Assert.Equal(generator.Info.Condition!.Keys.Values, conditionLabels);
        Assert.False(File.Exists(Path.Combine(_root, "regression", "condition_labels.txt")));
        TritonConfigCheck(Path.Combine(_root, "regression"), Path.Combine(_root, "detector"), Path.Combine(_root, "conditional_gan"));
    }

    [Fact]
    public void What_cannot_be_served_is_refused_with_the_reason()
    {
        var (_, _, model) = IrisPipeline();
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(Fixtures.Rows(30));
        var noNetwork = ml.Transforms.NormalizeMinMax("Features").Fit(rows);
        var network = ((TransformerChain<NetworkTransformer>)model).LastTransformer;
        var two = new TransformerChain<ITransformer>(network, network);

        Assert.Contains("the model holds 0 DeepArch networks", Assert.Throws<ArgumentException>(() => DeepArchModel.SaveForServing(noNetwork, Path.Combine(_root, "a"))).Message);
        Assert.Contains("the model holds 2 DeepArch networks", Assert.Throws<ArgumentException>(() => DeepArchModel.SaveForServing(two, Path.Combine(_root, "b"))).Message);
        var name = Assert.Throws<ArgumentException>(() => network.SaveForServing(Path.Combine(_root, "my model")));
        Assert.Contains("got 'my model'", name.Message);
        Assert.False(Directory.Exists(Path.Combine(_root, "my model")));
        // "x/.." and "x/." would write into the folder above (or x itself) under another name.
        Directory.CreateDirectory(Path.Combine(_root, "x"));
        Assert.Contains("got '..'", Assert.Throws<ArgumentException>(() => network.SaveForServing(Path.Combine(_root, "x", ".."))).Message);
        Assert.Contains("got '.'", Assert.Throws<ArgumentException>(() => network.SaveForServing(Path.Combine(_root, "x", "."))).Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_root, "x")));
        Assert.Contains("load it with DeepArchModel.Load", Assert.Throws<ArgumentException>(() => DeepArchModel.SaveForServing(noNetwork, Path.Combine(_root, "c"))).Message);
    }

    /// <summary>What a metadata entry holding <paramref name="state"/> takes in the file: its base64 text, the key, and protobuf's framing.</summary>
    private static int ModelFileBytesOf(byte[] state)
    {
        var entry = new DeepArch.Trainers.Onnx.Proto.StringStringEntryProto { Key = ModelInfo.TrainingStateKey, Value = Convert.ToBase64String(state) };
        var model = new DeepArch.Trainers.Onnx.Proto.ModelProto();
        model.MetadataProps.Add(entry);
        return model.CalculateSize();
    }

    /// <summary>eng/serving/check_triton_config.py: config.pbtxt parsed strictly against Triton's schema (protoc, python3-protobuf) and matched to the ONNX graph.</summary>
    private static void TritonConfigCheck(params string[] directories)
    {
        string script = Path.Combine(RepositoryRoot(), "eng", "serving", "check_triton_config.py");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (string directory in directories)
        {
            start.ArgumentList.Add(directory);
        }
        using var process = Process.Start(start)!;
        var errorRead = process.StandardError.ReadToEndAsync(); // both pipes drained at once: a full stderr pipe cannot block the script
        string output = process.StandardOutput.ReadToEnd();
        string error = errorRead.Result;
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"check_triton_config.py failed ({process.ExitCode}): {output}{error}");
        Assert.Equal(directories.Length, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("\"ok\": true")));
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "DeepArch.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("The repository root (DeepArch.slnx) is not above the test's output.");
    }
}
