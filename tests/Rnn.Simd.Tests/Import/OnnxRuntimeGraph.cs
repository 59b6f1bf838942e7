using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Tests.Import;

/// <summary>ONNX Runtime (CPU provider, one thread) running a whole model file on the inputs of a case folder
/// (<c>test_data_set_0/input_N.pb</c> in graph order), for the tests that compare graphs with it.</summary>
internal static class OnnxRuntimeGraph
{
    /// <summary>Every graph output by name. Integer inputs are given in the type the session declares (int32 or int64).</summary>
    public static Dictionary<string, float[]> Run(string model, IReadOnlyList<OnnxTensor> inputs) => Run(model, options => new InferenceSession(model, options), inputs);

    /// <inheritdoc cref="Run(string, IReadOnlyList{OnnxTensor})"/>
    public static Dictionary<string, float[]> Run(byte[] model, IReadOnlyList<OnnxTensor> inputs) => Run("the model", options => new InferenceSession(model, options), inputs);

    private static Dictionary<string, float[]> Run(string model, Func<SessionOptions, InferenceSession> open, IReadOnlyList<OnnxTensor> inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        using InferenceSession session = open(options);
        var values = new List<OrtValue>();
        try
        {
            string[] names = [.. session.InputNames];
            for (int i = 0; i < names.Length; i++)
            {
                OnnxTensor t = inputs[i];
                long[] shape = [.. t.Dimensions];
                values.Add(session.InputMetadata[names[i]].ElementDataType switch
                {
                    TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(t.Floats.ToArray(), shape),
                    TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(t.Integers.ToArray().Select(v => checked((int)v)).ToArray(), shape),
                    TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(t.Integers.ToArray(), shape),
                    TensorElementType other => throw new InvalidOperationException($"{model}: input '{names[i]}' is {other}"),
                });
            }

            string[] outputs = [.. session.OutputNames];
            using var run = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(run, names, values, outputs);
            var produced = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int k = 0; k < outputs.Length; k++)
            {
                produced[outputs[k]] = results[k].GetTensorDataAsSpan<float>().ToArray();
            }

            return produced;
        }
        finally
        {
            foreach (OrtValue v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>The inputs of a case folder, in graph order.</summary>
    public static OnnxTensor[] Inputs(string dir, int count) =>
        [.. Enumerable.Range(0, count).Select(i => OnnxTensor.Load(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb")))];

    /// <summary>|ours − theirs| ≤ 1e-5 + 1e-4·|theirs| everywhere; the message names the case, the output and the worst index.</summary>
    public static void AssertClose(string what, float[] theirs, ReadOnlySpan<float> ours)
    {
        Assert.Equal(theirs.Length, ours.Length);
        for (int i = 0; i < theirs.Length; i++)
        {
            double bound = 1e-5 + (1e-4 * Math.Abs(theirs[i]));
            Assert.True(Math.Abs(ours[i] - theirs[i]) <= bound, $"{what}[{i}]: ours {ours[i]:R}, ONNX Runtime {theirs[i]:R}");
        }
    }

    /// <summary>max |ours − ref| ≤ 4 · max(max |ort − ref|, 1e-6) (the rule of <see cref="OnnxRuntimeOracleTests"/>);
    /// returns our error, ONNX Runtime's and their ratio.</summary>
    public static (double Ours, double Theirs, double Ratio) AssertWithinFourTimesOnnxRuntimesError(string what, ReadOnlySpan<float> reference, float[] theirs, ReadOnlySpan<float> ours)
    {
        Assert.Equal(reference.Length, ours.Length);
        double oursToRef = 0, theirsToRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            oursToRef = Math.Max(oursToRef, Math.Abs((double)ours[i] - reference[i]));
            theirsToRef = Math.Max(theirsToRef, Math.Abs((double)theirs[i] - reference[i]));
        }

        double ratio = oursToRef / Math.Max(theirsToRef, 1e-6);
        Assert.True(ratio <= 4, $"{what}: our error against the reference {oursToRef:E3} is {ratio:F2} × ONNX Runtime's {theirsToRef:E3} (floor 1e-6); at most 4 allowed.");
        return (oursToRef, theirsToRef, ratio);
    }
}
