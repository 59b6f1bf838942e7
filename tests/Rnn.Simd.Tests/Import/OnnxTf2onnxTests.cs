using Rnn.Simd.Import.Onnx;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// <see cref="OnnxModel"/> on graphs in the shape tf2onnx writes for Keras LSTM, GRU (reset after and before) and
/// bidirectional layers (tools/golden/onnx_tf2onnx.py): batch-major input transposed to time-major, zero initial
/// states from a Shape → Cast → Slice → Squeeze → Unsqueeze → Concat → Expand (or ConstantOfShape) pipeline,
/// sequence_lens absent, from the input's shape or from an int64 input cast to int32, Y sliced and squeezed per
/// direction, the last step taken by Slice [-1:], a Dense head; opsets 9, 11, 13 and 15 (axes as attributes and as
/// inputs). Every output within 1e-5 + 1e-4·|x| of ONNX Runtime's run of the file and within 4× its error against the
/// float64 reference; the same bits on two threads; no allocation per call once planned.
/// </summary>
[Trait("Category", "Import")]
[Trait("Isa", "All")]
public sealed class OnnxTf2onnxTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases() =>
    [
        "keras_lstm_sequences_states_opset13", "keras_lstm_last_dense_lens_shape_opset11", "keras_gru_reset_after_states_opset9",
        "keras_gru_reset_before_opset13", "keras_bigru_lens_input_opset13", "keras_bilstm_last_dense_opset15", "keras_simplernn_states_opset13",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void KerasLayerAsTf2onnxWritesIt_AgreesWithOnnxRuntimeAndTheReference(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxTf2onnx", name);
        string path = Path.Combine(dir, "model.onnx");
        OnnxModel model = OnnxModel.Load(path);
        OnnxFeed[] feeds = OnnxModelTests.Feeds(dir, model.InputNames.Count);
        Memory<float>[] results = OnnxModelTests.Results(model, feeds);
        model.Run(feeds, results);
        Dictionary<string, float[]> ort = OnnxRuntimeGraph.Run(path, OnnxRuntimeGraph.Inputs(dir, model.InputNames.Count));
        for (int k = 0; k < model.OutputNames.Count; k++)
        {
            string tensor = model.OutputNames[k];
            OnnxTensor reference = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", $"output_{k}.pb"));
            Assert.Equal(reference.Dimensions, model.OutputShape(k, feeds));
            OnnxRuntimeGraph.AssertClose($"{name} {tensor}", ort[tensor], results[k].Span);
            (double ours, double theirs, double ratio) = OnnxRuntimeGraph.AssertWithinFourTimesOnnxRuntimesError($"{name} {tensor}", reference.Floats, ort[tensor], results[k].Span);
            output.WriteLine($"{name} {tensor}: ours {ours:E2}, ONNX Runtime {theirs:E2} against float64 ({ratio:F2}×)");
        }

        OnnxModelTests.SameBitsOnTwoThreads_AndNoAllocation(model, feeds, results);
    }

    [Fact]
    public void Expand_BroadcastsKnownAndCallValues_AsOnnxRuntimeDoes()
    {
        // y = Expand(x, [2, 3, 4]) of a graph input x [3, 1]; z = Expand of a constant [1, 4] to the shape of x's rows.
        byte[] bytes = new OnnxWriter().Input("x", 1, 3, 1)
            .Initializer("shape", [3], [2L, 3, 4]).Initializer("row", [1, 4], [1f, -2f, 3f, -4f])
            .Node("Expand", "e", ["x", "shape"], ["y"])
            .Node("Shape", "s", ["x"], ["xs"])
            .Node("Expand", "k", ["row", "xs"], ["z"])
            .Output("y", 1, null).Output("z", 1, null).Build(13);
        float[] x = [0.5f, -1.5f, 2.5f];
        OnnxModel model = OnnxModel.Load(bytes, "expand.onnx");
        OnnxFeed[] feeds = [new(x, 3, 1)];
        Memory<float>[] results = OnnxModelTests.Results(model, feeds);
        model.Run(feeds, results);
        Assert.Equal([2L, 3, 4], model.OutputShape(0, feeds));
        Assert.Equal([3L, 4], model.OutputShape(1, feeds));
        Dictionary<string, float[]> ort = OnnxRuntimeGraph.Run(bytes, [OnnxTensor.FromFloats("x", [3, 1], x)]);
        Assert.Equal(ort["y"], results[0].ToArray());
        Assert.Equal(ort["z"], results[1].ToArray());

        InvalidDataException e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(
            new OnnxWriter().Input("x", 1, 3, 2).Initializer("shape", [2], [3L, 4]).Node("Expand", "bad", ["x", "shape"], ["y"]).Output("y", 1, null).Build(13), "bad.onnx")
            .OutputShape(0, [new OnnxFeed(new float[6], 3, 2)]));
        Assert.Contains("Expand node 'bad' cannot expand [3, 2] to [3, 4]", e.Message, StringComparison.Ordinal);
    }
}
