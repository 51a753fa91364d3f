using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace DeepArch.MLNet.Tests.Persistence;

/// <summary>A model saved here loads and scores the same in a fresh process, both through plain ML.NET and DeepArch's load path.</summary>
public class FreshProcessTests
{
    public static TheoryData<string, string> Cases => new()
    {
        { "multiclass", "plain" }, { "multiclass", "deeparch" },
        { "binary", "plain" }, { "binary", "deeparch" },
        { "regression", "plain" }, { "regression", "deeparch" },
    };

    private sealed class Row
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];

        public bool Flag { get; set; }

        public float Target { get; set; }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Saved_model_scores_the_same_in_a_fresh_process(string task, string loadPath)
    {
        var ml = new MLContext(seed: 8);
        var rows = Fixtures.Rows(60).Select(r => new Row { Features = r.Features, Flag = r.Label == 1, Target = r.Label }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        IEstimator<ITransformer> pipeline = task switch
        {
            "multiclass" => ml.Transforms.Conversion.MapValueToKey("Label", "Target")
                .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(hiddenLayers: [8], epochs: 3)),
            "binary" => ml.BinaryClassification.Trainers.MultilayerPerceptron(labelColumnName: "Flag", hiddenLayers: [8], epochs: 3),
            _ => ml.Regression.Trainers.MultilayerPerceptron(labelColumnName: "Target", hiddenLayers: [8], epochs: 3),
        };
        var model = pipeline.Fit(data);
        string directory = Directory.CreateTempSubdirectory("deeparch-process-").FullName;
        try
        {
            string modelPath = Path.Combine(directory, "model.zip"), featuresPath = Path.Combine(directory, "features.csv");
            var featureOnly = ml.Data.LoadFromEnumerable(rows.Select(r => new FeatureRow { Features = r.Features }));
            ml.Model.Save(task == "multiclass" ? ((IEnumerable<ITransformer>)model).Last() : model, featureOnly.Schema, modelPath);
            File.WriteAllLines(featuresPath, rows.Select(r => string.Join(",", r.Features.Select(f => f.ToString("R", CultureInfo.InvariantCulture)))));

            string[] lines = ProcessHost.Run("score", modelPath, featuresPath, loadPath);

            var expected = ScoreReader.Scores(model.Transform(data));
            Assert.Equal(expected.Length, lines.Length);
            for (int i = 0; i < lines.Length; i++)
            {
                float[] actual = lines[i].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                Assert.Equal(expected[i].Length, actual.Length);
                Assert.All(expected[i].Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-5f));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private sealed class FeatureRow
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
    }
}
