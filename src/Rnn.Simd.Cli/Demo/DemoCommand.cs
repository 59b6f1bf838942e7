using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Rnn.Simd.Kernels.Threading;
using Spectre.Console;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// <c>rnn-simd demo</c> (also <c>rnn-simd</c> alone): trains the seeds' experiments (Elman's temporal XOR; the adding
/// problem with tanh Elman, IRNN, LSTM and GRU; the embedded Reber grammar) and shows the results, the vanishing
/// gradient and one verdict per claim.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The seed of the weights and data when none is given: the one the Claims tests were tuned on.</summary>
    public const ulong DefaultSeed = 1;

    public static Command Create()
    {
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights and data; a seed gives the same results on every run.", DefaultValueFactory = _ => DefaultSeed };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products.", DefaultValueFactory = _ => 1 };
        var quick = new Option<bool>("--quick") { Description = "A budget of seconds, not minutes (a smoke test: too small for the claims to hold)." };
        var plain = new Option<bool>("--plain") { Description = "Plain text, no colours or live widgets (the default when output is redirected)." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write a JSON report of every run and claim to this file." };
        var plot = new Option<FileInfo?>("--plot") { Description = "Also draw ‖dL/dh_t‖ on the adding problem (at initialisation and after training) and every run's training loss to this PNG file." };
        var command = new Command("demo", "Train the classic experiments (temporal XOR, adding problem, embedded Reber) and show the claims.")
        {
            seed, threads, quick, plain, json, plot,
        };
        command.SetAction(result => Run(
            result.GetValue(seed), result.GetValue(threads), result.GetValue(quick), result.GetValue(plain) || Console.IsOutputRedirected, result.GetValue(json),
            result.GetValue(plot)));
        return command;
    }

    private static int Run(ulong seed, int threadCount, bool quick, bool plain, FileInfo? json, FileInfo? plot)
    {
        if (threadCount is < 1 or > 256)
        {
            throw new ArgumentException($"--threads must be between 1 and 256, was {threadCount}.");
        }

        DemoView view = plain
            ? new PlainDemoView(Console.Out)
            : new RichDemoView(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }));
        view.Title($"Rnn.Simd demo: the seeds' claims, trained here (seed {seed}{(quick ? ", --quick budget" : "")})");
        IReadOnlyList<DemoRun> runs;
        var losses = new Dictionary<string, List<(int Update, double Loss)>>(StringComparer.Ordinal);
        using (ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null)
        {
            IReadOnlyList<DemoExperiment> experiments = DemoPlan.Experiments(seed, quick);
            runs = view.Train(plot is null ? experiments : [.. experiments.Select(e => Recorded(e, losses))], team);
        }

        view.Results(runs);
        DemoRun tanh = runs.Single(r => r.Key == "adding-tanh"), lstm = runs.Single(r => r.Key == "adding-lstm");
        const string Title = "log10 ‖dL/dh_t‖ on the adding problem by distance from the loss";
        view.Chart($"{Title}, at initialisation:", new GradientChart().Add("tanh Elman", 'T', tanh.NormsAtStart!).Add("LSTM", 'L', lstm.NormsAtStart!));
        view.Chart($"{Title}, after training:", new GradientChart().Add("tanh Elman", 'T', tanh.NormsAfter!).Add("LSTM", 'L', lstm.NormsAfter!));
        IReadOnlyList<DemoClaim> claims = DemoPlan.Claims(runs);
        view.Verdicts(claims);
        if (json is not null)
        {
            WriteReport(json, seed, quick, threadCount, runs, claims);
        }

        if (plot is not null)
        {
            DemoPlot.Save(plot.FullName, runs, losses, $"seed {seed}{(quick ? ", --quick" : "")}");
            view.Line($"plot: {plot.FullName}");
        }

        return 0;
    }

    /// <summary>The experiment, with each update's training loss also recorded into <paramref name="losses"/>.</summary>
    private static DemoExperiment Recorded(DemoExperiment experiment, Dictionary<string, List<(int Update, double Loss)>> losses)
    {
        var points = new List<(int Update, double Loss)>();
        losses[experiment.Key] = points;
        return experiment with
        {
            Run = (report, threads) => experiment.Run(
                (update, loss) =>
                {
                    points.Add((update, loss));
                    report?.Invoke(update, loss);
                },
                threads),
        };
    }

    /// <summary>The JSON report: the settings, one object per run (<c>experiments</c>) and one per claim.</summary>
    private static void WriteReport(FileInfo file, ulong seed, bool quick, int threads, IReadOnlyList<DemoRun> runs, IReadOnlyList<DemoClaim> claims)
    {
        using FileStream stream = File.Create(file.FullName);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });   // a file for people too: ‖ and ' as they are
        w.WriteStartObject();
        w.WriteNumber("seed", seed);
        w.WriteBoolean("quick", quick);
        w.WriteNumber("threads", threads);
        w.WriteStartArray("experiments");
        foreach (DemoRun r in runs)
        {
            w.WriteStartObject();
            w.WriteString("name", r.Name);
            w.WriteString("cell", r.Cell);
            w.WriteNumber("steps", r.Updates);
            WriteNumber(w, "final_loss", r.FinalLoss);
            WriteNumber(w, "accuracy", r.Accuracy);
            WriteNumber(w, "test_mse", r.TestMse);
            w.WriteBoolean("solved", r.Solved);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteString("weights", r.Weights);
            foreach ((string name, double value) in r.Metrics)
            {
                WriteNumber(w, name, value);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("claims");
        foreach (DemoClaim claim in claims)
        {
            w.WriteStartObject();
            w.WriteString("claim", claim.Text);
            w.WriteBoolean("solved", claim.Holds);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A number, or null when there is none or it is not finite (JSON has no NaN).</summary>
    private static void WriteNumber(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
