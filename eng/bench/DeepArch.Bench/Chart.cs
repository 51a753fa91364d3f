using ScottPlot;

namespace DeepArch.Bench;

/// <summary>The report's PNG: one horizontal bar per summary ratio, coloured by whether it meets its target, with the target marked.</summary>
internal static class Chart
{
    private const double Clip = 3;
    private static readonly System.Globalization.CultureInfo Inv = System.Globalization.CultureInfo.InvariantCulture;

    public static void Write(string path, IReadOnlyList<SummaryRow> rows)
    {
        var shown = rows.Where(r => !double.IsNaN(r.Ratio) && r.Section != "Scoring sweep").ToList();
        var plot = new Plot();
        var bars = new List<Bar>();
        var targets = new List<(double Position, double Value)>();
        for (int i = 0; i < shown.Count; i++)
        {
            var r = shown[i];
            double position = shown.Count - 1 - i; // first row on top
            var color = r.Met switch
            {
                "yes" => Colors.SeaGreen,
                "NO" => Colors.OrangeRed,
                _ => Colors.SteelBlue,
            };
            // Ratios far above the rest (batched scoring vs ApplyOnnxModel) are drawn clipped, with their value in the label.
            string label = r.Ratio.ToString("F2", Inv) + "x" + (r.Target is { } tt ? $" (target {(r.LowerIsBetter ? "<= " : ">= ")}{tt.ToString("0.##", Inv)}x)" : "");
            bars.Add(new Bar { Position = position, Value = Math.Min(r.Ratio, Clip), FillColor = color, Label = r.Ratio > Clip ? label + " >>" : label });
            if (r.Target is { } t && t <= Clip)
            {
                targets.Add((position, t));
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.Horizontal = true;
        barPlot.ValueLabelStyle.FontSize = 11;
        foreach (var (position, value) in targets)
        {
            var marker = plot.Add.Line(value, position - 0.45, value, position + 0.45);
            marker.Color = Colors.Black;
            marker.LineWidth = 3;
        }
        var ticks = shown.Select((r, i) => new Tick(shown.Count - 1 - i, Shorten($"{r.Workload}: vs {r.Comparison}"))).ToArray();
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Left.TickLabelStyle.FontSize = 11;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Title("DeepArch / comparison (green: target met, red: missed, blue: no target, black: target)");
        plot.Axes.Title.Label.FontSize = 14;
        plot.XLabel($"ratio (speed; memory: peak / peak); bars above {Clip}x are clipped (>>)");
        plot.Axes.SetLimits(0, Clip * 1.4, -0.7, shown.Count - 0.3);
        string? dir = Path.GetDirectoryName(path);
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        plot.SavePng(path, 1250, 90 + 26 * shown.Count);
    }

    private static string Shorten(string s) => s.Length <= 90 ? s : s[..87] + "...";
}
