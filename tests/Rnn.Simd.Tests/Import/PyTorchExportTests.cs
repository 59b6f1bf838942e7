using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Import;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// Export to PyTorch: exported files import back to the same network bit for bit, and re-exporting the seeded models
/// gives exactly the committed files under GoldenExport/, which tools/golden/export_check.py loads into PyTorch.
/// </summary>
[Trait("Category", "Import")]
public sealed class PyTorchExportTests : IDisposable
{
    /// <summary>Set to a directory to (re)write the fixtures there instead of comparing with the committed ones.</summary>
    private const string WriteFixturesVariable = "RNN_SIMD_WRITE_EXPORT_FIXTURES";

    private const int Steps = 6, Batch = 3;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rnn-simd-export-" + Guid.NewGuid().ToString("N"));

    public PyTorchExportTests() => Directory.CreateDirectory(_directory);

    public static TheoryData<string> Cases => ["lstm_proj_l2_bidir", "gru_prefixed_bf", "rnn_relu_l2"];

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Export_Imports_Back_To_The_Same_Network_Bit_For_Bit(string name)
    {
        (TrainableRecurrentNetwork network, string targetPrefix, bool batchFirst) = Case(name);
        string path = Path.Combine(_directory, "model.safetensors");
        PyTorchExport.Save(path, network, targetPrefix, batchFirst);

        PyTorchModel imported = PyTorchImport.Load(path, new PyTorchImportOptions { Prefix = targetPrefix });
        Assert.Equal(network.Options, imported.Options);
        Assert.Equal(batchFirst, imported.BatchFirst);
        foreach (ParameterTensor t in network.Parameters.Tensors.Where(t => t.Name.StartsWith(network.Prefix, StringComparison.Ordinal)))
        {
            Assert.Equal(network.Parameters.Value(t).ToArray(), imported.Parameters[t.Name[network.Prefix.Length..]]);
        }

        Assert.Equal(Bits(Run(network.ToInferenceNetwork(), batchFirst).Output), Bits(Run(imported.Network, batchFirst).Output));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Exports_Equal_The_Committed_Fixtures_That_PyTorch_Checked(string name)
    {
        (TrainableRecurrentNetwork network, string targetPrefix, bool batchFirst) = Case(name);
        byte[] model = Bytes(PyTorchExport.ToWriter(network.Parameters, new PyTorchExportOptions
        {
            SourcePrefix = network.Prefix,
            TargetPrefix = targetPrefix,
            Cell = PyTorchExport.CellName(network.Options),
            BatchFirst = batchFirst,
        }));
        (float[] input, float[] output, float[] hN, float[] cN) = Run(network.ToInferenceNetwork(), batchFirst);
        RecurrentNetworkOptions o = network.Options;
        long[] time = batchFirst ? [Batch, Steps] : [Steps, Batch];
        var io = new SafeTensorsWriter()
            .Add("input", input, time[0], time[1], o.InputSize)
            .Add("output", output, time[0], time[1], o.LayerOutputSize)
            .Add("h_n", hN, o.Layers * o.Directions, Batch, o.OutputSize)
            .SetMetadata("case", name)
            .SetMetadata("prefix", targetPrefix);
        if (cN.Length > 0)
        {
            io.Add("c_n", cN, o.Layers * o.Directions, Batch, o.HiddenSize);
        }

        byte[] expectedIo = Bytes(io);
        string? target = Environment.GetEnvironmentVariable(WriteFixturesVariable);
        if (!string.IsNullOrEmpty(target))
        {
            Directory.CreateDirectory(Path.Combine(target, name));
            File.WriteAllBytes(Path.Combine(target, name, "model.safetensors"), model);
            File.WriteAllBytes(Path.Combine(target, name, "io.safetensors"), expectedIo);
            return;
        }

        string fixtures = Path.Combine(AppContext.BaseDirectory, "GoldenExport", name);
        Assert.True(model.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(fixtures, "model.safetensors"))), $"{name}: the export changed; rerun tools/golden/export_check.py on new fixtures.");
        Assert.True(expectedIo.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(fixtures, "io.safetensors"))), $"{name}: the engine's outputs changed.");
    }

    [Fact]
    public void Misuse_Is_An_Argument_Exception()
    {
        (TrainableRecurrentNetwork network, _, _) = Case("rnn_relu_l2");
        ArgumentException e = Assert.Throws<ArgumentException>(() => PyTorchExport.ToWriter(network.Parameters, new PyTorchExportOptions { SourcePrefix = "decoder." }));
        Assert.Contains("No parameter name starts with 'decoder.'", e.Message);
        Assert.Throws<ArgumentException>(() => PyTorchExport.ToWriter(network.Parameters, new PyTorchExportOptions { SourcePrefix = "rnn.weight_ih_l0" }));

        var summed = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 2, HiddenSize = 3, Bidirectional = true, Merge = DirectionMerge.Sum };
        Assert.Throws<ArgumentException>(() => PyTorchExport.Save(Path.Combine(_directory, "x"), TrainableRecurrentNetwork.Create(summed)));
        Assert.Empty(Directory.GetFileSystemEntries(_directory));
    }

    /// <summary>A seeded network sharing its set with a dense head (so export must select by prefix).</summary>
    private static (TrainableRecurrentNetwork Network, string TargetPrefix, bool BatchFirst) Case(string name)
    {
        (RecurrentNetworkOptions options, string targetPrefix, bool batchFirst, ulong seed) = name switch
        {
            "lstm_proj_l2_bidir" => (new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 7, ProjectionSize = 4, Layers = 2, Bidirectional = true }, "", false, 1UL),
            "gru_prefixed_bf" => (new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 5, HiddenSize = 7 }, "encoder.gru.", true, 2UL),
            "rnn_relu_l2" => (new RecurrentNetworkOptions { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu, InputSize = 5, HiddenSize = 7, Layers = 2 }, "", false, 3UL),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        var set = ParameterSet.Create(options.ParameterSpecs("rnn.").Concat(TrainableDenseLayer.Specs(options.LayerOutputSize, 2, "head.")));
        Initializers.Apply(set, RecurrentInitialization.PyTorch, seed);
        return (new TrainableRecurrentNetwork(options, set, "rnn."), targetPrefix, batchFirst);
    }

    /// <summary>The network on a seeded standard-normal input from the zero state.</summary>
    private static (float[] Input, float[] Output, float[] HN, float[] CN) Run(RecurrentNetwork network, bool batchFirst)
    {
        RecurrentNetworkOptions o = network.Options;
        var random = new DeterministicRandom(99);
        var input = new float[Steps * Batch * o.InputSize];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (float)random.NextNormal();
        }

        var output = new float[Steps * Batch * o.LayerOutputSize];
        var hN = new float[o.Layers * o.Directions * Batch * o.OutputSize];
        var cN = new float[o.Cell == CellType.Lstm ? o.Layers * o.Directions * Batch * o.HiddenSize : 0];
        network.Forward(input, Steps, Batch, output, hN: hN, cN: cN, batchFirst: batchFirst);
        return (input, output, hN, cN);
    }

    private static byte[] Bytes(SafeTensorsWriter writer)
    {
        using var stream = new MemoryStream();
        writer.WriteTo(stream);
        return stream.ToArray();
    }

    private static uint[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToUInt32Bits)];
}
