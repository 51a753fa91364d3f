using DeepArch.MLNet;
using DeepArch.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.GpuCheck;

/// <summary>
/// The three networks of issue 22's tables, as eng/bench trains them (the same shapes, batch 128, Adam 1e-3), through the
/// public catalog: the MLP 784-256-128-10, LeNet-5 on 1x32x32 images, and an LSTM over 50 steps of 16 features (hidden 128,
/// 4 classes). Rows are uniform random features with random labels: the checks time and compare, they do not learn.
/// </summary>
internal sealed record BenchNetwork(string Name, int Width, int Classes)
{
    public static readonly BenchNetwork[] All = [new("mlp", 784, 10), new("lenet5", 1024, 10), new("lstm", 800, 4)];

    public static BenchNetwork Get(string name)
        => All.FirstOrDefault(n => n.Name == name) ?? throw new ArgumentException($"Unknown network '{name}'; expected one of {string.Join(", ", All.Select(n => n.Name))}.");

    public static ComputeDevice Device(string name) => name switch
    {
        "cpu" => ComputeDevice.Cpu,
        "cuda" => ComputeDevice.Cuda,
        _ => throw new ArgumentException($"Unknown device '{name}'; expected cpu or cuda."),
    };

    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public uint Label { get; set; }
    }

    /// <summary><paramref name="rows"/> random rows with a key label (and the features alone, for scoring).</summary>
    public IDataView Data(MLContext ml, int rows, int seed)
    {
        var rng = new Random(seed);
        var data = Enumerable.Range(0, rows).Select(_ => new Row
        {
            Features = Enumerable.Range(0, Width).Select(_ => rng.NextSingle()).ToArray(),
            Label = (uint)rng.Next(Classes),
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Width);
        var view = ml.Data.LoadFromEnumerable(data, schema);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
    }

    /// <summary>The network's trainer with the bench's settings, on <paramref name="device"/> with <paramref name="threads"/> libtorch threads.</summary>
    public IEstimator<NetworkTransformer> Trainer(MLContext ml, ComputeDevice device, int threads, int epochs)
    {
        var trainers = ml.MulticlassClassification.Trainers;
        return Name switch
        {
            "mlp" => trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [256, 128], Epochs = epochs, BatchSize = 128, LearningRate = 1e-3, Seed = 1,
                Device = device, FallbackToCpu = false, TrainingThreads = threads,
            }),
            "lenet5" => trainers.ConvolutionalNetwork(new ConvolutionalNetworkTrainer.Options
            {
                Preset = ConvolutionalPreset.LeNet5, InputShape = [1, 32, 32], Epochs = epochs, BatchSize = 128, LearningRate = 1e-3, Seed = 1,
                Device = device, FallbackToCpu = false, TrainingThreads = threads,
            }),
            _ => trainers.RecurrentNetwork(new RecurrentNetworkTrainer.Options
            {
                FeaturesPerStep = 16, Cell = RecurrentCell.Lstm, HiddenSize = 128, GradientClipNorm = 0, Epochs = epochs, BatchSize = 128,
                LearningRate = 1e-3, Seed = 1, Device = device, FallbackToCpu = false, TrainingThreads = threads,
            }),
        };
    }
}
