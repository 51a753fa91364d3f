using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Runtime;

/// <summary>
/// A one-line progress bar for a long <c>Fit</c>, drawn from ML.NET's log: DeepArch writes every epoch to <c>mlContext.Log</c>
/// ("MultilayerPerceptron: epoch 12/30, train loss ..."), so the bar works with the simple overloads too. Redrawn in place on
/// a terminal; when the output goes to a file, one line per tenth of the epochs. Dispose it when the fit returns.
/// </summary>
/// <example><code>
/// using (FitProgress.Show(mlContext, "GAN"))
/// {
///     gan = mlContext.Transforms.GenerateByAdversarialNetwork(labelColumnName: "Label").Fit(train);
/// }
/// </code></example>
internal sealed partial class FitProgress : IDisposable
{
    private const int Width = 30;
    private readonly MLContext _mlContext;
    private readonly string _label;
    private readonly object _gate = new();
    private int _lastTenth = -1;
    private bool _drawn;

    private FitProgress(MLContext mlContext, string label)
    {
        _mlContext = mlContext;
        _label = label;
        _mlContext.Log += OnLog;
    }

    /// <summary>Starts drawing the epochs <paramref name="mlContext"/>'s fits report, under <paramref name="label"/>.</summary>
    public static FitProgress Show(MLContext mlContext, string label) => new(mlContext, label);

    [GeneratedRegex(@": epoch (\d+)/(\d+), train loss ([^,\s]+)")]
    private static partial Regex EpochMessage();

    private void OnLog(object? sender, LoggingEventArgs e)
    {
        var match = EpochMessage().Match(e.Message);
        if (e.Kind != ChannelMessageKind.Info || !match.Success)
        {
            return;
        }
        int epoch = int.Parse(match.Groups[1].Value), epochs = int.Parse(match.Groups[2].Value);
        int done = Width * epoch / epochs;
        string line = $"  {_label} [{new string('#', done)}{new string('.', Width - done)}] epoch {epoch}/{epochs}, train loss {match.Groups[3].Value}";
        lock (_gate)
        {
            if (!Console.IsOutputRedirected)
            {
                Console.Write("\r" + line.PadRight(Console.BufferWidth > 1 ? Math.Min(Console.BufferWidth - 1, 100) : 0));
                _drawn = true;
            }
            else if (epoch * 10 / epochs != _lastTenth)
            {
                _lastTenth = epoch * 10 / epochs;
                Console.WriteLine(line);
            }
        }
    }

    /// <summary>Stops drawing and ends the bar's line.</summary>
    public void Dispose()
    {
        _mlContext.Log -= OnLog;
        lock (_gate)
        {
            if (_drawn)
            {
                Console.WriteLine();
                _drawn = false;
            }
        }
    }
}
