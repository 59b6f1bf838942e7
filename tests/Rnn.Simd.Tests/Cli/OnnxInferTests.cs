using System.Security.Cryptography;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.IO;

namespace Rnn.Simd.Tests.Cli;

/// <summary>
/// <c>rnn-simd infer --model M.onnx</c> end to end on every ONNX case of <c>GoldenOnnx/</c>: the input file holds
/// one tensor per graph input (named as in the graph; sequence_lens as I64), the output file every node output
/// (named as in the graph). Results within 1e-5 + 1e-4·|x| of the float64 reference; byte-identical files with
/// <c>--threads 2</c>; and one pinned hash over all output files, the same under every ISA switch.
/// </summary>
[Trait("Category", "Cli")]
[Trait("Isa", "All")]
public sealed class OnnxInferTests : IDisposable
{
    /// <summary>SHA-256 over every case's output file, cases in name order.</summary>
    private const string OutputFilesHash = "5A4B36A27C36777789CFB44EEE3567476EA8385BCAE32A791203AF6D60C6704B";

    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-onnx-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EveryOnnxCase_ThroughTheCommandLine_MatchesTheReference_AndIsByteIdenticalOnTwoThreads()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string[] cases = [.. Directory.EnumerateDirectories(Path.Combine(AppContext.BaseDirectory, "GoldenOnnx")).Order(StringComparer.Ordinal)];
        Assert.NotEmpty(cases);
        foreach (string dir in cases)
        {
            string name = Path.GetFileName(dir), model = Path.Combine(dir, "model.onnx"), data = Path.Combine(dir, "test_data_set_0");
            OnnxGraph graph = OnnxGraph.Parse(File.ReadAllBytes(model), model);
            var writer = new SafeTensorsWriter();
            for (int i = 0; i < graph.Inputs.Count; i++)
            {
                OnnxTensor t = OnnxTensor.Load(Path.Combine(data, $"input_{i}.pb"));
                long[] shape = [.. t.Dimensions];
                if (t.ElementType == OnnxElementType.Float)
                {
                    writer.Add(graph.Inputs[i].Name, t.Floats, shape);
                }
                else
                {
                    writer.Add(graph.Inputs[i].Name, t.Integers, shape);
                }
            }

            string input = Path.Combine(_directory, name + ".in.safetensors");
            writer.Save(input);
            string one = Path.Combine(_directory, name + ".1.safetensors"), two = Path.Combine(_directory, name + ".2.safetensors");
            Assert.Equal(0, Simd.Cli.Program.Run(["infer", "--model", model, "--input", input, "--output", one]));
            Assert.Equal(0, Simd.Cli.Program.Run(["infer", "--model", model, "--input", input, "--output", two, "--threads", "2"]));
            byte[] bytes = File.ReadAllBytes(one);
            Assert.Equal(bytes, File.ReadAllBytes(two));
            hash.AppendData(bytes);

            using SafeTensorsFile actual = SafeTensorsFile.Open(one);
            for (int k = 0; k < graph.Outputs.Count; k++)
            {
                OnnxTensor expected = OnnxTensor.Load(Path.Combine(data, $"output_{k}.pb"));
                string output = graph.Outputs[k].Name;
                Assert.Equal(expected.Dimensions.ToArray(), actual.GetEntry(output).Shape.ToArray());
                float[] ours = actual.ReadSingle(output);
                for (int i = 0; i < ours.Length; i++)
                {
                    float e = expected.Floats[i];
                    Assert.True(Math.Abs(e - ours[i]) <= 1e-5 + (1e-4 * Math.Abs(e)), $"{name} {output}[{i}]: expected {e}, got {ours[i]}.");
                }
            }
        }

        string digest = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(digest == OutputFilesHash, $"Output files hash {digest}, expected {OutputFilesHash}.");
    }

    /// <summary>SHA-256 over every PyTorch export's output file, cases in name order.</summary>
    private const string ExportFilesHash = "B98B45FE57543DCE758715CEBE558D66024AAF7AD652074D12E29931FEBEB51B";

    [Fact]
    public void EveryPyTorchExport_ThroughTheCommandLine_IsWithinFourTimesPyTorchsError_AndByteIdenticalOnTwoThreads()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string[] cases = [.. new[] { "embedding_gru_classifier", "lstm_l2_bidir_batch_first_linear", "lstm_states_per_step_linear", "rnn_relu_l2_tanh" }
            .Select(n => Path.Combine(AppContext.BaseDirectory, "GoldenOnnxExport", n))];
        Assert.Equal(4, cases.Length);
        foreach (string dir in cases)
        {
            string name = Path.GetFileName(dir), model = Path.Combine(dir, "model.onnx");
            OnnxModel onnx = OnnxModel.Load(model);
            var writer = new SafeTensorsWriter();
            for (int i = 0; i < onnx.InputNames.Count; i++)
            {
                OnnxTensor t = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb"));
                if (t.ElementType == OnnxElementType.Float)
                {
                    writer.Add(onnx.InputNames[i], t.Floats, [.. t.Dimensions]);
                }
                else
                {
                    writer.Add(onnx.InputNames[i], t.Integers, [.. t.Dimensions]);
                }
            }

            string input = Path.Combine(_directory, name + ".in.safetensors"), one = Path.Combine(_directory, name + ".1.safetensors"), two = Path.Combine(_directory, name + ".2.safetensors");
            writer.Save(input);
            Assert.Equal(0, Simd.Cli.Program.Run(["infer", "--model", model, "--input", input, "--output", one]));
            Assert.Equal(0, Simd.Cli.Program.Run(["infer", "--model", model, "--input", input, "--output", two, "--threads", "2"]));
            byte[] bytes = File.ReadAllBytes(one);
            Assert.Equal(bytes, File.ReadAllBytes(two));
            hash.AppendData(bytes);

            using SafeTensorsFile actual = SafeTensorsFile.Open(one);
            using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
            foreach (string output in onnx.OutputNames)
            {
                Assert.Equal(expected.GetEntry(output).Shape.ToArray(), actual.GetEntry(output).Shape.ToArray());
                double[] reference = expected.ReadDouble(output + ".f64");
                float[] ours = actual.ReadSingle(output), theirs = expected.ReadSingle(output);
                double ourError = 0, theirError = 1e-9;
                for (int i = 0; i < reference.Length; i++)
                {
                    ourError = Math.Max(ourError, Math.Abs(ours[i] - reference[i]));
                    theirError = Math.Max(theirError, Math.Abs(theirs[i] - reference[i]));
                }

                Assert.True(ourError <= 4 * theirError, $"{name} {output}: {ourError:E3} vs PyTorch float32 {theirError:E3}.");
            }
        }

        string digest = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(digest == ExportFilesHash, $"Export output files hash {digest}, expected {ExportFilesHash}.");
    }

    [Fact]
    public void AnInputFileWithoutTheGraphInput_IsAOneLineError()
    {
        string model = Path.Combine(AppContext.BaseDirectory, "GoldenOnnx", "lstm_bidir_layout0_lens_init", "model.onnx");
        string input = Path.Combine(_directory, "wrong.safetensors");
        new SafeTensorsWriter().Add("input", new float[12], 1, 3, 4).Save(input);
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.NotEqual(0, Simd.Cli.Program.Run(["infer", "--model", model, "--input", input, "--output", Path.Combine(_directory, "o.safetensors")]));
        }
        finally
        {
            Console.SetError(saved);
        }

        Assert.Contains("has no 'X' tensor", error.ToString(), StringComparison.Ordinal);
    }
}
