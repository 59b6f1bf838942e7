using System.Runtime.CompilerServices;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// A weight matrix packed once into the micro-kernel's panel layout and reused by every product
/// (DESIGN.md §3.2: packed when a model is built or loaded, never per call). Immutable; safe to share.
/// </summary>
/// <remarks>
/// Holds op(B)[K, N] for C = A · op(B): from weights W[N, K] (row-major, PyTorch's [out, in]) when
/// packed with <see cref="FromRowsAsColumns"/>, or from B[K, N] with <see cref="FromMatrix"/>.
/// <code>
///   panel p (columns p·NR … p·NR+NR−1), PanelStride = K·NR floats apart, 64-byte aligned:
///     [ B(0, p·NR) … B(0, p·NR+NR−1) | B(1, p·NR) … | … | B(K−1, …) ]    zero past column N
/// </code>
/// The panel width NR belongs to the <see cref="Width"/> the matrix was packed for; a product with a
/// packed matrix always runs at that width.
/// </remarks>
internal sealed unsafe class PackedMatrix
{
    private readonly PinnedPanels _storage;

    private PackedMatrix(int n, int k, VectorWidth width, bool transposed)
    {
        Transposed = transposed;
        N = n;
        K = k;
        Width = width;
        Nr = Gemm.PanelWidth(width);
        int panels = (n + Nr - 1) / Nr;
        PanelStride = (nint)k * Nr;
        long length = (long)panels * PanelStride;
        _storage = new PinnedPanels(length, nameof(n), $"{n}×{k}");
    }

    /// <summary>Columns of op(B): the output size of the product (for weights, the number of rows of W).</summary>
    public int N { get; }

    /// <summary>Depth of the product (for weights, the number of columns of W).</summary>
    public int K { get; }

    /// <summary>The vector width whose micro-kernel this layout serves.</summary>
    public VectorWidth Width { get; }

    /// <summary>Whether the source was W[N, K] (<see cref="FromRowsAsColumns"/>) rather than B[K, N].</summary>
    public bool Transposed { get; }

    /// <summary>Panel width NR of <see cref="Width"/>.</summary>
    public int Nr { get; }

    /// <summary>Floats between the starts of two panels (K·NR).</summary>
    public nint PanelStride { get; }

    /// <summary>Start of the first panel. Valid for the life of this object (the storage is pinned).</summary>
    public float* Panels => _storage.Pointer;

    /// <summary>Packs weights W[n, k] (row stride <paramref name="ldw"/>) so that products compute A · Wᵀ.</summary>
    public static PackedMatrix FromRowsAsColumns(ReadOnlySpan<float> w, int n, int k, int ldw, VectorWidth? width = null)
        => Pack(w, n, k, ldw, transposed: true, width);

    /// <summary>Packs B[k, n] (row stride <paramref name="ldb"/>) so that products compute A · B.</summary>
    public static PackedMatrix FromMatrix(ReadOnlySpan<float> b, int k, int n, int ldb, VectorWidth? width = null)
        => Pack(b, n, k, ldb, transposed: false, width);

    private static PackedMatrix Pack(ReadOnlySpan<float> source, int n, int k, int ld, bool transposed, VectorWidth? width)
    {
        ThrowHelper.ThrowIfNegative(n, nameof(n));
        ThrowHelper.ThrowIfNegative(k, nameof(k));
        if (transposed)
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(n, k, ld, source.Length, "w", "ldw");
        }
        else
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(k, n, ld, source.Length, "b", "ldb");
        }

        var packed = new PackedMatrix(n, k, width ?? Isa.Best, transposed);
        packed.Repack(source, ld);
        return packed;
    }

    /// <summary>
    /// Packs new values of the same shape, in place and without allocating (training re-packs after every
    /// optimiser step): <paramref name="source"/> is W[N, K] or B[K, N] as when this matrix was made.
    /// Not safe while another thread multiplies with this matrix.
    /// </summary>
    public void Repack(ReadOnlySpan<float> source, int ld)
    {
        if (Transposed)
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(N, K, ld, source.Length, nameof(source), nameof(ld));
        }
        else
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(K, N, ld, source.Length, nameof(source), nameof(ld));
        }

        if (N > 0 && K > 0)
        {
            fixed (float* src = source)
            {
                Gemm.PackPanels(Width, src, ld, Transposed, K, N, Panels, PanelStride);
            }
        }
    }
}
