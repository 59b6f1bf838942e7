using System.Globalization;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Cli.Demo;

/// <summary>How the demo shows itself: live widgets on a terminal (<see cref="RichDemoView"/>) or plain text (<see cref="PlainDemoView"/>).</summary>
internal abstract class DemoView
{
    /// <summary>The results table's column headers.</summary>
    protected static readonly string[] s_header = ["experiment", "model / cell", "updates", "final loss", "accuracy", "test MSE", "seconds"];

    /// <summary>A title line.</summary>
    public abstract void Title(string text);

    /// <summary>Runs the experiments one after another, showing each one's progress and current training loss.</summary>
    public abstract IReadOnlyList<DemoRun> Train(IReadOnlyList<DemoExperiment> experiments, ThreadTeam? threads);

    /// <summary>The results table: one row per run.</summary>
    public abstract void Results(IReadOnlyList<DemoRun> runs);

    /// <summary>The gradient-norm chart under a title, with its legend.</summary>
    public abstract void Chart(string title, GradientChart chart);

    /// <summary>One line per claim.</summary>
    public abstract void Verdicts(IReadOnlyList<DemoClaim> claims);

    /// <summary>A line of plain text.</summary>
    public abstract void Line(string text);

    /// <summary>A run's cells in the order of <see cref="s_header"/>; "-" where the task defines no such figure.</summary>
    protected static string[] Row(DemoRun r) =>
    [
        r.Name, r.Cell, r.Updates.ToString(CultureInfo.InvariantCulture), Invariant(r.FinalLoss, "F4"),
        r.Accuracy is { } a ? Invariant(a, "P1") : "-", r.TestMse is { } m ? Invariant(m, "F4") : "-", Invariant(r.Seconds, "F1"),
    ];

    private static string Invariant(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
