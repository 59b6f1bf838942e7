using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;

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
    /// One pass over the H units, each vector of units through every step in registers (a pass per operation
    /// re-read the gates eight times and cost an eighth of a batched sequence). Each lane still runs the same IEEE
    /// operations in the same order, rounded one by one (no contraction into FMAs), so the bits do not depend on
    /// the width, and are those of the operation-by-operation form.
    /// </remarks>
    public static void Lstm(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC)
        => Lstm(gates, bias, cPrev, c, hCell, tanhC, Isa.Best);

    /// <summary><see cref="Lstm(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float})"/> at an explicit width (tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Lstm(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC, VectorWidth width)
    {
        int h = c.Length;
        Debug.Assert(gates.Length == 4 * h && bias.Length == 4 * h && cPrev.Length == h && hCell.Length == h && tanhC.Length == h);
        var rows = new LstmRefs(gates, bias, cPrev, c, hCell, tanhC);
        nuint done = width switch
        {
            VectorWidth.V512 => LstmV512(rows, (nuint)h),
            VectorWidth.V256 => LstmV256(rows, (nuint)h),
            VectorWidth.V128 => LstmV128(rows, (nuint)h),
            _ => 0,
        };

        for (nuint i = done; i < (nuint)h; i++)
        {
            LstmScalar(rows, (nuint)h, i);
        }
    }

    // Each width in its own method: one method holding every width ran out of the JIT's inlining budget and called
    // the activations out of line, through memory.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nuint LstmV512(in LstmRefs r, nuint n)
    {
        nuint i = 0, fo = n * GateLayout.LstmForget, oo = n * GateLayout.LstmOutput, go = n * GateLayout.LstmCell;
        for (; n - i >= 16; i += 16)
        {
            Vector512<float> ig = SigmoidOperator.Invoke(Vector512.LoadUnsafe(ref r.G, i) + Vector512.LoadUnsafe(ref r.B, i));
            Vector512<float> fg = SigmoidOperator.Invoke(Vector512.LoadUnsafe(ref r.G, fo + i) + Vector512.LoadUnsafe(ref r.B, fo + i));
            Vector512<float> og = SigmoidOperator.Invoke(Vector512.LoadUnsafe(ref r.G, oo + i) + Vector512.LoadUnsafe(ref r.B, oo + i));
            Vector512<float> gg = TanhOperator.Invoke(Vector512.LoadUnsafe(ref r.G, go + i) + Vector512.LoadUnsafe(ref r.B, go + i));
            Vector512<float> cv = (fg * Vector512.LoadUnsafe(ref r.CPrev, i)) + (ig * gg);
            Vector512<float> t = TanhOperator.Invoke(cv);
            ig.StoreUnsafe(ref r.G, i); fg.StoreUnsafe(ref r.G, fo + i); og.StoreUnsafe(ref r.G, oo + i); gg.StoreUnsafe(ref r.G, go + i);
            cv.StoreUnsafe(ref r.C, i); t.StoreUnsafe(ref r.TanhC, i); (og * t).StoreUnsafe(ref r.HCell, i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nuint LstmV256(in LstmRefs r, nuint n)
    {
        nuint i = 0, fo = n * GateLayout.LstmForget, oo = n * GateLayout.LstmOutput, go = n * GateLayout.LstmCell;
        for (; n - i >= 8; i += 8)
        {
            Vector256<float> ig = SigmoidOperator.Invoke(Vector256.LoadUnsafe(ref r.G, i) + Vector256.LoadUnsafe(ref r.B, i));
            Vector256<float> fg = SigmoidOperator.Invoke(Vector256.LoadUnsafe(ref r.G, fo + i) + Vector256.LoadUnsafe(ref r.B, fo + i));
            Vector256<float> og = SigmoidOperator.Invoke(Vector256.LoadUnsafe(ref r.G, oo + i) + Vector256.LoadUnsafe(ref r.B, oo + i));
            Vector256<float> gg = TanhOperator.Invoke(Vector256.LoadUnsafe(ref r.G, go + i) + Vector256.LoadUnsafe(ref r.B, go + i));
            Vector256<float> cv = (fg * Vector256.LoadUnsafe(ref r.CPrev, i)) + (ig * gg);
            Vector256<float> t = TanhOperator.Invoke(cv);
            ig.StoreUnsafe(ref r.G, i); fg.StoreUnsafe(ref r.G, fo + i); og.StoreUnsafe(ref r.G, oo + i); gg.StoreUnsafe(ref r.G, go + i);
            cv.StoreUnsafe(ref r.C, i); t.StoreUnsafe(ref r.TanhC, i); (og * t).StoreUnsafe(ref r.HCell, i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nuint LstmV128(in LstmRefs r, nuint n)
    {
        nuint i = 0, fo = n * GateLayout.LstmForget, oo = n * GateLayout.LstmOutput, go = n * GateLayout.LstmCell;
        for (; n - i >= 4; i += 4)
        {
            Vector128<float> ig = SigmoidOperator.Invoke(Vector128.LoadUnsafe(ref r.G, i) + Vector128.LoadUnsafe(ref r.B, i));
            Vector128<float> fg = SigmoidOperator.Invoke(Vector128.LoadUnsafe(ref r.G, fo + i) + Vector128.LoadUnsafe(ref r.B, fo + i));
            Vector128<float> og = SigmoidOperator.Invoke(Vector128.LoadUnsafe(ref r.G, oo + i) + Vector128.LoadUnsafe(ref r.B, oo + i));
            Vector128<float> gg = TanhOperator.Invoke(Vector128.LoadUnsafe(ref r.G, go + i) + Vector128.LoadUnsafe(ref r.B, go + i));
            Vector128<float> cv = (fg * Vector128.LoadUnsafe(ref r.CPrev, i)) + (ig * gg);
            Vector128<float> t = TanhOperator.Invoke(cv);
            ig.StoreUnsafe(ref r.G, i); fg.StoreUnsafe(ref r.G, fo + i); og.StoreUnsafe(ref r.G, oo + i); gg.StoreUnsafe(ref r.G, go + i);
            cv.StoreUnsafe(ref r.C, i); t.StoreUnsafe(ref r.TanhC, i); (og * t).StoreUnsafe(ref r.HCell, i);
        }

        return i;
    }

    private static void LstmScalar(in LstmRefs r, nuint n, nuint i)
    {
        nuint fo = n * GateLayout.LstmForget, oo = n * GateLayout.LstmOutput, go = n * GateLayout.LstmCell;
        float ig = SigmoidOperator.Invoke(Unsafe.Add(ref r.G, i) + Unsafe.Add(ref r.B, i));
        float fg = SigmoidOperator.Invoke(Unsafe.Add(ref r.G, fo + i) + Unsafe.Add(ref r.B, fo + i));
        float og = SigmoidOperator.Invoke(Unsafe.Add(ref r.G, oo + i) + Unsafe.Add(ref r.B, oo + i));
        float gg = TanhOperator.Invoke(Unsafe.Add(ref r.G, go + i) + Unsafe.Add(ref r.B, go + i));
        float cv = (fg * Unsafe.Add(ref r.CPrev, i)) + (ig * gg);
        float t = TanhOperator.Invoke(cv);
        Unsafe.Add(ref r.G, i) = ig; Unsafe.Add(ref r.G, fo + i) = fg; Unsafe.Add(ref r.G, oo + i) = og; Unsafe.Add(ref r.G, go + i) = gg;
        Unsafe.Add(ref r.C, i) = cv; Unsafe.Add(ref r.TanhC, i) = t; Unsafe.Add(ref r.HCell, i) = og * t;
    }

    /// <summary>
    /// GRU reset-after in one pass over the units (PyTorch's GRU): r, z = σ((W_x x + W_h h) + b) from
    /// <paramref name="gates"/> (input products, [3H]) and <paramref name="recurrent"/> (recurrent products, [3H]);
    /// hn = W_hn h + b_hn; n = tanh((W_in x + b_in) + r ⊙ hn); h = n + z ⊙ (h_{t−1} − n). The activated r, z and n
    /// replace the gates; <paramref name="hn"/> receives hn for backward unless it is empty. The same IEEE operations in
    /// the same order as <see cref="GruResetUpdate"/>, then hn = W_hn h + b_hn and r ⊙ hn, then <see cref="GruNew"/>.
    /// </summary>
    public static void GruResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn)
        => GruResetAfter(gates, recurrent, bias, newBias, hPrev, h, hn, Isa.Best);

    /// <summary><see cref="GruResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/> at an explicit width (tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GruResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn, VectorWidth width)
    {
        int size = h.Length;
        Debug.Assert(gates.Length == 3 * size && recurrent.Length >= 3 * size && bias.Length == 3 * size && newBias.Length == size && hPrev.Length == size);
        bool keepHn = !hn.IsEmpty;
        var rows = new GruRefs(gates, recurrent, bias, newBias, hPrev, h, keepHn ? hn : h);
        nuint done = width switch
        {
            VectorWidth.V512 => GruResetAfterV512(rows, (nuint)size, keepHn),
            VectorWidth.V256 => GruResetAfterV256(rows, (nuint)size, keepHn),
            VectorWidth.V128 => GruResetAfterV128(rows, (nuint)size, keepHn),
            _ => 0,
        };

        nuint n = (nuint)size, zo = n * GateLayout.GruUpdate, no = n * GateLayout.GruNew;
        for (nuint i = done; i < n; i++)
        {
            float rg = SigmoidOperator.Invoke((Unsafe.Add(ref rows.G, i) + Unsafe.Add(ref rows.Rec, i)) + Unsafe.Add(ref rows.B, i));
            float zg = SigmoidOperator.Invoke((Unsafe.Add(ref rows.G, zo + i) + Unsafe.Add(ref rows.Rec, zo + i)) + Unsafe.Add(ref rows.B, zo + i));
            float hnv = Unsafe.Add(ref rows.Rec, no + i) + Unsafe.Add(ref rows.NewBias, i);
            float ng = TanhOperator.Invoke((Unsafe.Add(ref rows.G, no + i) + Unsafe.Add(ref rows.B, no + i)) + (rg * hnv));
            float hv = ng + (zg * (Unsafe.Add(ref rows.HPrev, i) - ng));
            Unsafe.Add(ref rows.G, i) = rg; Unsafe.Add(ref rows.G, zo + i) = zg; Unsafe.Add(ref rows.G, no + i) = ng; Unsafe.Add(ref rows.H, i) = hv;
            if (keepHn)
            {
                Unsafe.Add(ref rows.Hn, i) = hnv;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nuint GruResetAfterV512(in GruRefs r, nuint n, bool keepHn)
    {
        nuint i = 0, zo = n * GateLayout.GruUpdate, no = n * GateLayout.GruNew;
        for (; n - i >= 16; i += 16)
        {
            Vector512<float> rg = SigmoidOperator.Invoke((Vector512.LoadUnsafe(ref r.G, i) + Vector512.LoadUnsafe(ref r.Rec, i)) + Vector512.LoadUnsafe(ref r.B, i));
            Vector512<float> zg = SigmoidOperator.Invoke((Vector512.LoadUnsafe(ref r.G, zo + i) + Vector512.LoadUnsafe(ref r.Rec, zo + i)) + Vector512.LoadUnsafe(ref r.B, zo + i));
            Vector512<float> hn = Vector512.LoadUnsafe(ref r.Rec, no + i) + Vector512.LoadUnsafe(ref r.NewBias, i);
            Vector512<float> ng = TanhOperator.Invoke((Vector512.LoadUnsafe(ref r.G, no + i) + Vector512.LoadUnsafe(ref r.B, no + i)) + (rg * hn));
            Vector512<float> hv = ng + (zg * (Vector512.LoadUnsafe(ref r.HPrev, i) - ng));
            rg.StoreUnsafe(ref r.G, i); zg.StoreUnsafe(ref r.G, zo + i); ng.StoreUnsafe(ref r.G, no + i); hv.StoreUnsafe(ref r.H, i);
            if (keepHn)
            {
                hn.StoreUnsafe(ref r.Hn, i);
            }
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nuint GruResetAfterV256(in GruRefs r, nuint n, bool keepHn)
    {
        nuint i = 0, zo = n * GateLayout.GruUpdate, no = n * GateLayout.GruNew;
        for (; n - i >= 8; i += 8)
        {
            Vector256<float> rg = SigmoidOperator.Invoke((Vector256.LoadUnsafe(ref r.G, i) + Vector256.LoadUnsafe(ref r.Rec, i)) + Vector256.LoadUnsafe(ref r.B, i));
            Vector256<float> zg = SigmoidOperator.Invoke((Vector256.LoadUnsafe(ref r.G, zo + i) + Vector256.LoadUnsafe(ref r.Rec, zo + i)) + Vector256.LoadUnsafe(ref r.B, zo + i));
            Vector256<float> hn = Vector256.LoadUnsafe(ref r.Rec, no + i) + Vector256.LoadUnsafe(ref r.NewBias, i);
            Vector256<float> ng = TanhOperator.Invoke((Vector256.LoadUnsafe(ref r.G, no + i) + Vector256.LoadUnsafe(ref r.B, no + i)) + (rg * hn));
            Vector256<float> hv = ng + (zg * (Vector256.LoadUnsafe(ref r.HPrev, i) - ng));
            rg.StoreUnsafe(ref r.G, i); zg.StoreUnsafe(ref r.G, zo + i); ng.StoreUnsafe(ref r.G, no + i); hv.StoreUnsafe(ref r.H, i);
            if (keepHn)
            {
                hn.StoreUnsafe(ref r.Hn, i);
            }
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nuint GruResetAfterV128(in GruRefs r, nuint n, bool keepHn)
    {
        nuint i = 0, zo = n * GateLayout.GruUpdate, no = n * GateLayout.GruNew;
        for (; n - i >= 4; i += 4)
        {
            Vector128<float> rg = SigmoidOperator.Invoke((Vector128.LoadUnsafe(ref r.G, i) + Vector128.LoadUnsafe(ref r.Rec, i)) + Vector128.LoadUnsafe(ref r.B, i));
            Vector128<float> zg = SigmoidOperator.Invoke((Vector128.LoadUnsafe(ref r.G, zo + i) + Vector128.LoadUnsafe(ref r.Rec, zo + i)) + Vector128.LoadUnsafe(ref r.B, zo + i));
            Vector128<float> hn = Vector128.LoadUnsafe(ref r.Rec, no + i) + Vector128.LoadUnsafe(ref r.NewBias, i);
            Vector128<float> ng = TanhOperator.Invoke((Vector128.LoadUnsafe(ref r.G, no + i) + Vector128.LoadUnsafe(ref r.B, no + i)) + (rg * hn));
            Vector128<float> hv = ng + (zg * (Vector128.LoadUnsafe(ref r.HPrev, i) - ng));
            rg.StoreUnsafe(ref r.G, i); zg.StoreUnsafe(ref r.G, zo + i); ng.StoreUnsafe(ref r.G, no + i); hv.StoreUnsafe(ref r.H, i);
            if (keepHn)
            {
                hn.StoreUnsafe(ref r.Hn, i);
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

    /// <summary>The rows of one LSTM update as references (gates and bias [4H], the rest [H]).</summary>
    private readonly ref struct LstmRefs(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> tanhC)
    {
        public readonly ref float G = ref MemoryMarshal.GetReference(gates);
        public readonly ref float B = ref MemoryMarshal.GetReference(bias);
        public readonly ref float CPrev = ref MemoryMarshal.GetReference(cPrev);
        public readonly ref float C = ref MemoryMarshal.GetReference(c);
        public readonly ref float HCell = ref MemoryMarshal.GetReference(hCell);
        public readonly ref float TanhC = ref MemoryMarshal.GetReference(tanhC);
    }

    /// <summary>The rows of one GRU reset-after update as references (gates, recurrent and bias [3H], the rest [H]).</summary>
    private readonly ref struct GruRefs(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn)
    {
        public readonly ref float G = ref MemoryMarshal.GetReference(gates);
        public readonly ref float Rec = ref MemoryMarshal.GetReference(recurrent);
        public readonly ref float B = ref MemoryMarshal.GetReference(bias);
        public readonly ref float NewBias = ref MemoryMarshal.GetReference(newBias);
        public readonly ref float HPrev = ref MemoryMarshal.GetReference(hPrev);
        public readonly ref float H = ref MemoryMarshal.GetReference(h);
        public readonly ref float Hn = ref MemoryMarshal.GetReference(hn);
    }
}
