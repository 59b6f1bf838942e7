using System.Text.Json;
using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// Backpropagation through time against PyTorch autograd (tools/golden): for every fixture, every gradient (input,
/// h0, c0, each parameter) within 4× PyTorch float32's own error against float64; clipping and truncated BPTT too.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class GoldenGradientTests(ITestOutputHelper output)
{
    private const double AllowedRatio = 4.0;

    // Truncated BPTT sums the chunks' gradients: PyTorch computes each chunk's gradient and then adds it to .grad,
    // the engine continues each product's FMA chain into the buffer (Backward adds). Both orders are sound; over
    // three chunks they differ by a few more roundings, so the sum gets a little more room than one backward pass.
    private const double AllowedRatioAccumulated = 6.0;

    private static readonly string s_root = Path.Combine(AppContext.BaseDirectory, "Golden");

    public static TheoryData<string> Cases() => Names("cases");

    public static TheoryData<string> ClipCases() => Names("clip_cases");

    public static TheoryData<string> TbpttCases() => Names("tbptt_cases");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_MatchPyTorch_WithinFourTimesItsOwnError(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        Dictionary<string, float[]> ours = RunBackward(golden, threads: null, out _);
        CompareAll(golden, name, ours);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_AreBitIdentical_OnTwoThreads_AndForwardEqualsInference(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        using var team = new ThreadTeam(2);
        Dictionary<string, float[]> one = RunBackward(golden, threads: null, out float[] trainedOutput);
        Dictionary<string, float[]> two = RunBackward(golden, team, out _);
        foreach ((string tensor, float[] values) in one)
        {
            Assert.True(Bits(values).SequenceEqual(Bits(two[tensor])), $"{name} {tensor} differs on two threads.");
        }

        (float[] inferenceOutput, _, _) = golden.Run(threads: null);
        Assert.Equal(Bits(inferenceOutput), Bits(trainedOutput));
    }

    [Theory]
    [MemberData(nameof(ClipCases))]
    public void Clipping_MatchesPyTorch(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(golden.Directory, "expected_grad.safetensors"));
        TrainableRecurrentNetwork network = TrainableRecurrentNetwork.FromPyTorch(golden.Options, golden.Parameters, golden.Prefix);
        Dictionary<string, float[]> ours = RunBackward(golden, network, threads: null, out _);
        Span<float> gradients = network.Parameters.Gradients;
        if (expected.Metadata.TryGetValue("max_norm", out string? maxNorm))
        {
            double norm = GradientClipping.ClipByGlobalNorm(gradients, double.Parse(maxNorm, System.Globalization.CultureInfo.InvariantCulture));
            double reference = expected.ReadDouble("total_norm.f64")[0];
            double pyTorchError = Math.Abs(expected.ReadSingle("total_norm")[0] - reference);
            output.WriteLine($"{name}: total norm {norm:R}, PyTorch f64 {reference:R}, |err| {Math.Abs(norm - reference):E2} (PyTorch f32 {pyTorchError:E2})");
            Assert.True(Math.Abs(norm - reference) <= Math.Max(AllowedRatio * pyTorchError, 1e-6 * reference));
        }
        else
        {
            GradientClipping.ClipByValue(gradients, float.Parse(expected.Metadata["clip_value"], System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (ParameterTensor tensor in network.Parameters.Tensors)
        {
            ours["grad." + tensor.Name] = network.Parameters.Gradient(tensor).ToArray();
        }

        CompareAll(golden, name, ours);
    }

    [Theory]
    [MemberData(nameof(TbpttCases))]
    public void TruncatedBptt_MatchesPyTorch(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        using SafeTensorsFile gradOutput = SafeTensorsFile.Open(Path.Combine(golden.Directory, "grad_output.safetensors"));
        using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(golden.Directory, "expected_grad.safetensors"));
        int chunk = int.Parse(expected.Metadata["chunk"], System.Globalization.CultureInfo.InvariantCulture);
        RecurrentNetworkOptions o = golden.Options;
        TrainableRecurrentNetwork network = TrainableRecurrentNetwork.FromPyTorch(o, golden.Parameters, golden.Prefix);
        using RecurrentTape tape = network.CreateTape();
        int steps = golden.Steps, batch = golden.Batch, states = o.Layers * o.Directions;
        bool lstm = o.Cell == CellType.Lstm;
        float[] input = golden.Input.ReadSingle("input");
        float[] gOut = gradOutput.ReadSingle("output");
        float[] h = golden.Input.Contains("h0") ? golden.Input.ReadSingle("h0") : new float[states * batch * o.OutputSize];
        float[] c = lstm ? (golden.Input.Contains("c0") ? golden.Input.ReadSingle("c0") : new float[states * batch * o.HiddenSize]) : [];
        var outputAll = new float[steps * batch * o.LayerOutputSize];
        var gradInput = new float[input.Length];
        var gradH0 = new float[h.Length];
        var gradC0 = new float[c.Length];
        var hNext = new float[h.Length];
        var cNext = new float[c.Length];
        int inRow = batch * o.InputSize, outRow = batch * o.LayerOutputSize;
        for (int start = 0; start < steps; start += chunk)
        {
            int n = Math.Min(chunk, steps - start);
            bool first = start == 0, last = start + n == steps;
            network.Forward(tape, input.AsSpan(start * inRow, n * inRow), n, batch, outputAll.AsSpan(start * outRow, n * outRow), h, c, hNext, cNext);
            network.Backward(
                tape, gOut.AsSpan(start * outRow, n * outRow),
                last ? gradOutput.ReadSingle("h_n") : default, last && lstm ? gradOutput.ReadSingle("c_n") : default,
                gradInput.AsSpan(start * inRow, n * inRow), first ? gradH0 : default, first ? gradC0 : default);
            (h, hNext) = (hNext, h);
            (c, cNext) = (cNext, c);
        }

        var ours = new Dictionary<string, float[]> { ["grad.input"] = gradInput, ["grad.h0"] = gradH0 };
        if (lstm)
        {
            ours["grad.c0"] = gradC0;
        }

        foreach (ParameterTensor tensor in network.Parameters.Tensors)
        {
            ours["grad." + tensor.Name] = network.Parameters.Gradient(tensor).ToArray();
        }

        CompareAll(golden, name, ours, AllowedRatioAccumulated);
        (float[] fullOutput, _, _) = golden.Run(threads: null);
        Assert.Equal(Bits(fullOutput), Bits(outputAll));   // chunked forward = whole forward, bit for bit
    }

    private static Dictionary<string, float[]> RunBackward(GoldenCase golden, ThreadTeam? threads, out float[] forwardOutput) =>
        RunBackward(golden, TrainableRecurrentNetwork.FromPyTorch(golden.Options, golden.Parameters, golden.Prefix), threads, out forwardOutput);

    /// <summary>Forward on a tape, backward with the fixture's upstream gradients; returns every gradient by its fixture name.</summary>
    private static Dictionary<string, float[]> RunBackward(GoldenCase golden, TrainableRecurrentNetwork network, ThreadTeam? threads, out float[] forwardOutput)
    {
        RecurrentNetworkOptions o = golden.Options;
        using SafeTensorsFile gradOutput = SafeTensorsFile.Open(Path.Combine(golden.Directory, "grad_output.safetensors"));
        int states = o.Layers * o.Directions, steps = golden.Steps, batch = golden.Batch;
        bool lstm = o.Cell == CellType.Lstm;
        float[] input = golden.Input.ReadSingle("input");
        float[] h0 = golden.Input.Contains("h0") ? golden.Input.ReadSingle("h0") : [];
        float[] c0 = golden.Input.Contains("c0") ? golden.Input.ReadSingle("c0") : [];
        int[] lengths = golden.Input.Contains("lengths") ? [.. golden.Input.ReadInt64("lengths").Select(l => (int)l)] : [];
        forwardOutput = new float[steps * batch * o.LayerOutputSize];
        var hN = new float[states * batch * o.OutputSize];
        float[] cN = lstm ? new float[states * batch * o.HiddenSize] : [];
        using RecurrentTape tape = network.CreateTape();
        network.Forward(tape, input, steps, batch, forwardOutput, h0, c0, hN, cN, lengths, golden.BatchFirst, threads);

        var gradInput = new float[input.Length];
        var gradH0 = new float[hN.Length];
        var gradC0 = new float[cN.Length];
        network.Backward(
            tape, gradOutput.ReadSingle("output"), gradOutput.ReadSingle("h_n"), lstm ? gradOutput.ReadSingle("c_n") : default,
            gradInput, gradH0, gradC0, threads);

        var result = new Dictionary<string, float[]> { ["grad.input"] = gradInput, ["grad.h0"] = gradH0 };
        if (lstm)
        {
            result["grad.c0"] = gradC0;
        }

        foreach (ParameterTensor tensor in network.Parameters.Tensors)
        {
            result["grad." + tensor.Name] = network.Parameters.Gradient(tensor).ToArray();
        }

        return result;
    }

    private void CompareAll(GoldenCase golden, string name, Dictionary<string, float[]> ours, double allowedRatio = AllowedRatio)
    {
        using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(golden.Directory, "expected_grad.safetensors"));
        int compared = 0;
        foreach (SafeTensorsEntry entry in expected.Tensors)
        {
            if (!entry.Name.StartsWith("grad.", StringComparison.Ordinal) || entry.Name.EndsWith(".f64", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.True(ours.ContainsKey(entry.Name), $"{name}: no gradient for {entry.Name}.");
            double[] reference = expected.ReadDouble(entry.Name + ".f64");
            float[] pyTorch = expected.ReadSingle(entry.Name);
            double ourError = MaxAbsError(ours[entry.Name], reference);
            double scale = reference.Length == 0 ? 0 : reference.Max(Math.Abs);

            // PyTorch's own float32 error, floored at one float32 ulp of the tensor's scale (an exact zero error
            // happens on tiny tensors and would demand more than float32 can hold).
            double theirs = Math.Max(MaxAbsError(pyTorch, reference), scale * Math.Pow(2, -24));
            output.WriteLine($"{name} {entry.Name}: max |err| {ourError:E2}, PyTorch float32 {theirs:E2}, ratio {ourError / theirs:F2}");
            Assert.True(ourError <= allowedRatio * theirs, $"{name} {entry.Name}: error {ourError:E3} is {ourError / theirs:F2}× PyTorch float32's {theirs:E3}.");
            compared++;
        }

        Assert.True(compared >= 3, $"{name}: only {compared} gradients compared.");
    }

    private static TheoryData<string> Names(string list)
    {
        var data = new TheoryData<string>();
        foreach (JsonElement element in GoldenForwardTests.Manifest().GetProperty(list).EnumerateArray())
        {
            data.Add(element.GetProperty("name").GetString()!);
        }

        return data;
    }

    private static double MaxAbsError(float[] actual, double[] reference) => GoldenForwardTests.MaxAbsError(actual, reference);

    private static int[] Bits(float[] values) => GoldenForwardTests.Bits(values);
}
