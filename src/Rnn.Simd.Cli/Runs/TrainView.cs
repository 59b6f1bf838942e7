using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Rnn.Simd.Cli.Runs;

/// <summary>How <c>train</c> shows its progress: a live bar on a terminal, plain lines otherwise.</summary>
internal abstract class TrainView
{
    /// <summary>Runs <paramref name="loop"/>, which reports through the callback (updates done, latest loss).</summary>
    public abstract void Run(string title, long start, long total, Action<Action<long, double>> loop);

    public abstract void Line(string text);

    /// <summary>A held-out measurement after update <paramref name="step"/> (<paramref name="best"/>: the best so far).</summary>
    public virtual void Measured(long step, double loss, bool best) =>
        Line(string.Create(CultureInfo.InvariantCulture, $"update {step}: held-out loss {Format(loss)}{(best ? " (best)" : "")}"));

    public static string Format(double value) => double.IsNaN(value) ? "–" : value.ToString("F4", CultureInfo.InvariantCulture);
}

/// <summary>Plain text: a line about every twentieth of the run, nothing else on the line.</summary>
internal sealed class PlainTrainView(TextWriter output) : TrainView
{
    public override void Run(string title, long start, long total, Action<Action<long, double>> loop)
    {
        output.WriteLine(title);
        long every = Math.Max(1, (total - start) / 20);
        var clock = Stopwatch.StartNew();
        loop((step, loss) =>
        {
            if (step == total || (step - start) % every == 0)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"update {step}/{total}  loss {Format(loss)}  {clock.Elapsed.TotalSeconds:F1} s"));
            }
        });
    }

    public override void Line(string text) => output.WriteLine(text);
}

/// <summary>Spectre.Console: a live progress bar with the loss in its description.</summary>
internal sealed class RichTrainView(IAnsiConsole console) : TrainView
{
    private string _measured = "";

    /// <summary>Shown in the bar's description (a line would tear the live display).</summary>
    public override void Measured(long step, double loss, bool best) =>
        _measured = string.Create(CultureInfo.InvariantCulture, $"  held-out {Format(loss)} @{step}{(best ? " best" : "")}");

    public override void Run(string title, long start, long total, Action<Action<long, double>> loop)
    {
        console.MarkupLine($"[bold]{Markup.Escape(title)}[/]");
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask("training", maxValue: Math.Max(1, total));
                task.Value = start;
                loop((step, loss) =>
                {
                    task.Value = step;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"update {step}/{total}  loss {Format(loss)}{_measured}");
                });
                task.StopTask();
            });
    }

    public override void Line(string text) => console.MarkupLine(Markup.Escape(text));
}
