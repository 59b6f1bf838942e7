using Microsoft.ML.OnnxRuntime;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// The operators Silero VAD brought in (Conv, Pad, Pow, Sqrt, Log, Exp, Neg, Abs, ReduceMean, broadcasting
/// arithmetic, If) on small graphs made with <see cref="OnnxWriter"/> at odd sizes: each against ONNX Runtime in
/// the same process within 1e-5 + 1e-5·|x|, and Conv and Pad also against plain double-precision loops.
/// </summary>
[Trait("Category", "Import")]
[Trait("Isa", "All")]
public sealed class OnnxOperatorTests
{
    public static TheoryData<string, long[], long[], (string, object)[]> Convolutions() => new()
    {
        // name, x [N, C, (H,) W], w [M, C/group, (KH,) KW], attributes
        { "strided, padded, dilated", [2, 5, 13], [7, 5, 3], [("strides", new long[] { 2 }), ("pads", new long[] { 1, 2 }), ("dilations", new long[] { 2 })] },
        { "depthwise", [1, 6, 11], [6, 1, 5], [("group", 6L), ("pads", new long[] { 2, 2 })] },
        { "depthwise strided", [2, 4, 9], [4, 1, 3], [("group", 4L), ("strides", new long[] { 2 }), ("pads", new long[] { 1, 0 })] },
        { "grouped", [1, 6, 10], [4, 3, 3], [("group", 2L), ("pads", new long[] { 1, 1 })] },
        { "same upper", [1, 3, 10], [5, 3, 4], [("auto_pad", "SAME_UPPER"), ("strides", new long[] { 3 })] },
        { "same lower", [1, 3, 10], [5, 3, 4], [("auto_pad", "SAME_LOWER"), ("strides", new long[] { 3 })] },
        { "valid", [1, 3, 10], [2, 3, 4], [("auto_pad", "VALID")] },
        { "pointwise", [3, 17, 5], [9, 17, 1], [] },
        { "long kernel", [1, 1, 61], [19, 1, 20], [("strides", new long[] { 7 })] },
        { "long kernel, channels", [2, 2, 40], [3, 2, 17], [("strides", new long[] { 5 }), ("pads", new long[] { 3, 1 })] },
        { "2-D", [1, 3, 7, 9], [4, 3, 3, 2], [("strides", new long[] { 2, 1 }), ("pads", new long[] { 1, 0, 1, 1 }), ("dilations", new long[] { 1, 2 })] },
        { "2-D grouped", [2, 4, 5, 6], [6, 2, 2, 3], [("group", 2L), ("pads", new long[] { 0, 1, 1, 1 })] },
    };

    [Theory]
    [MemberData(nameof(Convolutions))]
    public void Conv_MatchesOnnxRuntimeAndAPlainLoop(string name, long[] xShape, long[] wShape, (string, object)[] attributes)
    {
        var random = new TestRandom((ulong)name.Length * 31);
        float[] x = random.Array(Count(xShape), -2f, 2f), w = random.Array(Count(wShape), -1f, 1f), b = random.Array((int)wShape[0], -1f, 1f);
        byte[] model = new OnnxWriter().Initializer("w", wShape, w).Initializer("b", [wShape[0]], b)
            .Input("x", 1, xShape).Output("y", 1, null)
            .Node("Conv", "conv", ["x", "w", "b"], ["y"], attributes).Build(16);
        (float[] ours, long[] shape) = RunOurs(model, [new OnnxFeed(x, xShape)]);
        float[] theirs = RunOnnxRuntime(model, [("x", x, xShape)]);
        AssertClose(name, theirs, ours);
        double[] reference = ReferenceConv(x, xShape, w, wShape, b, attributes, shape);
        AssertClose(name + " (double loop)", reference.Select(v => (float)v).ToArray(), ours);
    }

    public static TheoryData<string, int, (string, object)[]> Pads() => new()
    {
        { "constant", 0, [("mode", "constant")] },
        { "reflect", 1, [("mode", "reflect")] },
        { "edge", 2, [("mode", "edge")] },
        { "constant, cropping", 3, [] },
    };

    [Theory]
    [MemberData(nameof(Pads))]
    public void Pad_MatchesOnnxRuntimeAndAPlainLoop(string name, int form, (string, object)[] attributes)
    {
        long[] shape = [2, 3, 5];
        long[] pads = form == 3 ? [0, 1, -1, 1, 0, 2] : [0, 2, 3, 1, 1, 4];
        if (form == 1)
        {
            pads = [0, 2, 4, 1, 1, 3];   // reflect: each pad shorter than its axis
        }

        float[] x = new TestRandom(5).Array(Count(shape), -3f, 3f);
        var writer = new OnnxWriter().Initializer("pads", [6], pads).Input("x", 1, shape).Output("y", 1, null);
        string[] inputs = ["x", "pads"];
        if (form is 0 or 3)
        {
            writer.Initializer("value", [], new float[] { 1.5f });
            inputs = ["x", "pads", "value"];
        }

        byte[] model = writer.Node("Pad", "pad", inputs, ["y"], attributes).Build(13);
        (float[] ours, long[] outShape) = RunOurs(model, [new OnnxFeed(x, shape)]);
        AssertClose(name, RunOnnxRuntime(model, [("x", x, shape)]), ours);
        string mode = form switch { 1 => "reflect", 2 => "edge", _ => "constant" };
        AssertClose(name + " (loop)", ReferencePad(x, shape, pads, mode, form is 0 or 3 ? 1.5f : 0f, outShape), ours);
    }

    [Fact]
    public void Pad_WithAxes_Opset18_MatchesOnnxRuntime()
    {
        long[] shape = [3, 4, 5];
        float[] x = new TestRandom(6).Array(Count(shape), -3f, 3f);
        byte[] model = new OnnxWriter().Initializer("pads", [4], new long[] { 1, 2, 3, 1 }).Initializer("axes", [2], new long[] { 2, 0 })
            .Input("x", 1, shape).Output("y", 1, null).Node("Pad", "pad", ["x", "pads", "", "axes"], ["y"], ("mode", "edge")).Build(18);
        AssertClose("axes", RunOnnxRuntime(model, [("x", x, shape)]), RunOurs(model, [new OnnxFeed(x, shape)]).Values);
    }

    public static TheoryData<string> Unary() => ["Sqrt", "Log", "Exp", "Neg", "Abs"];

    [Theory]
    [MemberData(nameof(Unary))]
    public void ElementwiseFunctions_MatchOnnxRuntime(string op)
    {
        long[] shape = [3, 37];
        float lo = op is "Sqrt" or "Log" ? 1e-3f : -5f;
        float[] x = new TestRandom(7).Array(Count(shape), lo, op == "Log" ? 1e6f : 5f);
        x[0] = op is "Sqrt" or "Log" ? 0f : x[0];
        byte[] model = new OnnxWriter().Input("x", 1, shape).Output("y", 1, null).Node(op, "f", ["x"], ["y"]).Build(16);
        AssertClose(op, RunOnnxRuntime(model, [("x", x, shape)]), RunOurs(model, [new OnnxFeed(x, shape)]).Values);
    }

    [Fact]
    public void Log_GivesTheSameBitsAtEveryWidthAndForEverySpecialValue()
    {
        // The vector loop and the one-value-at-a-time tail agree bit for bit, and specials follow MathF.Log.
        float[] x = new TestRandom(8).Array(1000, 1e-30f, 1e30f);
        x[3] = 0f;
        x[5] = -1f;
        x[7] = float.PositiveInfinity;
        x[11] = float.NaN;
        x[13] = 1e-40f;
        var vector = new float[x.Length];
        OnnxMath.Log(x, vector);
        for (int i = 0; i < x.Length; i++)
        {
            float one = OnnxMath.Log(x[i]);
            Assert.True(BitConverter.SingleToInt32Bits(one) == BitConverter.SingleToInt32Bits(vector[i]), $"log({x[i]}): {one} one at a time, {vector[i]} in the vector loop.");
            double exact = Math.Log(x[i]);
            Assert.True(double.IsNaN(exact) ? float.IsNaN(one) : Math.Abs(one - exact) <= 2e-7 * Math.Max(1, Math.Abs(exact)) || one == exact, $"log({x[i]}) = {one}, expected {exact}.");
        }
    }

    public static TheoryData<string, float[], long[]> Powers() => new()
    {
        { "squared", [2f], [] },
        { "square root", [0.5f], [] },
        { "cubed", [3f], [] },
        { "per column", [1f, 2f, 0.5f, -1f, 1.5f], [5] },
    };

    [Theory]
    [MemberData(nameof(Powers))]
    public void Pow_MatchesOnnxRuntime(string name, float[] exponent, long[] exponentShape)
    {
        long[] shape = [4, 5];
        float[] x = new TestRandom(9).Array(Count(shape), 0.1f, 3f);
        byte[] model = new OnnxWriter().Initializer("e", exponentShape, exponent).Input("x", 1, shape).Output("y", 1, null)
            .Node("Pow", "pow", ["x", "e"], ["y"]).Build(16);
        AssertClose(name, RunOnnxRuntime(model, [("x", x, shape)]), RunOurs(model, [new OnnxFeed(x, shape)]).Values);
    }

    public static TheoryData<string, long[], (string, object)[]> Reductions() => new()
    {
        { "axis 1, dropped", [1], [("keepdims", 0L)] },
        { "axes 0 and 2, kept", [0, 2], [] },
        { "last axis", [-1], [("keepdims", 1L)] },
        { "all", [], [("keepdims", 0L)] },
    };

    [Theory]
    [MemberData(nameof(Reductions))]
    public void ReduceMean_MatchesOnnxRuntime(string name, long[] axes, (string, object)[] attributes)
    {
        long[] shape = [3, 7, 5];
        float[] x = new TestRandom(10).Array(Count(shape), -4f, 4f);
        (string, object)[] opset16 = axes.Length > 0 ? [.. attributes, ("axes", axes)] : attributes;
        byte[] model = new OnnxWriter().Input("x", 1, shape).Output("y", 1, null).Node("ReduceMean", "mean", ["x"], ["y"], opset16).Build(16);
        AssertClose(name, RunOnnxRuntime(model, [("x", x, shape)]), RunOurs(model, [new OnnxFeed(x, shape)]).Values);

        // Opset 18: the axes as an input.
        var writer = new OnnxWriter().Input("x", 1, shape).Output("y", 1, null);
        string[] inputs = ["x"];
        if (axes.Length > 0)
        {
            writer.Initializer("axes", [axes.Length], axes);
            inputs = ["x", "axes"];
        }

        byte[] model18 = writer.Node("ReduceMean", "mean", inputs, ["y"], attributes).Build(18);
        AssertClose(name + " (opset 18)", RunOnnxRuntime(model18, [("x", x, shape)]), RunOurs(model18, [new OnnxFeed(x, shape)]).Values);
    }

    public static TheoryData<string, long[], long[]> Broadcasts() => new()
    {
        { "Add", [2, 1, 5], [3, 1] },
        { "Sub", [], [4, 3] },
        { "Mul", [4, 1], [1, 6] },
        { "Div", [2, 3, 4], [3, 1] },
        { "Add", [1], [2, 3] },
        { "Sub", [2, 3, 4], [2, 1, 1] },
    };

    [Theory]
    [MemberData(nameof(Broadcasts))]
    public void Arithmetic_BroadcastsAsNumpy(string op, long[] aShape, long[] bShape)
    {
        var random = new TestRandom(11);
        float[] a = random.Array(Count(aShape), 0.5f, 3f), b = random.Array(Count(bShape), 0.5f, 3f);
        byte[] model = new OnnxWriter().Input("a", 1, aShape).Input("b", 1, bShape).Output("y", 1, null).Node(op, "op", ["a", "b"], ["y"]).Build(16);
        AssertClose($"{op} {string.Join("x", aShape)} {string.Join("x", bShape)}", RunOnnxRuntime(model, [("a", a, aShape), ("b", b, bShape)]), RunOurs(model, [new OnnxFeed(a, aShape), new OnnxFeed(b, bShape)]).Values);
    }

    [Fact]
    public void If_OnAScalarInput_PicksItsBranchPerPlan_AndNestedBranchesReadOuterNames()
    {
        // y = mode == 16 ? relu(x) · 2 (through a nested If on a constant) : −x
        OnnxWriter.Graph inner = new OnnxWriter().Node("Mul", "twice", ["r", "two"], ["y_inner"]).Output("y_inner", 1, null).Subgraph("inner");
        OnnxWriter.Graph unused = new OnnxWriter().Node("Identity", "same", ["r"], ["y_unused"]).Output("y_unused", 1, null).Subgraph("unused");
        OnnxWriter.Graph then = new OnnxWriter()
            .Node("Relu", "relu", ["x"], ["r"])
            .Node("Constant", "flag", [], ["one"], ("value_int", 1L))
            .Node("Cast", "truth", ["one"], ["yes"], ("to", 9L))
            .Node("If", "nested", ["yes"], ["y_then"], ("then_branch", inner), ("else_branch", unused))
            .Output("y_then", 1, null).Subgraph("then");
        OnnxWriter.Graph otherwise = new OnnxWriter().Node("Neg", "negate", ["x"], ["y_else"]).Output("y_else", 1, null).Subgraph("else");
        byte[] bytes = new OnnxWriter().Initializer("two", [], new float[] { 2f }).Initializer("sixteen", [], new long[] { 16 })
            .Input("x", 1, 2, 3).Input("mode", 7).Output("y", 1, 2, 3)
            .Node("Equal", "is16", ["mode", "sixteen"], ["c"])
            .Node("If", "branch", ["c"], ["y"], ("then_branch", then), ("else_branch", otherwise))
            .Build(16);
        float[] x = [-1f, 2f, -3f, 4f, -5f, 6f];
        OnnxModel model = OnnxModel.Load(bytes, "if.onnx");
        foreach (long mode in new long[] { 16, 8, 16 })
        {
            float[] ours = RunOurs(bytes, [new OnnxFeed(x, 2, 3), new OnnxFeed(new long[] { mode })], model).Values;
            float[] theirs = RunOnnxRuntime(bytes, [("x", x, [2, 3])], ("mode", mode));
            AssertClose($"mode {mode}", theirs, ours);
            Assert.Equal(mode == 16 ? [0f, 4f, 0f, 8f, 0f, 12f] : x.Select(v => -v).ToArray(), ours);
        }

        OnnxFeed[] feeds = [new OnnxFeed(x, 2, 3), new OnnxFeed(new long[] { 16 })];
        Memory<float>[] y = [new float[6]];
        AllocationAssert.None(() => model.Run(feeds, y));
    }

    [Fact]
    public void Subgraphs_AreCheckedLikeTheMainGraph()
    {
        OnnxWriter.Graph Reads(string name) => new OnnxWriter().Node("Identity", "id", [name], ["out"]).Output("out", 1, null).Subgraph("b");
        byte[] Model(OnnxWriter.Graph then) => new OnnxWriter().Input("x", 1, 2).Input("c", 7, 1).Output("y", 1, 2)
            .Node("If", "branch", ["c"], ["y"], ("then_branch", then), ("else_branch", Reads("x"))).Build(16);

        var e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(Model(Reads("nowhere")), "undefined.onnx"));
        Assert.Contains("reads 'nowhere', which no earlier node, input or initializer defines", e.Message, StringComparison.Ordinal);

        OnnxWriter.Graph twoOutputs = new OnnxWriter().Node("Identity", "id", ["x"], ["out"]).Output("out", 1, null).Output("x", 1, null).Subgraph("b");
        e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(Model(twoOutputs), "outputs.onnx"));
        Assert.Contains("then_branch has 2 outputs; the node has 1", e.Message, StringComparison.Ordinal);

        // Nesting deeper than OnnxGraph.MaxDepth is refused while parsing.
        OnnxWriter.Graph deep = Reads("x");
        for (int d = 0; d < OnnxGraph.MaxDepth + 1; d++)
        {
            deep = new OnnxWriter().Node("If", $"if{d}", ["c"], ["out"], ("then_branch", deep), ("else_branch", Reads("x"))).Output("out", 1, null).Subgraph("d");
        }

        e = Assert.Throws<InvalidDataException>(() => OnnxModel.Load(Model(deep), "deep.onnx"));
        Assert.Contains($"subgraphs nest more than {OnnxGraph.MaxDepth} deep", e.Message, StringComparison.Ordinal);
    }

    private static int Count(long[] shape) => (int)shape.Aggregate(1L, (p, d) => p * d);

    private static (float[] Values, long[] Shape) RunOurs(byte[] bytes, OnnxFeed[] feeds, OnnxModel? model = null)
    {
        model ??= OnnxModel.Load(bytes, "case.onnx");
        long[] shape = [.. model.OutputShape(0, feeds)];
        var y = new float[Count(shape)];
        model.Run(feeds, [y]);
        return (y, shape);
    }

    private static float[] RunOnnxRuntime(byte[] bytes, (string Name, float[] Values, long[] Shape)[] inputs, (string Name, long Value)? scalar = null)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(bytes, options);
        var values = new List<OrtValue>();
        try
        {
            foreach ((string _, float[] v, long[] shape) in inputs)
            {
                values.Add(OrtValue.CreateTensorValueFromMemory(v, shape));
            }

            List<string> names = [.. inputs.Select(i => i.Name)];
            if (scalar is { } s)
            {
                values.Add(OrtValue.CreateTensorValueFromMemory(new[] { s.Value }, []));
                names.Add(s.Name);
            }

            using var run = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(run, names, values, [session.OutputNames[0]]);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (OrtValue v in values)
            {
                v.Dispose();
            }
        }
    }

    private static void AssertClose(string what, float[] expected, float[] actual)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {expected.Length} values expected, {actual.Length} given.");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            bool same = (float.IsNaN(e) && float.IsNaN(a)) || e == a || Math.Abs(e - a) <= 1e-5 + (1e-5 * Math.Abs(e));
            Assert.True(same, $"{what}[{i}]: expected {e}, got {a}.");
        }
    }

    // Conv in double precision, straight from ONNX's definition.
    private static double[] ReferenceConv(float[] x, long[] xShape, float[] w, long[] wShape, float[] b, (string Name, object Value)[] attributes, long[] yShape)
    {
        int spatial = xShape.Length - 2;
        long[] Ints(string name, long fill, int length) => attributes.FirstOrDefault(a => a.Name == name).Value as long[] ?? [.. Enumerable.Repeat(fill, length)];
        long[] strides = Ints("strides", 1, spatial), dilations = Ints("dilations", 1, spatial), pads = Ints("pads", 0, 2 * spatial);
        long group = attributes.FirstOrDefault(a => a.Name == "group").Value is long gv ? gv : 1;
        string autoPad = attributes.FirstOrDefault(a => a.Name == "auto_pad").Value as string ?? "NOTSET";
        int h = spatial == 2 ? (int)xShape[2] : 1, width = (int)xShape[^1], kh = spatial == 2 ? (int)wShape[2] : 1, kw = (int)wShape[^1];
        int oh = spatial == 2 ? (int)yShape[2] : 1, ow = (int)yShape[^1];
        int sh = spatial == 2 ? (int)strides[0] : 1, sw = (int)strides[^1], dh = spatial == 2 ? (int)dilations[0] : 1, dw = (int)dilations[^1];
        int Begin(int d, int size, int k, int s, int dil, int outSize)
        {
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                int total = Math.Max(0, ((outSize - 1) * s) + (dil * (k - 1)) + 1 - size);
                return autoPad == "SAME_UPPER" ? total / 2 : total - (total / 2);
            }

            return autoPad == "VALID" ? 0 : (int)pads[d];
        }

        int ph = spatial == 2 ? Begin(0, h, kh, sh, dh, oh) : 0, pw = Begin(spatial - 1, width, kw, sw, dw, ow);
        int n = (int)xShape[0], c = (int)xShape[1], m = (int)wShape[0], cg = c / (int)group, mg = m / (int)group;
        var y = new double[n * m * oh * ow];
        for (int i = 0; i < n; i++)
        {
            for (int map = 0; map < m; map++)
            {
                int g = map / mg;
                for (int r = 0; r < oh; r++)
                {
                    for (int q = 0; q < ow; q++)
                    {
                        double sum = b[map];
                        for (int ci = 0; ci < cg; ci++)
                        {
                            for (int u = 0; u < kh; u++)
                            {
                                for (int v = 0; v < kw; v++)
                                {
                                    int ih = (r * sh) + (u * dh) - ph, iw = (q * sw) + (v * dw) - pw;
                                    if (ih >= 0 && ih < h && iw >= 0 && iw < width)
                                    {
                                        sum += (double)w[(((map * cg) + ci) * kh * kw) + (u * kw) + v] * x[((((i * c) + (g * cg) + ci) * h) + ih) * width + iw];
                                    }
                                }
                            }
                        }

                        y[(((i * m) + map) * oh * ow) + (r * ow) + q] = sum;
                    }
                }
            }
        }

        return y;
    }

    private static float[] ReferencePad(float[] x, long[] shape, long[] pads, string mode, float value, long[] outShape)
    {
        int rank = shape.Length;
        var y = new float[Count(outShape)];
        var index = new long[rank];
        for (int o = 0; o < y.Length; o++)
        {
            long rest = o, at = 0, stride = 1;
            bool inside = true;
            for (int d = rank - 1; d >= 0; d--)
            {
                index[d] = rest % outShape[d];
                rest /= outShape[d];
            }

            for (int d = rank - 1; d >= 0; d--)
            {
                long i = index[d] - pads[d], n = shape[d];
                if (i < 0 || i >= n)
                {
                    switch (mode)
                    {
                        case "edge":
                            i = Math.Clamp(i, 0, n - 1);
                            break;
                        case "reflect":
                            while (i < 0 || i >= n)
                            {
                                i = i < 0 ? -i : (2 * (n - 1)) - i;
                            }

                            break;
                        default:
                            inside = false;
                            break;
                    }
                }

                at += i * stride;
                stride *= n;
            }

            y[o] = inside ? x[at] : value;
        }

        return y;
    }
}
