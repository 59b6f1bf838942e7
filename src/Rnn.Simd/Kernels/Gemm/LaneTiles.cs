using System.Runtime.CompilerServices;

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(in RowPanelLayout layout, int k, float* panels, int rowStart, int rowEnd, float* b, float* c, bool loadC)
    {
        for (int i = rowStart; i < rowEnd;)
        {
            i += Tile(layout, k, panels, i, b, c, loadC);
        }
    }

    /// <summary>The one tile of <see cref="Rows"/> whose panel starts at row <paramref name="i"/>; returns its height.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Tile(in RowPanelLayout layout, int k, float* panels, int i, float* b, float* c, bool loadC)
    {
        if (i >= layout.Full && i < layout.Full + layout.Short)
        {
            TKernel.TileShort(k, panels + ((nint)i * k), b, c + ((nint)i * TKernel.NR), TKernel.NR, loadC);
            return TKernel.MRShort;
        }

        TKernel.Tile(k, panels + ((nint)i * k), b, c + ((nint)i * TKernel.NR), TKernel.NR, loadC);
        return TKernel.MR;
    }

    /// <summary>Packs rows [<paramref name="rows"/>, K] of a row-major block (stride <paramref name="ld"/>) as one lane panel [K, NR], zero past the rows.</summary>
    public static void PackLanes(float* src, nint ld, int rows, int k, float* panel)
    {
        if (k > 0)
        {
            GemmPacking<TKernel>.PackB(src, ld, true, k, rows, panel, (nint)k * TKernel.NR);
        }
    }
}
