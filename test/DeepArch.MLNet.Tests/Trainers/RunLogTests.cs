using System.Globalization;
using System.Text;
using Microsoft.ML;
using Xunit;

namespace DeepArch.MLNet.Tests.Trainers;

/// <summary><see cref="NetworkOptions.HistoryCsvPath"/> and <see cref="NetworkOptions.TensorBoardDirectory"/>: the per-epoch history as files.</summary>
public sealed class RunLogTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"deeparch-runlog-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void The_csv_has_one_row_per_epoch_with_the_history_s_values()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Fixtures.Rows(200))).Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(200)));
        string csv = Path.Combine(_folder, "logs", "mlp.csv");

        using var model = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            Epochs = 4, ValidationFraction = 0.2, HistoryCsvPath = csv,
        }).Fit(data);

        string[] lines = File.ReadAllLines(csv);
        Assert.Equal("epoch,train_loss,validation_loss,learning_rate,elapsed_seconds", lines[0]);
        Assert.Equal(5, lines.Length);
        foreach (var (line, report) in lines.Skip(1).Zip(model.History.Epochs))
        {
            string[] cells = line.Split(',');
            Assert.Equal(report.Epoch, int.Parse(cells[0], CultureInfo.InvariantCulture));
            Assert.Equal(report.TrainLoss, double.Parse(cells[1], CultureInfo.InvariantCulture));
            Assert.Equal(report.ValidationLoss!.Value, double.Parse(cells[2], CultureInfo.InvariantCulture));
            Assert.Equal(report.LearningRate, double.Parse(cells[3], CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void A_gan_s_named_losses_get_columns_and_tensorboard_tags()
    {
        var ml = new MLContext(seed: 1);
        var rows = Datasets.DigitRows.Take(128).Select(r => new Datasets.DigitRow { Features = r.Features, Label = r.Label });
        var data = ml.Data.LoadFromEnumerable(rows);
        string csv = Path.Combine(_folder, "gan.csv"), board = Path.Combine(_folder, "runs", "gan");

        using var generator = ml.Transforms.GenerateByAdversarialNetwork(new GenerativeAdversarialNetworkEstimator.Options
        {
            Epochs = 3, HistoryCsvPath = csv, TensorBoardDirectory = board,
        }).Fit(data);

        string[] lines = File.ReadAllLines(csv);
        Assert.Equal("epoch,train_loss,validation_loss,learning_rate,elapsed_seconds,discriminator,validation_discriminator,generator,validation_generator,D(x),validation_D(x),D(G(z)),validation_D(G(z))", lines[0]);
        Assert.Equal(4, lines.Length);
        string[] last = lines[^1].Split(',');
        Assert.Equal(generator.History.Epochs[^1].Losses!["D(G(z))"], double.Parse(last[11], CultureInfo.InvariantCulture));
        Assert.Equal("", last[2]);

        string events = Assert.Single(Directory.GetFiles(board, "events.out.tfevents.*"));
        var records = Records(File.ReadAllBytes(events));
        Assert.Equal(1 + 3 * 6, records.Count); // the file version, then per epoch: loss/train, learning_rate and four named losses
        string text = Encoding.UTF8.GetString(File.ReadAllBytes(events));
        foreach (string tag in new[] { "loss/train", "learning_rate", "discriminator/train", "generator/train", "D(x)/train", "D(G(z))/train" })
        {
            Assert.Contains(tag, text);
        }
    }

    [Fact]
    public void A_path_that_cannot_be_written_fails_before_training_and_names_it()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Fixtures.Rows(50))).Transform(ml.Data.LoadFromEnumerable(Fixtures.Rows(50)));
        Directory.CreateDirectory(_folder);
        string blocker = Path.Combine(_folder, "file");
        File.WriteAllText(blocker, "");

        var error = Assert.Throws<IOException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            Epochs = 1, HistoryCsvPath = Path.Combine(blocker, "history.csv"),
        }).Fit(data));

        Assert.Contains($"The training history CSV '{Path.Combine(blocker, "history.csv")}' cannot be written", error.Message);
        Assert.Contains("Options.HistoryCsvPath", Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { HistoryCsvPath = " " })).Message);
    }

    /// <summary>The TFRecord framing TensorBoard reads: length (8 bytes), its CRC, the event, the event's CRC; every record whole.</summary>
    private static List<int> Records(byte[] file)
    {
        var lengths = new List<int>();
        for (int offset = 0; offset < file.Length;)
        {
            long length = BitConverter.ToInt64(file, offset);
            Assert.InRange(length, 1, file.Length - offset - 16);
            lengths.Add((int)length);
            offset += 8 + 4 + (int)length + 4;
        }
        return lengths;
    }
}
