using Rnn.Simd.Import.Onnx;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// <see cref="OnnxModel"/> on graphs PyTorch 1.13's exporter wrote (tools/golden/onnx_export.py): stacked
/// bidirectional LSTM with batch_first and a linear head, an embedding → GRU → softmax classifier, an LSTM with
/// state inputs, a two-layer ReLU RNN. Every output within 4× PyTorch float32's own error against float64; the same
/// bits on two threads; no allocation per call once planned; and the single-node cases and refusals.
/// </summary>
[Trait("Category", "Import")]
[Trait("Isa", "All")]
public sealed class OnnxModelTests(ITestOutputHelper output)
{
    public static TheoryData<string> Exports() =>
        ["embedding_gru_classifier", "lstm_l2_bidir_batch_first_linear", "lstm_states_per_step_linear", "rnn_relu_l2_tanh"];

    [Theory]
    [MemberData(nameof(Exports))]
    public void PyTorchExport_MatchesPyTorch_WithinFourTimesItsOwnError(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxExport", name);
        OnnxModel model = OnnxModel.Load(Path.Combine(dir, "model.onnx"));
        OnnxFeed[] feeds = Feeds(dir, model.InputNames.Count);
        Memory<float>[] results = Results(model, feeds);
        model.Run(feeds, results);

        using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(dir, "expected.safetensors"));
        for (int k = 0; k < model.OutputNames.Count; k++)
        {
            string tensor = model.OutputNames[k];
            Assert.Equal(expected.GetEntry(tensor).Shape.ToArray(), model.OutputShape(k, feeds).ToArray());
            double[] reference = expected.ReadDouble(tensor + ".f64");
            float[] theirs = expected.ReadSingle(tensor);
            ReadOnlySpan<float> ours = results[k].Span;
            double ourError = 0, theirError = 1e-9;
            for (int i = 0; i < reference.Length; i++)
            {
                ourError = Math.Max(ourError, Math.Abs(ours[i] - reference[i]));
                theirError = Math.Max(theirError, Math.Abs(theirs[i] - reference[i]));
            }

            output.WriteLine($"{name} {tensor}: ours {ourError:E2}, PyTorch float32 {theirError:E2} against float64 ({ourError / theirError:F2}×)");
            Assert.True(ourError <= 4 * theirError, $"{name} {tensor}: {ourError:E3} vs PyTorch float32 {theirError:E3}.");
        }

        SameBitsOnTwoThreads_AndNoAllocation(model, feeds, results);
    }

    /// <summary>The model run again on two threads gives <paramref name="results"/>' bits; a call at these shapes allocates nothing.</summary>
    internal static void SameBitsOnTwoThreads_AndNoAllocation(OnnxModel model, OnnxFeed[] feeds, Memory<float>[] results)
    {
        Memory<float>[] again = Results(model, feeds);
        using (var team = new ThreadTeam(2))
        {
            model.Run(feeds, again, team);
        }

        for (int k = 0; k < results.Length; k++)
        {
            Assert.Equal(results[k].ToArray(), again[k].ToArray());
        }

        AllocationAssert.None(() => model.Run(feeds, results));
    }

    [Fact]
    public void ANewBatchSize_MakesANewPlan_WithTheSameRowsForTheSameSequences()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxExport", "lstm_l2_bidir_batch_first_linear");
        OnnxModel model = OnnxModel.Load(Path.Combine(dir, "model.onnx"));
        OnnxTensor x = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", "input_0.pb"));   // [3, 6, 4]
        float[] all = x.Floats.ToArray();
        OnnxFeed[] three = [new(all, 3, 6, 4)], one = [new(all.AsMemory(0, 24), 1, 6, 4)];
        Memory<float>[] r3 = Results(model, three), r1 = Results(model, one);
        model.Run(three, r3);
        model.Run(one, r1);
        Assert.Equal(r3[0].Span[..r1[0].Length].ToArray(), r1[0].ToArray());   // y [B, T, 3]: batch row 0
    }

    [Fact]
    public void TheReadmeExample_Runs()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxExport", "lstm_l2_bidir_batch_first_linear");
        float[] input = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", "input_0.pb")).Floats.ToArray();

        // ---- README: "ONNX" (begin) ----
        // ---- README (pause) ----
        OnnxModel model = OnnxModel.Load(Path.Combine(dir, "model.onnx"));   // the README loads it from the repository's root
        // ---- README (resume) ----
        OnnxFeed[] x = [new(input, 3, 6, 4)];                           // graph input "x" [B, T, 4], reused between calls
        Memory<float>[] outputs = [new float[3 * 6 * 3], new float[4 * 3 * 6]];   // "y" [B, T, 3], "h_n" [4, B, 6]
        model.Run(x, outputs);                                          // model.OutputShape(k, x) gives the shapes
        // ---- README: "ONNX" (end) ----
        Assert.Equal([3L, 6, 3], model.OutputShape(0, x));
        Assert.Equal([4L, 3, 6], model.OutputShape(1, x));
        Assert.Contains(outputs[0].ToArray(), v => v != 0);
    }

    [Fact]
    public void OneModel_SharedByThreads_GivesEveryThreadTheSameBits()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxExport", "embedding_gru_classifier");
        OnnxModel model = OnnxModel.Load(Path.Combine(dir, "model.onnx"));
        OnnxFeed[] feeds = Feeds(dir, 1);
        Memory<float>[] expected = Results(model, feeds);
        model.Run(feeds, expected);
        float[] reference = expected[0].ToArray();

        // Four threads, each with its own output, some with a new batch size (a plan made while others run).
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, worker =>
        {
            long[] ids = [.. feeds[0].Integers.ToArray()];
            OnnxFeed[] own = worker % 2 == 0 ? feeds : [new OnnxFeed(ids.AsMemory(0, ids.Length / 4), 1, ids.Length / 4)];
            Memory<float>[] mine = Results(model, own);
            for (int i = 0; i < 50; i++)
            {
                model.Run(own, mine);
                Assert.Equal(reference.AsSpan(0, mine[0].Length).ToArray(), mine[0].ToArray());
            }
        });
    }

    [Fact]
    public void ExternalData_IsReadFromInsideTheModelsFolderOnly()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "GoldenOnnxExport");
        OnnxModel inline = OnnxModel.Load(Path.Combine(root, "lstm_states_per_step_linear", "model.onnx"));
        OnnxModel external = OnnxModel.Load(Path.Combine(root, "external_data", "model.onnx"));
        OnnxFeed[] feeds = Feeds(Path.Combine(root, "external_data"), 3);
        Memory<float>[] a = Results(inline, feeds), b = Results(external, feeds);
        inline.Run(feeds, a);
        external.Run(feeds, b);
        for (int k = 0; k < a.Length; k++)
        {
            Assert.Equal(a[k].ToArray(), b[k].ToArray());
        }

        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(Path.Combine(root, "external_data_absolute", "model.onnx")));
        Assert.Contains("by an absolute path", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(Path.Combine(root, "external_data_escaping", "model.onnx")));
        Assert.Contains("outside the model's folder", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(File.ReadAllBytes(Path.Combine(root, "external_data", "model.onnx")), "bytes.onnx"));
        Assert.Contains("load the model from its file", e.Message, StringComparison.Ordinal);

        // The weights file replaced by a link to a file elsewhere (with the right bytes): refused all the same.
        string dir = Directory.CreateTempSubdirectory("rnn-simd-link-").FullName;
        try
        {
            File.Copy(Path.Combine(root, "external_data", "model.onnx"), Path.Combine(dir, "model.onnx"));
            string elsewhere = Path.Combine(Path.GetTempPath(), $"rnn-simd-weights-{Guid.NewGuid():N}.bin");
            File.Copy(Path.Combine(root, "external_data", "weights.bin"), elsewhere);
            try
            {
                File.CreateSymbolicLink(Path.Combine(dir, "weights.bin"), elsewhere);
                e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(Path.Combine(dir, "model.onnx")));
                Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
            }
            finally
            {
                File.Delete(elsewhere);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void BadGraphsAndFeeds_AreNamedErrors()
    {
        byte[] unsupported = new OnnxWriter().Input("x", 1, 2, 3).Output("y", 1, 2, 3)
            .Node("Erf", "erf_0", ["x"], ["y"]).Build(14);
        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(unsupported, "erf.onnx"));
        Assert.Contains("operator Erf (Erf node 'erf_0', opset 14) is not supported", e.Message, StringComparison.Ordinal);

        byte[] undefined = new OnnxWriter().Input("x", 1, 2, 3).Output("y", 1, 2, 3)
            .Node("Relu", "relu_0", ["missing"], ["y"]).Build(14);
        e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(undefined, "undefined.onnx"));
        Assert.Contains("'missing'", e.Message, StringComparison.Ordinal);

        byte[] twice = new OnnxWriter().Input("x", 1, 2, 3).Output("y", 1, 2, 3)
            .Node("Relu", "a", ["x"], ["y"]).Node("Tanh", "b", ["x"], ["y"]).Build(14);
        e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(twice, "twice.onnx"));
        Assert.Contains("produced twice", e.Message, StringComparison.Ordinal);

        // An operator evaluated on known values only (here Equal), fed the call's data: a named error at the first call
        // (the fuzzer found it reaching the recurrent-layer path as a KeyNotFoundException).
        OnnxModel equal = OnnxModel.Load(
            new OnnxWriter().Input("x", 1, 2, 3).Output("y", 1, 2, 3).Node("Equal", "eq", ["x", "x"], ["e"]).Node("Cast", "cast", ["e"], ["y"]).Build(14), "equal.onnx");
        e = Assert.Throws<InvalidDataException>(() => equal.Run([new OnnxFeed(new float[6], 2, 3)], [new float[6]]));
        Assert.Contains("Equal node 'eq'", e.Message, StringComparison.Ordinal);
        Assert.Contains("only known when the model runs", e.Message, StringComparison.Ordinal);

        OnnxModel relu = OnnxModel.Load(new OnnxWriter().Input("x", 1, -1, 3).Output("y", 1, -1, 3).Node("Relu", "r", ["x"], ["y"]).Build(14), "relu.onnx");
        var y = new float[6];
        Assert.Throws<ArgumentException>(() => relu.Run([new OnnxFeed(new float[6], 2, 4)], [y]));          // rank/size against the declaration
        Assert.Throws<ArgumentException>(() => relu.Run([new OnnxFeed(new long[6], 2, 3)], [y]));           // int64 for a float input
        Assert.Throws<ArgumentException>(() => relu.Run([new OnnxFeed(new float[6], 2, 3)], [new float[5]])); // output size
        relu.Run([new OnnxFeed(new float[] { -1, 2, -3, 4, -5, 6 }, 2, 3)], [y]);
        Assert.Equal([0, 2, 0, 4, 0, 6], y);
    }

    internal static OnnxFeed[] Feeds(string dir, int count)
    {
        var feeds = new OnnxFeed[count];
        for (int i = 0; i < count; i++)
        {
            OnnxTensor t = OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb"));
            feeds[i] = t.ElementType == OnnxElementType.Float ? new OnnxFeed(t.Floats.ToArray(), [.. t.Dimensions]) : new OnnxFeed(t.Integers.ToArray(), [.. t.Dimensions]);
        }

        return feeds;
    }

    internal static Memory<float>[] Results(OnnxModel model, OnnxFeed[] feeds) =>
        [.. Enumerable.Range(0, model.OutputNames.Count).Select(k => new Memory<float>(new float[model.OutputShape(k, feeds).Aggregate(1L, (a, b) => a * b)]))];
}
