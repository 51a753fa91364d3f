using DeepArch.MLNet.Scoring;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Xunit;
using static DeepArch.MLNet.Tests.Reliability.ReliabilityData;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>Training whose loss becomes NaN or infinite stops with an error that says so and what to change; no model comes back.</summary>
public class DivergenceTests
{
    [Theory]
    [MemberData(nameof(Tasks), MemberType = typeof(ReliabilityData))]
    public void A_huge_learning_rate_on_unscaled_data_stops_with_TrainingDivergedException(string task)
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(64);
        foreach (var row in rows)
        {
            row.Features = row.Features.Select(f => f * 1000).ToArray();
            row.Target *= 1000;
        }
        var reports = new List<EpochReport>();
        NetworkTransformerHolder holder = new();

        var error = Assert.Throws<TrainingDivergedException>(() => holder.Network = Fit(ml, task, rows, o =>
        {
            o.Optimizer = OptimizerKind.Sgd;
            o.LearningRate = 1e6;
            o.Epochs = 20;
            o.Progress = new Recorder(reports);
        }));

        Assert.Null(holder.Network);
        Assert.Matches("^Training diverged: the loss became (NaN|infinite) at epoch [0-9]+, batch [0-9]+ \\(learning rate 1000000\\)\\.", error.Message);
        Assert.Contains("Lower the learning rate", error.Message);
        Assert.True(double.IsNaN(error.Loss) || double.IsInfinity(error.Loss));
        Assert.Equal(error.Epoch - 1, reports.Count);
    }

    private sealed class NetworkTransformerHolder
    {
        public NetworkTransformer? Network { get; set; }
    }

    private sealed class Recorder(List<EpochReport> reports) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => reports.Add(value);
    }
}
