using Rnn.Simd.Cells;
using Rnn.Simd.Fuzz;
using Rnn.Simd.IO;
using Rnn.Simd.Import;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Fuzz;

/// <summary>
/// Hostile files (issue 7, item 2): the mutation fuzzer's short run, and every input it ever found that broke a reader.
/// Each input goes through every reader a user can call (<see cref="FuzzTargets"/>); the only outcome besides success
/// is an <see cref="InvalidDataException"/>, within a second, allocating no more than the file's length justifies.
/// The long run is the hidden maintenance command <c>rnn-simd fuzz --inputs 1000000 --seed N</c>, which prints the same report.
/// </summary>
[Trait("Category", "Fuzz")]
[Collection(NonParallelCollection.Name)]
public sealed class FileFuzzTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>Inputs of the run in CI.</summary>
    private const int ShortRunInputs = 10_000;

    private readonly FileFuzzer _fuzzer = new(Directory.CreateTempSubdirectory("rnn-simd-fuzz-").FullName);

    public void Dispose() => _fuzzer.Dispose();

    [Fact]
    public void Ten_Thousand_Mutated_Files_Are_Read_Or_Refused_Cleanly()
    {
        FuzzReport report = _fuzzer.Run(seed: 7, first: 0, count: ShortRunInputs);
        output.WriteLine(report.ToString());
        Assert.True(report.Failures.Count == 0, report.ToString());
        Assert.Equal(ShortRunInputs, report.Inputs);

        // The mutations reach past the container: some files are accepted by each reader, and every kind ran.
        Assert.All(report.Stages, s => Assert.True(s.Value.Accepted > 0 && s.Value.Refused > 0, $"{s.Key}: {s.Value}"));
        Assert.Equal(FuzzMutator.Kinds.Order(StringComparer.Ordinal), report.Mutations.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_Valid_Seeds_Are_Accepted_By_The_Readers_They_Are_For()
    {
        var report = new FuzzReport();

        foreach ((string name, byte[] bytes) in _fuzzer.Seeds)
        {
            _fuzzer.Check(report, 0, name, bytes);
        }

        Assert.Empty(report.Failures);
        int onnx = _fuzzer.Seeds.Count(s => s.Name.StartsWith("onnx_", StringComparison.Ordinal));
        Assert.Equal(4, onnx);
        Assert.Equal(2, Rnn.Simd.Import.Onnx.OnnxRecurrentStack.From(Rnn.Simd.Import.Onnx.OnnxModel.Load(_fuzzer.Seeds.Single(s => s.Name == "onnx_stack").Bytes)).Network.Options.Layers);
        int wav = _fuzzer.Seeds.Count(s => s.Name == "wav");
        Assert.Equal(1, wav);
        Assert.Equal(_fuzzer.Seeds.Count - onnx - wav, report.Stages["safetensors"].Accepted);
        Assert.Equal(3, report.Stages["checkpoint"].Accepted);        // the training checkpoint and its bf16 and int8 snapshots
        Assert.Equal(3, report.Stages["checkpoint-use"].Accepted);
        // The LSTM, the GRU, and the recurrent part of the float32 and bf16 checkpoints (BF16 widens exactly); the int8
        // snapshot's I8 codes are no PyTorch state dict and are refused (an InvalidDataException).
        Assert.Equal(4, report.Stages["pytorch-import"].Accepted);
        Assert.Equal(1, report.Stages["infer-input"].Accepted);
        Assert.Equal(onnx, report.Stages["onnx"].Accepted);                  // loaded and run
        Assert.Equal(wav, report.Stages["wav"].Accepted);
    }

    public static TheoryData<string> Regressions() =>
        [.. Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "regressions")).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Regressions))]
    public void A_File_That_Once_Broke_A_Reader_Is_Now_Refused_Cleanly(string name)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fuzz", "regressions", name));
        var report = new FuzzReport();

        _fuzzer.Check(report, 0, name, bytes);
        Assert.True(report.Failures.Count == 0, report.ToString());
    }

    [Theory]
    [InlineData("architecture-8193-layers-allocation.safetensors", "the architecture declares 8193 recurrent layers but only 7 parameter tensors are saved")]
    [InlineData("architecture-huge-vocabulary.safetensors", "The layer is too large")]
    public void An_Architecture_That_Does_Not_Match_The_Saved_Tensors_Is_Refused_On_Load(string name, string expected)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fuzz", "regressions", name);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_Finite_Weights_Are_Stored_By_The_Container_And_Refused_By_The_Model_Readers()
    {
        // The policy: SafeTensorsFile gives back what is stored (NaN stays NaN); a checkpoint and the PyTorch importer
        // refuse a non-finite weight as damage, naming the tensor and the index.
        string directory = Directory.CreateTempSubdirectory("rnn-simd-nan-").FullName;
        try
        {
            string path = Path.Combine(directory, "lstm.safetensors");
            var options = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 2, HiddenSize = 3 };
            var writer = new SafeTensorsWriter();
            foreach (ParameterSpec spec in options.ParameterSpecs())
            {
                float[] values = new float[spec.Shape.Aggregate(1, (a, b) => a * b)];
                if (spec.Name == "weight_hh_l0")
                {
                    values[5] = float.NaN;
                }

                writer.Add(spec.Name, values, [.. spec.Shape.Select(d => (long)d)]);
            }

            writer.Save(path);
            using (SafeTensorsFile file = SafeTensorsFile.Open(path))
            {
                Assert.True(float.IsNaN(file.ReadSingle("weight_hh_l0")[5]));
            }

            InvalidDataException e = Assert.Throws<InvalidDataException>(() => PyTorchImport.Load(path));
            Assert.Contains("'weight_hh_l0' holds NaN at index 5", e.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
