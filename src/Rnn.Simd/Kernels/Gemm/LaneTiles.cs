using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Products with the batch in the vector lanes: Cᵀ[rows, NR] = W[rows, K] · Xᵀ[K, NR] for weight rows packed as
/// <see cref="PackedRowPanels"/> and one panel of NR batch rows stored depth-major (<c>b[k·NR + lane]</c>, the layout
/// <see cref="GemmPacking{TKernel}.PackB"/> gives a [lanes, K] block with transB). Every element is the same FMA chain
/// over k as in the row-major products, so the bits are theirs.
/// </summary>
internal static unsafe class LaneTiles<TKernel>
    where TKernel : struct, IGemmMicroKernel
{
    /// <summary>
    /// <c>c[i·NR + lane] = (loadC ? c : 0) + Σ_k W(i, k)·b[k·NR + lane]</c> for the rows i in [<paramref name="rowStart"/>,
    /// <paramref name="rowEnd"/>), both at panel starts of <paramref name="layout"/> (<paramref name="rowEnd"/> may be its
    /// padded end, whose rows c must hold).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Rows(in RowPanelLayout layout, int k, float* panels, int rowStart, int rowEnd, float* b, float* c, bool loadC)
    {
        for (int i = rowStart; i < rowEnd;)
        {
            i += Tile(layout, k, panels, i, rowEnd, b, c, loadC);
        }
    }

    /// <summary>
    /// The one tile of <see cref="Rows"/> whose panel starts at row <paramref name="i"/>; returns its height: one
    /// panel, or at AVX-512 several MR-row panels at once where they are all full ones ending by
    /// <paramref name="rowEnd"/> (four with <see cref="MicroKernel512Narrow"/>, two with <see cref="LaneStrip512"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Tile(in RowPanelLayout layout, int k, float* panels, int i, int rowEnd, float* b, float* c, bool loadC)
    {
        if (typeof(TKernel) == typeof(MicroKernel512Narrow) && i + MicroKernel512Narrow.StripRows <= Math.Min(rowEnd, layout.Full))
        {
            MicroKernel512Narrow.Strip(k, panels + ((nint)i * k), b, c + ((nint)i * TKernel.NR), loadC);
            return MicroKernel512Narrow.StripRows;
        }

        if (typeof(TKernel) == typeof(MicroKernel512) && i + LaneStrip512.Rows <= Math.Min(rowEnd, layout.Full))
        {
            LaneStrip512.Tile(k, panels + ((nint)i * k), b, c + ((nint)i * TKernel.NR), loadC);
            return LaneStrip512.Rows;
        }

        if (i >= layout.Full && i < layout.Full + layout.Short)
        {
            TKernel.TileShort(k, panels + ((nint)i * k), b, c + ((nint)i * TKernel.NR), TKernel.NR, loadC);
            return TKernel.MRShort;
        }

        TKernel.Tile(k, panels + ((nint)i * k), b, c + ((nint)i * TKernel.NR), TKernel.NR, loadC);
        return TKernel.MR;
    }

    /// <summary>
    /// Int8 rows: <c>c[i·NR + lane] = fma(sums[i·NR + lane], scales[i], accumulate ? c[i·NR + lane] : +0)</c> for the
    /// rows i in [<paramref name="rowStart"/>, <paramref name="rowEnd"/>): the one scaling fma of the int8 products
    /// (see <see cref="ReducedGemm"/>), lane by lane, the same operation at every width. <paramref name="sums"/> may be
    /// <paramref name="c"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ScaleRows(float* sums, float* c, float* scales, int rowStart, int rowEnd, bool accumulate)
    {
        int nr = TKernel.NR;
        for (int i = rowStart; i < rowEnd; i++)
        {
            float* si = sums + ((nint)i * nr), ci = c + ((nint)i * nr);
            float scale = scales[i];
            int l = 0;
            if ((typeof(TKernel) == typeof(MicroKernel512) || typeof(TKernel) == typeof(MicroKernel512Narrow)) && Vector512.IsHardwareAccelerated)
            {
                Vector512<float> s = Vector512.Create(scale);
                for (; l + 16 <= nr; l += 16)
                {
                    Vector512.Store(Mad.Fma(Vector512.Load(si + l), s, accumulate ? Vector512.Load(ci + l) : Vector512<float>.Zero), ci + l);
                }
            }
            else if (typeof(TKernel) == typeof(MicroKernel256) && Vector256.IsHardwareAccelerated)
            {
                Vector256<float> s = Vector256.Create(scale);
                for (; l + 8 <= nr; l += 8)
                {
                    Vector256.Store(Mad.Fma(Vector256.Load(si + l), s, accumulate ? Vector256.Load(ci + l) : Vector256<float>.Zero), ci + l);
                }
            }

            for (; l < nr; l++)
            {
                ci[l] = Mad.Fma(si[l], scale, accumulate ? ci[l] : 0f);
            }
        }
    }

    /// <summary>Packs rows [<paramref name="rows"/>, K] of a row-major block (stride <paramref name="ld"/>) as one lane panel [K, NR], zero past the rows.</summary>
    public static void PackLanes(float* src, nint ld, int rows, int k, float* panel)
    {
        int nr = TKernel.NR;
        if (k == 0)
        {
            return;
        }

        if (!Sse.IsSupported || nr % 4 != 0)
        {
            GemmPacking<TKernel>.PackB(src, ld, true, k, rows, panel, (nint)k * nr);
            return;
        }

        // Four rows at a time through 4×4 transposes: each depth's four lanes are one store.
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            float* s0 = src + (r * ld), s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
            float* d = panel + r;
            int j = 0;
            for (; j + 4 <= k; j += 4)
            {
                Vector128<float> a = Sse.LoadVector128(s0 + j), b = Sse.LoadVector128(s1 + j);
                Vector128<float> c = Sse.LoadVector128(s2 + j), e = Sse.LoadVector128(s3 + j);
                Transpose4.InPlace(ref a, ref b, ref c, ref e);
                float* dj = d + ((nint)j * nr);
                Sse.Store(dj, a);                                                         // depth j: rows r … r+3
                Sse.Store(dj + nr, b);
                Sse.Store(dj + (2 * nr), c);
                Sse.Store(dj + (3 * nr), e);
            }

            for (; j < k; j++)
            {
                float* dj = d + ((nint)j * nr);
                dj[0] = s0[j]; dj[1] = s1[j]; dj[2] = s2[j]; dj[3] = s3[j];
            }
        }

        for (; r < nr; r++)
        {
            float* s0 = src + (r * ld);
            float* d = panel + r;
            for (int j = 0; j < k; j++)
            {
                d[(nint)j * nr] = r < rows ? s0[j] : 0f;
            }
        }
    }
}
