using Rnn.Simd.Cli.Runs;
using ScottPlot;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// <c>demo --plot FILE.png</c>: three panels: log10 ‖dL/dh_t‖ on the adding problem against the distance from the loss,
/// at initialisation and after training (the tanh Elman network's gradient vanishes, the LSTM's does not), and every
/// experiment's training loss against its updates (log10).
/// </summary>
internal static class DemoPlot
{
    public static void Save(string path, IReadOnlyList<DemoRun> runs, IReadOnlyDictionary<string, List<(int Update, double Loss)>> losses, string title)
    {
        var figure = new Multiplot();
        figure.AddPlots(3);
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(rows: 1, columns: 3);
        DemoRun tanh = runs.Single(r => r.Key == "adding-tanh"), lstm = runs.Single(r => r.Key == "adding-lstm");
        Gradients(figure.GetPlot(0), "‖dL/dh_t‖ at initialisation", tanh.NormsAtStart, lstm.NormsAtStart);
        Gradients(figure.GetPlot(1), "‖dL/dh_t‖ after training", tanh.NormsAfter, lstm.NormsAfter);

        Plot curves = figure.GetPlot(2);
        curves.Title($"training loss ({title})");
        curves.XLabel("fraction of the run's updates");
        curves.YLabel("log10 loss");
        foreach (DemoRun run in runs)
        {
            if (losses.TryGetValue(run.Key, out List<(int Update, double Loss)>? points) && points.Count > 0)
            {
                double[] updates = [.. points.Select(p => (p.Update + 1.0) / Math.Max(1, run.Updates))];
                double[] log = [.. points.Select(p => p.Loss > 0 && double.IsFinite(p.Loss) ? Math.Log10(p.Loss) : double.NaN)];
                var line = curves.Add.Scatter(updates, log);
                line.LegendText = $"{run.Key}: {run.Cell}";
                line.MarkerSize = 0;
                line.LineWidth = 1;
            }
        }

        curves.ShowLegend(Alignment.UpperRight);
        ChartFile.SavePng(path, 1800, 600, (w, h) => figure.Render(w, h));
    }

    private static void Gradients(Plot plot, string title, float[]? tanh, float[]? lstm)
    {
        plot.Title(title + ", adding problem");
        plot.XLabel("distance T − 1 − t from the loss");
        plot.YLabel("log10 ‖dL/dh_t‖");
        Series(plot, "tanh Elman", tanh);
        Series(plot, "LSTM", lstm);
        plot.ShowLegend(Alignment.LowerLeft);
    }

    private static void Series(Plot plot, string name, float[]? norms)
    {
        if (norms is null || norms.Length == 0)
        {
            return;
        }

        // Index t = 0 … T−1 drawn at the distance T − 1 − t; a zero norm (underflow) has no logarithm and is not drawn.
        double[] distance = [.. Enumerable.Range(0, norms.Length).Select(t => (double)(norms.Length - 1 - t))];
        double[] log = [.. norms.Select(n => n > 0 ? Math.Log10(n) : double.NaN)];
        var line = plot.Add.Scatter(distance, log);
        line.LegendText = name;
        line.MarkerSize = 3;
    }
}
