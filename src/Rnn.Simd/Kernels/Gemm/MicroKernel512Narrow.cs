using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// AVX-512 micro-kernel one vector of B wide: a 6×16 tile in 6 zmm accumulators, and <see cref="Strip"/>, four
/// consecutive 6-row A panels (24 rows) against one B panel in 24 accumulators. It serves the batch-in-lanes products
/// (<see cref="LaneTiles{TKernel}"/>) when the batch fills 16-lane panels and not 32-lane ones (B = 16, 48, 80, …),
/// with the weights packed as for <see cref="MicroKernel512"/> (the same MR and MRShort row panels).
/// </summary>
/// <remarks>
/// Why 24 rows: a zmm FMA issues about once a cycle with a latency of four (Zen 4 runs it on both 256-bit pipes), so
/// six chains barely cover the latency and each B vector loaded would feed only six FMAs; twenty-four chains reuse
/// each B vector for twenty-four FMAs, while the A values come as broadcasts. Every element is still one FMA chain
/// over k in order, so the bits are those of every other kernel.
/// </remarks>
internal readonly unsafe struct MicroKernel512Narrow : IGemmMicroKernel
{
    public static int MR => 6;

    public static int MRShort => 4;

    public static int NR => 16;

    /// <summary>Rows of <see cref="Strip"/>: four MR-row panels.</summary>
    public const int StripRows = 24;

    /// <summary>Floats ahead of each weight stream that <see cref="Strip"/> asks the cache for (the weights stream from L3).</summary>
    private const int PrefetchFloats = 256;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector512<float> c0, c1, c2, c3, c4, c5;
        if (loadC)
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + (2 * ldc));
            c3 = Vector512.Load(c + (3 * ldc)); c4 = Vector512.Load(c + (4 * ldc)); c5 = Vector512.Load(c + (5 * ldc));
        }
        else
        {
            c0 = c1 = c2 = c3 = c4 = c5 = Vector512<float>.Zero;
        }

        for (int k = 0; k < kc; k++)
        {
            Vector512<float> bk = Vector512.Load(b);
            c0 = Mad.Fma(Vector512.Create(a[0]), bk, c0);
            c1 = Mad.Fma(Vector512.Create(a[1]), bk, c1);
            c2 = Mad.Fma(Vector512.Create(a[2]), bk, c2);
            c3 = Mad.Fma(Vector512.Create(a[3]), bk, c3);
            c4 = Mad.Fma(Vector512.Create(a[4]), bk, c4);
            c5 = Mad.Fma(Vector512.Create(a[5]), bk, c5);
            a += 6;
            b += 16;
        }

        c0.Store(c); c1.Store(c + ldc); c2.Store(c + (2 * ldc));
        c3.Store(c + (3 * ldc)); c4.Store(c + (4 * ldc)); c5.Store(c + (5 * ldc));
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void TileShort(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector512<float> c0, c1, c2, c3;
        if (loadC)
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + (2 * ldc)); c3 = Vector512.Load(c + (3 * ldc));
        }
        else
        {
            c0 = c1 = c2 = c3 = Vector512<float>.Zero;
        }

        for (int k = 0; k < kc; k++)
        {
            Vector512<float> bk = Vector512.Load(b);
            c0 = Mad.Fma(Vector512.Create(a[0]), bk, c0);
            c1 = Mad.Fma(Vector512.Create(a[1]), bk, c1);
            c2 = Mad.Fma(Vector512.Create(a[2]), bk, c2);
            c3 = Mad.Fma(Vector512.Create(a[3]), bk, c3);
            a += 4;
            b += 16;
        }

        c0.Store(c); c1.Store(c + ldc); c2.Store(c + (2 * ldc)); c3.Store(c + (3 * ldc));
    }

    /// <summary>
    /// c[24, 16] (row stride 16) = (loadC ? c : 0) + Σ_k over the four consecutive MR-row panels at <paramref name="a"/>
    /// (panel q at a + q·6·kc, <c>a[q·6·kc + k·6 + r]</c>) against the B panel b[k·16 + lane].
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Strip(int kc, float* a, float* b, float* c, bool loadC)
    {
        float* a0 = a, a1 = a + (6 * (nint)kc), a2 = a1 + (6 * (nint)kc), a3 = a2 + (6 * (nint)kc);
        Vector512<float> c00, c01, c02, c03, c04, c05, c10, c11, c12, c13, c14, c15;
        Vector512<float> c20, c21, c22, c23, c24, c25, c30, c31, c32, c33, c34, c35;
        if (loadC)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16); c02 = Vector512.Load(c + 32);
            c03 = Vector512.Load(c + 48); c04 = Vector512.Load(c + 64); c05 = Vector512.Load(c + 80);
            c10 = Vector512.Load(c + 96); c11 = Vector512.Load(c + 112); c12 = Vector512.Load(c + 128);
            c13 = Vector512.Load(c + 144); c14 = Vector512.Load(c + 160); c15 = Vector512.Load(c + 176);
            c20 = Vector512.Load(c + 192); c21 = Vector512.Load(c + 208); c22 = Vector512.Load(c + 224);
            c23 = Vector512.Load(c + 240); c24 = Vector512.Load(c + 256); c25 = Vector512.Load(c + 272);
            c30 = Vector512.Load(c + 288); c31 = Vector512.Load(c + 304); c32 = Vector512.Load(c + 320);
            c33 = Vector512.Load(c + 336); c34 = Vector512.Load(c + 352); c35 = Vector512.Load(c + 368);
        }
        else
        {
            c00 = c01 = c02 = c03 = c04 = c05 = c10 = c11 = c12 = c13 = c14 = c15 = Vector512<float>.Zero;
            c20 = c21 = c22 = c23 = c24 = c25 = c30 = c31 = c32 = c33 = c34 = c35 = Vector512<float>.Zero;
        }

        // One B vector per depth feeds 24 chains; each weight is a broadcast straight from its panel.
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> bk = Vector512.Load(b);
            c00 = Mad.Fma(Vector512.Create(a0[0]), bk, c00);
            c01 = Mad.Fma(Vector512.Create(a0[1]), bk, c01);
            c02 = Mad.Fma(Vector512.Create(a0[2]), bk, c02);
            c03 = Mad.Fma(Vector512.Create(a0[3]), bk, c03);
            c04 = Mad.Fma(Vector512.Create(a0[4]), bk, c04);
            c05 = Mad.Fma(Vector512.Create(a0[5]), bk, c05);
            c10 = Mad.Fma(Vector512.Create(a1[0]), bk, c10);
            c11 = Mad.Fma(Vector512.Create(a1[1]), bk, c11);
            c12 = Mad.Fma(Vector512.Create(a1[2]), bk, c12);
            c13 = Mad.Fma(Vector512.Create(a1[3]), bk, c13);
            c14 = Mad.Fma(Vector512.Create(a1[4]), bk, c14);
            c15 = Mad.Fma(Vector512.Create(a1[5]), bk, c15);
            c20 = Mad.Fma(Vector512.Create(a2[0]), bk, c20);
            c21 = Mad.Fma(Vector512.Create(a2[1]), bk, c21);
            c22 = Mad.Fma(Vector512.Create(a2[2]), bk, c22);
            c23 = Mad.Fma(Vector512.Create(a2[3]), bk, c23);
            c24 = Mad.Fma(Vector512.Create(a2[4]), bk, c24);
            c25 = Mad.Fma(Vector512.Create(a2[5]), bk, c25);
            c30 = Mad.Fma(Vector512.Create(a3[0]), bk, c30);
            c31 = Mad.Fma(Vector512.Create(a3[1]), bk, c31);
            c32 = Mad.Fma(Vector512.Create(a3[2]), bk, c32);
            c33 = Mad.Fma(Vector512.Create(a3[3]), bk, c33);
            c34 = Mad.Fma(Vector512.Create(a3[4]), bk, c34);
            c35 = Mad.Fma(Vector512.Create(a3[5]), bk, c35);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(a0 + PrefetchFloats);
                Sse.Prefetch0(a1 + PrefetchFloats);
                Sse.Prefetch0(a2 + PrefetchFloats);
                Sse.Prefetch0(a3 + PrefetchFloats);
            }

            a0 += 6; a1 += 6; a2 += 6; a3 += 6;
            b += 16;
        }

        c00.Store(c); c01.Store(c + 16); c02.Store(c + 32); c03.Store(c + 48); c04.Store(c + 64); c05.Store(c + 80);
        c10.Store(c + 96); c11.Store(c + 112); c12.Store(c + 128); c13.Store(c + 144); c14.Store(c + 160); c15.Store(c + 176);
        c20.Store(c + 192); c21.Store(c + 208); c22.Store(c + 224); c23.Store(c + 240); c24.Store(c + 256); c25.Store(c + 272);
        c30.Store(c + 288); c31.Store(c + 304); c32.Store(c + 320); c33.Store(c + 336); c34.Store(c + 352); c35.Store(c + 368);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Gemv(int kc, float* x, float* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        // Four panels at once, one chain each over k in order (as MicroKernel512.Gemv, one vector per panel).
        int p = 0;
        for (; p + 4 <= panelCount; p += 4)
        {
            float* b0 = b + (p * panelStride), b1 = b0 + panelStride, b2 = b1 + panelStride, b3 = b2 + panelStride;
            float* yp = y + (p * 16);
            Vector512<float> y0 = loadY ? Vector512.Load(yp) : Vector512<float>.Zero;
            Vector512<float> y1 = loadY ? Vector512.Load(yp + 16) : Vector512<float>.Zero;
            Vector512<float> y2 = loadY ? Vector512.Load(yp + 32) : Vector512<float>.Zero;
            Vector512<float> y3 = loadY ? Vector512.Load(yp + 48) : Vector512<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                y0 = Mad.Fma(xk, Vector512.Load(b0 + (k * 16)), y0);
                y1 = Mad.Fma(xk, Vector512.Load(b1 + (k * 16)), y1);
                y2 = Mad.Fma(xk, Vector512.Load(b2 + (k * 16)), y2);
                y3 = Mad.Fma(xk, Vector512.Load(b3 + (k * 16)), y3);
            }

            y0.Store(yp); y1.Store(yp + 16); y2.Store(yp + 32); y3.Store(yp + 48);
        }

        for (; p < panelCount; p++)
        {
            float* b0 = b + (p * panelStride);
            Vector512<float> y0 = loadY ? Vector512.Load(y + (p * 16)) : Vector512<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                y0 = Mad.Fma(Vector512.Create(x[k]), Vector512.Load(b0 + (k * 16)), y0);
            }

            y0.Store(y + (p * 16));
        }
    }
}
