using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Two consecutive 6-row weight panels (12 rows) against one 32-lane panel of <see cref="MicroKernel512"/> in 24 zmm
/// accumulators: the batch-in-lanes tile of <see cref="LaneTiles{TKernel}"/> at 32 lanes. <see cref="MicroKernel512.Tile"/>'s
/// 12 chains load two B vectors for every twelve FMAs; here the same two vectors feed twenty-four. Every element
/// is still one FMA chain over k in order, so the bits are those of every other kernel.
/// </summary>
internal static unsafe class LaneStrip512
{
    /// <summary>Rows of <see cref="Tile"/>: two MR-row panels.</summary>
    public const int Rows = 12;

    /// <summary>Floats ahead of each weight stream that <see cref="Tile"/> asks the cache for (the weights stream from L3).</summary>
    private const int PrefetchFloats = 256;

    /// <summary>
    /// c[12, 32] (row stride 32) = (loadC ? c : 0) + Σ_k over the panels a[k·6 + r] and a[6·kc + k·6 + r] against the
    /// B panel b[k·32 + lane].
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, bool loadC)
    {
        float* a0 = a, a1 = a + (6 * (nint)kc);
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        Vector512<float> d00, d01, d10, d11, d20, d21, d30, d31, d40, d41, d50, d51;
        if (loadC)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16); c10 = Vector512.Load(c + 32); c11 = Vector512.Load(c + 48);
            c20 = Vector512.Load(c + 64); c21 = Vector512.Load(c + 80); c30 = Vector512.Load(c + 96); c31 = Vector512.Load(c + 112);
            c40 = Vector512.Load(c + 128); c41 = Vector512.Load(c + 144); c50 = Vector512.Load(c + 160); c51 = Vector512.Load(c + 176);
            d00 = Vector512.Load(c + 192); d01 = Vector512.Load(c + 208); d10 = Vector512.Load(c + 224); d11 = Vector512.Load(c + 240);
            d20 = Vector512.Load(c + 256); d21 = Vector512.Load(c + 272); d30 = Vector512.Load(c + 288); d31 = Vector512.Load(c + 304);
            d40 = Vector512.Load(c + 320); d41 = Vector512.Load(c + 336); d50 = Vector512.Load(c + 352); d51 = Vector512.Load(c + 368);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector512<float>.Zero;
            d00 = d01 = d10 = d11 = d20 = d21 = d30 = d31 = d40 = d41 = d50 = d51 = Vector512<float>.Zero;
        }

        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), ar;
            ar = Vector512.Create(a0[0]); c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector512.Create(a0[1]); c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector512.Create(a0[2]); c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector512.Create(a0[3]); c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector512.Create(a0[4]); c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector512.Create(a0[5]); c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
            ar = Vector512.Create(a1[0]); d00 = Mad.Fma(ar, b0, d00); d01 = Mad.Fma(ar, b1, d01);
            ar = Vector512.Create(a1[1]); d10 = Mad.Fma(ar, b0, d10); d11 = Mad.Fma(ar, b1, d11);
            ar = Vector512.Create(a1[2]); d20 = Mad.Fma(ar, b0, d20); d21 = Mad.Fma(ar, b1, d21);
            ar = Vector512.Create(a1[3]); d30 = Mad.Fma(ar, b0, d30); d31 = Mad.Fma(ar, b1, d31);
            ar = Vector512.Create(a1[4]); d40 = Mad.Fma(ar, b0, d40); d41 = Mad.Fma(ar, b1, d41);
            ar = Vector512.Create(a1[5]); d50 = Mad.Fma(ar, b0, d50); d51 = Mad.Fma(ar, b1, d51);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(a0 + PrefetchFloats);
                Sse.Prefetch0(a1 + PrefetchFloats);
            }

            a0 += 6; a1 += 6;
            b += 32;
        }

        c00.Store(c); c01.Store(c + 16); c10.Store(c + 32); c11.Store(c + 48);
        c20.Store(c + 64); c21.Store(c + 80); c30.Store(c + 96); c31.Store(c + 112);
        c40.Store(c + 128); c41.Store(c + 144); c50.Store(c + 160); c51.Store(c + 176);
        d00.Store(c + 192); d01.Store(c + 208); d10.Store(c + 224); d11.Store(c + 240);
        d20.Store(c + 256); d21.Store(c + 272); d30.Store(c + 288); d31.Store(c + 304);
        d40.Store(c + 320); d41.Store(c + 336); d50.Store(c + 352); d51.Store(c + 368);
    }
}
