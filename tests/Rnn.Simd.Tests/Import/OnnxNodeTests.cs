using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// The ONNX project's own node tests for the recurrent operators (Debian's libonnx-testdata; .ci/run installs it):
/// each case's model.onnx loaded by <see cref="OnnxRecurrentLayer"/> with the weights the case feeds as inputs
/// bound as constants, run on the case's inputs, every output against the case's expected output within
/// 1e-5 + 1e-4·|x|. The peephole case is refused by name (peepholes are not an engine option yet).
/// </summary>
[Trait("Category", "Import")]
[Trait("Isa", "All")]
public sealed class OnnxNodeTests
{
    public static TheoryData<string> Cases() => OnnxCase.NodeCases();

    public static TheoryData<string> OwnCases() => OnnxCase.OwnCases();

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void NodeTest_Passes(string name)
    {
        string dir = OnnxCase.Node(name);
        Skip.IfNot(Directory.Exists(dir), $"{dir} is absent: install Debian's libonnx-testdata (.ci/run does).");
        RunCase(dir, bindEveryInput: true);
    }

    /// <summary>Cases ONNX's node tests lack (bidirectional, layout 1 with states, GRU linear_before_reset 0, ReLU,
    /// omitted outputs, opset 7, no bias), made by tools/golden/onnx_cases.py with a float64 NumPy reference.</summary>
    [Theory]
    [MemberData(nameof(OwnCases))]
    public void OwnCase_MatchesTheFloat64Reference(string name) => RunCase(OnnxCase.Own(name), bindEveryInput: false);

    private static void RunCase(string dir, bool bindEveryInput)
    {
        OnnxCase c = OnnxCase.Read(dir);
        OnnxRecurrentLayer layer = c.Load(bindEveryInput);
        Dictionary<string, float[]> produced = c.Run(layer);

        // Each output alone (the others not wanted) gives the same values.
        foreach ((string output, float[] values) in produced)
        {
            Assert.Equal(values, c.Run(layer, wanted: output)[output]);
        }

        Assert.NotEmpty(c.Graph.Outputs);
        for (int k = 0; k < c.Graph.Outputs.Count; k++)
        {
            OnnxTensor expected = c.Expected(k);
            float[] actual = produced[c.Graph.Outputs[k].Name];
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++)
            {
                float e = expected.Floats[i];
                Assert.True(Math.Abs(e - actual[i]) <= 1e-5 + (1e-4 * Math.Abs(e)), $"{c.Name} {c.Graph.Outputs[k].Name}[{i}]: expected {e}, got {actual[i]}.");
            }
        }
    }

    [SkippableFact]
    public void ThePeepholeCase_IsRefusedByName()
    {
        string dir = OnnxCase.Node("test_lstm_with_peepholes");
        Skip.IfNot(Directory.Exists(dir), $"{dir} is absent: install Debian's libonnx-testdata (.ci/run does).");
        string model = Path.Combine(dir, "model.onnx");
        OnnxGraph graph = OnnxGraph.Parse(File.ReadAllBytes(model), model);
        var inputs = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            inputs[graph.Inputs[i].Name] = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb"));
        }

        var e = Assert.Throws<InvalidDataException>(() => OnnxRecurrentLayer.Load(model, inputs));
        Assert.Contains("peepholes", e.Message, StringComparison.Ordinal);
        Assert.Contains("LSTM node", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>Hostile .onnx bytes: truncations and random byte changes of every committed case end in an
/// <see cref="InvalidDataException"/> (a one-line message naming the file) or load; nothing else is thrown.</summary>
[Trait("Category", "Import")]
public sealed class OnnxHostileFileTests
{
    [Fact]
    public void DamagedModels_LoadOrFailWithInvalidData()
    {
        var random = new Rnn.Simd.Training.DeterministicRandom(17);
        int refused = 0, loaded = 0;
        foreach (string dir in Directory.EnumerateDirectories(Path.Combine(AppContext.BaseDirectory, "GoldenOnnx")))
        {
            byte[] original = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));
            for (int trial = 0; trial < 300; trial++)
            {
                byte[] bytes = (byte[])original.Clone();
                if (trial < 40)
                {
                    Array.Resize(ref bytes, (int)(random.NextUInt64() % (ulong)bytes.Length));
                }
                else
                {
                    for (int k = 0, n = 1 + (trial % 4); k < n; k++)
                    {
                        bytes[(int)(random.NextUInt64() % (ulong)bytes.Length)] = (byte)random.NextUInt64();
                    }
                }

                try
                {
                    OnnxRecurrentLayer.FromGraph(OnnxGraph.Parse(bytes, "damaged.onnx"), "damaged.onnx", null, null);
                    loaded++;
                }
                catch (InvalidDataException e)
                {
                    Assert.DoesNotContain('\n', e.Message);
                    Assert.Contains("damaged.onnx", e.Message, StringComparison.Ordinal);
                    refused++;
                }
            }
        }

        Assert.True(refused > 500 && loaded > 0, $"{refused} refused, {loaded} loaded");   // most single-byte changes land in weight data and load
    }
}
