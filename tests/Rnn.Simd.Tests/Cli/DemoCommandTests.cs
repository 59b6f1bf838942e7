using System.Text.Json;
using System.Text.Json.Nodes;
using Rnn.Simd.Cli;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Cli;

/// <summary>
/// <c>rnn-simd demo</c> at its <c>--quick</c> budget (seconds): the JSON report's fields, the same report for the same
/// seed (on one thread or two), plain text without ANSI escapes when redirected, <c>--help</c>, and the default command.
/// The full budget's claims are the Claims tests, which run the same code.
/// </summary>
[Trait("Category", "Cli")]
[Collection(NonParallelCollection.Name)]
public sealed class DemoCommandTests : IDisposable
{
    private static readonly string[] s_keys = ["xor", "adding-tanh", "adding-irnn", "adding-lstm", "adding-gru", "reber"];
    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-demo-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Plot_DrawsTheGradientAndLossCharts_WithoutChangingTheResults()
    {
        string plain = Path.Combine(_directory, "plain.json"), plotted = Path.Combine(_directory, "plotted.json"), png = Path.Combine(_directory, "demo.png");
        Assert.Equal(0, Run("demo", "--quick", "--json", plain, "--plain").Code);
        (int code, string output, string error) = Run("demo", "--quick", "--json", plotted, "--plain", "--plot", png);
        Assert.True(code == 0, error);
        Assert.Contains("plot: " + png, output, StringComparison.Ordinal);
        PngAssert.IsChart(png, 1800, 600);
        static string[] Weights(string file) =>
            [.. JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("experiments").EnumerateArray().Select(e => e.GetProperty("weights").GetString()!)];
        Assert.Equal(Weights(plain), Weights(plotted));
    }

    [Fact]
    public void QuickDemo_ExitsZero_AndWritesAJsonReportWithEveryRunAndClaim()
    {
        string json = Path.Combine(_directory, "out.json");
        (int code, string output, string error) = Run("demo", "--quick", "--json", json, "--plain");
        Assert.True(code == 0, error);
        Assert.Equal("", error);
        Assert.DoesNotContain('\u001b', output);
        Assert.Contains("test MSE", output, StringComparison.Ordinal);   // the results table's header

        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = document.RootElement;
        Assert.Equal(1UL, root.GetProperty("seed").GetUInt64());
        Assert.True(root.GetProperty("quick").GetBoolean());
        JsonElement[] experiments = [.. root.GetProperty("experiments").EnumerateArray()];
        Assert.Equal(s_keys.Length, experiments.Length);
        foreach (JsonElement e in experiments)
        {
            Assert.False(string.IsNullOrEmpty(e.GetProperty("name").GetString()));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("cell").GetString()));
            Assert.True(e.GetProperty("steps").GetInt32() > 0);
            Assert.True(e.GetProperty("final_loss").GetDouble() >= 0);
            Assert.True(e.GetProperty("seconds").GetDouble() >= 0);
            Assert.Contains(e.GetProperty("solved").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
            JsonValueKind accuracy = e.GetProperty("accuracy").ValueKind, testMse = e.GetProperty("test_mse").ValueKind;
            Assert.True(accuracy == JsonValueKind.Number || testMse == JsonValueKind.Number, "Every run reports an accuracy or a test MSE.");
            Assert.Contains(accuracy, new[] { JsonValueKind.Number, JsonValueKind.Null });
            Assert.Contains(testMse, new[] { JsonValueKind.Number, JsonValueKind.Null });
        }

        Assert.Equal(4, experiments.Count(e => e.GetProperty("name").GetString()!.StartsWith("adding problem", StringComparison.Ordinal)));
        Assert.Contains(experiments, e => e.GetProperty("cell").GetString() == "GRU");
        JsonElement[] claims = [.. root.GetProperty("claims").EnumerateArray()];
        Assert.Equal(6, claims.Length);
        Assert.All(claims, c => Assert.False(string.IsNullOrEmpty(c.GetProperty("claim").GetString())));
    }

    [Fact]
    public void TheSameSeed_GivesTheSameReport_OnOneThreadOrTwo()
    {
        string one = Path.Combine(_directory, "one.json"), two = Path.Combine(_directory, "two.json");
        Assert.Equal(0, Run("demo", "--quick", "--plain", "--seed", "7", "--json", one).Code);
        Assert.Equal(0, Run("demo", "--quick", "--plain", "--seed", "7", "--threads", "2", "--json", two).Code);
        string first = WithoutTimings(one);
        Assert.Equal(first, WithoutTimings(two));
        Assert.Contains("\"seed\": 7", first, StringComparison.Ordinal);
    }

    [Fact]
    public void RedirectedOutput_IsPlainText_WithoutAnsiEscapes()
    {
        // No --plain: the test host's standard output is redirected, so the demo must fall back to plain text.
        Assert.True(Console.IsOutputRedirected);
        (int code, string output, _) = Run("demo", "--quick");
        Assert.Equal(0, code);
        Assert.DoesNotContain('\u001b', output);
        Assert.Contains("distance from the loss", output, StringComparison.Ordinal);   // the gradient chart
        Assert.Contains("adding problem", output, StringComparison.Ordinal);
    }

    [Fact]
    public void NoArguments_OrOnlyOptions_RunTheDemo()
    {
        Assert.Equal(["demo"], Program.WithDefaultCommand([]));
        Assert.Equal(["demo", "--json", "x.json", "--plain"], Program.WithDefaultCommand(["--json", "x.json", "--plain"]));
        Assert.Equal(["--help"], Program.WithDefaultCommand(["--help"]));
        Assert.Equal(["bench", "--configs", "x"], Program.WithDefaultCommand(["bench", "--configs", "x"]));
    }

    [Fact]
    public void Help_DescribesTheDemoAndItsOptions()
    {
        (int code, string output, _) = Run("demo", "--help");
        Assert.Equal(0, code);
        foreach (string option in new[] { "--seed", "--threads", "--quick", "--plain", "--json" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }

        (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("demo", output, StringComparison.Ordinal);
    }

    [Fact]
    public void BadThreadCount_IsOneErrorLine()
    {
        (int code, _, string error) = Run("demo", "--quick", "--threads", "0");
        Assert.Equal(1, code);
        Assert.Equal("rnn-simd: --threads must be between 1 and 256, was 0.", error.TrimEnd());
    }

    /// <summary>The report with the fields that measure time or the run's settings removed.</summary>
    private static string WithoutTimings(string path)
    {
        JsonObject root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root.Remove("threads");
        foreach (JsonNode? e in root["experiments"]!.AsArray())
        {
            e!.AsObject().Remove("seconds");
        }

        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        TextWriter previousOut = Console.Out, previousError = Console.Error;
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (Program.Run(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }
}
