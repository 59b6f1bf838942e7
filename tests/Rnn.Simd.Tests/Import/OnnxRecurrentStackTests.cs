using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// <see cref="OnnxRecurrentStack"/> on bare stacks PyTorch 1.13's exporter wrote (tools/golden/onnx_stacks.py: two and
/// three layers, bidirectional, batch_first, GRU, tanh and ReLU Elman, with and without initial states, opsets 14 and
/// 9): loaded as one <see cref="RecurrentNetwork"/>, streamed step by step with <see cref="RecurrentNetwork.Step"/> (a bidirectional
/// stack, which cannot stream, in one <see cref="RecurrentNetwork.Forward"/>), every output within 1e-5 + 1e-4·|x| of
/// ONNX Runtime's run of the whole graph and bit-identical to <see cref="OnnxModel"/>'s run of it; graphs that are more
/// than a stack refused by name.
/// </summary>
[Trait("Category", "Import")]
[Trait("Isa", "All")]
public sealed class OnnxRecurrentStackTests
{
    public static TheoryData<string> Stacks() =>
    [
        "lstm_l2", "lstm_l2_bidir_batch_first_h0", "lstm_l1_h0", "gru_l2_h0", "gru_bidir_batch_first", "rnn_tanh_l3_batch_first",
        "rnn_relu_l2_bidir_h0", "lstm_l2_h0_opset9",
    ];

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Stack_StreamsStepByStep_AsOnnxRuntimeAndOnnxModelRunTheGraph(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxStack", name);
        string path = Path.Combine(dir, "model.onnx");
        OnnxModel model = OnnxModel.Load(path);
        OnnxRecurrentStack stack = OnnxRecurrentStack.From(model);
        RecurrentNetworkOptions o = stack.Network.Options;
        Assert.Equal(name.Contains("_l3", StringComparison.Ordinal) ? 3 : name.Contains("_l2", StringComparison.Ordinal) ? 2 : 1, o.Layers);
        Assert.Equal(name.Contains("bidir", StringComparison.Ordinal), o.Bidirectional);
        Assert.Equal(name.Contains("batch_first", StringComparison.Ordinal), stack.BatchFirst);
        Assert.Equal(("x", "y", "h_n"), (stack.InputName, stack.OutputName, stack.FinalHiddenName));
        Assert.Equal(o.Cell == Cells.CellType.Lstm ? "c_n" : "", stack.FinalCellName);
        Assert.Equal(name.Contains("_h0", StringComparison.Ordinal) ? "h0" : "", stack.InitialHiddenName);

        OnnxTensor[] inputs = OnnxRuntimeGraph.Inputs(dir, model.InputNames.Count);
        OnnxTensor x = inputs[0];
        int batch = (int)x.Dimensions[stack.BatchFirst ? 0 : 1], steps = (int)x.Dimensions[stack.BatchFirst ? 1 : 0];
        float[] h0 = stack.InitialHiddenName.Length > 0 ? inputs[model.InputNames.ToList().IndexOf(stack.InitialHiddenName)].Floats.ToArray() : [];
        float[] c0 = stack.InitialCellName.Length > 0 ? inputs[model.InputNames.ToList().IndexOf(stack.InitialCellName)].Floats.ToArray() : [];
        int features = o.LayerOutputSize, states = o.Layers * o.Directions * batch * o.HiddenSize;
        var y = new float[steps * batch * features];
        var hN = new float[states];
        var cN = new float[o.Cell == Cells.CellType.Lstm ? states : 0];
        if (o.Bidirectional)
        {
            stack.Network.Forward(x.Floats, steps, batch, y, h0, c0, hN, cN, batchFirst: stack.BatchFirst);
        }
        else
        {
            RecurrentState state = stack.Network.CreateState(batch);
            h0.CopyTo(state.Hidden);
            c0.CopyTo(state.Cell);
            var xt = new float[batch * o.InputSize];
            var yt = new float[batch * features];
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    int row = stack.BatchFirst ? (b * steps) + t : (t * batch) + b;
                    x.Floats.Slice(row * o.InputSize, o.InputSize).CopyTo(xt.AsSpan(b * o.InputSize));
                }

                stack.Network.Step(state, xt, yt);
                for (int b = 0; b < batch; b++)
                {
                    int row = stack.BatchFirst ? (b * steps) + t : (t * batch) + b;
                    yt.AsSpan(b * features, features).CopyTo(y.AsSpan(row * features));
                }
            }

            state.Hidden.CopyTo(hN);
            state.Cell.CopyTo(cN);
        }

        Dictionary<string, float[]> ours = new(StringComparer.Ordinal) { ["y"] = y, ["h_n"] = hN, ["c_n"] = cN };
        Dictionary<string, float[]> ort = OnnxRuntimeGraph.Run(path, inputs);
        OnnxFeed[] feeds = OnnxModelTests.Feeds(dir, model.InputNames.Count);
        Memory<float>[] graph = OnnxModelTests.Results(model, feeds);
        model.Run(feeds, graph);
        for (int k = 0; k < model.OutputNames.Count; k++)
        {
            string output = model.OutputNames[k];
            OnnxRuntimeGraph.AssertClose($"{name} {output}", ort[output], ours[output]);
            Assert.Equal(graph[k].ToArray(), ours[output]);
        }
    }

    [Theory]
    [InlineData("keras_lstm_sequences_states_opset13", "state_h", "state_c")]
    [InlineData("keras_gru_reset_after_states_opset9", "state_h", "")]
    [InlineData("keras_gru_reset_before_opset13", "", "")]
    [InlineData("keras_simplernn_states_opset13", "state_h", "")]
    public void KerasLayerInTf2onnxsShape_IsAStackToo(string name, string finalHidden, string finalCell)
    {
        // Batch-major input transposed, zeros from Expand, Y squeezed and transposed back, states squeezed to [B, H].
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxTf2onnx", name);
        OnnxModel model = OnnxModel.Load(Path.Combine(dir, "model.onnx"));
        OnnxRecurrentStack stack = OnnxRecurrentStack.From(model);
        Assert.Equal((true, "input_1", "output", finalHidden, finalCell), (stack.BatchFirst, stack.InputName, stack.OutputName, stack.FinalHiddenName, stack.FinalCellName));
        OnnxFeed[] feeds = OnnxModelTests.Feeds(dir, model.InputNames.Count);
        Memory<float>[] graph = OnnxModelTests.Results(model, feeds);
        model.Run(feeds, graph);
        long[] shape = [.. model.OutputShape(0, feeds)];
        int batch = (int)shape[0], steps = (int)shape[1], h = stack.Network.Options.HiddenSize;
        var y = new float[graph[0].Length];
        var hN = new float[batch * h];
        var cN = new float[stack.FinalCellName.Length > 0 ? batch * h : 0];
        stack.Network.Forward(feeds[0].Floats.Span, steps, batch, y, hN: hN, cN: cN, batchFirst: true);
        Assert.Equal(graph[0].ToArray(), y);
        Assert.Equal(finalHidden.Length > 0 ? graph[1].ToArray() : [], finalHidden.Length > 0 ? hN : []);
        Assert.Equal(finalCell.Length > 0 ? graph[2].ToArray() : [], cN);
    }

    [Fact]
    public void SequenceLengths_FromACastGraphInput_ReachEveryLayer()
    {
        // Two forward GRU layers 3 → 4 → 4, time-major, sequence_lens an int64 graph input cast to int32 for both.
        const int T = 5, B = 3, In = 3, H = 4;
        var random = new Random(5);
        float[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
        byte[] bytes = new OnnxWriter().Input("x", 1, -1, -1, In).Input("lengths", 7, -1)
            .Initializer("W0", [1, 3 * H, In], Values(3 * H * In)).Initializer("R0", [1, 3 * H, H], Values(3 * H * H))
            .Initializer("B0", [1, 6 * H], Values(6 * H)).Initializer("W1", [1, 3 * H, H], Values(3 * H * H))
            .Initializer("R1", [1, 3 * H, H], Values(3 * H * H)).Initializer("B1", [1, 6 * H], Values(6 * H)).Initializer("one", [1], [1L])
            .Node("Cast", "lens", ["lengths"], ["lens32"], ("to", 6L))
            .Node("GRU", "g0", ["x", "W0", "R0", "B0", "lens32"], ["y0", "h_0"], ("hidden_size", (long)H), ("linear_before_reset", 1L))
            .Node("Squeeze", "q0", ["y0", "one"], ["x1"])
            .Node("GRU", "g1", ["x1", "W1", "R1", "B1", "lens32"], ["y1", "h_1"], ("hidden_size", (long)H), ("linear_before_reset", 1L))
            .Node("Squeeze", "q1", ["y1", "one"], ["y"])
            .Node("Concat", "hn", ["h_0", "h_1"], ["h_n"], ("axis", 0L))
            .Output("y", 1, null).Output("h_n", 1, null).Build(14);
        OnnxModel model = OnnxModel.Load(bytes, "lengths.onnx");
        OnnxRecurrentStack stack = OnnxRecurrentStack.From(model);
        Assert.Equal(("lengths", 2), (stack.SequenceLengthsName, stack.Network.Options.Layers));

        float[] x = Values(T * B * In);
        long[] lengths = [5, 2, 3];
        OnnxFeed[] feeds = [new(x, T, B, In), new(lengths, B)];
        Memory<float>[] graph = OnnxModelTests.Results(model, feeds);
        model.Run(feeds, graph);
        var y = new float[T * B * H];
        var hN = new float[2 * B * H];
        stack.Network.Forward(x, T, B, y, hN: hN, lengths: [5, 2, 3]);
        Assert.Equal(graph[0].ToArray(), y);
        Assert.Equal(graph[1].ToArray(), hN);
        Dictionary<string, float[]> ort = OnnxRuntimeGraph.Run(bytes, [OnnxTensor.FromFloats("x", [T, B, In], x), OnnxTensor.FromIntegers("lengths", [B], lengths)]);
        OnnxRuntimeGraph.AssertClose("y", ort["y"], y);
        OnnxRuntimeGraph.AssertClose("h_n", ort["h_n"], hN);
    }

    [Fact]
    public void TheReadmeExample_Streams()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxStack", "gru_l2_h0");
        float[] xt = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", "input_0.pb")).Floats[..9].ToArray();   // x_0 of [T, 3, 3]
        float[] yt = new float[3 * 5];

        // ---- README: "ONNX stack" (begin) ----
        // ---- README (pause) ----
        OnnxRecurrentStack stack = OnnxRecurrentStack.Load(Path.Combine(dir, "model.onnx"));   // the README loads it from the repository's root
        // ---- README (resume) ----
        RecurrentState state = stack.Network.CreateState(batch: 3);     // h0 [L·D, B, H] goes into state.Hidden
        stack.Network.Step(state, xt, yt);                               // x_t [B, 3] → y_t [B, 5]
        // ---- README: "ONNX stack" (end) ----
        Assert.Equal((2, 3, 5), (stack.Network.Options.Layers, stack.Network.Options.InputSize, stack.Network.Options.HiddenSize));
        Assert.Contains(yt, v => v != 0);
        AllocationAssert.None(() => stack.Network.Step(state, xt, yt));
    }

    [Theory]
    [InlineData("GoldenOnnxExport", "lstm_l2_bidir_batch_first_linear", "MatMul node")]
    [InlineData("GoldenOnnxExport", "rnn_relu_l2_tanh", "Tanh node")]
    [InlineData("GoldenOnnxExport", "embedding_gru_classifier", "Gather node")]
    [InlineData("GoldenOnnxExport", "lstm_states_per_step_linear", "MatMul of layer 0's output")]
    [InlineData("GoldenOnnxTf2onnx", "keras_bigru_lens_input_opset13", "Slice of layer 0's output")]
    [InlineData("GoldenOnnxTf2onnx", "keras_lstm_last_dense_lens_shape_opset11", "sequence_lens")]
    public void MoreThanAStack_IsRefusedByName(string folder, string name, string what)
    {
        string path = Path.Combine(AppContext.BaseDirectory, folder, name, "model.onnx");
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => OnnxRecurrentStack.Load(path));
        Assert.Contains("not one recurrent stack", e.Message, StringComparison.Ordinal);
        Assert.Contains(what, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("branch", "reads X 'x', which is not the previous layer's output")]
    [InlineData("attributes", "differs from LSTM node 'l0' in operator or attributes")]
    [InlineData("one layer's state", "graph output 'h1' is not the stack's output sequence")]
    [InlineData("layout 1", "has layout 1")]
    public void HandBuiltGraphsThatAreNotAStack_AreRefusedByName(string what, string message)
    {
        // Two one-direction LSTM layers, 2 → 3 → 3, time-major; each variant breaks the stack in one place.
        var w = new OnnxWriter().Input("x", 1, 4, 1, 2);
        w.Initializer("w0", [1, 12, 2], new float[24]).Initializer("r0", [1, 12, 3], new float[36])
         .Initializer("w1", [1, 12, 3], new float[36]).Initializer("r1", [1, 12, 3], new float[36])
         .Initializer("axis", [1], [1L]);
        w.Node("LSTM", "l0", ["x", "w0", "r0"], ["y0", "h0"], ("hidden_size", 3L), ("layout", what == "layout 1" ? 1L : 0L))
         .Node("Squeeze", "s0", ["y0", "axis"], ["x1"]);
        w.Node("LSTM", "l1", [what == "branch" ? "x" : "x1", "w1", "r1"], ["y1", "h1"], what == "attributes" ? ("clip", (object)2f) : ("hidden_size", (object)3L));
        w.Output(what == "one layer's state" ? "h1" : "y1", 1, null);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => OnnxRecurrentStack.From(OnnxModel.Load(w.Build(14), "stack.onnx")));
        Assert.Contains("stack.onnx: not one recurrent stack", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
