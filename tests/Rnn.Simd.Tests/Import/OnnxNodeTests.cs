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
    private const string Root = "/usr/share/libonnx-testdata/data/node";

    public static TheoryData<string> Cases() =>
    [
        "test_gru_batchwise", "test_gru_defaults", "test_gru_seq_length", "test_gru_with_initial_bias",
        "test_lstm_batchwise", "test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes",
        "test_rnn_seq_length", "test_simple_rnn_batchwise", "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias",
    ];

    public static TheoryData<string> OwnCases() =>
    [
        "gru_lbr0_bidir_layout1_lens", "gru_lbr1_fwd_opset7_nobias", "lstm_bidir_layout0_lens_init",
        "lstm_fwd_layout1_yh_only", "rnn_relu_bidir_layout1", "rnn_tanh_bidir_layout0_lens",
        "lstm_reverse_layout0_lens_init", "gru_lbr1_reverse_layout1_lens",
        "lstm_peepholes_clip_bidir_lens", "lstm_input_forget_activations", "gru_lbr0_activations_clip_bidir",
        "gru_lbr1_affine_softplus", "rnn_thresholded_relu_reverse", "rnn_affine_bidir",
    ];

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void NodeTest_Passes(string name)
    {
        string dir = Path.Combine(Root, name);
        Skip.IfNot(Directory.Exists(dir), $"{dir} is absent: install Debian's libonnx-testdata (.ci/run does).");
        RunCase(dir, bindEveryInput: true);
    }

    /// <summary>Cases ONNX's node tests lack (bidirectional, reverse, layout 1 with states, GRU linear_before_reset 0,
    /// ReLU, omitted outputs, opset 7, no bias), made by tools/golden/onnx_cases.py with a float64 NumPy reference.</summary>
    [Theory]
    [MemberData(nameof(OwnCases))]
    public void OwnCase_MatchesTheFloat64Reference(string name) =>
        RunCase(Path.Combine(AppContext.BaseDirectory, "GoldenOnnx", name), bindEveryInput: false);

    private static void RunCase(string dir, bool bindEveryInput)
    {
        string name = Path.GetFileName(dir);
        string model = Path.Combine(dir, "model.onnx");
        OnnxGraph graph = OnnxGraph.Parse(File.ReadAllBytes(model), model);
        string data = Path.Combine(dir, "test_data_set_0");
        var inputs = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            inputs[graph.Inputs[i].Name] = OnnxTensor.Load(Path.Combine(data, $"input_{i}.pb"));
        }

        OnnxRecurrentLayer layer = OnnxRecurrentLayer.Load(model, bindEveryInput ? inputs : null);
        OnnxTensor x = inputs[layer.InputName];
        (int steps, int batch) = layer.Layout == 0 ? ((int)x.Dimensions[0], (int)x.Dimensions[1]) : ((int)x.Dimensions[1], (int)x.Dimensions[0]);
        int d = layer.Network.Options.Directions, h = layer.Network.Options.HiddenSize;
        float[] y = new float[steps * d * batch * h], yH = new float[d * batch * h], yC = layer.OperatorType == "LSTM" ? new float[d * batch * h] : [];
        int[] lengths = layer.SequenceLengthsName.Length > 0 && inputs.TryGetValue(layer.SequenceLengthsName, out OnnxTensor? lens)
            ? [.. lens.Integers.ToArray().Select(v => (int)v)] : [];
        ReadOnlySpan<float> h0 = layer.InitialHiddenName.Length > 0 && inputs.TryGetValue(layer.InitialHiddenName, out OnnxTensor? ih) ? ih.Floats : default;
        ReadOnlySpan<float> c0 = layer.InitialCellName.Length > 0 && inputs.TryGetValue(layer.InitialCellName, out OnnxTensor? ic) ? ic.Floats : default;
        layer.Run(x.Floats, steps, batch, y, yH, yC, h0, c0, lengths);

        // Each output alone (the others not wanted) gives the same values.
        float[] yAlone = new float[y.Length];
        layer.Run(x.Floats, steps, batch, yAlone, default, default, h0, c0, lengths);
        Assert.Equal(y, yAlone);

        var produced = new Dictionary<string, float[]>(StringComparer.Ordinal)
        {
            [layer.OutputName] = y, [layer.FinalHiddenName] = yH, [layer.FinalCellName] = yC, [""] = [],
        };
        Assert.NotEmpty(graph.Outputs);
        for (int k = 0; k < graph.Outputs.Count; k++)
        {
            OnnxTensor expected = OnnxTensor.Load(Path.Combine(data, $"output_{k}.pb"));
            float[] actual = produced[graph.Outputs[k].Name];
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++)
            {
                float e = expected.Floats[i];
                Assert.True(Math.Abs(e - actual[i]) <= 1e-5 + (1e-4 * Math.Abs(e)), $"{name} {graph.Outputs[k].Name}[{i}]: expected {e}, got {actual[i]}.");
            }
        }
    }

    [Fact]
    public void AnUnknownActivation_OrAmbiguousAlphas_AreRefusedByName()
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
            File.WriteAllBytes(path, Model(("activations", new[] { "LeakyRelu" }), ("activation_alpha", new[] { 0.1f, 0.2f })));
            e = Assert.Throws<InvalidDataException>(() => OnnxRecurrentLayer.Load(path));
            Assert.Contains("one value per activation", e.Message, StringComparison.Ordinal);
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
