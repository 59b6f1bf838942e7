using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// One gradient check of a recurrent stack: seeded parameters, input, initial states and upstream gradients G, G_h,
/// G_c of the loss L = Σ output ⊙ G + Σ h_n ⊙ G_h (+ Σ c_n ⊙ G_c); the engine's recording forward pass and backward
/// pass; and the same values in double for a reference to read and the checks to perturb.
/// </summary>
internal sealed class RecurrentGradientCase
{
    public RecurrentGradientCase(
        RecurrentNetworkOptions o, int steps, int batch, int[]? lengths, ulong dataSeed, ulong parameterSeed,
        Action<TrainableRecurrentNetwork>? configure = null)
    {
        int states = o.Layers * o.Directions;
        Lstm = o.Cell == CellType.Lstm;
        Lengths = lengths;
        var random = new TestRandom(dataSeed);
        Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, parameterSeed);
        float[] x = random.Array(steps * batch * o.InputSize);
        float[] h0 = random.Array(states * batch * o.OutputSize, -0.5f, 0.5f);
        float[] c0 = Lstm ? random.Array(states * batch * o.HiddenSize, -0.5f, 0.5f) : [];
        G = random.Array(steps * batch * o.LayerOutputSize);
        GH = random.Array(h0.Length);
        GC = random.Array(c0.Length);

        // The engine: a recording forward pass, then backward with the loss's upstream gradients.
        Network = TrainableRecurrentNetwork.FromPyTorch(o, parameters);
        configure?.Invoke(Network);
        using RecurrentTape tape = Network.CreateTape();
        Output = new float[G.Length];
        HN = new float[h0.Length];
        CN = new float[c0.Length];
        Network.Forward(tape, x, steps, batch, Output, h0, c0, HN, CN, lengths);
        GradX = new float[x.Length];
        GradH0 = new float[h0.Length];
        GradC0 = new float[c0.Length];
        Network.Backward(tape, G, GH, GC, GradX, GradH0, GradC0);

        P = parameters.ToDictionary(kv => kv.Key, kv => FiniteDifference.ToDouble(kv.Value));
        X = FiniteDifference.ToDouble(x);
        H0 = FiniteDifference.ToDouble(h0);
        C0 = FiniteDifference.ToDouble(c0);
    }

    public bool Lstm { get; }

    public int[]? Lengths { get; }

    public TrainableRecurrentNetwork Network { get; }

    public float[] G { get; }

    public float[] GH { get; }

    public float[] GC { get; }

    public float[] Output { get; }

    public float[] HN { get; }

    public float[] CN { get; }

    public float[] GradX { get; }

    public float[] GradH0 { get; }

    public float[] GradC0 { get; }

    /// <summary>The parameters in double, by PyTorch name (the checks perturb them in place).</summary>
    public Dictionary<string, double[]> P { get; }

    public double[] X { get; }

    public double[] H0 { get; }

    /// <summary>c0 in double (empty unless LSTM).</summary>
    public double[] C0 { get; }

    /// <summary>
    /// Checks the engine's outputs against <paramref name="reference"/> (which must read <see cref="P"/>, <see cref="X"/>,
    /// <see cref="H0"/>, <see cref="C0"/>) and every gradient against central differences of its loss; returns the worst error.
    /// </summary>
    public double CheckAll(ITestOutputHelper output, string name, Func<ReferenceRecurrent.Result> reference)
    {
        double Loss()
        {
            ReferenceRecurrent.Result r = reference();
            return FiniteDifference.Dot(r.Output, G) + FiniteDifference.Dot(r.HN, GH) + FiniteDifference.Dot(r.CN, GC);
        }

        ReferenceRecurrent.Result expected = reference();
        FiniteDifference.AssertClose(Output, expected.Output, 1e-5, "output");
        FiniteDifference.AssertClose(HN, expected.HN, 1e-5, "h_n");
        FiniteDifference.AssertClose(CN, expected.CN, 1e-5, "c_n");

        double worst = 0;
        worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} input", Loss, X, GradX).MaxRelativeError);
        worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} h0", Loss, H0, GradH0).MaxRelativeError);
        if (Lstm)
        {
            worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} c0", Loss, C0, GradC0).MaxRelativeError);
        }

        foreach (ParameterTensor tensor in Network.Parameters.Tensors)
        {
            worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} {tensor.Name}", Loss, P[tensor.Name], Network.Parameters.Gradient(tensor)).MaxRelativeError);
        }

        return worst;
    }
}
