using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json.Nodes;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ModelFiles;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Model files crafted by an attacker, made here: each ends in an <see cref="InvalidDataException"/> that says what is
/// wrong, within seconds and a bounded amount of memory, and nothing is read from outside the file. The crafted ONNX
/// models are re-sealed (anyone can recompute a SHA-256), so only the structural checks, the bounds and the bindings
/// stand between them and ONNX Runtime.
/// </summary>
[Collection(SerialReliabilityCollection.Name)]
public class UntrustedModelTests
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(10);
    private const long BoundedBytes = 64L << 20;

    private static readonly Lazy<(byte[] Zip, byte[] Onnx, float[][] Scores)> Model = new(() =>
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "regression", Rows(40));
        return (Save(ml, network), OnnxBytes(network), Scores(network.Transform(ScoringData(ml))));
    });

    private static IDataView ScoringData(MLContext ml) => ml.Data.LoadFromEnumerable(Rows(10, seed: 2).Select(r => new FeatureRow { Features = r.Features }));

    // ---- 1. external data: a local file read ------------------------------------------------------------------------

    [Fact]
    public void External_data_naming_a_file_beside_the_model_is_refused_and_plain_loading_after_Register_reads_nothing()
    {
        string secret = Path.Combine(Path.GetTempPath(), $"deeparch-secret-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(secret, new byte[1 << 16]); // zeros: weights read from it make every row score the same
        try
        {
            byte[] crafted = WithOnnx(Model.Value.Zip, onnx => Reseal(onnx, proto => PointFirstWeightAt(proto, Path.GetFileName(secret), offset: 64)));

            var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(crafted), out _));
            var standalone = Assert.Throws<InvalidDataException>(() => DeepArchModel.FromOnnx(OnnxOf(Entries(crafted).Single(e => e.Name == OnnxEntry).Content)));

            Assert.Contains($"keeps the data of initializer", error.Message);
            Assert.Contains($"outside the model file (location '{Path.GetFileName(secret)}')", error.Message);
            Assert.Contains("outside the model file", standalone.Message);

            // The oracle that the crafted file works: ML.NET alone, with its temporary files in the shared folder, loads it
            // and scores with the secret file's bytes as weights.
            var exposed = new MLContext();
            exposed.ComponentCatalog.RegisterAssembly(typeof(DeepArchModel).Assembly);
            var leaked = exposed.Model.Load(new MemoryStream(crafted), out _);
            float[][] scores = Scores(leaked.Transform(ScoringData(exposed)));
            (leaked as IDisposable)?.Dispose();
            Assert.All(scores, s => Assert.Equal(scores[0][0], s[0]));
            Assert.NotEqual(Model.Value.Scores.Select(s => s[0]), scores.Select(s => s[0]));

            // After Register, ML.NET's copy of the model sits in a private, empty folder: the name resolves to nothing.
            var ml = new MLContext();
            DeepArchModel.Register(ml);
            Assert.ThrowsAny<Exception>(() => ml.Model.Load(new MemoryStream(crafted), out _));
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public void Register_points_MLNet_temporary_files_at_a_private_folder_of_their_own()
    {
        var ml = new MLContext();
        string before = ml.TempFilePath;

        DeepArchModel.Register(ml);
        string folder = ml.TempFilePath;
        DeepArchModel.Register(ml);

        Assert.NotEqual(before, folder);
        Assert.Equal(folder, ml.TempFilePath);
        Assert.Equal(Path.GetFullPath(before).TrimEnd('/'), Path.GetDirectoryName(Path.GetFullPath(folder).TrimEnd('/')));
        Assert.True(Directory.Exists(folder));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        }
    }

    // ---- 2. zip bombs ------------------------------------------------------------------------------------------------

    [Fact]
    public void A_bomb_entry_beside_the_model_is_refused_from_its_recorded_sizes()
    {
        byte[] bomb = AddEntry(Model.Value.Zip, "TransformerChain/Transform_009/Model.key", zeros: 256L << 20);

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(bomb), out _));

        Assert.Contains("expands from", error.Message);
        Assert.Contains("it looks like a zip bomb", error.Message);
    }

    [Fact]
    public void A_bomb_in_place_of_the_network_is_refused_before_it_is_decompressed()
    {
        byte[] bomb = Rezip(Model.Value.Zip, (name, content) => name == OnnxEntry ? null : content, extra: (OnnxEntry, 256L << 20));

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(bomb), out _));

        Assert.StartsWith($"Zip entry '{OnnxEntry}' expands from", error.Message);
    }

    [Fact]
    public void A_bomb_whose_archive_records_small_sizes_stops_at_the_recorded_size()
    {
        // The archive says the entry holds 1,000 bytes, so the ratio check passes; decompressing must stop right after them.
        byte[] bomb = RecordSmallSize(AddEntry(Model.Value.Zip, "TransformerChain/Transform_009/Model.key", zeros: 256L << 20), "TransformerChain/Transform_009/Model.key", 1000);

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(bomb), out _));

        Assert.Contains("Transform_009/Model.key", error.Message);
    }

    [Theory]
    [InlineData("../escape/Model.key")]
    [InlineData("TransformerChain/../../etc/passwd")]
    [InlineData("/absolute/Model.key")]
    [InlineData("Transformer Chain/Model.key")]
    [InlineData("TransformerChain//Model.key")]
    public void An_entry_name_MLNet_never_writes_is_refused_without_being_decompressed(string name)
    {
        byte[] zip = AddEntry(Model.Value.Zip, name, zeros: 64L << 20);

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(zip), out _));

        Assert.Contains("is not part of an ML.NET model", error.Message);
    }

    [Fact]
    public void A_duplicate_entry_is_refused_because_MLNet_would_read_only_one()
    {
        var entries = Entries(Model.Value.Zip);
        byte[] zip = Zip([.. entries, (OnnxEntry.Replace('/', '\\'), EntryOf(OnnxBytes(OtherNetwork())))]);

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(zip), out _));

        Assert.Equal($"Zip entry '{OnnxEntry}' appears twice: ML.NET would read only one of them.", error.Message);
    }

    [Fact]
    public void A_stream_without_end_is_read_no_further_than_the_limit()
    {
        var options = new ModelLoadOptions { MaxUncompressedBytes = 4 << 20 };

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new EndlessStream(), out _, options));

        Assert.StartsWith("The model stream holds more than ModelLoadOptions.MaxUncompressedBytes (4,194,304) bytes", error.Message);
    }

    [Fact]
    public void A_model_over_the_total_limit_is_refused_and_loads_once_the_limit_is_raised()
    {
        var small = new ModelLoadOptions { MaxUncompressedBytes = 2_000 };

        var error = Assert.Throws<InvalidDataException>(() => DeepArchModel.Load(new MLContext(), new MemoryStream(Model.Value.Zip), out _, small));
        var model = DeepArchModel.Load(new MLContext(), new MemoryStream(Model.Value.Zip), out _, new ModelLoadOptions());

        Assert.Contains("ModelLoadOptions.MaxUncompressedBytes (2,000)", error.Message);
        (model as IDisposable)?.Dispose();
    }

    // ---- 3. values from the model info -------------------------------------------------------------------------------

    public static TheoryData<string, string, string> InfoMutations => new()
    {
        { "scoring.threads", "3000", "scoring threads is out of bounds (3000)" },
        { "scoring.threads", "-1", "scoring threads is out of bounds (-1)" },
        { "scoring.batchSize", "0", "scoring batch size is out of bounds (0)" },
        { "scoring.batchSize", "-7", "scoring batch size is out of bounds (-7)" },
        { "scoring.batchSize", "2147483647", "scoring batch size is out of bounds (2147483647)" },
        { "scoring.device", "\"Tpu\"", "The JSON value could not be converted" },
        { "featureSize", "7", "graph's input 'Features' is float [batch, 7] but the graph declares [batch, 6]" },
        { "featureSize", "-6", "feature size is out of bounds (-6)" },
        { "featureSize", "2147483647", "feature size is out of bounds (2147483647)" },
        { "outputShape", "[0]", "output shape is out of bounds ([0])" },
        { "outputShape", "[65536, 65536]", "output shape is out of bounds ([65536, 65536])" },
        { "history.bestEpoch", "99", "training history is out of bounds (best epoch 99 of 3)" },
        { "featureColumn", "\"Pixels\"", "the model info names the input 'Pixels' but the graph's inputs are ['Features']" },
        { "task.kind", "\"evil\"", "evil" },
        { "task", "null", "task is missing" },
        { "task.labelScale", "0", "regression's label scale is out of bounds (0)" },
        { "task.labelScale", "-2", "regression's label scale is out of bounds (-2)" },
        { "task.labelMean", "1e300", "regression's label mean is out of bounds (1E+300)" },
        { "scoring", "null", "scoring settings is missing" },
        { "sequence", "{\"featuresPerStep\": 0, \"maxSteps\": 6, \"variableLength\": false}", "sequence layout is out of bounds" },
        { "format", "4", "The model info has format 4, written by a newer DeepArch; this one reads formats up to 3." },
    };

    [Theory]
    [MemberData(nameof(InfoMutations))]
    public void Model_info_values_out_of_bounds_are_refused_in_a_standalone_file_and_in_a_zip(string path, string json, string expected)
    {
        byte[] onnx = WithInfo(Model.Value.Onnx, path, json);

        var standalone = Measured(() => DeepArchModel.FromOnnx(onnx));
        var zipped = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(WithOnnx(Model.Value.Zip, _ => onnx)), out _));

        Assert.StartsWith("The ONNX model holds a damaged DeepArch network:", standalone.Message);
        Assert.Contains(expected, standalone.Message);
        Assert.Contains(expected, zipped.Message);
    }

    [Fact]
    public void A_value_of_a_million_characters_is_quoted_in_80_and_a_column_name_that_long_is_refused()
    {
        string million = "\"" + new string('x', 1_000_000) + "\"";

        var trainer = Measured(() => DeepArchModel.FromOnnx(WithInfo(Model.Value.Onnx, "trainer", million)));
        var column = Measured(() => DeepArchModel.FromOnnx(WithInfo(Model.Value.Onnx, "featureColumn", million)));

        Assert.Contains("trainer is out of bounds (" + new string('x', 80) + "... (1,000,000 characters))", trainer.Message);
        Assert.Contains("feature column is out of bounds (a name of 1,000,000 characters, more than 1,024)", column.Message);
        Assert.All(new[] { trainer, column }, e => Assert.True(e.Message.Length < 400 && (e.InnerException?.Message.Length ?? 0) < 400, e.Message));
    }

    /// <summary>
    /// A graph ONNX Runtime refuses (an Expand to 2^20 x 2^20), in a zip: ML.NET's OnnxTransformer puts the whole ONNX Runtime
    /// exception, stack trace included, into its message; the error keeps its first line.
    /// </summary>
    [Fact]
    public void An_onnx_runtime_refusal_inside_a_zip_is_reported_in_one_line()
    {
        byte[] onnx = Reseal(Model.Value.Onnx, proto =>
        {
            var shape = new TensorProto { Name = "huge_shape", DataType = (int)TensorProto.Types.DataType.Int64 };
            shape.Dims.Add(2);
            shape.Int64Data.Add([1L << 20, 1L << 20]);
            proto.Graph.Initializer.Add(shape);
            var node = new NodeProto { OpType = "Expand", Name = "expand" };
            node.Input.Add([proto.Graph.Input[0].Name, "huge_shape"]);
            node.Output.Add("expanded");
            proto.Graph.Node.Add(node);
            proto.Graph.Output.Add(new ValueInfoProto { Name = "expanded", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        });

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(WithOnnx(Model.Value.Zip, _ => onnx)), out _));

        Assert.StartsWith("The model could not be loaded:", error.Message);
        Assert.Contains("Expand", error.Message);
        Assert.DoesNotContain("\n", error.Message);
        Assert.DoesNotContain("OnnxRuntimeException:", error.Message);
    }

    /// <summary>
    /// Listing a zip's entries costs about 1.7 KB each: 200,000 empty entries (a 25 MB file) took 344 MB before anything was
    /// checked. The count is read from the archive's end record first, and a record that understates it is caught by counting
    /// the central directory's headers, as ZipArchive lists them; the limit is exact (the file's own count loads).
    /// </summary>
    [Fact]
    public void A_zip_of_more_entries_than_MaxEntries_is_refused_before_they_are_listed()
    {
        var entries = Entries(Model.Value.Zip);
        byte[] crowded = Zip(entries.Concat(Enumerable.Range(0, ModelLoadOptions.DefaultMaxEntries).Select(i => ($"TransformerChain/Extra/E{i}", Array.Empty<byte>()))));
        byte[] understated = (byte[])crowded.Clone();
        int end = understated.Length - 22;
        Assert.Equal(0x06054b50u, BitConverter.ToUInt32(understated, end));
        BitConverter.GetBytes((ushort)entries.Count).CopyTo(understated, end + 8);
        BitConverter.GetBytes((ushort)entries.Count).CopyTo(understated, end + 10);

        var counted = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(crowded), out _));
        var sized = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(understated), out _));
        int total = entries.Count + 10_000;
        var raised = DeepArchModel.Load(new MLContext(), new MemoryStream(crowded), out _, new ModelLoadOptions { MaxEntries = total });
        var oneShort = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(crowded), out _, new ModelLoadOptions { MaxEntries = total - 1 }));

        Assert.StartsWith($"The model file's zip archive holds {total:N0} entries, more than ModelLoadOptions.MaxEntries (10,000)", counted.Message);
        Assert.StartsWith($"The model file's zip archive holds more than 10,000 entries in its central directory (its end record says {entries.Count:N0})", sized.Message);
        Assert.Contains($"more than ModelLoadOptions.MaxEntries ({total - 1:N0})", oneShort.Message);
        Assert.Equal(Model.Value.Scores, Scores(raised.Transform(ScoringData(new MLContext()))));
        (raised as IDisposable)?.Dispose();
        Assert.Throws<ArgumentOutOfRangeException>(() => DeepArchModel.Load(new MLContext(), new MemoryStream(crowded), out _, new ModelLoadOptions { MaxEntries = 0 }));
    }

    [Fact]
    public void A_thread_count_within_bounds_never_gives_a_session_more_threads_than_cores()
    {
        var settings = new ScoringSettings(256, ScoringSettings.MaxThreads, DeepArch.Trainers.ComputeDevice.Cpu, false);

        Assert.Equal(Environment.ProcessorCount, settings.SessionThreads);
        Assert.Equal(1, (settings with { Threads = 1 }).SessionThreads);
        Assert.Equal(Environment.ProcessorCount, (settings with { Threads = 0 }).SessionThreads);
    }

    [Fact]
    public void A_damaged_or_edited_decoder_entry_is_refused()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(40).Select(r => new FeatureRow { Features = r.Features }));
        using var featurizer = ml.Transforms.FeaturizeByAutoencoder("Code", "Features", layerSizes: [4, 2], epochs: 1).Fit(data);
        byte[] onnx = OnnxBytes(featurizer);
        byte[] notBase64 = Reseal(onnx, proto => proto.MetadataProps.Single(p => p.Key == ModelInfo.DecoderKey).Value = "!!not base64!!");
        byte[] editedDecoder = Reseal(onnx, proto =>
        {
            var entry = proto.MetadataProps.Single(p => p.Key == ModelInfo.DecoderKey);
            byte[] decoder = Convert.FromBase64String(entry.Value);
            decoder[FirstWeightOffset(decoder) + 2] ^= 0x08;
            entry.Value = Convert.ToBase64String(decoder);
        });

        var garbled = Measured(() => DeepArchModel.FromOnnx(notBase64));
        var edited = Measured(() => DeepArchModel.FromOnnx(editedDecoder));

        Assert.StartsWith("The ONNX model holds a damaged decoder entry:", garbled.Message);
        Assert.StartsWith("The decoder inside the ONNX model was written by DeepArch but is damaged: The ONNX model failed its integrity check", edited.Message);
    }

    [Fact]
    public void A_discriminator_entry_where_none_belongs_or_a_condition_that_disagrees_with_the_graph_is_refused()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(64));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", "Class").Fit(data).Transform(data);
        using var generator = ml.Transforms.GenerateByAdversarialNetwork(new DeepArch.MLNet.GenerativeAdversarialNetworkEstimator.Options
        {
            LabelColumnName = "Label", NoiseSize = 2, GeneratorLayers = [4], DiscriminatorLayers = [4], Epochs = 1, BatchSize = 16,
        }).Fit(keyed);
        byte[] onnx = OnnxBytes(generator);
        using var loaded = DeepArchModel.FromOnnx(onnx);
        string discriminator = Convert.ToBase64String(loaded.Info.Discriminator!);
        byte[] misplaced = Reseal(Model.Value.Onnx, proto => proto.MetadataProps.Add(new DeepArch.Trainers.Onnx.Proto.StringStringEntryProto { Key = ModelInfo.DiscriminatorKey, Value = discriminator }));
        byte[] renamedCondition = Reseal(onnx, proto =>
        {
            var entry = proto.MetadataProps.Single(p => p.Key == ModelInfo.MetadataKey);
            entry.Value = entry.Value.Replace("\"column\":\"Label\"", "\"column\":\"Other\"", StringComparison.Ordinal);
        });

        Assert.Equal(3, loaded.Info.Condition!.Keys.Count);
        Assert.StartsWith("The ONNX model holds a discriminator where DeepArch writes none", Measured(() => DeepArchModel.FromOnnx(misplaced)).Message);
        Assert.Contains("the model info names the inputs 'Noise', 'Other' but the graph's inputs are ['Noise', 'Label']", Measured(() => DeepArchModel.FromOnnx(renamedCondition)).Message);
    }

    // ---- 4. what DeepArch never writes ------------------------------------------------------------------------------

    [Fact]
    public void An_operator_outside_DeepArchs_list_or_of_another_domain_is_refused()
    {
        byte[] foreignOp = Reseal(Model.Value.Onnx, proto => proto.Graph.Node[0].OpType = "Upsample");
        byte[] foreignDomain = Reseal(Model.Value.Onnx, proto => proto.Graph.Node[0].Domain = "com.microsoft");

        var op = Measured(() => DeepArchModel.FromOnnx(foreignOp));
        var domain = Measured(() => DeepArchModel.FromOnnx(foreignDomain));

        Assert.Contains("uses operator 'Upsample' in the graph, which DeepArch does not export", op.Message);
        Assert.Contains("of domain 'com.microsoft'", domain.Message);
    }

    [Fact]
    public void Fields_DeepArch_never_writes_are_refused()
    {
        // ModelProto field 20 (training_info) and 25 (functions): ONNX Runtime would read them; DeepArch never writes them.
        foreach (int field in new[] { 20, 25 })
        {
            byte[] onnx = Reseal(Model.Value.Onnx, _ => { }, extraField: field);

            var error = Measured(() => DeepArchModel.FromOnnx(onnx));

            Assert.Contains("holds fields or encodings DeepArch never writes", error.Message);
        }
    }

    [Fact]
    public void A_field_hidden_behind_an_encoding_of_the_same_length_is_refused()
    {
        // An outside probe hid an external sparse initializer (GraphProto field 15, which DeepArch's parser discards and ONNX Runtime
        // reads) behind an unused tensor whose dims were written packed: they re-measure larger by exactly the hidden field's size, so
        // the length check passed and the scores held the bytes of a file beside the working directory. Here the same trick in small:
        // dims [2, 3, 1, 1] written packed (2 bytes shorter) and 2 bytes of TensorProto field 15, which no parser keeps.
        var pad = new TensorProto { Name = "pad", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 2, 3, 1, 1 }, FloatData = { 0, 0, 0, 0, 0, 0 } };
        byte[] unpacked = [0x08, 2, 0x08, 3, 0x08, 1, 0x08, 1];
        byte[] packedAndHidden = [0x0A, 4, 2, 3, 1, 1, 0x78, 0];
        byte[] onnx = Reseal(Model.Value.Onnx, proto => proto.Graph.Initializer.Add(pad), rewrite: bytes =>
        {
            int at = bytes.AsSpan().IndexOf(unpacked);
            Assert.True(at >= 0 && bytes.AsSpan(at + 1).IndexOf(unpacked) < 0, "the pad tensor's dims are found once");
            packedAndHidden.CopyTo(bytes, at);
        });
        // What the length check alone saw: the fields it understands measure the whole file.
        Assert.Equal(onnx.Length, ModelProto.Parser.WithDiscardUnknownFields(true).ParseFrom(onnx).CalculateSize());

        var error = Measured(() => DeepArchModel.FromOnnx(onnx));

        Assert.Contains("holds fields or encodings DeepArch never writes", error.Message);
    }

    [Fact]
    public void A_tensor_whose_shape_claims_more_values_than_it_holds_is_refused()
    {
        byte[] onnx = Reseal(Model.Value.Onnx, proto =>
        {
            var weight = proto.Graph.Initializer.First(t => t.Name.StartsWith("dense_weight", StringComparison.Ordinal) && t.RawData.Length >= 16);
            weight.Dims[0] = 1L << 40;
        });

        var error = Measured(() => DeepArchModel.FromOnnx(onnx));

        Assert.Contains("values) but holds", error.Message);
    }

    [Fact]
    public void A_pipeline_with_an_onnx_model_DeepArch_did_not_write_is_refused_and_loads_through_plain_MLNet()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows(10).Select(r => new FeatureRow { Features = r.Features }));
        using var foreign = new MemoryStream(ForeignIdentityModel());
        var model = ml.Transforms.ApplyOnnxModel(["Copy"], ["Features"], foreign).Fit(data);
        byte[] zip = SaveBytes(s => ml.Model.Save(model, data.Schema, s));
        var plain = new MLContext();
        DeepArchModel.Register(plain);

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(zip), out _));
        var loaded = plain.Model.Load(new MemoryStream(zip), out _);

        Assert.StartsWith("The ONNX model in zip entry 'TransformerChain/OnnxModel' is not an ONNX model written by DeepArch:", error.Message);
        Assert.NotNull(loaded.GetOutputSchema(data.Schema).GetColumnOrNull("Copy"));
        (loaded as IDisposable)?.Dispose();
        (model as IDisposable)?.Dispose();
    }

    /// <summary>An ONNX model from another tool: Identity from Features [batch, 6] to Copy.</summary>
    private static byte[] ForeignIdentityModel()
    {
        static ValueInfoProto Value(string name)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 6 });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
        }
        var graph = new GraphProto { Name = "elsewhere" };
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "Features" }, Output = { "Copy" } });
        graph.Input.Add(Value("Features"));
        graph.Output.Add(Value("Copy"));
        var proto = new ModelProto { IrVersion = 8, ProducerName = "elsewhere", Graph = graph };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return proto.ToByteArray();
    }

    // ---- 5. swapped networks ----------------------------------------------------------------------------------------

    [Fact]
    public void A_network_swapped_for_another_DeepArch_network_with_the_same_input_and_head_is_detected()
    {
        byte[] swapped = WithOnnx(Model.Value.Zip, _ => OnnxBytes(OtherNetwork()));

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(swapped), out _));

        Assert.StartsWith($"The network in zip entry '{OnnxEntry}' (SHA-256 ", error.Message);
        Assert.Contains("is not the one the transforms saved with it were written for", error.Message);
    }

    [Fact]
    public void The_manifest_of_DeepArchModel_Save_binds_every_network_to_the_rest_of_the_model()
    {
        // Two pipelines of the same shape (a normalizer fitted on different data, then a network): the network's whole
        // saved chain moves from one file to the other. Its own binding holds; only the manifest sees the swap.
        var (a, schema) = Pipeline(seed: 1);
        var (b, _) = Pipeline(seed: 2);
        var ml = new MLContext();
        byte[] plainA = SaveBytes(s => ml.Model.Save(a, schema, s)), plainB = SaveBytes(s => ml.Model.Save(b, schema, s));
        byte[] sealedA = SaveBytes(s => DeepArchModel.Save(ml, a, schema, s)), sealedB = SaveBytes(s => DeepArchModel.Save(ml, b, schema, s));

        byte[] plainSwap = MoveNetwork(from: plainB, into: plainA);
        byte[] sealedSwap = MoveNetwork(from: sealedB, into: sealedA);
        var loaded = DeepArchModel.Load(new MLContext(), new MemoryStream(plainSwap), out _);
        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(sealedSwap), out _));
        var intact = DeepArchModel.Load(new MLContext(), new MemoryStream(sealedA), out _);

        Assert.StartsWith("Zip entry 'TransformerChain/Transform_001/", error.Message);
        Assert.Contains("differs from the model's manifest", error.Message);
        (loaded as IDisposable)?.Dispose();
        (intact as IDisposable)?.Dispose();
    }

    // ---- 6. signing keys --------------------------------------------------------------------------------------------

    private static readonly byte[] KeyA = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] KeyB = Enumerable.Range(2, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public void A_signed_model_loads_with_its_key_and_is_refused_with_another_key_or_none_expected()
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "regression", Rows(40));
        var schema = ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = new float[6] } }).Schema;
        byte[] signed = SaveBytes(s => DeepArchModel.Save(ml, network, schema, s, new ModelSaveOptions { SigningKey = KeyA }));
        byte[] unsigned = Save(ml, network);

        var withKey = DeepArchModel.Load(new MLContext(), new MemoryStream(signed), out _, new ModelLoadOptions { SigningKey = KeyA });
        var withoutKey = DeepArchModel.Load(new MLContext(), new MemoryStream(signed), out _);
        var wrongKey = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(signed), out _, new ModelLoadOptions { SigningKey = KeyB }));
        var notSigned = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(unsigned), out _, new ModelLoadOptions { SigningKey = KeyA }));

        Assert.Equal(Scores(network.Transform(ScoringData(ml))), Scores(withKey.Transform(ScoringData(ml))));
        Assert.Equal(Scores(network.Transform(ScoringData(ml))), Scores(withoutKey.Transform(ScoringData(ml))));
        Assert.Equal("The model's signature does not match ModelLoadOptions.SigningKey: it was signed with another key, or changed after it was signed.", wrongKey.Message);
        Assert.StartsWith("The model is not signed (it has no 'DeepArch/Manifest.json' entry), but ModelLoadOptions.SigningKey is set", notSigned.Message);
        (withKey as IDisposable)?.Dispose();
        (withoutKey as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_signed_model_changed_after_signing_is_refused_even_with_a_fresh_unkeyed_manifest()
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "regression", Rows(40));
        var schema = ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = new float[6] } }).Schema;
        byte[] signed = SaveBytes(s => DeepArchModel.Save(ml, network, schema, s, new ModelSaveOptions { SigningKey = KeyA }));
        byte[] otherNetwork = OnnxBytes(OtherNetwork());
        var key = new ModelLoadOptions { SigningKey = KeyA };

        // The attacker swaps the network and, not knowing the key, rewrites the manifest without a signature.
        byte[] changed = Rezip(signed, (name, content) => name == OnnxEntry ? EntryOf(otherNetwork) : content);
        byte[] remanifested = Remanifest(changed);

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(changed), out _, key));
        var resigned = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(remanifested), out _, key));

        Assert.StartsWith($"Zip entry '{OnnxEntry}' differs from the model's manifest", error.Message);
        Assert.Equal("The model is not signed (its manifest holds no signature), but ModelLoadOptions.SigningKey is set.", resigned.Message);
    }

    [Fact]
    public void A_signed_standalone_onnx_file_loads_with_its_key_and_only_with_it()
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "regression", Rows(40));
        string signed = Path.Combine(Path.GetTempPath(), $"deeparch-signed-{Guid.NewGuid():N}.onnx");
        string unsigned = Path.ChangeExtension(signed, ".unsigned.onnx");
        network.SaveOnnx(signed, KeyA);
        network.SaveOnnx(unsigned);
        try
        {
            using var withKey = DeepArchModel.LoadOnnx(signed, new ModelLoadOptions { SigningKey = KeyA });
            using var withoutKey = DeepArchModel.LoadOnnx(signed);
            var wrongKey = Assert.Throws<InvalidDataException>(() => DeepArchModel.LoadOnnx(signed, new ModelLoadOptions { SigningKey = KeyB }));
            var notSigned = Assert.Throws<InvalidDataException>(() => DeepArchModel.LoadOnnx(unsigned, new ModelLoadOptions { SigningKey = KeyA }));

            Assert.Equal(Scores(network.Transform(ScoringData(ml))), Scores(withKey.Transform(ScoringData(ml))));
            DeepArch.Trainers.Tests.OnnxAssert.CheckModel(File.ReadAllBytes(signed));
            Assert.Equal("The ONNX model is refused: The ONNX model's signature does not match the signing key: it was signed with another key, or changed after it was signed.", wrongKey.Message);
            Assert.StartsWith("The ONNX model is refused: The ONNX model is not signed", notSigned.Message);
        }
        finally
        {
            File.Delete(signed);
            File.Delete(unsigned);
        }
    }

    [Fact]
    public void A_signing_key_shorter_than_16_bytes_is_refused()
    {
        var load = Assert.Throws<ArgumentOutOfRangeException>(() => DeepArchModel.Load(new MLContext(), new MemoryStream(Model.Value.Zip), out _, new ModelLoadOptions { SigningKey = new byte[8] }));

        Assert.StartsWith("Options.SigningKey must hold at least 16 bytes; got 8.", load.Message);
    }

    // ---- parsers bounded: what a file makes a parser build is counted before it is built -------------------------------

    [Fact]
    public void An_onnx_file_of_millions_of_empty_messages_is_refused_before_it_is_parsed()
    {
        // A probe's file of empty NodeProtos (2 bytes each in the file, about 200 once parsed) took 2.9 GB before any check.
        const int nodes = 3_000_000;
        var crafted = new MemoryStream();
        crafted.WriteByte(0x3A); // ModelProto.graph (field 7), length-delimited
        using (var coded = new CodedOutputStream(crafted, leaveOpen: true))
        {
            coded.WriteLength(2 * nodes);
        }
        for (int i = 0; i < nodes; i++)
        {
            crafted.Write([0x0A, 0x00]); // GraphProto.node (field 1), empty
        }
        byte[] onnx = crafted.ToArray();

        var error = Measured(() => DeepArchModel.FromOnnx(onnx));

        Assert.Equal($"The ONNX model is refused: The ONNX model holds more than {DeepArch.Trainers.Onnx.OnnxWireScan.MaxFields:N0} protobuf fields; " +
            "the networks DeepArch exports hold a few thousand.", error.Message);
    }

    [Fact]
    public void A_manifest_of_more_entries_than_the_zip_holds_is_refused_before_it_is_deserialized()
    {
        // A probe's 1 MB zip held a 99 MB manifest of {} entries: 18 s and 1.9 GB to deserialize, before the signature was checked.
        var (model, schema) = Pipeline(seed: 1);
        byte[] saved = SaveBytes(s => DeepArchModel.Save(new MLContext(), model, schema, s));
        Assert.Contains(Entries(saved), e => e.Name == ModelManifest.EntryName);
        byte[] manifest = System.Text.Encoding.UTF8.GetBytes("{\"format\":1,\"entries\":[" + string.Join(",", Enumerable.Repeat("{}", 5_000_000)) + "]}");
        byte[] zip = Rezip(saved, (name, content) => name == ModelManifest.EntryName ? manifest : content);
        var options = new ModelLoadOptions { MaxCompressionRatio = 100_000 }; // a trusting caller: the ratio alone does not stop it

        var error = Measured(() => DeepArchModel.Load(new MLContext(), new MemoryStream(zip), out _, options));

        Assert.StartsWith($"The model's manifest ('{ModelManifest.EntryName}') is refused: it holds more than", error.Message);
    }

    [Fact]
    public void Model_info_of_millions_of_epochs_is_refused_before_it_is_deserialized()
    {
        // A probe's model info of 10 million epochs loaded in 10 s and 1.46 GB.
        string epochs = string.Concat(Enumerable.Repeat("{},", (int)(ModelInfo.MaxJsonTokens / 2)));
        byte[] onnx = Reseal(Model.Value.Onnx, proto =>
        {
            var entry = proto.MetadataProps.Single(p => p.Key == ModelInfo.MetadataKey);
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(entry.Value, "\"epochs\":\\["));
            entry.Value = entry.Value.Replace("\"epochs\":[", "\"epochs\":[" + epochs, StringComparison.Ordinal);
        });

        var error = Measured(() => DeepArchModel.FromOnnx(onnx));

        Assert.Equal($"The ONNX model holds a damaged DeepArch network: The model info is refused: it holds more than {ModelInfo.MaxJsonTokens:N0} JSON tokens, " +
            "more than about 150,000 epochs of training history take.", error.Message);
    }

    [Fact]
    public void An_initializer_no_node_reads_is_refused()
    {
        // A probe's 100,000 unused initializers took ONNX Runtime 30 to 50 s to open; DeepArch writes none.
        byte[] onnx = Reseal(Model.Value.Onnx, proto => proto.Graph.Initializer.Add(
            new TensorProto { Name = "unused", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1 }, FloatData = { 0 } }));

        var error = Measured(() => DeepArchModel.FromOnnx(onnx));

        Assert.Equal("The ONNX model is refused: The ONNX model holds initializer 'unused', which no node reads: DeepArch writes none such.", error.Message);
    }

    [Fact]
    public void A_standalone_file_larger_than_an_array_is_refused_without_reading_it()
    {
        // A probe's file of 2,147,483,600 bytes (under the default 2 GiB limit) ended in OutOfMemoryException. Sparse: no disk is used.
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-huge-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var file = File.Create(path))
            {
                file.SetLength(2_147_483_600);
            }

            var error = Measured(() => DeepArchModel.LoadOnnx(path));

            Assert.Equal($"The model file holds more than one array can ({Array.MaxLength:N0} bytes): a model of 2 GiB or more cannot be read, " +
                "whatever ModelLoadOptions.MaxUncompressedBytes allows.", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    /// <summary>Runs <paramref name="load"/>, which must throw <see cref="InvalidDataException"/> within a few seconds and a bounded allocation.</summary>
    private static InvalidDataException Measured(Func<object> load)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var error = Assert.Throws<InvalidDataException>(() => (load() as IDisposable)?.Dispose());
        clock.Stop();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.True(clock.Elapsed < FewSeconds, $"The load took {clock.Elapsed.TotalSeconds:F1} s.");
        Assert.True(allocated < BoundedBytes, $"The load allocated {allocated:N0} bytes.");
        return error;
    }

    private static NetworkTransformer OtherNetwork()
    {
        var ml = new MLContext(seed: 7);
        return Fit(ml, "regression", Rows(40, seed: 9));
    }

    private static byte[] OnnxBytes(NetworkTransformer network)
    {
        using var stream = new MemoryStream();
        network.SaveOnnx(stream);
        return stream.ToArray();
    }

    private static byte[] SaveBytes(Action<Stream> save)
    {
        using var stream = new MemoryStream();
        save(stream);
        return stream.ToArray();
    }

    /// <summary>A normalizer and a regression network, fitted on data of <paramref name="seed"/>.</summary>
    private static (ITransformer Model, DataViewSchema Schema) Pipeline(int seed)
    {
        var ml = new MLContext(seed: seed);
        var data = ml.Data.LoadFromEnumerable(Rows(40, seed: seed).Select(r => { r.Features = r.Features.Select(v => v * seed).ToArray(); return r; }));
        var model = ml.Transforms.NormalizeMinMax("Features").Append(Trainer(ml, "regression", Options("regression"))).Fit(data);
        return (model, data.Schema);
    }

    /// <summary><paramref name="into"/> with every entry of its network's saved chain (Transform_001) taken from <paramref name="from"/>.</summary>
    private static byte[] MoveNetwork(byte[] from, byte[] into)
    {
        const string network = "TransformerChain/Transform_001/";
        var moved = Entries(from).Where(e => e.Name.StartsWith(network, StringComparison.Ordinal)).ToDictionary(e => e.Name, e => e.Content);
        return Zip(Entries(into).Select(e => moved.TryGetValue(e.Name, out var content) ? (e.Name, content) : e));
    }

    /// <summary><paramref name="onnx"/> changed by <paramref name="change"/> and sealed again, as an attacker can.</summary>
    internal static byte[] Reseal(byte[] onnx, Action<ModelProto> change, int? extraField = null, Action<byte[]>? rewrite = null)
    {
        var proto = ModelProto.Parser.ParseFrom(onnx);
        foreach (var entry in proto.MetadataProps.Where(p => p.Key == MetadataKeys.Integrity).ToList())
        {
            proto.MetadataProps.Remove(entry);
        }
        change(proto);
        byte[] bytes = proto.ToByteArray();
        if (extraField is { } field)
        {
            using var output = new MemoryStream();
            output.Write(bytes);
            using (var coded = new CodedOutputStream(output, leaveOpen: true))
            {
                coded.WriteTag(field, WireFormat.WireType.LengthDelimited);
                coded.WriteBytes(ByteString.CopyFrom(1, 2, 3));
            }
            bytes = output.ToArray();
        }
        rewrite?.Invoke(bytes);
        return OnnxIntegrity.Seal(bytes);
    }

    /// <summary><paramref name="onnx"/> with the model info's value at <paramref name="path"/> (dotted, camelCase) replaced by <paramref name="json"/>, re-sealed.</summary>
    internal static byte[] WithInfo(byte[] onnx, string path, string json) => Reseal(onnx, proto =>
    {
        var entry = proto.MetadataProps.Single(p => p.Key == ModelInfo.MetadataKey);
        var root = JsonNode.Parse(entry.Value)!.AsObject();
        string[] keys = path.Split('.');
        var parent = keys[..^1].Aggregate(root, (node, key) => node[key]!.AsObject());
        parent[keys[^1]] = JsonNode.Parse(json);
        entry.Value = root.ToJsonString();
    });

    /// <summary>Points the first dense layer's weights (zeros from the secret file make every row score the same) at <paramref name="location"/> as external data, as a crafted model would.</summary>
    private static void PointFirstWeightAt(ModelProto proto, string location, int offset)
    {
        var weight = proto.Graph.Initializer.First(t => t.Name.StartsWith("dense_weight", StringComparison.Ordinal) && t.RawData.Length >= 16);
        int length = weight.RawData.Length;
        weight.RawData = ByteString.Empty;
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString() });
    }

    /// <summary><paramref name="zip"/> with one more entry of <paramref name="zeros"/> zero bytes (compressed about 1,000 : 1).</summary>
    private static byte[] AddEntry(byte[] zip, string name, long zeros) => Rezip(zip, (_, content) => content, extra: (name, zeros));

    /// <summary>Rezips <paramref name="zip"/>, each entry's content changed (or dropped, for null), plus an entry of zeros.</summary>
    private static byte[] Rezip(byte[] zip, Func<string, byte[], byte[]?> change, (string Name, long Zeros)? extra = null)
    {
        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in Entries(zip))
            {
                if (change(name, content) is { } changed)
                {
                    using var stream = archive.CreateEntry(name, CompressionLevel.Fastest).Open();
                    stream.Write(changed);
                }
            }
            if (extra is { } bomb)
            {
                using var stream = archive.CreateEntry(bomb.Name, CompressionLevel.SmallestSize).Open();
                byte[] chunk = new byte[1 << 20];
                for (long written = 0; written < bomb.Zeros; written += chunk.Length)
                {
                    stream.Write(chunk);
                }
            }
        }
        return output.ToArray();
    }

    /// <summary>Rewrites the sizes the archive records for <paramref name="name"/> (local header and central directory) as <paramref name="size"/>.</summary>
    private static byte[] RecordSmallSize(byte[] zip, string name, uint size)
    {
        byte[] copy = (byte[])zip.Clone();
        byte[] nameBytes = System.Text.Encoding.ASCII.GetBytes(name);
        for (int at = 0; (at = copy.AsSpan(at).IndexOf(nameBytes) is var i and >= 0 ? at + i : -1) >= 0; at += nameBytes.Length)
        {
            if (at >= 30 && BitConverter.ToUInt32(copy, at - 30) == 0x04034b50)
            {
                BitConverter.GetBytes(size).CopyTo(copy, at - 30 + 22);
            }
            else if (at >= 46 && BitConverter.ToUInt32(copy, at - 46) == 0x02014b50)
            {
                BitConverter.GetBytes(size).CopyTo(copy, at - 46 + 24);
            }
        }
        return copy;
    }

    /// <summary><paramref name="zip"/> with its manifest replaced by a fresh unkeyed one of its entries, as someone without the key could write.</summary>
    private static byte[] Remanifest(byte[] zip)
    {
        var unlimited = new ModelLoadOptions();
        using var stream = new MemoryStream(zip);
        var entries = ModelArchive.Read(stream, unlimited, _ => false).Where(e => e.Name != ModelManifest.EntryName).ToList();
        byte[] manifest = ModelManifest.Create(entries, key: null);
        return Rezip(zip, (name, content) => name == ModelManifest.EntryName ? manifest : content);
    }

    /// <summary>A stream of zeros that never ends.</summary>
    private sealed class EndlessStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Clear(buffer, offset, count);
            return count;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
