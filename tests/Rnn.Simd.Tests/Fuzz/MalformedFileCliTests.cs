using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Fuzz;

/// <summary>
/// Files that are not what they claim, given to <c>rnn-simd infer</c> (as the model and as the input) and to
/// <c>rnn-simd sample --checkpoint</c>: each ends in exactly one line on standard error and a non-zero exit, within a
/// second, through the tool's own entry point.
/// </summary>
[Trait("Category", "Fuzz")]
[Collection(NonParallelCollection.Name)]
public sealed class MalformedFileCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-malformed-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> Kinds => ["text", "empty", "truncated-checkpoint", "png", "json", "directory", "missing", "header-2^60", "header-2^63", "eight-zero-bytes"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Infer_Given_A_Malformed_Model_Prints_One_Line_And_Fails(string kind)
    {
        string bad = Malformed(kind), input = Path.Combine(_directory, "input.safetensors");
        new SafeTensorsWriter().Add("input", new float[6], 1, 2, 3).Save(input);
        AssertOneLineError(["infer", "--model", bad, "--input", input, "--output", Path.Combine(_directory, "out.safetensors")], bad);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Infer_Given_A_Malformed_Input_Prints_One_Line_And_Fails(string kind)
    {
        string bad = Malformed(kind), model = Path.Combine(_directory, "model.safetensors");
        var writer = new SafeTensorsWriter();
        foreach (ParameterSpec spec in new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 3, HiddenSize = 2 }.ParameterSpecs())
        {
            writer.Add(spec.Name, new float[spec.Shape.Aggregate(1, (a, b) => a * b)], [.. spec.Shape.Select(d => (long)d)]);
        }

        writer.Save(model);
        AssertOneLineError(["infer", "--model", model, "--input", bad, "--output", Path.Combine(_directory, "out.safetensors")], bad);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Sample_Given_A_Malformed_Checkpoint_Prints_One_Line_And_Fails(string kind)
    {
        string bad = Malformed(kind);
        AssertOneLineError(["sample", "--checkpoint", bad, "--length", "5"], bad);
    }

    private string Malformed(string kind)
    {
        string path = Path.Combine(_directory, kind + ".safetensors");
        switch (kind)
        {
            case "text":
                File.WriteAllText(path, "This is a README, not a model.\nSecond line.\n");
                break;
            case "empty":
                File.WriteAllBytes(path, []);
                break;
            case "truncated-checkpoint":
                string whole = Path.Combine(_directory, "whole.safetensors");
                var parameters = ParameterSet.Create(new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 2, HiddenSize = 3 }.ParameterSpecs("rnn."));
                Checkpoint.Save(whole, new CheckpointContent { Parameters = parameters, Step = 3 });
                byte[] bytes = File.ReadAllBytes(whole);
                File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
                break;
            case "png":
                File.WriteAllBytes(path, [0x89, .. "PNG\r\n\u001a\n"u8, 0, 0, 0, 13, .. "IHDR"u8, 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0, 0x5C, 0x72, 0xA8, 0x66]);
                break;
            case "json":
                File.WriteAllText(path, "{\"weight_ih_l0\": {\"dtype\": \"F32\", \"shape\": [4, 3], \"data_offsets\": [0, 48]}}");
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "missing":
                break;
            case "header-2^60":
            case "header-2^63":
                byte[] header = new byte[64];
                BinaryPrimitives.WriteUInt64LittleEndian(header, kind == "header-2^60" ? 1UL << 60 : 1UL << 63);
                "{\"__metadata__\":{}}"u8.CopyTo(header.AsSpan(8));
                File.WriteAllBytes(path, header);
                break;
            default:
                File.WriteAllBytes(path, new byte[8]);
                break;
        }

        return path;
    }

    private static void AssertOneLineError(string[] args, string badPath)
    {
        // Once to warm up (JIT), then timed: the best of three, as the machine may be busy with other work.
        _ = Run(args, out _);
        TimeSpan best = TimeSpan.MaxValue;
        int code = 0;
        string error = "";
        for (int i = 0; i < 3 && best >= TimeSpan.FromSeconds(1); i++)
        {
            var clock = Stopwatch.StartNew();
            code = Run(args, out error);
            best = clock.Elapsed < best ? clock.Elapsed : best;
        }

        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEqual(0, code);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}: {error}");
        Assert.StartsWith("rnn-simd: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(badPath), lines[0], StringComparison.Ordinal);
        Assert.True(best < TimeSpan.FromSeconds(1), $"took {best.TotalMilliseconds:F0} ms: {lines[0]}");
    }

    private static int Run(string[] args, out string error)
    {
        TextWriter savedError = Console.Error, savedOut = Console.Out;
        var captured = new StringWriter(new StringBuilder());
        try
        {
            Console.SetError(captured);
            Console.SetOut(TextWriter.Null);
            return Simd.Cli.Program.Run(args);
        }
        finally
        {
            Console.SetError(savedError);
            Console.SetOut(savedOut);
            error = captured.ToString();
        }
    }
}
