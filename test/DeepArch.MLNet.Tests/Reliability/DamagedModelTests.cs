using DeepArch.Trainers.Networks;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ModelFiles;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;
using static DeepArch.MLNet.Tests.ScoreReader;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// Damaged model files fail to load with an <see cref="InvalidDataException"/> that says what is wrong,
/// before ONNX Runtime parses anything that failed a check: DeepArchModel.Load checks every zip entry's
/// size and CRC-32 and every DeepArch network's SHA-256; LoadOnnx checks the SHA-256.
/// </summary>
public class DamagedModelTests
{
    private sealed class PixelRow
    {
        [VectorType(6)]
        public float[] Pixels { get; set; } = [];

        public float Target { get; set; }
    }

    private sealed class SmallRow
    {
        [VectorType(5)]
        public float[] Features { get; set; } = [];

        public float Target { get; set; }
    }

    private static readonly Lazy<(byte[] Zip, byte[] Onnx, float[][] Scores)> Model = new(() =>
    {
        var ml = new MLContext(seed: 1);
        using var network = Fit(ml, "regression", Rows(40));
        using var onnx = new MemoryStream();
        network.SaveOnnx(onnx);
        return (Save(ml, network), onnx.ToArray(), Scores(network.Transform(ScoringData(ml))));
    });

    private static IDataView ScoringData(MLContext ml) => ml.Data.LoadFromEnumerable(Rows(10, seed: 2).Select(r => new FeatureRow { Features = r.Features }));

    private static InvalidDataException LoadFails(byte[] zip)
        => Assert.Throws<InvalidDataException>(() => DeepArchModel.Load(new MLContext(), new MemoryStream(zip), out _));

    [Fact]
    public void The_intact_model_loads_and_scores_the_same()
    {
        var ml = new MLContext();
        var model = DeepArchModel.Load(ml, new MemoryStream(Model.Value.Zip), out _);

        Assert.Equal(Model.Value.Scores, Scores(model.Transform(ScoringData(ml))));
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void An_empty_file_is_not_a_model()
    {
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-empty-{Guid.NewGuid():N}.zip");
        File.WriteAllBytes(path, []);
        try
        {
            var zip = Assert.Throws<InvalidDataException>(() => DeepArchModel.Load(new MLContext(), path, out _));
            var onnx = Assert.Throws<InvalidDataException>(() => DeepArchModel.LoadOnnx(path));

            Assert.StartsWith("The model file is not an intact zip archive:", zip.Message);
            Assert.Contains("is not an ONNX model written by DeepArch", onnx.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.999)]
    public void A_truncated_zip_is_rejected(double keep)
    {
        byte[] zip = Model.Value.Zip;

        var error = LoadFails(zip[..(int)(zip.Length * keep)]);

        Assert.StartsWith("The model file is not an intact zip archive:", error.Message);
    }

    [Fact]
    public void A_flipped_bit_in_the_compressed_network_is_caught_by_the_zip_check()
    {
        byte[] zip = (byte[])Model.Value.Zip.Clone();
        zip[OnnxDataOffset(zip) + 300] ^= 0x10;

        var error = LoadFails(zip);

        Assert.StartsWith($"Zip entry '{OnnxEntry}' is damaged:", error.Message);
    }

    [Fact]
    public void A_flipped_weight_behind_valid_zip_checksums_is_caught_by_the_network_hash()
    {
        byte[] zip = WithOnnx(Model.Value.Zip, onnx =>
        {
            onnx[FirstWeightOffset(onnx) + 5] ^= 0x01;
            return onnx;
        });

        var error = LoadFails(zip);

        Assert.StartsWith($"The ONNX model in zip entry '{OnnxEntry}' was written by DeepArch but is damaged: The ONNX model failed its integrity check", error.Message);
    }

    [Fact]
    public void Plain_MLNet_load_has_no_integrity_check_and_scores_the_damaged_weights()
    {
        // Why DeepArchModel.Load is the recommended path: ML.NET's own loader takes the same file.
        byte[] zip = WithOnnx(Model.Value.Zip, onnx =>
        {
            onnx[FirstWeightOffset(onnx) + 3] ^= 0x40;
            return onnx;
        });
        var ml = new MLContext();
        DeepArchModel.Register(ml);

        var model = ml.Model.Load(new MemoryStream(zip), out _);

        Assert.NotEqual(Model.Value.Scores, Scores(model.Transform(ScoringData(ml))));
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_network_replaced_by_one_with_another_input_name_is_rejected()
    {
        var ml = new MLContext(seed: 2);
        var data = ml.Data.LoadFromEnumerable(Rows(30).Select(r => new PixelRow { Pixels = r.Features, Target = r.Target }));
        using var other = ml.Regression.Trainers.MultilayerPerceptron(Options("regression", o => o.FeatureColumnName = "Pixels")).Fit(data);

        var error = LoadFails(WithOnnx(Model.Value.Zip, _ => OnnxBytes(other)));

        // Caught by the binding of the saved chain to its network, before the pipeline is asked to accept its input schema.
        Assert.StartsWith($"The network in zip entry '{OnnxEntry}'", error.Message);
        Assert.Contains("was swapped for another network", error.Message);
    }

    [Fact]
    public void A_network_replaced_by_one_with_another_input_size_is_rejected()
    {
        var ml = new MLContext(seed: 2);
        var data = ml.Data.LoadFromEnumerable(Rows(30).Select(r => new SmallRow { Features = r.Features[..5], Target = r.Target }));
        using var other = ml.Regression.Trainers.MultilayerPerceptron(Options("regression")).Fit(data);

        var error = LoadFails(WithOnnx(Model.Value.Zip, _ => OnnxBytes(other)));

        Assert.StartsWith($"The network in zip entry '{OnnxEntry}'", error.Message);
        Assert.Contains("was swapped for another network", error.Message);
    }

    [Fact]
    public void A_standalone_onnx_file_with_a_flipped_weight_truncated_or_unsealed_is_rejected()
    {
        byte[] flipped = (byte[])Model.Value.Onnx.Clone();
        flipped[FirstWeightOffset(flipped) + 1] ^= 0x04;
        byte[] truncated = Model.Value.Onnx[..(Model.Value.Onnx.Length / 2)];
        byte[] unsealed = Unseal(Model.Value.Onnx);

        var errors = new[] { flipped, truncated, unsealed }.Select(bytes => Assert.Throws<InvalidDataException>(() => DeepArchModel.FromOnnx(bytes))).ToArray();

        Assert.StartsWith("The ONNX model was written by DeepArch but is damaged: The ONNX model failed its integrity check", errors[0].Message);
        Assert.StartsWith("The ONNX model is damaged:", errors[1].Message);
        Assert.StartsWith($"The ONNX model was written by DeepArch but is damaged: The ONNX model has no '{MetadataKeys.Integrity}' integrity entry", errors[2].Message);
    }

    [Fact]
    public void The_sealed_export_passes_the_onnx_checker_and_its_bytes_before_the_seal_are_the_unsealed_model()
    {
        byte[] onnx = Model.Value.Onnx;
        byte[] unsealed = Unseal(onnx);

        DeepArch.Trainers.Tests.OnnxAssert.CheckModel(onnx);
        Assert.Equal(unsealed, onnx[..unsealed.Length]);
        Assert.Equal(onnx, OnnxIntegrity.Seal(unsealed));
        OnnxIntegrity.Verify(onnx);
    }

    private static byte[] OnnxBytes(NetworkTransformer network)
    {
        using var stream = new MemoryStream();
        network.SaveOnnx(stream);
        return stream.ToArray();
    }

    /// <summary>The model without its integrity entry, re-serialized.</summary>
    private static byte[] Unseal(byte[] onnx)
    {
        var proto = DeepArch.Trainers.Onnx.Proto.ModelProto.Parser.ParseFrom(onnx);
        proto.MetadataProps.Remove(proto.MetadataProps.Single(p => p.Key == MetadataKeys.Integrity));
        return Google.Protobuf.MessageExtensions.ToByteArray(proto);
    }
}
