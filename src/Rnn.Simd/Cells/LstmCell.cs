using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The LSTM cell (seed 004, DESIGN.md §2), its element-wise parts: with a = W [x; h_{t−1}] (rows i, f, o, g),
/// <code>
///   i, f, o = σ(a + b)      g = tanh(a + b)      c = f ⊙ c_{t−1} + i ⊙ g      hCell = o ⊙ tanh(c)
/// </code>
/// (h = hCell, or W_hr hCell with a projection). Its row-major forward (<see cref="Forward(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/>),
/// its forward with the batch in the vector lanes (<see cref="Lanes"/>) and its row backward (<see cref="Backward"/>)
/// live here; the matrix products, threading and sequence lengths are the layers' (Layers/DirectionRun,
/// DirectionLanes, DirectionBackward).
/// </summary>
/// <remarks>
/// Every operation is an exactly rounded IEEE add or multiply, or one of our width-independent activations, so the
/// results have the same bits at every vector width. Backward takes the derivatives from the recorded outputs
/// (σ' = y(1 − y), tanh' = 1 − y² as one FMA) in one pass over the row: the chain of products and derivatives that
/// eleven span operations used to make (each reading and writing the row again) runs per element, on values in
/// registers, with the same IEEE operations in the same order as that chain.
/// </remarks>
internal static unsafe class LstmCell
{
    /// <summary>
    /// LSTM, seed 004 / DESIGN.md §2: with a = W [x; h_{t−1}] in <paramref name="gates"/> [4H] (rows i, f, o, g),
    /// i, f, o = σ(a + b), g = tanh(a + b); c = f ⊙ c_{t−1} + i ⊙ g; hCell = o ⊙ tanh(c). The activated gates
    /// stay in <paramref name="gates"/> (training keeps them for backward); <paramref name="tanhC"/> [H] receives
    /// tanh(c) and may be <paramref name="hCell"/>.
    /// </summary>
    /// <remarks>
    /// One pass per activation over the row's gates (<see cref="GateActivation"/>: all five activations in one loop body
    /// spilled most of its vectors), then one pass for the state. Each lane runs the same IEEE operations in the same
    /// order, rounded one by one (no contraction into FMAs), so the bits do not depend on the width, and are those of
    /// the operation-by-operation form.
    /// </remarks>
    public static void Forward(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC)
        => Forward(gates, bias, cPrev, c, hCell, tanhC, Isa.Best);

    /// <summary><see cref="Forward(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/> at an explicit width (tests).</summary>
    internal static void Forward(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC, VectorWidth width)
    {
        int h = c.Length;
        Debug.Assert(gates.Length == 4 * h && bias.Length == 4 * h && cPrev.Length == h && hCell.Length == h && tanhC.Length == h);
        Debug.Assert(GateLayout.LstmCell == 3, "i, f and o are the first three rows.");
        fixed (float* g = gates, b = bias, cp = cPrev, cn = c, hc = hCell, tc = tanhC)
        {
            nint n = h, go = n * GateLayout.LstmCell;
            GateActivation.Apply<SigmoidOperator>(width, g, b, go);
            GateActivation.Apply<TanhOperator>(width, g + go, b + go, n);
            var rows = new StateRows(g, n, cp, cn, hc, tc);
            nint i = width switch
            {
                VectorWidth.V512 => StateV512(rows),
                VectorWidth.V256 => StateV256(rows),
                VectorWidth.V128 => StateV128(rows),
                _ => 0,
            };

            for (; i < n; i++)
            {
                float cv = (rows.F[i] * cp[i]) + (rows.I[i] * rows.G[i]);
                float t = TanhOperator.Invoke(cv);
                cn[i] = cv; tc[i] = t; hc[i] = rows.O[i] * t;
            }
        }
    }

    // c, tanh(c) and hCell from the activated gates; one method per width, each holding one activation.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint StateV512(in StateRows r)
    {
        nint i = 0;
        for (; r.N - i >= 16; i += 16)
        {
            Vector512<float> cv = (Vector512.Load(r.F + i) * Vector512.Load(r.CPrev + i)) + (Vector512.Load(r.I + i) * Vector512.Load(r.G + i));
            Vector512<float> t = TanhOperator.Invoke(cv);
            cv.Store(r.C + i); t.Store(r.TanhC + i); (Vector512.Load(r.O + i) * t).Store(r.HCell + i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint StateV256(in StateRows r)
    {
        nint i = 0;
        for (; r.N - i >= 8; i += 8)
        {
            Vector256<float> cv = (Vector256.Load(r.F + i) * Vector256.Load(r.CPrev + i)) + (Vector256.Load(r.I + i) * Vector256.Load(r.G + i));
            Vector256<float> t = TanhOperator.Invoke(cv);
            cv.Store(r.C + i); t.Store(r.TanhC + i); (Vector256.Load(r.O + i) * t).Store(r.HCell + i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint StateV128(in StateRows r)
    {
        nint i = 0;
        for (; r.N - i >= 4; i += 4)
        {
            Vector128<float> cv = (Vector128.Load(r.F + i) * Vector128.Load(r.CPrev + i)) + (Vector128.Load(r.I + i) * Vector128.Load(r.G + i));
            Vector128<float> t = TanhOperator.Invoke(cv);
            cv.Store(r.C + i); t.Store(r.TanhC + i); (Vector128.Load(r.O + i) * t).Store(r.HCell + i);
        }

        return i;
    }

    /// <summary>
    /// <see cref="Forward(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/> with
    /// the batch in the vector lanes: c = σ(f)·c + σ(i)·tanh(g) in place; h = σ(o)·tanh(c). The gates are overwritten
    /// (inference).
    /// </summary>
    /// <remarks>
    /// One unit's gate rows are <c>lanes</c> batch rows wide and its biases are broadcast, so a vector holds one unit of
    /// several sequences. Each lane runs exactly the IEEE operations of the row-major update, in the same order, so the
    /// bits are its bits. Layouts (the lane forms of every cell: <see cref="GruCell.ResetAfterLanes"/>,
    /// <see cref="ElmanCell.Lanes"/>), for the <c>units</c> units from <c>u0</c> (h is the hidden size, lanes a multiple
    /// of the vector length at <c>width</c>):
    /// <code>
    ///   gates   [unit][gate][lane]   the unit's rows in the engine's gate order (GateLayout), pre-activation
    ///   bias    [G·H]                the engine's folded biases: gate g of unit u at bias[g·H + u]
    ///   states  [unit][lane]         c, h_{t−1} and h_t panels
    /// </code>
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Lanes(VectorWidth width, int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        Debug.Assert(width == VectorWidth.Scalar || lanes % (int)width == 0, "The lanes fill whole vectors (a width's value is its float count).");
        Debug.Assert(GateLayout.LstmCell == 3, "i, f and o are the first three rows of a unit.");

        // The activations first, one per pass over the strip's gates (still in L1), then the state update.
        nint stride = 4 * lanes;
        for (int q = 0; q < GateLayout.LstmCell; q++)
        {
            GateActivation.ApplyLanes<SigmoidOperator>(width, gates + (q * lanes), stride, units, lanes, bias + (q * h) + u0);
        }

        GateActivation.ApplyLanes<TanhOperator>(width, gates + (GateLayout.LstmCell * lanes), stride, units, lanes, bias + (GateLayout.LstmCell * h) + u0);
        switch (width)
        {
            case VectorWidth.V512:
                LaneStateV512(lanes, gates, units, c, hOut);
                break;
            case VectorWidth.V256:
                LaneStateV256(lanes, gates, units, c, hOut);
                break;
            case VectorWidth.V128:
                LaneStateV128(lanes, gates, units, c, hOut);
                break;
            default:
                LaneStateScalar(lanes, gates, units, c, hOut);
                break;
        }
    }

    // c = f·c + i·g and h = o·tanh(c) from the activated gates; one method per width, as in Forward.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneStateV512(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l += Vector512<float>.Count)
            {
                float* g = gates + l;
                Vector512<float> cv = (Vector512.Load(g + lanes) * Vector512.Load(c + l)) + (Vector512.Load(g) * Vector512.Load(g + (3 * lanes)));
                cv.Store(c + l);
                (Vector512.Load(g + (2 * lanes)) * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneStateV256(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l += Vector256<float>.Count)
            {
                float* g = gates + l;
                Vector256<float> cv = (Vector256.Load(g + lanes) * Vector256.Load(c + l)) + (Vector256.Load(g) * Vector256.Load(g + (3 * lanes)));
                cv.Store(c + l);
                (Vector256.Load(g + (2 * lanes)) * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneStateV128(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l += Vector128<float>.Count)
            {
                float* g = gates + l;
                Vector128<float> cv = (Vector128.Load(g + lanes) * Vector128.Load(c + l)) + (Vector128.Load(g) * Vector128.Load(g + (3 * lanes)));
                cv.Store(c + l);
                (Vector128.Load(g + (2 * lanes)) * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    private static void LaneStateScalar(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l++)
            {
                float* g = gates + l;
                float cv = (g[lanes] * c[l]) + (g[0] * g[3 * lanes]);
                c[l] = cv;
                hOut[l] = g[2 * lanes] * TanhOperator.Invoke(cv);
            }
        }
    }

    /// <summary>
    /// LSTM, for one row of <paramref name="h"/> units: with hCell = o ⊙ tanh(c) and c = f ⊙ c_{t−1} + i ⊙ g,
    /// <code>
    ///   dc' = dc + (dhCell ⊙ o) ⊙ tanh'(c)         dL/dc at step t, all paths
    ///   do  = (dhCell ⊙ tanh c) ⊙ σ'(o)      di = (dc' ⊙ g) ⊙ σ'(i)      df = (dc' ⊙ c_{t−1}) ⊙ σ'(f)
    ///   dg  = (dc' ⊙ i) ⊙ tanh'(g)           dc_{t−1} = dc' ⊙ f
    /// </code>
    /// <paramref name="gates"/> [4H] holds the activated gates in the engine's order (i, f, o, g); <paramref name="dG"/>
    /// [4H] receives the pre-activation gradients in PyTorch's (i, f, g, o). <paramref name="dc"/> is read only.
    /// </summary>
    public static void Backward(float* gates, float* tanhC, float* cPrev, float* dhCell, float* dc, float* dG, float* dcPrev, int h, VectorWidth width)
    {
        var row = new GradientRow(gates, tanhC, cPrev, dhCell, dc, dG, dcPrev, h);
        nint i = width switch
        {
            VectorWidth.V512 => BackwardV512(row),
            VectorWidth.V256 => BackwardV256(row),
            VectorWidth.V128 => BackwardV128(row),
            _ => 0,
        };

        for (; i < h; i++)
        {
            float o = row.O[i], tc = row.TanhC[i], dhc = row.DhCell[i];
            row.DO[i] = (dhc * tc) * SigmoidDerivativeOperator.Invoke(o);
            float dcNow = row.Dc[i] + ((dhc * o) * TanhDerivativeOperator.Invoke(tc));
            float ig = row.I[i], f = row.F[i], g = row.G[i];
            row.DI[i] = (dcNow * g) * SigmoidDerivativeOperator.Invoke(ig);
            row.DF[i] = (dcNow * row.CPrev[i]) * SigmoidDerivativeOperator.Invoke(f);
            row.DG[i] = (dcNow * ig) * TanhDerivativeOperator.Invoke(g);
            row.DcPrev[i] = dcNow * f;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint BackwardV512(in GradientRow r)
    {
        nint i = 0;
        for (; r.N - i >= Vector512<float>.Count; i += Vector512<float>.Count)
        {
            Vector512<float> o = Vector512.Load(r.O + i), tc = Vector512.Load(r.TanhC + i), dhc = Vector512.Load(r.DhCell + i);
            ((dhc * tc) * SigmoidDerivativeOperator.Invoke(o)).Store(r.DO + i);
            Vector512<float> dc = Vector512.Load(r.Dc + i) + ((dhc * o) * TanhDerivativeOperator.Invoke(tc));
            Vector512<float> ig = Vector512.Load(r.I + i), f = Vector512.Load(r.F + i), g = Vector512.Load(r.G + i);
            ((dc * g) * SigmoidDerivativeOperator.Invoke(ig)).Store(r.DI + i);
            ((dc * Vector512.Load(r.CPrev + i)) * SigmoidDerivativeOperator.Invoke(f)).Store(r.DF + i);
            ((dc * ig) * TanhDerivativeOperator.Invoke(g)).Store(r.DG + i);
            (dc * f).Store(r.DcPrev + i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint BackwardV256(in GradientRow r)
    {
        nint i = 0;
        for (; r.N - i >= Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> o = Vector256.Load(r.O + i), tc = Vector256.Load(r.TanhC + i), dhc = Vector256.Load(r.DhCell + i);
            ((dhc * tc) * SigmoidDerivativeOperator.Invoke(o)).Store(r.DO + i);
            Vector256<float> dc = Vector256.Load(r.Dc + i) + ((dhc * o) * TanhDerivativeOperator.Invoke(tc));
            Vector256<float> ig = Vector256.Load(r.I + i), f = Vector256.Load(r.F + i), g = Vector256.Load(r.G + i);
            ((dc * g) * SigmoidDerivativeOperator.Invoke(ig)).Store(r.DI + i);
            ((dc * Vector256.Load(r.CPrev + i)) * SigmoidDerivativeOperator.Invoke(f)).Store(r.DF + i);
            ((dc * ig) * TanhDerivativeOperator.Invoke(g)).Store(r.DG + i);
            (dc * f).Store(r.DcPrev + i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint BackwardV128(in GradientRow r)
    {
        nint i = 0;
        for (; r.N - i >= Vector128<float>.Count; i += Vector128<float>.Count)
        {
            Vector128<float> o = Vector128.Load(r.O + i), tc = Vector128.Load(r.TanhC + i), dhc = Vector128.Load(r.DhCell + i);
            ((dhc * tc) * SigmoidDerivativeOperator.Invoke(o)).Store(r.DO + i);
            Vector128<float> dc = Vector128.Load(r.Dc + i) + ((dhc * o) * TanhDerivativeOperator.Invoke(tc));
            Vector128<float> ig = Vector128.Load(r.I + i), f = Vector128.Load(r.F + i), g = Vector128.Load(r.G + i);
            ((dc * g) * SigmoidDerivativeOperator.Invoke(ig)).Store(r.DI + i);
            ((dc * Vector128.Load(r.CPrev + i)) * SigmoidDerivativeOperator.Invoke(f)).Store(r.DF + i);
            ((dc * ig) * TanhDerivativeOperator.Invoke(g)).Store(r.DG + i);
            (dc * f).Store(r.DcPrev + i);
        }

        return i;
    }

    /// <summary>The rows of one LSTM state update: the activated gates (rows i, f, o, g of [4H]) and the [H] states.</summary>
    private readonly struct StateRows(float* gates, nint n, float* cPrev, float* c, float* hCell, float* tanhC)
    {
        public readonly nint N = n;
        public readonly float* I = gates + (n * GateLayout.LstmInput), F = gates + (n * GateLayout.LstmForget);
        public readonly float* O = gates + (n * GateLayout.LstmOutput), G = gates + (n * GateLayout.LstmCell);
        public readonly float* CPrev = cPrev, C = c, HCell = hCell, TanhC = tanhC;
    }

    /// <summary>The rows of one LSTM backward step: gates in the engine's order, their gradients in PyTorch's.</summary>
    private readonly struct GradientRow(float* gates, float* tanhC, float* cPrev, float* dhCell, float* dc, float* dG, float* dcPrev, nint n)
    {
        public readonly nint N = n;
        public readonly float* I = gates + (n * GateLayout.LstmInput), F = gates + (n * GateLayout.LstmForget);
        public readonly float* O = gates + (n * GateLayout.LstmOutput), G = gates + (n * GateLayout.LstmCell);
        public readonly float* DI = dG + (n * GateLayout.ToPyTorch(CellType.Lstm, GateLayout.LstmInput));
        public readonly float* DF = dG + (n * GateLayout.ToPyTorch(CellType.Lstm, GateLayout.LstmForget));
        public readonly float* DO = dG + (n * GateLayout.ToPyTorch(CellType.Lstm, GateLayout.LstmOutput));
        public readonly float* DG = dG + (n * GateLayout.ToPyTorch(CellType.Lstm, GateLayout.LstmCell));
        public readonly float* TanhC = tanhC, CPrev = cPrev, DhCell = dhCell, Dc = dc, DcPrev = dcPrev;
    }
}
