using System.Globalization;
using Rnn.Simd.Cells;
using Rnn.Simd.Cli.Demo;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Claims;

/// <summary>
/// Seed 003 worked by hand: Elman's simple recurrent network h = f_hid(W_in x + W_rec c), c(t) = h(t − 1),
/// y = f_out(W_out h), sigmoid units, no biases, loss ½‖d − y‖², plain SGD. The engine's weight changes must be the
/// seed's formulas, evaluated here independently in double: (a) backpropagation through time for ⟨x₁, x₂, x₃⟩ ↦ y;
/// (b) Elman's one-step rule (truncated BPTT with k1 = k2 = 1) over a stream.
/// </summary>
/// <remarks>
/// Sign: the seed's g = f′ ⊙ (d − y) is the negative gradient of ½‖d − y‖², so SGD's W ← W − η ∂L/∂W is W + η g (·)ᵀ:
/// ΔW = η × the seed's ΔW. Transposes: the seed writes W^out g^out and W^rec g^hid; the gradient flows back through
/// the transposed matrices, (W^out)ᵀ g^out and (W^rec)ᵀ g^hid (for W^out [1, 2] and a scalar g^out only the transpose
/// has the right shape). The test shows the untransposed reading gives other numbers.
/// </remarks>
[Trait("Category", "Claims")]
public sealed class ElmanByHandTests(ITestOutputHelper output)
{
    private const int X = 2, H = 2, O = 1;
    private const double LearningRate = 0.5;
    private const double Tolerance = 1e-6;

    // Hand-picked weights; W_rec is not symmetric, so its transpose matters.
    private static readonly double[,] s_wIn = { { 0.5, -0.3 }, { 0.2, 0.8 } };     // [H, X]
    private static readonly double[,] s_wRec = { { 0.1, -0.4 }, { 0.6, 0.3 } };    // [H, H]
    private static readonly double[,] s_wOut = { { 0.7, -0.5 } };                  // [O, H]

    [Fact]
    public void FullBptt_OfAThreeStepSequence_IsTheSeedsWeightUpdate()
    {
        double[][] xs = [[1, 0], [0, 1], [1, 1]];
        double[] d = [0.9];
        using StackWithHead model = CreateModel();

        // The engine: forward over three steps (last step only), the head, ½‖d − y‖², backward, one SGD step.
        float[] x = [.. xs.SelectMany(v => v.Select(e => (float)e))];   // [T = 3, B = 1, X]
        var h3 = new float[H];
        var y = new float[O];
        model.Network.Forward(model.Tape, x, steps: 3, batch: 1, h3, lastStepOnly: true);
        model.Head.Forward(h3, 1, y);
        float[] dy = [y[0] - (float)d[0]];      // ∂(½‖d − y‖²)/∂y = y − d
        var dh3 = new float[H];
        model.Head.Backward(h3, y, dy, 1, dh3);
        model.Network.Backward(model.Tape, dh3);
        Dictionary<string, float[]> before = model.Parameters.ToDictionary();
        new Trainer(model.Parameters, new Sgd(LearningRate)).Update();
        Dictionary<string, float[]> after = model.Parameters.ToDictionary();

        // The seed, in double: forward …
        double[] a1 = MatVec(s_wIn, xs[0]);
        double[] h1 = Sigmoid(a1);
        double[] a2 = Add(MatVec(s_wIn, xs[1]), MatVec(s_wRec, h1));
        double[] h2 = Sigmoid(a2);
        double[] a3 = Add(MatVec(s_wIn, xs[2]), MatVec(s_wRec, h2));
        double[] hh3 = Sigmoid(a3);
        double[] b = MatVec(s_wOut, hh3);
        double[] yy = Sigmoid(b);

        // … and backward: g^out = f′(b) ⊙ (d − y), g^hid_t = f′(a_t) ⊙ Wᵀ g (the next one up).
        double[] gOut = Hadamard(SigmoidPrime(b), Subtract(d, yy));
        double[] gHid3 = Hadamard(SigmoidPrime(a3), MatTVec(s_wOut, gOut));
        double[] gHid2 = Hadamard(SigmoidPrime(a2), MatTVec(s_wRec, gHid3));
        double[] gHid1 = Hadamard(SigmoidPrime(a1), MatTVec(s_wRec, gHid2));
        double[,] dWOut = Outer(gOut, hh3);
        double[,] dWRec = Sum(Outer(gHid2, h1), Outer(gHid3, h2));
        double[,] dWIn = Sum(Sum(Outer(gHid1, xs[0]), Outer(gHid2, xs[1])), Outer(gHid3, xs[2]));

        output.WriteLine($"h1 = {Show(h1)}, h2 = {Show(h2)}, h3 = {Show(hh3)}; y = {yy[0]:F6} (engine {y[0]:F6}), d = {d[0]}");
        output.WriteLine($"g^out = {Show(gOut)}, g^hid3 = {Show(gHid3)}, g^hid2 = {Show(gHid2)}, g^hid1 = {Show(gHid1)}");
        Assert.Equal(yy[0], y[0], Tolerance);
        Assert.Equal(hh3, h3.Select(v => (double)v), new Near(Tolerance));

        double worst = 0;
        worst = Math.Max(worst, Compare("ΔW^out = η g^out h3ᵀ", dWOut, before["head.weight"], after["head.weight"]));
        worst = Math.Max(worst, Compare("ΔW^rec = η (g^hid2 h1ᵀ + g^hid3 h2ᵀ)", dWRec, before["rnn.weight_hh_l0"], after["rnn.weight_hh_l0"]));
        worst = Math.Max(worst, Compare("ΔW^in = η Σ g^hid_t x_tᵀ", dWIn, before["rnn.weight_ih_l0"], after["rnn.weight_ih_l0"]));
        output.WriteLine($"largest |engine − seed| over all weight changes: {worst:E2} (tolerance {Tolerance:E0})");

        // The literal reading without transposes (W^rec g^hid) is a different update: the comparison above has teeth.
        double[] gHid2Literal = Hadamard(SigmoidPrime(a2), MatVec(s_wRec, gHid3));
        double[] gHid1Literal = Hadamard(SigmoidPrime(a1), MatVec(s_wRec, gHid2Literal));
        double[,] dWInLiteral = Sum(Sum(Outer(gHid1Literal, xs[0]), Outer(gHid2Literal, xs[1])), Outer(gHid3, xs[2]));
        double literalGap = MaxAbsDifference(dWIn, dWInLiteral) * LearningRate;
        output.WriteLine($"untransposed W^rec would change ΔW^in by up to {literalGap:E2}");
        Assert.True(literalGap > 100 * Tolerance, $"The transposed and untransposed readings differ by only {literalGap:E2}.");
    }

    [Fact]
    public void TruncatedBpttWithWindowOne_IsElmansSimpleBackpropagation()
    {
        double[][] xs = [[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]];
        double[] ds = [0.2, 0.9, 0.1, 0.7, 0.4, 0.8];
        using StackWithHead model = CreateModel();
        using var tbptt = new TruncatedBptt(model.Network, k1: 1, k2: 1, batch: 1);
        var trainer = new Trainer(model.Parameters, new Sgd(LearningRate));

        double[] context = new double[H];       // c(1) = h(0) = 0
        var h = new float[H];
        var y = new float[O];
        var dh = new float[H];
        double worst = 0;
        for (int t = 0; t < xs.Length; t++)
        {
            // The weights of this step, as the engine holds them (in float), are the reference's weights too.
            Dictionary<string, float[]> before = model.Parameters.ToDictionary();
            double[,] wIn = Matrix(before["rnn.weight_ih_l0"], H, X);
            double[,] wRec = Matrix(before["rnn.weight_hh_l0"], H, H);
            double[,] wOut = Matrix(before["head.weight"], O, H);

            // The engine: one step, the head, ½(d − y)², backward over the one-step window, one SGD step.
            float[] x = [.. xs[t].Select(e => (float)e)];
            tbptt.Forward(x, 1, h);
            double[] engineContext = [.. tbptt.WindowStartHidden.ToArray().Select(v => (double)v)];
            model.Head.Forward(h, 1, y);
            float[] dy = [y[0] - (float)ds[t]];
            Array.Clear(dh);
            model.Head.Backward(h, y, dy, 1, dh);
            tbptt.Backward(dh);
            trainer.Update();
            Dictionary<string, float[]> after = model.Parameters.ToDictionary();

            // Elman's rule (seed 003, "Simple Backpropagation"): the context is an input like x, cut from the graph.
            double[] a = Add(MatVec(wIn, xs[t]), MatVec(wRec, context));
            double[] hh = Sigmoid(a);
            double[] b = MatVec(wOut, hh);
            double[] yy = Sigmoid(b);
            double[] gOut = Hadamard(SigmoidPrime(b), Subtract([ds[t]], yy));
            double[] gHid = Hadamard(SigmoidPrime(a), MatTVec(wOut, gOut));

            output.WriteLine($"step {t + 1}: x = {Show(xs[t])}, c = {Show(context)}, h = {Show(hh)}, y = {yy[0]:F6}, d = {ds[t]}");
            Assert.Equal(context, engineContext, new Near(Tolerance));
            worst = Math.Max(worst, Compare("  ΔW^in = η g^hid xᵀ", Outer(gHid, xs[t]), before["rnn.weight_ih_l0"], after["rnn.weight_ih_l0"]));
            worst = Math.Max(worst, Compare("  ΔW^rec = η g^hid cᵀ", Outer(gHid, context), before["rnn.weight_hh_l0"], after["rnn.weight_hh_l0"]));
            worst = Math.Max(worst, Compare("  ΔW^out = η g^out hᵀ", Outer(gOut, hh), before["head.weight"], after["head.weight"]));
            context = hh;                        // c(t + 1) = h(t), computed with this step's weights
        }

        output.WriteLine($"largest |engine − Elman's rule| over {xs.Length} steps: {worst:E2} (tolerance {Tolerance:E0})");
    }

    /// <summary>X = 2, H = 2, O = 1; sigmoid hidden and output units; no biases; the hand-picked weights.</summary>
    private static StackWithHead CreateModel()
    {
        var options = new RecurrentNetworkOptions { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Sigmoid, InputSize = X, HiddenSize = H };
        var model = StackWithHead.Create(options, O, OutputActivation.Sigmoid, bias: false);
        Assert.Equal(3, model.Parameters.Tensors.Count);   // weight_ih, weight_hh, head weight: no biases anywhere
        Flatten(s_wIn).CopyTo(model.Parameters.Value("rnn.weight_ih_l0"));
        Flatten(s_wRec).CopyTo(model.Parameters.Value("rnn.weight_hh_l0"));
        Flatten(s_wOut).CopyTo(model.Parameters.Value("head.weight"));
        model.Parameters.MarkChanged();
        return model;
    }

    /// <summary>Asserts after − before = η · <paramref name="seedDelta"/> element by element; returns the largest gap.</summary>
    private double Compare(string label, double[,] seedDelta, float[] before, float[] after)
    {
        int rows = seedDelta.GetLength(0), cols = seedDelta.GetLength(1);
        double worst = 0;
        var shown = new List<string>();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                double expected = LearningRate * seedDelta[r, c];
                double actual = (double)after[(r * cols) + c] - before[(r * cols) + c];
                worst = Math.Max(worst, Math.Abs(actual - expected));
                shown.Add(string.Create(CultureInfo.InvariantCulture, $"{actual:+0.000000;-0.000000;0.000000} ({expected:+0.000000;-0.000000;0.000000})"));
                Assert.True(Math.Abs(actual - expected) <= Tolerance, $"{label}[{r}, {c}]: engine {actual:E6}, seed {expected:E6}");
            }
        }

        output.WriteLine($"{label}: engine (seed) {string.Join(", ", shown)}");
        return worst;
    }

    private static double[] MatVec(double[,] m, double[] v)
    {
        var result = new double[m.GetLength(0)];
        for (int r = 0; r < result.Length; r++)
        {
            for (int c = 0; c < v.Length; c++)
            {
                result[r] += m[r, c] * v[c];
            }
        }

        return result;
    }

    private static double[] MatTVec(double[,] m, double[] v)
    {
        var result = new double[m.GetLength(1)];
        for (int c = 0; c < result.Length; c++)
        {
            for (int r = 0; r < v.Length; r++)
            {
                result[c] += m[r, c] * v[r];
            }
        }

        return result;
    }

    private static double[,] Outer(double[] u, double[] v)
    {
        var result = new double[u.Length, v.Length];
        for (int r = 0; r < u.Length; r++)
        {
            for (int c = 0; c < v.Length; c++)
            {
                result[r, c] = u[r] * v[c];
            }
        }

        return result;
    }

    private static double[,] Sum(double[,] p, double[,] q)
    {
        var result = new double[p.GetLength(0), p.GetLength(1)];
        for (int r = 0; r < p.GetLength(0); r++)
        {
            for (int c = 0; c < p.GetLength(1); c++)
            {
                result[r, c] = p[r, c] + q[r, c];
            }
        }

        return result;
    }

    private static double MaxAbsDifference(double[,] p, double[,] q)
    {
        double worst = 0;
        for (int r = 0; r < p.GetLength(0); r++)
        {
            for (int c = 0; c < p.GetLength(1); c++)
            {
                worst = Math.Max(worst, Math.Abs(p[r, c] - q[r, c]));
            }
        }

        return worst;
    }

    private static double[] Add(double[] u, double[] v) => [.. u.Zip(v, (p, q) => p + q)];

    private static double[] Subtract(double[] u, double[] v) => [.. u.Zip(v, (p, q) => p - q)];

    private static double[] Hadamard(double[] u, double[] v) => [.. u.Zip(v, (p, q) => p * q)];

    private static double[] Sigmoid(double[] a) => [.. a.Select(v => 1 / (1 + Math.Exp(-v)))];

    /// <summary>f′(a) = σ(a)(1 − σ(a)).</summary>
    private static double[] SigmoidPrime(double[] a) => [.. Sigmoid(a).Select(s => s * (1 - s))];

    private static float[] Flatten(double[,] m) => [.. m.Cast<double>().Select(v => (float)v)];

    private static double[,] Matrix(float[] values, int rows, int cols)
    {
        var m = new double[rows, cols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                m[r, c] = values[(r * cols) + c];
            }
        }

        return m;
    }

    private static string Show(double[] v) => "(" + string.Join(", ", v.Select(e => e.ToString("F6", CultureInfo.InvariantCulture))) + ")";

    private sealed class Near(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
