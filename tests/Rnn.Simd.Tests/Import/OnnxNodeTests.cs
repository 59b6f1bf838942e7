using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// The ONNX project's own node tests for the recurrent operators (Debian's libonnx-testdata; .ci/run installs it):
/// each case's model.onnx loaded by <see cref="OnnxRecurrentLayer"/> with the weights the case feeds as inputs
/// bound as constants, run on the case's inputs, every output against the case's expected output within
/// 1e-5 + 1e-4·|x|.
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

    /// <summary>Cases ONNX's node tests lack (bidirectional, reverse, layout 1 with states, GRU linear_before_reset 0,
    /// ReLU, the eleven activations with α and β, clip, input_forget, peepholes, omitted outputs, opset 7, no bias), made by tools/golden/onnx_cases.py with a float64 NumPy reference.</summary>
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

    [Fact]
    public void AnUnknownActivation_IsRefusedByName()
    {
        byte[] Model(params (string, object)[] attributes) => new OnnxWriter()
            .Initializer("W", [1, 2, 3], new float[6]).Initializer("R", [1, 2, 2], new float[4])
            .Input("X", 1, 2, 1, 3).Output("Y", 1, 2, 1, 1, 2)
            .Node("RNN", "rnn_0", ["X", "W", "R"], ["Y"], [("hidden_size", 2L), .. attributes]).Build(14);
        string path = Path.Combine(Path.GetTempPath(), $"rnn-simd-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, Model(("activations", new[] { "Swish" })));
            var e = Assert.Throws<InvalidDataException>(() => OnnxRecurrentLayer.Load(path));
            Assert.Contains("RNN node 'rnn_0': activation 'Swish' is not one of", e.Message, StringComparison.Ordinal);
            File.WriteAllBytes(path, Model(("activations", new[] { "Tanh", "Tanh" })));
            e = Assert.Throws<InvalidDataException>(() => OnnxRecurrentLayer.Load(path));
            Assert.Contains("2 activations; RNN takes 1 per direction", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
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
