using System.Security.Cryptography;
using System.Text.Json;
using Rnn.Simd.IO;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Cli;

/// <summary>
/// The command line. <c>rnn-simd infer</c> end to end on every PyTorch fixture: results within 4× PyTorch float32's own error,
/// output files byte-identical with --threads 2 and, pinned by a hash, under every CI ISA setting.
/// </summary>
[Trait("Category", "Cli")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class CommandLineTests : IDisposable
{
    /// <summary>SHA-256 over every fixture's output file bytes, in manifest order.</summary>
    private const string OutputFilesHash = "15E135D91B0CBF4D02D442817EF40146499E94B75235F9B598A57499B740C61A";

    /// <summary>SHA-256 over every fixture's backward output file bytes, in manifest order.</summary>
    private const string BackwardFilesHash = "7F754F08D0E70F2C92863A712FBF0E6581CFC73FDD1EC1A48ED99C5C0232953A";

    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-infer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EveryFixture_ThroughTheCommandLine_MatchesPyTorch_AndIsByteIdenticalOnTwoThreads()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "Golden");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (JsonElement golden in GoldenForwardTests.Manifest().GetProperty("cases").EnumerateArray())
        {
            string name = golden.GetProperty("name").GetString()!;
            string directory = Path.Combine(root, name);
            string one = Path.Combine(_directory, name + ".1.safetensors"), two = Path.Combine(_directory, name + ".2.safetensors");
            string[] common =
            [
                "infer", "--model", Path.Combine(directory, "model.safetensors"), "--input", Path.Combine(directory, "input.safetensors"),
                "--prefix", golden.GetProperty("prefix").GetString()!,
            ];
            Assert.Equal(0, Simd.Cli.Program.Run([.. common, "--output", one]));
            Assert.Equal(0, Simd.Cli.Program.Run([.. common, "--output", two, "--threads", "2"]));
            byte[] bytes = File.ReadAllBytes(one);
            Assert.Equal(bytes, File.ReadAllBytes(two));
            hash.AppendData(bytes);

            using SafeTensorsFile actual = SafeTensorsFile.Open(one);
            using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(directory, "expected.safetensors"));
            foreach (string tensor in new[] { "output", "h_n", "c_n" }.Where(expected.Contains))
            {
                Assert.Equal(expected.GetEntry(tensor).Shape.ToArray(), actual.GetEntry(tensor).Shape.ToArray());
                double[] reference = expected.ReadDouble(tensor + ".f64");
                float[] ours = actual.ReadSingle(tensor), theirs = expected.ReadSingle(tensor);
                double ourError = 0, theirError = 1e-9;
                for (int i = 0; i < reference.Length; i++)
                {
                    ourError = Math.Max(ourError, Math.Abs(ours[i] - reference[i]));
                    theirError = Math.Max(theirError, Math.Abs(theirs[i] - reference[i]));
                }

                Assert.True(ourError <= 4 * theirError, $"{name} {tensor}: {ourError:E3} vs PyTorch float32 {theirError:E3}.");
            }
        }

        string digest = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(digest == OutputFilesHash, $"Output files hash {digest}, expected {OutputFilesHash}.");
    }

    [Fact]
    public void Bench_WritesOnePeersStyleJsonLinePerRow()
    {
        string configs = Path.Combine(_directory, "rows.tsv"), json = Path.Combine(_directory, "rnn-simd.jsonl");
        File.WriteAllText(configs, "# cell mode X H B T\nrnn step 8 8 1 1\ngru seq 6 8 2 3  # a comment\nlstm train 4 4 2 2\n");
        Environment.SetEnvironmentVariable("BENCH_TOTAL_S", "0.05");
        Environment.SetEnvironmentVariable("BENCH_WARMUP_S", "0.01");
        try
        {
            Assert.Equal(0, Simd.Cli.Program.Run(["bench", "--configs", configs, "--json", json]));
        }
        finally
        {
            Environment.SetEnvironmentVariable("BENCH_TOTAL_S", null);
            Environment.SetEnvironmentVariable("BENCH_WARMUP_S", null);
        }

        string[] lines = File.ReadAllLines(json);
        Assert.Equal(3, lines.Length);
        using JsonDocument step = JsonDocument.Parse(lines[0]), seq = JsonDocument.Parse(lines[1]), train = JsonDocument.Parse(lines[2]);
        Assert.Equal("train", train.RootElement.GetProperty("mode").GetString());
        Assert.Equal(0, train.RootElement.GetProperty("alloc_bytes").GetDouble());
        Assert.Equal("rnn-simd", step.RootElement.GetProperty("engine").GetString());
        Assert.Equal("step", step.RootElement.GetProperty("mode").GetString());
        Assert.Equal("gru", seq.RootElement.GetProperty("cell").GetString());
        Assert.Equal(3, seq.RootElement.GetProperty("T").GetInt32());
        Assert.True(seq.RootElement.GetProperty("median_us").GetDouble() > 0);
        Assert.True(seq.RootElement.GetProperty("batches").GetInt32() >= 7);
        Assert.Equal(0, step.RootElement.GetProperty("alloc_bytes").GetDouble());
    }

    [Fact]
    public void Backward_OnEveryFixture_MatchesPyTorchAutograd_AndIsByteIdenticalOnTwoThreads()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "Golden");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (JsonElement golden in GoldenForwardTests.Manifest().GetProperty("cases").EnumerateArray())
        {
            string name = golden.GetProperty("name").GetString()!;
            string directory = Path.Combine(root, name);
            string one = Path.Combine(_directory, name + ".1.safetensors"), two = Path.Combine(_directory, name + ".2.safetensors");
            string[] common =
            [
                "backward", "--model", Path.Combine(directory, "model.safetensors"), "--input", Path.Combine(directory, "input.safetensors"),
                "--grad-output", Path.Combine(directory, "grad_output.safetensors"), "--prefix", golden.GetProperty("prefix").GetString()!,
            ];
            Assert.Equal(0, Simd.Cli.Program.Run([.. common, "--output", one]));
            Assert.Equal(0, Simd.Cli.Program.Run([.. common, "--output", two, "--threads", "2"]));
            byte[] bytes = File.ReadAllBytes(one);
            Assert.Equal(bytes, File.ReadAllBytes(two));
            hash.AppendData(bytes);

            using SafeTensorsFile actual = SafeTensorsFile.Open(one);
            using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(directory, "expected_grad.safetensors"));
            using SafeTensorsFile forward = SafeTensorsFile.Open(Path.Combine(directory, "expected.safetensors"));
            var compared = expected.Tensors.Select(t => t.Name).Where(n => n.StartsWith("grad.", StringComparison.Ordinal) && !n.EndsWith(".f64", StringComparison.Ordinal))
                .Select(n => (File: expected, Name: n))
                .Concat(new[] { "output", "h_n", "c_n" }.Where(forward.Contains).Select(n => (File: forward, Name: n)))
                .ToList();
            Assert.Equal(compared.Count, actual.Tensors.Count);
            foreach ((SafeTensorsFile file, string tensor) in compared)
            {
                Assert.Equal(file.GetEntry(tensor).Shape.ToArray(), actual.GetEntry(tensor).Shape.ToArray());
                double[] reference = file.ReadDouble(tensor + ".f64");
                float[] ours = actual.ReadSingle(tensor), theirs = file.ReadSingle(tensor);
                double ourError = 0, theirError = reference.Length == 0 ? 0 : reference.Max(Math.Abs) * Math.Pow(2, -24);
                for (int i = 0; i < reference.Length; i++)
                {
                    ourError = Math.Max(ourError, Math.Abs(ours[i] - reference[i]));
                    theirError = Math.Max(theirError, Math.Abs(theirs[i] - reference[i]));
                }

                Assert.True(ourError <= 4 * theirError, $"{name} {tensor}: {ourError:E3} vs PyTorch float32 {theirError:E3}.");
            }
        }

        string digest = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(digest == BackwardFilesHash, $"Backward files hash {digest}, expected {BackwardFilesHash}.");
    }

    [Fact]
    public void Backward_WithoutUpstreamGradients_WritesZeroGradients()
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "Golden", "gru_basic");
        string empty = Path.Combine(_directory, "empty.safetensors"), result = Path.Combine(_directory, "g.safetensors");
        new SafeTensorsWriter().Save(empty);
        Assert.Equal(0, Simd.Cli.Program.Run(["backward", "--model", Path.Combine(directory, "model.safetensors"), "--input", Path.Combine(directory, "input.safetensors"), "--grad-output", empty, "--output", result]));
        using SafeTensorsFile actual = SafeTensorsFile.Open(result);
        Assert.All(actual.Tensors.Where(t => t.Name.StartsWith("grad.", StringComparison.Ordinal)), t => Assert.All(actual.ReadSingle(t.Name), v => Assert.Equal(0f, v)));
        Assert.Contains(actual.Tensors, t => t.Name == "grad.weight_hh_l0");
    }

    public static TheoryData<string[]> BadInvocations() => new()
    {
        new[] { "backward", "--model", "m", "--input", "x", "--output", "y" },
        new[] { "backward", "--model", "missing.safetensors", "--input", "x", "--grad-output", "g", "--output", "y" },
        new[] { "infer", "--model", "missing.safetensors", "--input", "x", "--output", "y" },
        new[] { "infer", "--input", "x", "--output", "y" },
        new[] { "infer", "--model", "m", "--input", "x", "--output", "y", "--cell", "transformer" },
        new[] { "infer", "--model", "m", "--input", "x", "--output", "y", "--threads", "0" },
        new[] { "no-such-command" },
        new[] { "bench", "--configs", "missing.tsv" },
    };

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public void BadInvocations_ExitNonZero_WithOneLine(string[] args)
    {
        var error = new StringWriter();
        TextWriter previous = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.NotEqual(0, Simd.Cli.Program.Run(args));
        }
        finally
        {
            Console.SetError(previous);
        }

        string text = error.ToString().TrimEnd();
        Assert.StartsWith("rnn-simd: ", text);
        Assert.DoesNotContain('\n', text);
    }

    [Fact]
    public void CorruptInputFile_IsAnErrorLine_NotACrash()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "Golden", "lstm_basic");
        string bad = Path.Combine(_directory, "bad.safetensors");
        byte[] bytes = File.ReadAllBytes(Path.Combine(root, "input.safetensors"));
        File.WriteAllBytes(bad, bytes[..(bytes.Length / 2)]);
        var error = new StringWriter();
        TextWriter previous = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.NotEqual(0, Simd.Cli.Program.Run(["infer", "--model", Path.Combine(root, "model.safetensors"), "--input", bad, "--output", Path.Combine(_directory, "o.safetensors")]));
        }
        finally
        {
            Console.SetError(previous);
        }

        Assert.StartsWith("rnn-simd: ", error.ToString());
        Assert.False(File.Exists(Path.Combine(_directory, "o.safetensors")));
    }
}
