using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Copies blocks of A and B into the micro-kernels' panel layouts, zero-padding partial panels so that
/// the micro-kernels always run full tiles. Written once for every width; MR and NR come from
/// <typeparamref name="TKernel"/>, so they are constants to the JIT.
/// </summary>
internal static unsafe class GemmPacking<TKernel>
    where TKernel : struct, IGemmMicroKernel
{
    /// <summary>
    /// How a block of <paramref name="mc"/> rows is tiled: the first <c>Full</c> rows in MR-row panels, the next
    /// <c>Short</c> rows in MRShort-row panels, and any rows left (fewer than MR) in one zero-padded MR-row panel.
    /// Short panels are used only where they cover the remainder exactly (M ≡ 4 mod 6 → one, M ≡ 2 mod 6 → two in
    /// place of the last MR panel), so no tile computes rows that are thrown away.
    /// </summary>
    public static (int Full, int Short) RowSplit(int mc)
    {
        int mr = TKernel.MR, ms = TKernel.MRShort, r = mc % mr;
        if (r == 0 || ms == mr)
        {
            return (mc - r, 0);
        }

        if (r % ms == 0)
        {
            return (mc - r, r);
        }

        return (r + mr) % ms == 0 && mc >= r + mr ? (mc - r - mr, r + mr) : (mc - r, 0);
    }

    /// <summary>
    /// Packs A(rows i0…i0+mc−1, depth p0…p0+kc−1) as row micro-panels of the heights <see cref="RowSplit"/> gives:
    /// the panel holding row i starts at <c>dst + i·kc</c> and stores <c>panel[k·height + i % height]</c>, zero
    /// for rows past mc. A(i, k) is <c>a[i·lda + k]</c>, or <c>a[k·lda + i]</c> when <paramref name="transA"/>.
    /// </summary>
    public static void PackA(float* a, nint lda, bool transA, int mc, int kc, float* dst)
    {
        Debug.Assert(mc > 0 && kc > 0);
        int mr = TKernel.MR, ms = TKernel.MRShort;
        (int full, int shortRows) = RowSplit(mc);
        if (transA)
        {
            PackTransposed(a, lda, mc, kc, full, shortRows, dst);
            return;
        }

        for (int i0 = 0; i0 < mc;)
        {
            int height = i0 >= full && i0 < full + shortRows ? ms : mr;
            PackPanel(a, lda, i0, Math.Min(height, mc - i0), height, kc, dst + ((nint)i0 * kc));
            i0 += height;
        }
    }

    /// <summary>Depth rows of a transposed A dealt out to the panels at once (see <see cref="PackTransposed"/>).</summary>
    private const int TransposedChunk = 8;

    /// <summary>
    /// A stored [K, M] (the weight gradients' dGᵀ): source row k holds depth k of every panel, so a block of
    /// <see cref="TransposedChunk"/> rows is dealt out to all the panels before the next block is read.
    /// </summary>
    /// <remarks>
    /// The rows are 4H floats apart (4 KiB at H = 256: every row in the same L1 set). Walking the whole depth one panel
    /// at a time read each row's lines once per panel, from L2 or beyond; a row at a time scattered into all the
    /// panels (24 KiB apart, again one set) and was slower still. Blocks of 8 rows keep both sides in L1; measured in
    /// the LSTM training row (H = 256, B = 32, T = 50) the transposed packing took 2.4–3.1 ms per call instead of 3.0–3.9.
    /// </remarks>
    private static void PackTransposed(float* a, nint lda, int mc, int kc, int full, int shortRows, float* dst)
    {
        int mr = TKernel.MR, ms = TKernel.MRShort;
        for (int k0 = 0; k0 < kc; k0 += TransposedChunk)
        {
            int chunk = Math.Min(TransposedChunk, kc - k0);
            for (int i0 = 0; i0 < mc;)
            {
                int height = i0 >= full && i0 < full + shortRows ? ms : mr;
                int rows = Math.Min(height, mc - i0);
                float* d = dst + ((nint)i0 * kc) + ((nint)k0 * height);
                float* src = a + ((nint)k0 * lda) + i0;
                if (rows == height && (height == 4 || height == 6))
                {
                    for (int k = 0; k < chunk; k++, src += lda, d += height)
                    {
                        Unsafe.WriteUnaligned(d, Unsafe.ReadUnaligned<Vector128<float>>(src));
                        if (height == 6)
                        {
                            Unsafe.WriteUnaligned(d + 4, Unsafe.ReadUnaligned<long>(src + 4));
                        }
                    }
                }
                else
                {
                    for (int k = 0; k < chunk; k++, src += lda, d += height)
                    {
                        int r = 0;
                        for (; r < rows; r++)
                        {
                            d[r] = src[r];
                        }

                        for (; r < height; r++)
                        {
                            d[r] = 0f;
                        }
                    }
                }

                i0 += height;
            }
        }
    }

    /// <summary>One A micro-panel of A stored [M, K]: <paramref name="rows"/> rows from <paramref name="i0"/>, zero-padded to <paramref name="height"/>.</summary>
    private static void PackPanel(float* a, nint lda, int i0, int rows, int height, int kc, float* panel)
    {
        if (rows == height && (height == 4 || height == 6) && Sse.IsSupported)
        {
            PackRowsTransposed(a + (i0 * lda), lda, height, kc, panel);
        }
        else
        {
            // A stored [M, K]: walk each source row once, scattering with stride height.
            for (int r = 0; r < rows; r++)
            {
                float* src = a + ((i0 + r) * lda);
                float* d = panel + r;
                for (int k = 0; k < kc; k++)
                {
                    d[(nint)k * height] = src[k];
                }
            }

            for (int r = rows; r < height; r++)
            {
                float* d = panel + r;
                for (int k = 0; k < kc; k++)
                {
                    d[(nint)k * height] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// A full panel of a row-major A ([M, K]: the inputs, states and dG rows): four depths at a time, the panel's
    /// first four rows go through a 4×4 transpose and rows 4–5 through one interleave, so each depth is written as
    /// one 4-float store (and one 2-float store at height 6) instead of a scatter of single floats.
    /// </summary>
    private static void PackRowsTransposed(float* a, nint lda, int height, int kc, float* panel)
    {
        float* r0 = a, r1 = a + lda, r2 = a + (2 * lda), r3 = a + (3 * lda), r4 = a + (4 * lda), r5 = a + (5 * lda);
        int k = 0;
        for (; k + 4 <= kc; k += 4)
        {
            Vector128<float> a0 = Sse.LoadVector128(r0 + k), a1 = Sse.LoadVector128(r1 + k);
            Vector128<float> a2 = Sse.LoadVector128(r2 + k), a3 = Sse.LoadVector128(r3 + k);
            Transpose4.InPlace(ref a0, ref a1, ref a2, ref a3);
            float* d = panel + ((nint)k * height);
            Sse.Store(d, a0);                                              // depth k:     rows 0–3
            Sse.Store(d + height, a1);                                     // depth k + 1
            Sse.Store(d + (2 * height), a2);
            Sse.Store(d + (3 * height), a3);
            if (height == 6)
            {
                Vector128<float> ef01 = Sse.UnpackLow(Sse.LoadVector128(r4 + k), Sse.LoadVector128(r5 + k));   // e0 f0 e1 f1
                Vector128<float> ef23 = Sse.UnpackHigh(Sse.LoadVector128(r4 + k), Sse.LoadVector128(r5 + k));  // e2 f2 e3 f3
                Sse.StoreLow(d + 4, ef01);
                Sse.StoreHigh(d + height + 4, ef01);
                Sse.StoreLow(d + (2 * height) + 4, ef23);
                Sse.StoreHigh(d + (3 * height) + 4, ef23);
            }
        }

        for (; k < kc; k++)
        {
            float* d = panel + ((nint)k * height);
            d[0] = r0[k]; d[1] = r1[k]; d[2] = r2[k]; d[3] = r3[k];
            if (height == 6)
            {
                d[4] = r4[k]; d[5] = r5[k];
            }
        }
    }

    /// <summary>
    /// Packs B(depth p0…p0+kc−1, columns j0…j0+nc−1) as NR-column panels, <paramref name="panelStride"/>
    /// floats apart: <c>dst[(j / NR)·panelStride + k·NR + j % NR] = B(k, j)</c>, zero for columns past nc.
    /// B(k, j) is <c>b[k·ldb + j]</c>, or <c>b[j·ldb + k]</c> when <paramref name="transB"/> (weights stored [N, K]).
    /// </summary>
    public static void PackB(float* b, nint ldb, bool transB, int kc, int nc, float* dst, nint panelStride)
    {
        Debug.Assert(nc > 0 && kc > 0 && panelStride >= (nint)kc * TKernel.NR);
        if (transB)
        {
            PackBTransposed(b, ldb, kc, nc, dst, panelStride);
        }
        else
        {
            PackBRows(b, ldb, kc, nc, dst, panelStride);
        }
    }

    /// <summary>
    /// B stored [K, N] (the weight gradients' x and h, T·B rows of X or H floats): each source row is read once, left
    /// to right, and dealt out NR floats to each panel. Walking one panel's depth at a time instead read 64 bytes of
    /// every row per panel: at 1600 rows of 1 KiB (the LSTM training row) the rows left L2 between panels, and the
    /// packing took ≈ 0.6 ms, a fifth of a 256-row weight-gradient product.
    /// </summary>
    private static void PackBRows(float* b, nint ldb, int kc, int nc, float* dst, nint panelStride)
    {
        int nr = TKernel.NR, full = nc / nr, rest = nc - (full * nr);
        for (int k = 0; k < kc; k++)
        {
            float* src = b + (k * ldb);
            float* d = dst + ((nint)k * nr);
            for (int p = 0; p < full; p++, src += nr, d += panelStride)
            {
                // The copy's size is a constant of the micro-kernel, so the JIT emits vector moves for it.
                Unsafe.CopyBlockUnaligned(d, src, (uint)(TKernel.NR * sizeof(float)));
            }

            if (rest > 0)
            {
                int j = 0;
                for (; j < rest; j++)
                {
                    d[j] = src[j];
                }

                for (; j < nr; j++)
                {
                    d[j] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// B stored [N, K] (weights): each source row is one output column. The depth is walked in chunks of 16 so that
    /// the destination rows being scattered into ([16, NR], 2 KiB at NR = 32) stay in L1.
    /// </summary>
    private static void PackBTransposed(float* b, nint ldb, int kc, int nc, float* dst, nint panelStride)
    {
        int nr = TKernel.NR;
        for (int j0 = 0; j0 < nc; j0 += nr)
        {
            int cols = Math.Min(nr, nc - j0);
            float* panel = dst + ((j0 / nr) * panelStride);
            for (int k0 = 0; k0 < kc; k0 += 16)
            {
                int chunk = Math.Min(16, kc - k0);
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + ((j0 + j) * ldb) + k0;
                    float* d = panel + ((nint)k0 * nr) + j;
                    for (int k = 0; k < chunk; k++)
                    {
                        d[(nint)k * nr] = src[k];
                    }
                }

                for (int j = cols; j < nr; j++)
                {
                    float* d = panel + ((nint)k0 * nr) + j;
                    for (int k = 0; k < chunk; k++)
                    {
                        d[(nint)k * nr] = 0f;
                    }
                }
            }
        }
    }
}
