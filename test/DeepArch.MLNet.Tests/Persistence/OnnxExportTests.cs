using DeepArch.Trainers;
using DeepArch.Trainers.Tests;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Persistence;

/// <summary>Every task's transformer writes a standalone ONNX file that passes onnx.checker and loads back with identical scores.</summary>
public class OnnxExportTests
{
    private sealed class Row
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }

        public float Target { get; set; }
    }

    public static TheoryData<string> Tasks => ["multiclass", "binary", "regression"];

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Standalone_onnx_file_passes_the_checker_and_reloads_with_the_same_scores(string task)
    {
        var ml = new MLContext(seed: 6);
        var rows = Fixtures.Rows(60).Select(r => new Row { Features = r.Features, Label = r.Label == 1, Target = r.Label * 0.5f }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        NetworkTransformer network = task switch
        {
            "multiclass" => ml.MulticlassClassification.Trainers.MultilayerPerceptron(hiddenLayers: [8], epochs: 3)
                .Fit(ml.Transforms.Conversion.MapValueToKey("Label", "Target").Fit(data).Transform(data)),
            "binary" => ml.BinaryClassification.Trainers.MultilayerPerceptron(hiddenLayers: [8], epochs: 3).Fit(data),
            _ => ml.Regression.Trainers.MultilayerPerceptron(labelColumnName: "Target", hiddenLayers: [8], epochs: 3).Fit(data),
        };
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-{task}-{Guid.NewGuid():N}.onnx");
        try
        {
            network.SaveOnnx(path);
            OnnxAssert.CheckModel(File.ReadAllBytes(path));
            using var reloaded = DeepArchModel.LoadOnnx(path);

            Assert.Equal(network.History, reloaded.History, HistoryComparer.Instance);
            Assert.Equal(network.NetworkSummary, reloaded.NetworkSummary);
            var scoringData = task == "multiclass" ? ml.Transforms.Conversion.MapValueToKey("Label", "Target").Fit(data).Transform(data) : data;
            Assert.Equal(ScoreReader.Scores(network.Transform(scoringData)), ScoreReader.Scores(reloaded.Transform(scoringData)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_file_without_deeparch_metadata_is_a_clear_error()
    {
        string path = Path.Combine(Path.GetTempPath(), $"deeparch-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, [0x08, 0x08]);
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => DeepArchModel.LoadOnnx(path));
            Assert.Contains("not an ONNX model written by DeepArch", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
    private sealed class HistoryComparer : IEqualityComparer<DeepArch.Trainers.TrainingHistory>
    {
        public static readonly HistoryComparer Instance = new();

        public bool Equals(DeepArch.Trainers.TrainingHistory? x, DeepArch.Trainers.TrainingHistory? y)
            => x!.BestEpoch == y!.BestEpoch && x.StopReason == y.StopReason && x.Epochs.SequenceEqual(y.Epochs);

        public int GetHashCode(DeepArch.Trainers.TrainingHistory obj) => obj.BestEpoch;
    }
}
