using System.Runtime.CompilerServices;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Weight rows packed as the micro-kernel's row panels (its broadcast side, A), for products Cᵀ[N, lanes] = W · Xᵀ
/// whose vector side is a panel of NR batch rows (<see cref="LaneTiles{TKernel}"/>). Immutable unless re-packed;
/// safe to share.
/// </summary>
/// <remarks>
/// <code>
///   rows cut as GemmPacking.RowSplit(N) cuts them (see RowPanelLayout): MR-row panels, MRShort-row panels, then one
///   zero-padded MR-row panel; the panel holding row i starts at i·K floats and stores W(row i0 + r, k) at [k·height + r]
/// </code>
/// Why the weights go on the broadcast side at batch 16 … 128: each weight is loaded once per product and used for a
/// whole panel of batch rows, the weights stream through in one pass, and the batch panel (K·NR floats) stays in L1/L2.
/// With the weights as the vector side, each weight panel was re-read once per six batch rows and the first tile of
/// each panel stalled on L3 (16×2048×512 at AVX2: 373 µs against 420–460 µs).
/// </remarks>
internal sealed unsafe class PackedRowPanels
{
    private readonly PinnedPanels _storage;

    public PackedRowPanels(int n, int k, VectorWidth width)
    {
        ThrowHelper.ThrowIfNegative(n, nameof(n));
        ThrowHelper.ThrowIfNegative(k, nameof(k));
        Layout = RowPanelLayout.Of(width, n);
        K = k;
        Width = width;
        long length = (long)Layout.PaddedRows * k;
        _storage = new PinnedPanels(length, nameof(n), $"{n}×{k}");
    }

    /// <summary>How the rows are cut into panels.</summary>
    public RowPanelLayout Layout { get; }

    /// <summary>Rows of W: the output size of the product.</summary>
    public int N => Layout.Rows;

    /// <summary>Columns of W: the depth of the product.</summary>
    public int K { get; }

    /// <summary>The vector width whose micro-kernel this layout serves.</summary>
    public VectorWidth Width { get; }

    /// <summary>Start of the first panel. Valid for the life of this object (the storage is pinned).</summary>
    public float* Panels => _storage.Pointer;

    /// <summary>
    /// Packs W[N, K] (row stride <paramref name="ldw"/>, its first K columns) with its <paramref name="blocks"/> row blocks
    /// of N / blocks rows interleaved: packed row u·blocks + g is row g·(N / blocks) + u of W (the gate blocks of a cell
    /// become unit by unit). In place, without allocating; not safe while another thread multiplies with it.
    /// </summary>
    public void Repack(ReadOnlySpan<float> w, int ldw, int blocks)
    {
        RowPanelLayout layout = Layout;
        int k = K, blockRows = layout.Rows / blocks;
        ThrowHelper.ThrowIfMatrixDoesNotFit(layout.Rows, k, ldw, w.Length, nameof(w), nameof(ldw));
        if (blockRows * blocks != layout.Rows)
        {
            ThrowHelper.Argument(nameof(blocks), $"{layout.Rows} rows do not split into {blocks} blocks.");
        }

        fixed (float* src = w)
        {
            float* panels = Panels;
            for (int i0 = 0; i0 < layout.PaddedRows;)
            {
                int height = layout.HeightAt(i0);
                float* panel = panels + ((nint)i0 * k);
                for (int r = 0; r < height; r++)
                {
                    int row = i0 + r;
                    if (row < layout.Rows)
                    {
                        int from = ((row % blocks) * blockRows) + (row / blocks);
                        float* s = src + ((nint)from * ldw);
                        for (int j = 0; j < k; j++)
                        {
                            panel[((nint)j * height) + r] = s[j];
                        }
                    }
                    else
                    {
                        for (int j = 0; j < k; j++)
                        {
                            panel[((nint)j * height) + r] = 0f;
                        }
                    }
                }

                i0 += height;
            }
        }
    }
}

/// <summary>
/// How <see cref="GemmPacking{TKernel}.RowSplit"/> cuts <see cref="Rows"/> rows into panels at one width: rows
/// [0, Full) in MR-row panels, [Full, Full + Short) in MRShort-row panels, and any rows left in one MR-row panel
/// zero-padded to <see cref="PaddedRows"/>.
/// </summary>
internal readonly record struct RowPanelLayout(int Rows, int Full, int Short, int Mr, int MrShort)
{
    /// <summary>Rows the panels store (and a product writes): the split's panels, the last one padded to MR.</summary>
    public int PaddedRows => Full + Short + (Rows > Full + Short ? Mr : 0);

    public static RowPanelLayout Of(VectorWidth width, int rows)
    {
        (int full, int shortRows) = Gemm.RowSplit(width, rows);
        return new RowPanelLayout(rows, full, shortRows, Gemm.PanelHeight(width), Gemm.ShortPanelHeight(width));
    }

    /// <summary>Height of the panel that starts at row <paramref name="i0"/>.</summary>
    public int HeightAt(int i0) => i0 >= Full && i0 < Full + Short ? MrShort : Mr;
}
