using System.Globalization;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Cli.Demo;

/// <summary>The demo as plain text (no ANSI escapes, no live widgets): for redirected output and <c>--plain</c>.</summary>
internal sealed class PlainDemoView(TextWriter output) : DemoView
{
    public override void Title(string text)
    {
        output.WriteLine(text);
        output.WriteLine();
    }

    public override void Line(string text) => output.WriteLine(text);

    public override IReadOnlyList<DemoRun> Train(IReadOnlyList<DemoExperiment> experiments, ThreadTeam? threads)
    {
        var runs = new List<DemoRun>();
        for (int i = 0; i < experiments.Count; i++)
        {
            DemoExperiment e = experiments[i];
            output.Write(string.Create(CultureInfo.InvariantCulture, $"[{i + 1}/{experiments.Count}] {e.Name}, {e.Cell}: {e.Updates} updates ... "));
            output.Flush();
            DemoRun run = e.Run(null, threads);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final loss {run.FinalLoss:F4}, {run.Seconds:F1} s"));
            runs.Add(run);
        }

        output.WriteLine();
        return runs;
    }

    public override void Results(IReadOnlyList<DemoRun> runs)
    {
        List<string[]> rows = [s_header, .. runs.Select(Row)];
        int[] widths = [.. Enumerable.Range(0, s_header.Length).Select(c => rows.Max(r => r[c].Length))];
        foreach (string[] row in rows)
        {
            // Text columns left-aligned, figures right-aligned.
            output.WriteLine(string.Join("  ", row.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }

        output.WriteLine();
    }

    public override void Chart(string title, GradientChart chart)
    {
        output.WriteLine(title);
        foreach (string line in chart.Lines((symbol, _) => symbol.ToString()))
        {
            output.WriteLine(line);
        }

        output.WriteLine($"        {GradientChart.AxisCaption}   " + string.Join("   ", chart.Legend().Select(l => $"{l.Symbol} {l.Name}")));
        output.WriteLine();
    }

    public override void Verdicts(IReadOnlyList<DemoClaim> claims)
    {
        foreach (DemoClaim claim in claims)
        {
            output.WriteLine($"{(claim.Holds ? "[shown]    " : "[not shown]")} {claim.Text}");
        }
    }
}
