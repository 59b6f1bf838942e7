using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;

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
