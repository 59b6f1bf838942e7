using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The GRU cell, both variants, its element-wise parts: r, z = σ(W_x x + W_h h_{t−1} + b) (rows r, z, n),
/// <code>
///   reset-after  (PyTorch's GRU):  n = tanh(W_in x + b_in + r ⊙ (W_hn h_{t−1} + b_hn))
///   reset-before (the 2014 GRU):   n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t−1}) + b_hn)
///   h = n + z ⊙ (h_{t−1} − n)      PyTorch's form of (1 − z) ⊙ n + z ⊙ h_{t−1}
/// </code>
/// Reset-after's row-major forward (<see cref="ResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>),
/// forward with the batch in the vector lanes (<see cref="ResetAfterLanes"/>) and row backward
/// (<see cref="ResetAfterBackward"/>) live here, and so do reset-before's forward and backward, two parts each on
/// either side of the W_hn (r ⊙ h) product (<see cref="ResetBeforeGates"/>, <see cref="ResetBeforeState"/>;
/// <see cref="ResetBeforeStateBackward"/>, <see cref="ResetBeforeGatesBackward"/>). The matrix products, threading
/// and sequence lengths are the layers' (Layers/DirectionRun, DirectionLanes, DirectionBackward).
/// </summary>
/// <remarks>
/// Every operation is an exactly rounded IEEE add or multiply, or one of our width-independent activations, so the
/// results have the same bits at every vector width. Backward takes the derivatives from the recorded outputs
/// (σ' = y(1 − y), tanh' = 1 − y² as one FMA); reset-after's runs in one pass over the row with the same IEEE
/// operations in the same order as the span-by-span chain it replaced.
/// </remarks>
internal static unsafe class GruCell
{
    /// <summary>
    /// GRU reset-after (PyTorch's GRU): r, z = σ((W_x x + W_h h) + b) from <paramref name="gates"/> (input products,
    /// [3H]) and <paramref name="recurrent"/> (recurrent products, [3H]); hn = W_hn h + b_hn; n = tanh((W_in x + b_in)
    /// + r ⊙ hn); h = n + z ⊙ (h_{t−1} − n). The activated r, z and n replace the gates; <paramref name="hn"/> receives
    /// hn for backward unless it is empty. The same IEEE operations in the same order as <see cref="ResetBeforeGates"/>,
    /// then hn = W_hn h + b_hn and r ⊙ hn, then <see cref="ResetBeforeState"/>.
    /// </summary>
    public static void ResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn)
        => ResetAfter(gates, recurrent, bias, newBias, hPrev, h, hn, Isa.Best);

    /// <summary><see cref="ResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/> at an explicit width (tests).</summary>
    internal static void ResetAfter(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> hn, VectorWidth width)
    {
        int size = h.Length;
        Debug.Assert(gates.Length == 3 * size && recurrent.Length >= 3 * size && bias.Length == 3 * size && newBias.Length == size && hPrev.Length == size);
        Debug.Assert(GateLayout.GruNew == 2, "r and z are the first two rows.");
        bool keepHn = !hn.IsEmpty;
        fixed (float* g = gates, rec = recurrent, b = bias, bhn = newBias, hp = hPrev, ho = h, hnOut = hn)
        {
            nint n = size, no = n * GateLayout.GruNew;
            GateActivation.Apply<SigmoidOperator>(width, g, rec, b, no);
            var rows = new NewRows(g, rec, b, n, bhn, hp, ho, keepHn ? hnOut : null);
            nint i = width switch
            {
                VectorWidth.V512 => NewV512(rows),
                VectorWidth.V256 => NewV256(rows),
                VectorWidth.V128 => NewV128(rows),
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
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint NewV512(in NewRows r)
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

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint NewV256(in NewRows r)
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

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint NewV128(in NewRows r)
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
    /// GRU reset-before, first part (and the first part of the reference form of <see cref="ResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>): r, z = σ(W_x x + W_h h + b) over the first 2H entries of <paramref name="inputGates"/>
    /// (the input products, [3H]) plus <paramref name="recurrentGates"/> (the recurrent products, ≥ [2H]). The
    /// activated r, z replace the first 2H entries of <paramref name="inputGates"/>.
    /// </summary>
    public static void ResetBeforeGates(Span<float> inputGates, ReadOnlySpan<float> recurrentGates, ReadOnlySpan<float> bias)
    {
        int twoH = 2 * (inputGates.Length / 3);
        Span<float> rz = inputGates[..twoH];
        TensorPrimitives.Add(rz, recurrentGates[..twoH], rz);
        TensorPrimitives.Add(rz, bias[..twoH], rz);
        Activations.Forward(ActivationKind.Sigmoid, rz, rz);
    }

    /// <summary>
    /// GRU reset-before, second part (after W_hn (r ⊙ h)), given r, z in <paramref name="inputGates"/>[0, 2H) and W_in x in [2H, 3H):
    /// n = tanh(W_in x + b_n + <paramref name="recurrentNew"/>), h = n + z ⊙ (h_{t−1} − n) (PyTorch's form of
    /// (1 − z) ⊙ n + z ⊙ h_{t−1}). recurrentNew is r ⊙ (W_hn h + b_hn) (reset-after) or W_hn (r ⊙ h) (reset-before).
    /// </summary>
    public static void ResetBeforeState(Span<float> inputGates, ReadOnlySpan<float> bias, ReadOnlySpan<float> recurrentNew, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> scratch)
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

    /// <summary>
    /// GRU reset-after: r, z = σ((input + recurrent) + b); hn = recurrent_n + b_hn; n = tanh((input_n + b_n) + r·hn);
    /// h = n + z·(h_{t−1} − n). <paramref name="gates"/> holds the input products, <paramref name="recurrent"/> the
    /// recurrent ones, both [unit][r, z, n][lane]; <paramref name="newBias"/> is b_hn [H]. r and z overwrite their
    /// input products (inference). The lanes of <see cref="ResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>:
    /// the same IEEE operations per lane, in the same order.
    /// </summary>
    /// <remarks>Layouts as in <see cref="LstmCell.Lanes"/>.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ResetAfterLanes(VectorWidth width, int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        Debug.Assert(width == VectorWidth.Scalar || lanes % (int)width == 0, "The lanes fill whole vectors (a width's value is its float count).");
        nint stride = 3 * lanes;
        GateActivation.ApplyLanes<SigmoidOperator>(width, gates, recurrent, stride, units, lanes, bias + u0);
        GateActivation.ApplyLanes<SigmoidOperator>(width, gates + lanes, recurrent + lanes, stride, units, lanes, bias + h + u0);
        switch (width)
        {
            case VectorWidth.V512:
                LaneNewV512(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
            case VectorWidth.V256:
                LaneNewV256(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
            case VectorWidth.V128:
                LaneNewV128(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
            default:
                LaneNewScalar(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
        }
    }

    // n and h from the activated r and z, b_n and b_hn per unit; one method per width.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneNewV512(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            Vector512<float> bnu = Vector512.Create(bn[u]), bhnu = Vector512.Create(bhn[u]);
            for (int l = 0; l < lanes; l += Vector512<float>.Count)
            {
                float* g = gates + l;
                Vector512<float> hn = Vector512.Load(recurrent + l + (2 * lanes)) + bhnu;
                Vector512<float> ng = TanhOperator.Invoke((Vector512.Load(g + (2 * lanes)) + bnu) + (Vector512.Load(g) * hn));
                (ng + (Vector512.Load(g + lanes) * (Vector512.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneNewV256(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            Vector256<float> bnu = Vector256.Create(bn[u]), bhnu = Vector256.Create(bhn[u]);
            for (int l = 0; l < lanes; l += Vector256<float>.Count)
            {
                float* g = gates + l;
                Vector256<float> hn = Vector256.Load(recurrent + l + (2 * lanes)) + bhnu;
                Vector256<float> ng = TanhOperator.Invoke((Vector256.Load(g + (2 * lanes)) + bnu) + (Vector256.Load(g) * hn));
                (ng + (Vector256.Load(g + lanes) * (Vector256.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LaneNewV128(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            Vector128<float> bnu = Vector128.Create(bn[u]), bhnu = Vector128.Create(bhn[u]);
            for (int l = 0; l < lanes; l += Vector128<float>.Count)
            {
                float* g = gates + l;
                Vector128<float> hn = Vector128.Load(recurrent + l + (2 * lanes)) + bhnu;
                Vector128<float> ng = TanhOperator.Invoke((Vector128.Load(g + (2 * lanes)) + bnu) + (Vector128.Load(g) * hn));
                (ng + (Vector128.Load(g + lanes) * (Vector128.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    private static void LaneNewScalar(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l++)
            {
                float* g = gates + l;
                float hn = recurrent[l + (2 * lanes)] + bhn[u];
                float ng = TanhOperator.Invoke((g[2 * lanes] + bn[u]) + (g[0] * hn));
                hOut[l] = ng + (g[lanes] * (hPrev[l] - ng));
            }
        }
    }

    /// <summary>
    /// GRU reset-after, for one row of <paramref name="h"/> units: with h = n + z ⊙ (h_{t−1} − n),
    /// n = tanh(W_in x + b_in + r ⊙ hn) and hn = W_hn h_{t−1} + b_hn,
    /// <code>
    ///   dz = (dh ⊙ (h_{t−1} − n)) ⊙ σ'(z)     direct = dh ⊙ z           dn = (dh − direct) ⊙ tanh'(n)
    ///   dr = (dn ⊙ hn) ⊙ σ'(r)                 d(hn) = dn ⊙ r
    /// </code>
    /// <paramref name="gates"/> [3H] holds the activated r, z, n; <paramref name="dG"/> [3H] receives dr, dz, dn (the
    /// input columns' gradients) and <paramref name="dGh"/> [3H] dr, dz, dn ⊙ r (the recurrent columns', whose n row
    /// sits behind r); <paramref name="direct"/> [H] receives dh ⊙ z, the part of dL/dh_{t−1} that bypasses W_h.
    /// </summary>
    public static void ResetAfterBackward(float* gates, float* hn, float* hPrev, float* dh, float* dG, float* dGh, float* direct, int h, VectorWidth width)
    {
        var row = new GradientRow(gates, hn, hPrev, dh, dG, dGh, direct, h);
        nint i = width switch
        {
            VectorWidth.V512 => BackwardV512(row),
            VectorWidth.V256 => BackwardV256(row),
            VectorWidth.V128 => BackwardV128(row),
            _ => 0,
        };

        for (; i < h; i++)
        {
            float d = row.Dh[i], z = row.Z[i], n = row.N[i], r = row.R[i];
            float dz = (d * (row.HPrev[i] - n)) * SigmoidDerivativeOperator.Invoke(z);
            float through = d * z;
            float dn = (d - through) * TanhDerivativeOperator.Invoke(n);
            float dr = (dn * row.Hn[i]) * SigmoidDerivativeOperator.Invoke(r);
            row.Direct[i] = through;
            row.DR[i] = dr; row.DZ[i] = dz; row.DN[i] = dn;
            row.DRh[i] = dr; row.DZh[i] = dz; row.DNh[i] = dn * r;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint BackwardV512(in GradientRow w)
    {
        nint i = 0;
        for (; w.Size - i >= Vector512<float>.Count; i += Vector512<float>.Count)
        {
            Vector512<float> d = Vector512.Load(w.Dh + i), z = Vector512.Load(w.Z + i), n = Vector512.Load(w.N + i), r = Vector512.Load(w.R + i);
            Vector512<float> dz = (d * (Vector512.Load(w.HPrev + i) - n)) * SigmoidDerivativeOperator.Invoke(z);
            Vector512<float> through = d * z;
            Vector512<float> dn = (d - through) * TanhDerivativeOperator.Invoke(n);
            Vector512<float> dr = (dn * Vector512.Load(w.Hn + i)) * SigmoidDerivativeOperator.Invoke(r);
            through.Store(w.Direct + i);
            dr.Store(w.DR + i); dz.Store(w.DZ + i); dn.Store(w.DN + i);
            dr.Store(w.DRh + i); dz.Store(w.DZh + i); (dn * r).Store(w.DNh + i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint BackwardV256(in GradientRow w)
    {
        nint i = 0;
        for (; w.Size - i >= Vector256<float>.Count; i += Vector256<float>.Count)
        {
            Vector256<float> d = Vector256.Load(w.Dh + i), z = Vector256.Load(w.Z + i), n = Vector256.Load(w.N + i), r = Vector256.Load(w.R + i);
            Vector256<float> dz = (d * (Vector256.Load(w.HPrev + i) - n)) * SigmoidDerivativeOperator.Invoke(z);
            Vector256<float> through = d * z;
            Vector256<float> dn = (d - through) * TanhDerivativeOperator.Invoke(n);
            Vector256<float> dr = (dn * Vector256.Load(w.Hn + i)) * SigmoidDerivativeOperator.Invoke(r);
            through.Store(w.Direct + i);
            dr.Store(w.DR + i); dz.Store(w.DZ + i); dn.Store(w.DN + i);
            dr.Store(w.DRh + i); dz.Store(w.DZh + i); (dn * r).Store(w.DNh + i);
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static nint BackwardV128(in GradientRow w)
    {
        nint i = 0;
        for (; w.Size - i >= Vector128<float>.Count; i += Vector128<float>.Count)
        {
            Vector128<float> d = Vector128.Load(w.Dh + i), z = Vector128.Load(w.Z + i), n = Vector128.Load(w.N + i), r = Vector128.Load(w.R + i);
            Vector128<float> dz = (d * (Vector128.Load(w.HPrev + i) - n)) * SigmoidDerivativeOperator.Invoke(z);
            Vector128<float> through = d * z;
            Vector128<float> dn = (d - through) * TanhDerivativeOperator.Invoke(n);
            Vector128<float> dr = (dn * Vector128.Load(w.Hn + i)) * SigmoidDerivativeOperator.Invoke(r);
            through.Store(w.Direct + i);
            dr.Store(w.DR + i); dz.Store(w.DZ + i); dn.Store(w.DN + i);
            dr.Store(w.DRh + i); dz.Store(w.DZh + i); (dn * r).Store(w.DNh + i);
        }

        return i;
    }

    /// <summary>
    /// GRU reset-before, first part of backward (before d(r ⊙ h) = dn_pre · W_hn): GRU's h = n + z ⊙ (h_{t−1} − n) for
    /// one row. Writes dL/d(z pre-activation) and dL/d(n pre-activation) into <paramref name="da"/> and the direct term
    /// dh ⊙ z into <paramref name="direct"/>. The z and n blocks of <paramref name="da"/> hold their own temporaries, so
    /// rows can run on different threads.
    /// </summary>
    public static void ResetBeforeStateBackward(int h, ReadOnlySpan<float> gates, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> dh, Span<float> da, Span<float> direct)
    {
        ReadOnlySpan<float> z = gates.Slice(GateLayout.GruUpdate * h, h), n = gates.Slice(GateLayout.GruNew * h, h);
        Span<float> dz = da.Slice(GateLayout.GruUpdate * h, h), dn = da.Slice(GateLayout.GruNew * h, h);
        TensorPrimitives.Subtract(hPrev, n, dz);                   // dh/dz = h_{t−1} − n
        TensorPrimitives.Multiply(dh, dz, dz);
        Activations.Backward(ActivationKind.Sigmoid, z, dz, dz);
        TensorPrimitives.Multiply(dh, z, direct);                  // dh/dh_{t−1} (direct) = z
        TensorPrimitives.Subtract(dh, direct, dn);                 // dh/dn = 1 − z: dh − dh ⊙ z
        Activations.Backward(ActivationKind.Tanh, n, dn, dn);
    }

    /// <summary>
    /// GRU reset-before, second part of backward, for one row: with n = tanh(W_in x + b_in + W_hn (r ⊙ h_{t−1}) + b_hn)
    /// and <paramref name="dResetH"/> = d(r ⊙ h_{t−1}) = dn_pre · W_hn,
    /// <code>
    ///   dr = (d(r ⊙ h) ⊙ h_{t−1}) ⊙ σ'(r)        direct += d(r ⊙ h) ⊙ r
    /// </code>
    /// <paramref name="gates"/> [3H] holds the activated r, z, n; dr goes into r's block of <paramref name="da"/> [3H];
    /// <paramref name="direct"/> [H] (from <see cref="ResetBeforeStateBackward"/>) gains the part of dL/dh_{t−1} through
    /// r ⊙ h. <paramref name="scratch"/> [H] is a temporary.
    /// </summary>
    public static void ResetBeforeGatesBackward(int h, ReadOnlySpan<float> gates, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> dResetH, Span<float> da, Span<float> direct, Span<float> scratch)
    {
        ReadOnlySpan<float> r = gates.Slice(GateLayout.GruReset * h, h);
        TensorPrimitives.Multiply(dResetH, hPrev, scratch);
        Activations.Backward(ActivationKind.Sigmoid, r, scratch, da.Slice(GateLayout.GruReset * h, h));
        TensorPrimitives.Multiply(dResetH, r, scratch);
        TensorPrimitives.Add(direct, scratch, direct);
    }

    /// <summary>The rows of one GRU reset-after new-gate update (r, z activated; <see cref="Hn"/> null unless kept).</summary>
    private readonly struct NewRows(float* gates, float* recurrent, float* bias, nint n, float* newBias, float* hPrev, float* h, float* hn)
    {
        public readonly nint N = n;
        public readonly float* R = gates + (n * GateLayout.GruReset), Z = gates + (n * GateLayout.GruUpdate), New = gates + (n * GateLayout.GruNew);
        public readonly float* RecNew = recurrent + (n * GateLayout.GruNew), BiasNew = bias + (n * GateLayout.GruNew);
        public readonly float* NewBias = newBias, HPrev = hPrev, H = h, Hn = hn;
    }

    /// <summary>The rows of one GRU reset-after backward step (r, z, n in the same order for PyTorch and the engine).</summary>
    private readonly struct GradientRow(float* gates, float* hn, float* hPrev, float* dh, float* dG, float* dGh, float* direct, nint size)
    {
        public readonly nint Size = size;
        public readonly float* R = gates + (size * GateLayout.GruReset), Z = gates + (size * GateLayout.GruUpdate), N = gates + (size * GateLayout.GruNew);
        public readonly float* DR = dG + (size * GateLayout.GruReset), DZ = dG + (size * GateLayout.GruUpdate), DN = dG + (size * GateLayout.GruNew);
        public readonly float* DRh = dGh + (size * GateLayout.GruReset), DZh = dGh + (size * GateLayout.GruUpdate), DNh = dGh + (size * GateLayout.GruNew);
        public readonly float* Hn = hn, HPrev = hPrev, Dh = dh, Direct = direct;
    }
}
