using ScottPlot;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// <c>train --plot FILE.png</c>: the training loss (the mean of each <see cref="TrainingHistory.Window"/> updates) and
/// the held-out losses against the updates, and the learning rate on the right-hand axis (ScottPlot).
/// </summary>
internal static class TrainPlot
{
    public static void Save(string path, TrainingHistory history, string lossUnit, string title)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("update");
        plot.YLabel($"loss ({lossUnit})");
        if (history.Training.Count > 0)
        {
            var training = plot.Add.Scatter(Updates(history.Training), Losses(history.Training));
            training.LegendText = "training";
            training.MarkerSize = 0;
            training.LineWidth = 1.5f;
        }

        if (history.HeldOut.Count > 0)
        {
            var heldOut = plot.Add.Scatter(Updates(history.HeldOut), Losses(history.HeldOut));
            heldOut.LegendText = "held-out";
            heldOut.MarkerSize = 6;
            heldOut.LineWidth = 2;
        }

        List<LossPoint> rates = history.Training.Count > 0 ? history.Training : history.HeldOut;
        if (rates.Count > 0)
        {
            var rate = plot.Add.Scatter(Updates(rates), [.. rates.Select(p => p.LearningRate)]);
            rate.LegendText = "learning rate (right)";
            rate.MarkerSize = 0;
            rate.LineWidth = 1;
            rate.LinePattern = LinePattern.Dashed;
            rate.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "learning rate";
            double highest = rates.Max(p => p.LearningRate);
            plot.Axes.SetLimitsY(0, highest > 0 ? highest * 1.1 : 1, plot.Axes.Right);   // from 0, also for a constant rate
        }

        plot.ShowLegend(Alignment.UpperRight);
        ChartFile.SavePng(path, 1000, 600, (w, h) => plot.GetImage(w, h));
    }

    private static double[] Updates(List<LossPoint> points) => [.. points.Select(p => (double)p.Update)];

    private static double[] Losses(List<LossPoint> points) => [.. points.Select(p => double.IsFinite(p.Loss) ? p.Loss : double.NaN)];
}

/// <summary>Writes a chart to a PNG file atomically (a temporary file beside it, then a rename).</summary>
internal static class ChartFile
{
    public static void SavePng(string path, int width, int height, Func<int, int, Image> render)
    {
        string full = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        string temporary = Path.Combine(directory ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (Image image = render(width, height))
            {
                File.WriteAllBytes(temporary, image.GetImageBytes(ImageFormat.Png));
            }

            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
