using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The element-wise part of a cell's backward step, one batch row at a time: from dL/dh and dL/dc of step t to the
/// gate gradients dG and dL/dc_{t−1}, with the derivatives taken from the recorded outputs (σ' = y(1 − y),
/// tanh' = 1 − y² as one FMA).
/// </summary>
/// <remarks>
/// One pass over the row: the chain of products and derivatives that eleven span operations used to make (each
/// reading and writing the row again) runs per element, on values in registers. Each element sees the same IEEE
/// operations in the same order as that chain, so the bits are unchanged and the same at every width.
/// </remarks>
internal static unsafe class CellGradients
{
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
    public static void Lstm(float* gates, float* tanhC, float* cPrev, float* dhCell, float* dc, float* dG, float* dcPrev, int h, VectorWidth width)
    {
        var row = new LstmRow(gates, tanhC, cPrev, dhCell, dc, dG, dcPrev, h);
        nint i = width switch
        {
            VectorWidth.V512 => LstmV512(row),
            VectorWidth.V256 => LstmV256(row),
            VectorWidth.V128 => LstmV128(row),
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint LstmV512(in LstmRow r)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint LstmV256(in LstmRow r)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint LstmV128(in LstmRow r)
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
    public static void GruResetAfter(float* gates, float* hn, float* hPrev, float* dh, float* dG, float* dGh, float* direct, int h, VectorWidth width)
    {
        var row = new GruRow(gates, hn, hPrev, dh, dG, dGh, direct, h);
        nint i = width switch
        {
            VectorWidth.V512 => GruV512(row),
            VectorWidth.V256 => GruV256(row),
            VectorWidth.V128 => GruV128(row),
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint GruV512(in GruRow w)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint GruV256(in GruRow w)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static nint GruV128(in GruRow w)
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

    /// <summary>The rows of one GRU reset-after backward step (r, z, n in the same order for PyTorch and the engine).</summary>
    private readonly struct GruRow(float* gates, float* hn, float* hPrev, float* dh, float* dG, float* dGh, float* direct, nint size)
    {
        public readonly nint Size = size;
        public readonly float* R = gates + (size * GateLayout.GruReset), Z = gates + (size * GateLayout.GruUpdate), N = gates + (size * GateLayout.GruNew);
        public readonly float* DR = dG + (size * GateLayout.GruReset), DZ = dG + (size * GateLayout.GruUpdate), DN = dG + (size * GateLayout.GruNew);
        public readonly float* DRh = dGh + (size * GateLayout.GruReset), DZh = dGh + (size * GateLayout.GruUpdate), DNh = dGh + (size * GateLayout.GruNew);
        public readonly float* Hn = hn, HPrev = hPrev, Dh = dh, Direct = direct;
    }

    /// <summary>The rows of one LSTM backward step: gates in the engine's order, their gradients in PyTorch's.</summary>
    private readonly struct LstmRow(float* gates, float* tanhC, float* cPrev, float* dhCell, float* dc, float* dG, float* dcPrev, nint n)
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
