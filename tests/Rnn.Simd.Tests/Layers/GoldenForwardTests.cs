using System.Text.Json;
using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// Every PyTorch fixture in Golden/ (tools/golden): the network built from the state_dict runs the fixture's input,
/// and each result's error against PyTorch's float64 twin must stay within 4× PyTorch float32's own error.
/// </summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class GoldenForwardTests(ITestOutputHelper output)
{
    private const double AllowedRatio = 4.0;

    private static readonly string s_root = Path.Combine(AppContext.BaseDirectory, "Golden");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement element in Manifest().GetProperty("cases").EnumerateArray())
        {
            data.Add(element.GetProperty("name").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_MatchesPyTorch_WithinFourTimesItsOwnError(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        (float[] y, float[] hN, float[] cN) = golden.Run(threads: null);

        foreach ((string tensor, float[] actual) in new[] { ("output", y), ("h_n", hN), ("c_n", cN) })
        {
            if (!golden.Expected.Contains(tensor))
            {
                continue;
            }

            double[] reference = golden.Expected.ReadDouble(tensor + ".f64");
            float[] pyTorch = golden.Expected.ReadSingle(tensor);
            double ours = MaxAbsError(actual, reference);
            double theirs = Math.Max(MaxAbsError(pyTorch, reference), 1e-9);
            output.WriteLine($"{name} {tensor}: max |err| {ours:E2}, PyTorch float32 {theirs:E2}, ratio {ours / theirs:F2}");
            Assert.True(ours <= AllowedRatio * theirs, $"{name} {tensor}: error {ours:E3} is {ours / theirs:F2}× PyTorch float32's {theirs:E3}.");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_IsBitIdentical_OnTwoThreads(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        using var team = new ThreadTeam(2);
        (float[] y1, float[] h1, float[] c1) = golden.Run(threads: null);
        (float[] y2, float[] h2, float[] c2) = golden.Run(team);
        Assert.Equal(Bits(y1), Bits(y2));
        Assert.Equal(Bits(h1), Bits(h2));
        Assert.Equal(Bits(c1), Bits(c2));
    }

    internal static JsonElement Manifest()
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(s_root, "manifest.json")));
        return document.RootElement.Clone();
    }

    internal static double MaxAbsError(float[] actual, double[] reference)
    {
        Assert.Equal(reference.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            max = Math.Max(max, Math.Abs(actual[i] - reference[i]));
        }

        return max;
    }

    internal static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}

/// <summary>One fixture: its options from the manifest, the network, the inputs and the expected file.</summary>
internal sealed class GoldenCase
{
    private GoldenCase(RecurrentNetworkOptions options, RecurrentNetwork network, SafeTensorsFile input, SafeTensorsFile expected, JsonElement manifest, Dictionary<string, float[]> parameters, string directory)
    {
        Parameters = parameters;
        Directory = directory;
        Options = options;
        Network = network;
        Input = input;
        Expected = expected;
        Manifest = manifest;
    }

    public RecurrentNetworkOptions Options { get; }

    public RecurrentNetwork Network { get; }

    /// <summary>The state dict (PyTorch names, prefix included).</summary>
    public Dictionary<string, float[]> Parameters { get; }

    public string Directory { get; }

    public string Prefix => Manifest.GetProperty("prefix").GetString()!;

    public SafeTensorsFile Input { get; }

    public SafeTensorsFile Expected { get; }

    public JsonElement Manifest { get; }

    public int Steps => Manifest.GetProperty("T").GetInt32();

    public int Batch => Manifest.GetProperty("B").GetInt32();

    public bool BatchFirst => Manifest.GetProperty("batch_first").GetBoolean();

    public static GoldenCase Load(string root, string name)
    {
        JsonElement all = GoldenForwardTests.Manifest();
        JsonElement manifest = new[] { "cases", "clip_cases", "tbptt_cases" }
            .Where(list => all.TryGetProperty(list, out _))
            .SelectMany(list => all.GetProperty(list).EnumerateArray())
            .Single(c => c.GetProperty("name").GetString() == name);
        string cell = manifest.GetProperty("cell").GetString()!;
        var options = new RecurrentNetworkOptions
        {
            Cell = cell switch { "lstm" => CellType.Lstm, "gru" or "gru_reset_before" => CellType.Gru, _ => CellType.Rnn },
            Nonlinearity = cell == "rnn_relu" ? Nonlinearity.Relu : Nonlinearity.Tanh,
            GruVariant = cell == "gru_reset_before" ? GruVariant.ResetBefore : GruVariant.ResetAfter,
            InputSize = manifest.GetProperty("X").GetInt32(),
            HiddenSize = manifest.GetProperty("H").GetInt32(),
            ProjectionSize = manifest.GetProperty("proj_size").GetInt32(),
            Layers = manifest.GetProperty("layers").GetInt32(),
            Bidirectional = manifest.GetProperty("bidirectional").GetBoolean(),
        };

        string directory = Path.Combine(root, name);
        using SafeTensorsFile model = SafeTensorsFile.Open(Path.Combine(directory, "model.safetensors"));
        var parameters = model.Tensors.ToDictionary(t => t.Name, t => model.ReadSingle(t.Name));
        var network = RecurrentNetwork.FromPyTorch(options, parameters, manifest.GetProperty("prefix").GetString()!);
        return new GoldenCase(
            options,
            network,
            SafeTensorsFile.Open(Path.Combine(directory, "input.safetensors")),
            SafeTensorsFile.Open(Path.Combine(directory, "expected.safetensors")),
            manifest,
            parameters,
            directory);
    }

    /// <summary>Runs the fixture's input; returns output, h_n and c_n (empty unless LSTM).</summary>
    public (float[] Output, float[] HN, float[] CN) Run(ThreadTeam? threads) => Run(threads, Network);

    /// <summary>As <see cref="Run(ThreadTeam?)"/> with another network of the same options (e.g. a reduced copy).</summary>
    public (float[] Output, float[] HN, float[] CN) Run(ThreadTeam? threads, RecurrentNetwork network)
    {
        int states = Options.Layers * Options.Directions;
        float[] input = Input.ReadSingle("input");
        float[] h0 = Input.Contains("h0") ? Input.ReadSingle("h0") : [];
        float[] c0 = Input.Contains("c0") ? Input.ReadSingle("c0") : [];
        int[] lengths = Input.Contains("lengths") ? [.. Input.ReadInt64("lengths").Select(l => (int)l)] : [];
        var output = new float[Steps * Batch * Options.LayerOutputSize];
        var hN = new float[states * Batch * Options.OutputSize];
        float[] cN = Options.Cell == CellType.Lstm ? new float[states * Batch * Options.HiddenSize] : [];
        network.Forward(input, Steps, Batch, output, h0, c0, hN, cN, lengths, BatchFirst, threads);
        return (output, hN, cN);
    }
}
