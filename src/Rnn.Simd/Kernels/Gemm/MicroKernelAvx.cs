using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The 128-bit path's micro-kernel on 256-bit AVX registers: the same 6×8 tile and 8-wide panels as
/// <see cref="MicroKernel128"/> (so the same packed weights), each row of the tile one vector instead of two.
/// </summary>
/// <remarks>
/// <para>It runs only under <see cref="Mad.SeparateWithAvx"/>: the opt-in <see cref="Determinism.SameMachine"/> on x64
/// with AVX but no FMA (or under <c>DOTNET_EnableAVX2=0</c>), where .NET reports no accelerated
/// <see cref="Vector256{T}"/> and the engine otherwise stays at 128 bits. There every <see cref="Mad.Fma(Vector256{float}, Vector256{float}, Vector256{float})"/>
/// is AVX's multiply then add, and a broadcast is AVX's <c>vbroadcastss</c>; a multiply and an add round each lane
/// alone, so the bits are those of <see cref="MicroKernel128"/> (and of the scalar kernel) under the opt-in.</para>
/// <para>Elsewhere (tests on any machine) it is a correct kernel too, fused like every other, with the same bits.</para>
/// <para>Registers: the tile's six chains are one add each per depth, and six chains of a 3-cycle add keep two add
/// pipes busy (Zen 4; one on Sandy and Ivy Bridge, which need three): twice the multiply-adds per cycle of the
/// 128-bit kernel's separate form, as many as a 256-bit FMA kernel where multiplies and adds have their own pipes.</para>
/// </remarks>
internal readonly unsafe struct MicroKernelAvx : IGemmMicroKernel
{
    public static int MR => 6;

    public static int MRShort => 4;

    public static int NR => 8;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, nint ldc, bool loadC) => Rows(6, kc, a, b, c, ldc, loadC);

    /// <summary>The 4-row tile over 4-row A panels (a[k·4 + r]), as <see cref="MicroKernel128.TileShort"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void TileShort(int kc, float* a, float* b, float* c, nint ldc, bool loadC) => Rows(4, kc, a, b, c, ldc, loadC);

    /// <summary>
    /// A tile of <paramref name="rows"/> (6 or 4, a constant once inlined: the JIT drops the rows it does not have),
    /// one vector of 8 columns a row, one chain per row over k in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows(int rows, int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector256<float> c0, c1, c2, c3, c4 = Vector256<float>.Zero, c5 = Vector256<float>.Zero;
        if (loadC)
        {
            c0 = Vector256.Load(c);
            c1 = Vector256.Load(c + ldc);
            c2 = Vector256.Load(c + (2 * ldc));
            c3 = Vector256.Load(c + (3 * ldc));
            if (rows == 6)
            {
                c4 = Vector256.Load(c + (4 * ldc));
                c5 = Vector256.Load(c + (5 * ldc));
            }
        }
        else
        {
            c0 = c1 = c2 = c3 = Vector256<float>.Zero;
        }

        // One depth per iteration. (Unrolled twice it measured no faster: the loop's three integer instructions
        // issue beside the nineteen vector ones.)
        for (int k = 0; k < kc; k++)
        {
            Vector256<float> bk = Vector256.Load(b);
            c0 = Mad.Fma(Broadcast(a), bk, c0);
            c1 = Mad.Fma(Broadcast(a + 1), bk, c1);
            c2 = Mad.Fma(Broadcast(a + 2), bk, c2);
            c3 = Mad.Fma(Broadcast(a + 3), bk, c3);
            if (rows == 6)
            {
                c4 = Mad.Fma(Broadcast(a + 4), bk, c4);
                c5 = Mad.Fma(Broadcast(a + 5), bk, c5);
            }

            a += rows;
            b += 8;
        }

        c0.Store(c);
        c1.Store(c + ldc);
        c2.Store(c + (2 * ldc));
        c3.Store(c + (3 * ldc));
        if (rows == 6)
        {
            c4.Store(c + (4 * ldc));
            c5.Store(c + (5 * ldc));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Gemv(int kc, float* x, float* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        int p = 0;

        // Eight panels at once: eight independent chains (one vector each) cover the add's latency on two pipes,
        // and eight streams keep the prefetchers busy. Each chain runs over k in order.
        for (; p + 8 <= panelCount; p += 8)
        {
            float* b0 = b + (p * panelStride);
            float* yp = y + (p * 8);
            Vector256<float> y0, y1, y2, y3, y4, y5, y6, y7;
            if (loadY)
            {
                y0 = Vector256.Load(yp); y1 = Vector256.Load(yp + 8);
                y2 = Vector256.Load(yp + 16); y3 = Vector256.Load(yp + 24);
                y4 = Vector256.Load(yp + 32); y5 = Vector256.Load(yp + 40);
                y6 = Vector256.Load(yp + 48); y7 = Vector256.Load(yp + 56);
            }
            else
            {
                y0 = y1 = y2 = y3 = y4 = y5 = y6 = y7 = Vector256<float>.Zero;
            }

            nint s = panelStride;
            for (nint k = 0; k < kc; k++)
            {
                Vector256<float> xk = Broadcast(x + k);
                float* bk = b0 + (k * 8);
                y0 = Mad.Fma(xk, Vector256.Load(bk), y0);
                y1 = Mad.Fma(xk, Vector256.Load(bk + s), y1);
                y2 = Mad.Fma(xk, Vector256.Load(bk + (2 * s)), y2);
                y3 = Mad.Fma(xk, Vector256.Load(bk + (3 * s)), y3);
                y4 = Mad.Fma(xk, Vector256.Load(bk + (4 * s)), y4);
                y5 = Mad.Fma(xk, Vector256.Load(bk + (5 * s)), y5);
                y6 = Mad.Fma(xk, Vector256.Load(bk + (6 * s)), y6);
                y7 = Mad.Fma(xk, Vector256.Load(bk + (7 * s)), y7);
            }

            y0.Store(yp); y1.Store(yp + 8);
            y2.Store(yp + 16); y3.Store(yp + 24);
            y4.Store(yp + 32); y5.Store(yp + 40);
            y6.Store(yp + 48); y7.Store(yp + 56);
        }

        // The last panels (fewer than eight) two at a time, then one.
        for (; p < panelCount; p += 2)
        {
            bool two = p + 1 < panelCount;
            float* b0 = b + (p * panelStride);
            float* b1 = two ? b0 + panelStride : b0;
            float* yp = y + (p * 8);
            Vector256<float> y0 = loadY ? Vector256.Load(yp) : Vector256<float>.Zero;
            Vector256<float> y1 = loadY && two ? Vector256.Load(yp + 8) : Vector256<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector256<float> xk = Broadcast(x + k);
                y0 = Mad.Fma(xk, Vector256.Load(b0 + (k * 8)), y0);
                y1 = Mad.Fma(xk, Vector256.Load(b1 + (k * 8)), y1);
            }

            y0.Store(yp);
            if (two)
            {
                y1.Store(yp + 8);
            }
        }
    }

    /// <summary>*p in every lane: AVX's <c>vbroadcastss</c> from memory (without AVX2, <see cref="Vector256.Create(float)"/> would shuffle twice).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Broadcast(float* p) =>
        Avx.IsSupported ? Avx.BroadcastScalarToVector256(p) : Vector256.Create(*p);
}
