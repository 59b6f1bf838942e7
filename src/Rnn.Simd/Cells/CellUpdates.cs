using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The element-wise part of each cell, run on one batch row after the matrix products: bias, gate
/// activations and the state update. Every operation is an exactly rounded IEEE add or multiply, or one of
/// our width-independent activations, so the results have the same bits at every vector width.
/// </summary>
internal static class CellUpdates
{
    /// <summary>
    /// Elman: h = f(a + b) with a = W_x x + W_h h_{t−1} already in <paramref name="gates"/> [H]; writes h into
    /// <paramref name="h"/> (may be <paramref name="gates"/>).
    /// </summary>
    public static void Elman(Span<float> gates, ReadOnlySpan<float> bias, ActivationKind activation, Span<float> h)
    {
        TensorPrimitives.Add(gates, bias, gates);
        Activations.Forward(activation, gates, h);
    }

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
    public static void Lstm(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC)
        => Lstm(gates, bias, cPrev, c, hCell, tanhC, Isa.Best);

    /// <summary><see cref="Lstm(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/> at an explicit width (tests).</summary>
    internal static unsafe void Lstm(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC, VectorWidth width)
    {
        int h = c.Length;
        Debug.Assert(gates.Length == 4 * h && bias.Length == 4 * h && cPrev.Length == h && hCell.Length == h && tanhC.Length == h);
        Debug.Assert(GateLayout.LstmCell == 3, "i, f and o are the first three rows.");
        fixed (float* g = gates, b = bias, cp = cPrev, cn = c, hc = hCell, tc = tanhC)
        {
            nint n = h, go = n * GateLayout.LstmCell;
            GateActivation.Apply<SigmoidOperator>(width, g, b, go);
            GateActivation.Apply<TanhOperator>(width, g + go, b + go, n);
            var rows = new LstmRows(g, n, cp, cn, hc, tc);
            nint i = width switch
            {
                VectorWidth.V512 => LstmStateV512(rows),
                VectorWidth.V256 => LstmStateV256(rows),
                VectorWidth.V128 => LstmStateV128(rows),
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint LstmStateV512(in LstmRows r)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint LstmStateV256(in LstmRows r)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint LstmStateV128(in LstmRows r)
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
    /// GRU reset-after (PyTorch's GRU): r, z = σ((W_x x + W_h h) + b) from <paramref name="gates"/> (input products,
    /// [3H]) and <paramref name="recurrent"/> (recurrent products, [3H]); hn = W_hn h + b_hn; n = tanh((W_in x + b_in)
    /// + r ⊙ hn); h = n + z ⊙ (h_{t−1} − n). The activated r, z and n replace the gates; <paramref name="hn"/> receives
    /// hn for backward unless it is empty. The same IEEE operations in the same order as <see cref="GruResetUpdate"/>,
    /// then hn = W_hn h + b_hn and r ⊙ hn, then <see cref="GruNew"/>.
    /// </summary>
    public static void GruResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn)
        => GruResetAfter(gates, recurrent, bias, newBias, hPrev, h, hn, Isa.Best);

    /// <summary><see cref="GruResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/> at an explicit width (tests).</summary>
    internal static unsafe void GruResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn, VectorWidth width)
    {
        int size = h.Length;
        Debug.Assert(gates.Length == 3 * size && recurrent.Length >= 3 * size && bias.Length == 3 * size && newBias.Length == size && hPrev.Length == size);
        Debug.Assert(GateLayout.GruNew == 2, "r and z are the first two rows.");
        bool keepHn = !hn.IsEmpty;
        fixed (float* g = gates, rec = recurrent, b = bias, bhn = newBias, hp = hPrev, ho = h, hnOut = hn)
        {
            nint n = size, no = n * GateLayout.GruNew;
            GateActivation.Apply<SigmoidOperator>(width, g, rec, b, no);
            var rows = new GruRows(g, rec, b, n, bhn, hp, ho, keepHn ? hnOut : null);
            nint i = width switch
            {
                VectorWidth.V512 => GruNewV512(rows),
                VectorWidth.V256 => GruNewV256(rows),
                VectorWidth.V128 => GruNewV128(rows),
                _ => 0,
            };

            for (; i < n; i++)
            {
                float hnv = rows.RecNew[i] + bhn[i];
                float ng = TanhOperator.Invoke((rows.New[i] + rows.BiasNew[i]) + (rows.R[i] * hnv));
                float hv = ng + (rows.Z[i] * (hp[i] - ng));
                rows.New[i] = ng; ho[i] = hv;
                if (keepHn)
                {
                    hnOut[i] = hnv;
                }
            }
        }
    }

    // n, h (and hn) from the activated r and z; one method per width, each holding one activation.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint GruNewV512(in GruRows r)
    {
        nint i = 0;
        for (; r.N - i >= 16; i += 16)
        {
            Vector512<float> hn = Vector512.Load(r.RecNew + i) + Vector512.Load(r.NewBias + i);
            Vector512<float> ng = TanhOperator.Invoke((Vector512.Load(r.New + i) + Vector512.Load(r.BiasNew + i)) + (Vector512.Load(r.R + i) * hn));
            Vector512<float> hv = ng + (Vector512.Load(r.Z + i) * (Vector512.Load(r.HPrev + i) - ng));
            ng.Store(r.New + i); hv.Store(r.H + i);
            if (r.Hn != null)
            {
                hn.Store(r.Hn + i);
            }
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint GruNewV256(in GruRows r)
    {
        nint i = 0;
        for (; r.N - i >= 8; i += 8)
        {
            Vector256<float> hn = Vector256.Load(r.RecNew + i) + Vector256.Load(r.NewBias + i);
            Vector256<float> ng = TanhOperator.Invoke((Vector256.Load(r.New + i) + Vector256.Load(r.BiasNew + i)) + (Vector256.Load(r.R + i) * hn));
            Vector256<float> hv = ng + (Vector256.Load(r.Z + i) * (Vector256.Load(r.HPrev + i) - ng));
            ng.Store(r.New + i); hv.Store(r.H + i);
            if (r.Hn != null)
            {
                hn.Store(r.Hn + i);
            }
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe nint GruNewV128(in GruRows r)
    {
        nint i = 0;
        for (; r.N - i >= 4; i += 4)
        {
            Vector128<float> hn = Vector128.Load(r.RecNew + i) + Vector128.Load(r.NewBias + i);
            Vector128<float> ng = TanhOperator.Invoke((Vector128.Load(r.New + i) + Vector128.Load(r.BiasNew + i)) + (Vector128.Load(r.R + i) * hn));
            Vector128<float> hv = ng + (Vector128.Load(r.Z + i) * (Vector128.Load(r.HPrev + i) - ng));
            ng.Store(r.New + i); hv.Store(r.H + i);
            if (r.Hn != null)
            {
                hn.Store(r.Hn + i);
            }
        }

        return i;
    }

    /// <summary>
    /// GRU, first part: r, z = σ(W_x x + W_h h + b) over the first 2H entries of <paramref name="inputGates"/>
    /// (the input products, [3H]) plus <paramref name="recurrentGates"/> (the recurrent products, ≥ [2H]). The
    /// activated r, z replace the first 2H entries of <paramref name="inputGates"/>.
    /// </summary>
    public static void GruResetUpdate(Span<float> inputGates, ReadOnlySpan<float> recurrentGates, ReadOnlySpan<float> bias)
    {
        int twoH = 2 * (inputGates.Length / 3);
        Span<float> rz = inputGates[..twoH];
        TensorPrimitives.Add(rz, recurrentGates[..twoH], rz);
        TensorPrimitives.Add(rz, bias[..twoH], rz);
        Activations.Forward(ActivationKind.Sigmoid, rz, rz);
    }

    /// <summary>
    /// GRU, second part, given r, z in <paramref name="inputGates"/>[0, 2H) and W_in x in [2H, 3H):
    /// n = tanh(W_in x + b_n + <paramref name="recurrentNew"/>), h = n + z ⊙ (h_{t−1} − n) (PyTorch's form of
    /// (1 − z) ⊙ n + z ⊙ h_{t−1}). recurrentNew is r ⊙ (W_hn h + b_hn) (reset-after) or W_hn (r ⊙ h) (reset-before).
    /// </summary>
    public static void GruNew(Span<float> inputGates, ReadOnlySpan<float> bias, ReadOnlySpan<float> recurrentNew, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> scratch)
    {
        int size = h.Length;
        Span<float> n = inputGates.Slice(GateLayout.GruNew * size, size);
        ReadOnlySpan<float> z = inputGates.Slice(GateLayout.GruUpdate * size, size);
        TensorPrimitives.Add(n, bias.Slice(GateLayout.GruNew * size, size), n);
        TensorPrimitives.Add(n, recurrentNew, n);
        Activations.Forward(ActivationKind.Tanh, n, n);
        TensorPrimitives.Subtract(hPrev, n, scratch);     // h_{t−1} − n
        TensorPrimitives.Multiply(z, scratch, scratch);
        TensorPrimitives.Add(n, scratch, h);
    }

    /// <summary>The rows of one LSTM state update: the activated gates (rows i, f, o, g of [4H]) and the [H] states.</summary>
    private readonly unsafe struct LstmRows(float* gates, nint n, float* cPrev, float* c, float* hCell, float* tanhC)
    {
        public readonly nint N = n;
        public readonly float* I = gates + (n * GateLayout.LstmInput), F = gates + (n * GateLayout.LstmForget);
        public readonly float* O = gates + (n * GateLayout.LstmOutput), G = gates + (n * GateLayout.LstmCell);
        public readonly float* CPrev = cPrev, C = c, HCell = hCell, TanhC = tanhC;
    }

    /// <summary>The rows of one GRU reset-after new-gate update (r, z activated; <see cref="Hn"/> null unless kept).</summary>
    private readonly unsafe struct GruRows(float* gates, float* recurrent, float* bias, nint n, float* newBias, float* hPrev, float* h, float* hn)
    {
        public readonly nint N = n;
        public readonly float* R = gates + (n * GateLayout.GruReset), Z = gates + (n * GateLayout.GruUpdate), New = gates + (n * GateLayout.GruNew);
        public readonly float* RecNew = recurrent + (n * GateLayout.GruNew), BiasNew = bias + (n * GateLayout.GruNew);
        public readonly float* NewBias = newBias, HPrev = hPrev, H = h, Hn = hn;
    }
}
