using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rnn.Simd.Import.Onnx;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// ONNX Runtime (Microsoft.ML.OnnxRuntime, CPU execution provider; a test-only package) as an in-process oracle for
/// the ONNX importer: every GoldenOnnx case and every ONNX node test the loader reads is run by ONNX Runtime's
/// <see cref="InferenceSession"/> and by <see cref="OnnxRecurrentLayer"/> on the same inputs, and
/// <list type="number">
/// <item>every output of ours is within 1e-5 + 1e-4·|x| of ONNX Runtime's;</item>
/// <item>our error against the case's reference is at most 4 × ONNX Runtime's own error against it:
/// max |ours − ref| ≤ 4 · max(max |ort − ref|, 1e-6), per output. The floor keeps a case where ONNX Runtime happens
/// to be exact from demanding exactness of us.</item>
/// </list>
/// The measured ratios are printed (dotnet test --logger "console;verbosity=detailed" shows them).
/// ONNX Runtime not loading (a missing or unloadable native library) fails these tests; nothing here is skipped for it.
/// </summary>
[Trait("Category", "Import")]
[Trait("Isa", "All")]
public sealed class OnnxRuntimeOracleTests(ITestOutputHelper output)
{
    /// <summary>How many times ONNX Runtime's error against the reference ours may be.</summary>
    private const double ErrorFactor = 4;

    /// <summary>The least error of ONNX Runtime's that the rule scales (about 8 float32 ulps at 1, well above the
    /// half ulp that storing the reference as float32 adds to both errors).</summary>
    private const double ErrorFloor = 1e-6;

    public static TheoryData<string> OwnCases() => OnnxCase.OwnCases();

    public static TheoryData<string> NodeCases() => OnnxCase.NodeCases();

    [Fact]
    public void OnnxRuntime_LoadsWithTheCpuProvider()
    {
        OrtEnv env = OrtEnv.Instance();
        output.WriteLine($"ONNX Runtime {env.GetVersionString()}, providers: {string.Join(", ", env.GetAvailableProviders())}");
        Assert.Equal("1.32.0", env.GetVersionString());
        Assert.Contains("CPUExecutionProvider", env.GetAvailableProviders());
    }

    /// <summary>The GoldenOnnx cases. Their expected outputs come from tools/golden/onnx_cases.py's float64 NumPy
    /// reference run on the float32-rounded inputs and weights, and are stored as float32: ref64 here is that
    /// float64 result rounded once to float32.</summary>
    [Theory]
    [MemberData(nameof(OwnCases))]
    public void OwnCase_AgreesWithOnnxRuntime(string name) => Compare(OnnxCase.Read(OnnxCase.Own(name)), bindEveryInput: false);

    /// <summary>ONNX's node tests (Debian's libonnx-testdata). Their expected outputs come from ONNX's own NumPy
    /// reference of the operators, computed in float32, so the second rule measures both engines against a float32
    /// computation there, not a float64 one.</summary>
    [SkippableTheory]
    [MemberData(nameof(NodeCases))]
    public void NodeTest_AgreesWithOnnxRuntime(string name)
    {
        string dir = OnnxCase.Node(name);
        Skip.IfNot(Directory.Exists(dir), $"{dir} is absent: install Debian's libonnx-testdata (.ci/run does).");
        Compare(OnnxCase.Read(dir), bindEveryInput: true);
    }

    private void Compare(OnnxCase c, bool bindEveryInput)
    {
        Dictionary<string, float[]> ort = RunOnnxRuntime(c);
        Dictionary<string, float[]> ours = c.Run(c.Load(bindEveryInput));
        Assert.NotEmpty(c.Graph.Outputs);
        for (int k = 0; k < c.Graph.Outputs.Count; k++)
        {
            string name = c.Graph.Outputs[k].Name;
            float[] reference = c.Expected(k).Floats.ToArray(), theirs = ort[name], mine = ours[name];
            Assert.Equal(reference.Length, theirs.Length);
            Assert.Equal(reference.Length, mine.Length);
            double oursToOrt = 0, oursToRef = 0, ortToRef = 0;
            for (int i = 0; i < mine.Length; i++)
            {
                double difference = Math.Abs((double)mine[i] - theirs[i]);
                Assert.True(
                    difference <= 1e-5 + (1e-4 * Math.Abs(theirs[i])),
                    $"{c.Name} {name}[{i}]: ONNX Runtime gives {theirs[i].ToString("R", CultureInfo.InvariantCulture)}, we give {mine[i].ToString("R", CultureInfo.InvariantCulture)}.");
                oursToOrt = Math.Max(oursToOrt, difference);
                oursToRef = Math.Max(oursToRef, Math.Abs((double)mine[i] - reference[i]));
                ortToRef = Math.Max(ortToRef, Math.Abs((double)theirs[i] - reference[i]));
            }

            double ratio = oursToRef / Math.Max(ortToRef, ErrorFloor);
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{c.Name} {name} [{mine.Length}]: max|ours-ort| {oursToOrt:E2}  max|ours-ref| {oursToRef:E2}  max|ort-ref| {ortToRef:E2}  " +
                $"ratio {ratio:F3} (at most {ErrorFactor}; without the floor {(ortToRef > 0 ? (oursToRef / ortToRef).ToString("F2", CultureInfo.InvariantCulture) : "-")})"));
            Assert.True(
                ratio <= ErrorFactor,
                $"{c.Name} {name}: our error against the reference {oursToRef:E3} is {ratio:F2} × ONNX Runtime's {ortToRef:E3} (floor {ErrorFloor:E0}); at most {ErrorFactor} allowed.");
        }
    }

    /// <summary>ONNX Runtime's run of the case: one thread, every graph output by name. Inputs are typed as the
    /// session declares them (sequence_lens is int32 in every opset). ONNX Runtime's CPU provider refuses layout 1
    /// ("Batchwise recurrent operations (layout == 1) are not supported"), so a layout-1 model runs as its layout-0
    /// twin (<see cref="LayoutZeroTwin"/>): X and the initial states go in transposed to time-major / direction-major,
    /// Y and the final states come out transposed back. The arithmetic is still ONNX Runtime's; only the transposes are
    /// the test's.</summary>
    internal static Dictionary<string, float[]> RunOnnxRuntime(OnnxCase c)
    {
        OnnxNode node = Assert.Single(c.Graph.Nodes);
        bool batchFirst = node.Attributes.TryGetValue("layout", out OnnxAttribute? layout) && layout.I == 1;
        string[] swapped = batchFirst ? [.. new[] { 0, 5, 6 }.Where(i => i < node.Inputs.Length && node.Inputs[i].Length > 0).Select(i => node.Inputs[i])] : [];
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using InferenceSession session = batchFirst ? new InferenceSession(LayoutZeroTwin(c, node, swapped), options) : new InferenceSession(c.ModelPath, options);
        var inputs = new Dictionary<string, OrtValue>(StringComparer.Ordinal);
        try
        {
            foreach ((string name, NodeMetadata metadata) in session.InputMetadata)
            {
                OnnxTensor t = c.Inputs[name];
                long[] shape = [.. t.Dimensions];
                bool swap = swapped.Contains(name);
                inputs[name] = metadata.ElementDataType switch
                {
                    TensorElementType.Float when swap => OrtValue.CreateTensorValueFromMemory(Transpose(t.Floats, shape, [1, 0, 2]), [shape[1], shape[0], shape[2]]),
                    TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(t.Floats.ToArray(), shape),
                    TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(t.Integers.ToArray().Select(v => checked((int)v)).ToArray(), shape),
                    TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(t.Integers.ToArray(), shape),
                    TensorElementType other => throw new InvalidOperationException($"{c.Name}: input '{name}' is {other}"),
                };
            }

            string[] names = [.. c.Graph.Outputs.Select(o => o.Name)];
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, inputs, names);
            var produced = new Dictionary<string, float[]>(StringComparer.Ordinal);
            int k = 0;
            foreach (OrtValue value in results)
            {
                string name = names[k++];
                ReadOnlySpan<float> values = value.GetTensorDataAsSpan<float>();
                long[] shape = value.GetTensorTypeAndShape().Shape;
                produced[name] = !batchFirst ? values.ToArray()
                    : name == node.Outputs[0] ? Transpose(values, shape, [2, 0, 1, 3])   // [T, D, B, H] → [B, T, D, H]
                    : Transpose(values, shape, [1, 0, 2]);                                 // [D, B, H] → [B, D, H]
            }

            return produced;
        }
        finally
        {
            foreach (OrtValue value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>The model with its node's layout 1 dropped (so 0) and the inputs in <paramref name="swapped"/> (X,
    /// initial_h, initial_c) declared with their two outer dimensions exchanged; everything else as read.</summary>
    private static byte[] LayoutZeroTwin(OnnxCase c, OnnxNode node, string[] swapped)
    {
        var attributes = new List<(string, object)>();
        foreach (OnnxAttribute a in node.Attributes.Values.Where(a => a.Name != "layout"))
        {
            attributes.Add((a.Name, a.Type switch
            {
                1 => a.F,
                2 => a.I,
                3 => a.S,
                6 => a.Floats,
                7 => a.Ints,
                8 => a.Strings,
                _ => throw new InvalidOperationException($"{c.Name}: attribute '{a.Name}' of type {a.Type} is not written by the writer"),
            }));
        }

        var writer = new OnnxWriter();
        foreach (OnnxTensor t in c.Graph.Initializers.Values)
        {
            Assert.Equal(OnnxElementType.Float, t.ElementType);
            writer.Initializer(t.Name, [.. t.Dimensions], t.Floats);
        }

        foreach (OnnxValue v in c.Graph.Inputs)
        {
            long[] shape = [.. c.Inputs[v.Name].Dimensions];
            if (swapped.Contains(v.Name))
            {
                (shape[0], shape[1]) = (shape[1], shape[0]);
            }

            writer.Input(v.Name, v.ElementType, shape);
        }

        foreach (OnnxValue o in c.Graph.Outputs)
        {
            writer.Output(o.Name, 1, null);
        }

        return writer.Node(node.OpType, node.Name, node.Inputs, node.Outputs, [.. attributes]).Build(c.Graph.Opset, c.Name + "_layout0", c.Graph.IrVersion);
    }

    /// <summary>Axis i of the result is axis <paramref name="permutation"/>[i] of <paramref name="source"/>.</summary>
    private static float[] Transpose(ReadOnlySpan<float> source, long[] dimensions, int[] permutation)
    {
        int rank = dimensions.Length;
        var strides = new long[rank];
        for (int i = rank - 1, stride = 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= (int)dimensions[i];
        }

        var result = new float[source.Length];
        var index = new long[rank];
        for (int t = 0; t < result.Length; t++)
        {
            long offset = 0;
            for (int i = 0; i < rank; i++)
            {
                offset += index[i] * strides[permutation[i]];
            }

            result[t] = source[(int)offset];
            for (int i = rank - 1; i >= 0 && ++index[i] == dimensions[permutation[i]]; i--)
            {
                index[i] = 0;
            }
        }

        return result;
    }
}
