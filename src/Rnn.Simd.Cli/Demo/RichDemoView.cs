using System.Globalization;
using Rnn.Simd.Kernels.Threading;
using Spectre.Console;

namespace Rnn.Simd.Cli.Demo;

/// <summary>The demo on a terminal: a live progress bar per experiment with its current loss, a table, a coloured chart.</summary>
internal sealed class RichDemoView(IAnsiConsole console) : DemoView
{
    private static readonly string[] s_colors = ["red", "green", "blue", "yellow"];

    public override void Title(string text) => console.Write(new Rule($"[bold]{Markup.Escape(text)}[/]").LeftJustified());

    public override void Line(string text) => console.MarkupLine(Markup.Escape(text));

    public override IReadOnlyList<DemoRun> Train(IReadOnlyList<DemoExperiment> experiments, ThreadTeam? threads)
    {
        var runs = new List<DemoRun>();
        int width = experiments.Max(e => Title(e).Length);
        string Label(DemoExperiment e, string loss) => $"{Markup.Escape(Title(e).PadRight(width))}  {loss}";
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                List<ProgressTask> tasks = [.. experiments.Select(e => context.AddTask(Label(e, "loss   -   "), autoStart: false, maxValue: e.Updates))];
                for (int i = 0; i < experiments.Count; i++)
                {
                    DemoExperiment e = experiments[i];
                    ProgressTask task = tasks[i];
                    task.StartTask();
                    int shown = -1;
                    DemoRun run = e.Run(
                        (update, loss) =>
                        {
                            task.Value = update + 1;
                            if (update - shown >= Math.Max(1, e.Updates / 100) || update == e.Updates - 1)
                            {
                                shown = update;   // a new description at most a hundred times per bar
                                task.Description = Label(e, string.Create(CultureInfo.InvariantCulture, $"loss {loss,8:F4}"));
                            }
                        },
                        threads);
                    task.Description = Label(e, string.Create(CultureInfo.InvariantCulture, $"loss {run.FinalLoss,8:F4}  [grey]{run.Seconds,5:F1} s[/]"));
                    task.StopTask();
                    runs.Add(run);
                }
            });
        console.WriteLine();
        return runs;
    }

    public override void Results(IReadOnlyList<DemoRun> runs)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]Results[/]");
        for (int c = 0; c < s_header.Length; c++)
        {
            table.AddColumn(new TableColumn(s_header[c]) { Alignment = c < 2 ? Justify.Left : Justify.Right });
        }

        foreach (DemoRun run in runs)
        {
            table.AddRow([.. Row(run).Select(Markup.Escape)]);
        }

        console.Write(table);
        console.WriteLine();
    }

    public override void Chart(string title, GradientChart chart)
    {
        console.MarkupLine($"[bold]{Markup.Escape(title)}[/]");
        foreach (string line in chart.Lines((symbol, series) => $"[{s_colors[series % s_colors.Length]}]{Markup.Escape(symbol.ToString())}[/]"))
        {
            // Only the plotted cells carry markup; the axis text has no brackets to escape.
            console.MarkupLine(line);
        }

        console.MarkupLine($"        {GradientChart.AxisCaption}   " + string.Join("   ", chart.Legend().Select(l => $"[{s_colors[l.Index % s_colors.Length]}]{l.Symbol}[/] {Markup.Escape(l.Name)}")));
        console.WriteLine();
    }

    public override void Verdicts(IReadOnlyList<DemoClaim> claims)
    {
        foreach (DemoClaim claim in claims)
        {
            console.MarkupLine($"{(claim.Holds ? "[green]✓[/]" : "[red]✗[/]")} {Markup.Escape(claim.Text)}");
        }
    }

    private static string Title(DemoExperiment e) => $"{e.Name} · {e.Cell}";
}
