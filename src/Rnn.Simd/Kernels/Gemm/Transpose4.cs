using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>The 4×4 float transpose in SSE registers that the packing and lane code share (callers check <see cref="Sse.IsSupported"/>).</summary>
internal static class Transpose4
{
    /// <summary>Rows a, b, c, d in; columns out: a becomes (a0, b0, c0, d0), b (a1, b1, c1, d1), and so on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InPlace(ref Vector128<float> a, ref Vector128<float> b, ref Vector128<float> c, ref Vector128<float> d)
    {
        Vector128<float> t0 = Sse.UnpackLow(a, b), t1 = Sse.UnpackLow(c, d);     // a0 b0 a1 b1 | c0 d0 c1 d1
        Vector128<float> t2 = Sse.UnpackHigh(a, b), t3 = Sse.UnpackHigh(c, d);   // a2 b2 a3 b3 | c2 d2 c3 d3
        a = Sse.MoveLowToHigh(t0, t1);
        b = Sse.MoveHighToLow(t1, t0);
        c = Sse.MoveLowToHigh(t2, t3);
        d = Sse.MoveHighToLow(t3, t2);
    }
}
