using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// One ONNX test case in the layout of ONNX's node tests (<c>model.onnx</c>, <c>test_data_set_0/input_N.pb</c> for
/// the graph's N-th input that is not an initializer, <c>output_N.pb</c> for its N-th output), and the engine's run of
/// it through <see cref="OnnxRecurrentLayer"/>. Shared by <see cref="OnnxNodeTests"/> and
/// <see cref="OnnxRuntimeOracleTests"/>.
/// </summary>
internal sealed class OnnxCase
{
    /// <summary>Where Debian's libonnx-testdata puts ONNX's node tests.</summary>
    public const string NodeRoot = "/usr/share/libonnx-testdata/data/node";

    private OnnxCase(string directory, OnnxGraph graph, Dictionary<string, OnnxTensor> inputs)
    {
        Directory = directory;
        Graph = graph;
        Inputs = inputs;
    }

    /// <summary>ONNX's node tests for the recurrent operators (all twelve).</summary>
    public static TheoryData<string> NodeCases() =>
    [
        "test_gru_batchwise", "test_gru_defaults", "test_gru_seq_length", "test_gru_with_initial_bias",
        "test_lstm_batchwise", "test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes",
        "test_rnn_seq_length", "test_simple_rnn_batchwise", "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias",
    ];

    /// <summary>The committed GoldenOnnx cases (tools/golden/onnx_cases.py).</summary>
    public static TheoryData<string> OwnCases() =>
    [
        "gru_lbr0_bidir_layout1_lens", "gru_lbr1_fwd_opset7_nobias", "lstm_bidir_layout0_lens_init",
        "lstm_fwd_layout1_yh_only", "rnn_relu_bidir_layout1", "rnn_tanh_bidir_layout0_lens",
        "lstm_reverse_layout0_lens_init", "gru_lbr1_reverse_layout1_lens",
        "lstm_peepholes_clip_bidir_lens", "lstm_input_forget_activations", "gru_lbr0_activations_clip_bidir",
        "gru_lbr1_affine_softplus", "rnn_thresholded_relu_reverse", "rnn_affine_bidir",
    ];

    public string Directory { get; }

    public string Name => Path.GetFileName(Directory);

    public string ModelPath => Path.Combine(Directory, "model.onnx");

    public OnnxGraph Graph { get; }

    /// <summary>The case's input tensors by graph input name.</summary>
    public IReadOnlyDictionary<string, OnnxTensor> Inputs { get; }

    /// <summary>The directory of a committed GoldenOnnx case.</summary>
    public static string Own(string name) => Path.Combine(AppContext.BaseDirectory, "GoldenOnnx", name);

    /// <summary>The directory of one of ONNX's node tests.</summary>
    public static string Node(string name) => Path.Combine(NodeRoot, name);

    public static OnnxCase Read(string directory)
    {
        string model = Path.Combine(directory, "model.onnx");
        OnnxGraph graph = OnnxGraph.Parse(File.ReadAllBytes(model), model);
        var inputs = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            inputs[graph.Inputs[i].Name] = OnnxTensor.Load(Path.Combine(directory, "test_data_set_0", $"input_{i}.pb"));
        }

        return new OnnxCase(directory, graph, inputs);
    }

    /// <summary>The expected value of the graph's <paramref name="k"/>-th output.</summary>
    public OnnxTensor Expected(int k) => OnnxTensor.Load(Path.Combine(Directory, "test_data_set_0", $"output_{k}.pb"));

    /// <summary>Loads the model; <paramref name="bindEveryInput"/> binds every input as a constant (ONNX's node tests feed
    /// the weights as inputs; binding X too is harmless, the node reads it as X).</summary>
    public OnnxRecurrentLayer Load(bool bindEveryInput) => OnnxRecurrentLayer.Load(ModelPath, bindEveryInput ? Inputs : null);

    /// <summary>The engine's run on the case's inputs: every output the node has, by graph output name.</summary>
    public Dictionary<string, float[]> Run(OnnxRecurrentLayer layer) => Run(layer, wanted: null);

    /// <summary>As <see cref="Run(OnnxRecurrentLayer)"/>, asking for one output only (<c>Y</c>, <c>Y_h</c> or
    /// <c>Y_c</c> by the node's output name); the others are passed empty and come back empty.</summary>
    public Dictionary<string, float[]> Run(OnnxRecurrentLayer layer, string? wanted)
    {
        ArgumentNullException.ThrowIfNull(layer);
        OnnxTensor x = Inputs[layer.InputName];
        (int steps, int batch) = layer.Layout == 0 ? ((int)x.Dimensions[0], (int)x.Dimensions[1]) : ((int)x.Dimensions[1], (int)x.Dimensions[0]);
        int d = layer.Network.Options.Directions, h = layer.Network.Options.HiddenSize;
        bool Wants(string name) => name.Length > 0 && (wanted is null || wanted == name);
        float[] y = Wants(layer.OutputName) ? new float[steps * d * batch * h] : [];
        float[] yH = Wants(layer.FinalHiddenName) ? new float[d * batch * h] : [];
        float[] yC = Wants(layer.FinalCellName) && layer.OperatorType == "LSTM" ? new float[d * batch * h] : [];
        int[] lengths = layer.SequenceLengthsName.Length > 0 && Inputs.TryGetValue(layer.SequenceLengthsName, out OnnxTensor? lens)
            ? [.. lens.Integers.ToArray().Select(v => (int)v)] : [];
        ReadOnlySpan<float> h0 = layer.InitialHiddenName.Length > 0 && Inputs.TryGetValue(layer.InitialHiddenName, out OnnxTensor? ih) ? ih.Floats : default;
        ReadOnlySpan<float> c0 = layer.InitialCellName.Length > 0 && Inputs.TryGetValue(layer.InitialCellName, out OnnxTensor? ic) ? ic.Floats : default;
        layer.Run(x.Floats, steps, batch, y, yH, yC, h0, c0, lengths);
        var produced = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach ((string name, float[] values) in new[] { (layer.OutputName, y), (layer.FinalHiddenName, yH), (layer.FinalCellName, yC) })
        {
            if (name.Length > 0)
            {
                produced[name] = values;
            }
        }

        return produced;
    }
}
