namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// A register-blocked GEMM micro-kernel of one vector width: the only code that differs per width.
/// </summary>
/// <remarks>
/// Both operands come packed (see <see cref="GemmPacking{TKernel}"/>):
/// <code>
///   A micro-panel  a[k·MR + r]  = A(row r, depth k),  r &lt; MR   (zero rows past M)
///   B micro-panel  b[k·NR + j]  = B(depth k, col j),  j &lt; NR   (zero columns past N)
/// </code>
/// Every C element is computed as one FMA chain in increasing k:
/// acc = loadC ? C : +0; for k: acc = fma(a, b, acc). That is the determinism contract: the scalar kernel
/// computes exactly the same chain with <see cref="MathF.FusedMultiplyAdd"/>, so every width gives the same bits.
/// </remarks>
internal unsafe interface IGemmMicroKernel
{
    /// <summary>Rows of the register tile (A values broadcast per k).</summary>
    static abstract int MR { get; }

    /// <summary>
    /// Rows of the short tile (4): a block's last rows run in short tiles when that covers them exactly (M ≡ 4 or
    /// 2 mod 6 becomes 4 or 4 + 4), instead of a zero-padded MR tile. A panel of the short tile is a[k·MRShort + r].
    /// </summary>
    static abstract int MRShort { get; }

    /// <summary>Columns of the register tile (one or more vectors of B per k).</summary>
    static abstract int NR { get; }

    /// <summary>c[MR, NR] (row stride ldc) = (loadC ? c : 0) + Σ_k a[k, ·]ᵀ b[k, ·], k = 0 … kc−1 in order.</summary>
    static abstract void Tile(int kc, float* a, float* b, float* c, nint ldc, bool loadC);

    /// <summary>As <see cref="Tile"/> for MRShort rows: the same chains, so the same bits.</summary>
    static abstract void TileShort(int kc, float* a, float* b, float* c, nint ldc, bool loadC);

    /// <summary>
    /// The batch-1 product y[panelCount·NR] = (loadY ? y : 0) + x[kc] · B for <paramref name="panelCount"/>
    /// packed B panels <paramref name="panelStride"/> floats apart, streaming the panels once.
    /// </summary>
    static abstract void Gemv(int kc, float* x, float* b, nint panelStride, int panelCount, float* y, bool loadY);
}
