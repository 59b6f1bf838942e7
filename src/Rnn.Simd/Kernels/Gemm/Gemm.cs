using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Single-precision matrix products for forward and backpropagation through time, on row-major
/// views with row strides: C = A·Bᵀ (forward, X·Wᵀ), C = A·B (input gradients, dG·W) and
/// C = Aᵀ·B (weight gradients, dGᵀ·X), each overwriting C or adding into it.
/// </summary>
/// <remarks>
/// <para>Every element of C is one fused multiply-add chain over k = 0 … K−1 in order, starting from +0
/// (overwrite) or from C (accumulate). That makes results bit-identical for every vector width, thread
/// count and buffer address (DESIGN.md §4).</para>
/// <para>Arguments are validated once here (ArgumentException naming the parameter); the driver and
/// micro-kernels below only assert. C must not alias A or B. Scratch comes from <c>pool</c>
/// (default <see cref="ArrayPool{T}.Shared"/>) and is returned before the call ends; nothing is allocated.</para>
/// </remarks>
internal static unsafe class Gemm
{
    /// <summary>The panel width NR that packed matrices use at <paramref name="width"/>.</summary>
    public static int PanelWidth(VectorWidth width) => width switch
    {
        VectorWidth.V512 => MicroKernel512.NR,
        VectorWidth.V256 => MicroKernel256.NR,
        VectorWidth.V128 => MicroKernel128.NR,
        _ => MicroKernelScalar.NR,
    };

    /// <summary>The row-panel height MR of <paramref name="width"/>'s micro-kernel.</summary>
    public static int PanelHeight(VectorWidth width) => width switch
    {
        VectorWidth.V512 => MicroKernel512.MR,
        VectorWidth.V256 => MicroKernel256.MR,
        VectorWidth.V128 => MicroKernel128.MR,
        _ => MicroKernelScalar.MR,
    };

    /// <summary>The short row-panel height MRShort of <paramref name="width"/>'s micro-kernel.</summary>
    public static int ShortPanelHeight(VectorWidth width) => width switch
    {
        VectorWidth.V512 => MicroKernel512.MRShort,
        VectorWidth.V256 => MicroKernel256.MRShort,
        VectorWidth.V128 => MicroKernel128.MRShort,
        _ => MicroKernelScalar.MRShort,
    };

    /// <summary><see cref="GemmPacking{TKernel}.RowSplit"/> of <paramref name="rows"/> at <paramref name="width"/>.</summary>
    public static (int Full, int Short) RowSplit(VectorWidth width, int rows) => width switch
    {
        VectorWidth.V512 => GemmPacking<MicroKernel512>.RowSplit(rows),
        VectorWidth.V256 => GemmPacking<MicroKernel256>.RowSplit(rows),
        VectorWidth.V128 => GemmPacking<MicroKernel128>.RowSplit(rows),
        _ => GemmPacking<MicroKernelScalar>.RowSplit(rows),
    };

    /// <summary>C[m, n] = (accumulate ? C : 0) + A[m, k] · B[n, k]ᵀ.</summary>
    public static void MultiplyABt(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate, ThreadTeam? team = null, ArrayPool<float>? pool = null)
        => Multiply(false, true, m, n, k, a, lda, b, ldb, c, ldc, accumulate, team, pool, Isa.Best);

    /// <summary>C[m, n] = (accumulate ? C : 0) + A[m, k] · B[k, n].</summary>
    public static void MultiplyAB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate, ThreadTeam? team = null, ArrayPool<float>? pool = null)
        => Multiply(false, false, m, n, k, a, lda, b, ldb, c, ldc, accumulate, team, pool, Isa.Best);

    /// <summary>C[m, n] = (accumulate ? C : 0) + A[k, m]ᵀ · B[k, n].</summary>
    public static void MultiplyAtB(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate, ThreadTeam? team = null, ArrayPool<float>? pool = null)
        => Multiply(true, false, m, n, k, a, lda, b, ldb, c, ldc, accumulate, team, pool, Isa.Best);

    /// <summary>
    /// C = op(A) · op(B) at an explicit vector width (tests compare widths in one process; the Vector APIs
    /// run in software where a width is not accelerated). op(X) = Xᵀ when the trans flag is set.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate, ThreadTeam? team, ArrayPool<float>? pool, VectorWidth width)
    {
        ThrowHelper.ThrowIfNegative(m, nameof(m));
        ThrowHelper.ThrowIfNegative(n, nameof(n));
        ThrowHelper.ThrowIfNegative(k, nameof(k));
        if (transA)
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(k, m, lda, a.Length, nameof(a), nameof(lda));
        }
        else
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(m, k, lda, a.Length, nameof(a), nameof(lda));
        }

        if (transB)
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(n, k, ldb, b.Length, nameof(b), nameof(ldb));
        }
        else
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(k, n, ldb, b.Length, nameof(b), nameof(ldb));
        }

        ThrowHelper.ThrowIfMatrixDoesNotFit(m, n, ldc, c.Length, nameof(c), nameof(ldc));

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var problem = new GemmProblem
            {
                M = m, N = n, K = k,
                A = pa, Lda = lda, TransA = transA,
                B = pb, Ldb = ldb, TransB = transB,
                C = pc, Ldc = ldc,
                Accumulate = accumulate,
            };
            Dispatch(problem, team, pool ?? ArrayPool<float>.Shared, width);
        }
    }

    /// <summary>
    /// C[m, n] = (accumulate ? C : 0) + A[m, k] · op(B) with op(B) pre-packed (n = b.N, k = b.K). With
    /// m = 1 and a contiguous row this is the batch-1 path: the packed panels stream through once.
    /// Runs at the width <paramref name="b"/> was packed for.
    /// </summary>
    public static void MultiplyPacked(int m, ReadOnlySpan<float> a, int lda, PackedMatrix b, Span<float> c, int ldc, bool accumulate, ThreadTeam? team = null, ArrayPool<float>? pool = null)
    {
        if (b is null)
        {
            ThrowHelper.ArgumentNull(nameof(b));
        }

        ThrowHelper.ThrowIfNegative(m, nameof(m));
        ThrowHelper.ThrowIfMatrixDoesNotFit(m, b.K, lda, a.Length, nameof(a), nameof(lda));
        ThrowHelper.ThrowIfMatrixDoesNotFit(m, b.N, ldc, c.Length, nameof(c), nameof(ldc));

        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            var problem = new GemmProblem
            {
                M = m, N = b.N, K = b.K,
                A = pa, Lda = lda,
                BPacked = b.Panels, BPanelStride = b.PanelStride,
                C = pc, Ldc = ldc,
                Accumulate = accumulate,
            };
            DispatchPacked(problem, b, 0, team, pool ?? ArrayPool<float>.Shared);
            GC.KeepAlive(b);
        }
    }

    /// <summary>
    /// C[m, n] = (accumulate ? C : 0) + A[m, depthCount] · op(B)[depthStart … depthStart+depthCount−1, 0 … n−1]: a product
    /// with a block of the packed matrix's depth and its first <paramref name="n"/> columns. Layers use it to
    /// multiply the input part and the recurrent part of one fused [W_x | W_h] matrix separately.
    /// </summary>
    /// <remarks>
    /// <paramref name="descendingPanels"/> streams the batch-1 path's panels from the last to the first: the same
    /// sums (each element's chain is unchanged), in an order that lets a sequence alternate directions step by step.
    /// </remarks>
    public static void MultiplyPackedRange(int m, ReadOnlySpan<float> a, int lda, PackedMatrix b, int depthStart, int depthCount, int n, Span<float> c, int ldc, bool accumulate, ThreadTeam? team = null, ArrayPool<float>? pool = null, bool descendingPanels = false)
    {
        if (b is null)
        {
            ThrowHelper.ArgumentNull(nameof(b));
        }

        ThrowHelper.ThrowIfNegative(m, nameof(m));
        if ((uint)depthStart > (uint)b.K || (uint)depthCount > (uint)(b.K - depthStart))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(depthCount), $"Depth range [{depthStart}, {depthStart + depthCount}) is outside the matrix's depth {b.K}.");
        }

        if ((uint)n > (uint)b.N)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(n), $"{n} columns requested of a matrix with {b.N}.");
        }

        ThrowHelper.ThrowIfMatrixDoesNotFit(m, depthCount, lda, a.Length, nameof(a), nameof(lda));
        ThrowHelper.ThrowIfMatrixDoesNotFit(m, n, ldc, c.Length, nameof(c), nameof(ldc));

        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            var problem = new GemmProblem
            {
                M = m, N = n, K = depthCount,
                A = pa, Lda = lda,
                BPacked = b.Panels + ((nint)depthStart * b.Nr), BPanelStride = b.PanelStride,
                C = pc, Ldc = ldc,
                Accumulate = accumulate,
                DescendingPanels = descendingPanels,
            };
            DispatchPacked(problem, b, depthStart, team, pool ?? ArrayPool<float>.Shared);
            GC.KeepAlive(b);
        }
    }

    /// <summary>Packs op(B)[k, n] into the NR-wide panels of <paramref name="width"/>'s micro-kernel.</summary>
    internal static void PackPanels(VectorWidth width, float* b, nint ldb, bool transB, int k, int n, float* panels, nint panelStride)
    {
        switch (width)
        {
            case VectorWidth.V512:
                GemmPacking<MicroKernel512>.PackB(b, ldb, transB, k, n, panels, panelStride);
                break;
            case VectorWidth.V256:
                GemmPacking<MicroKernel256>.PackB(b, ldb, transB, k, n, panels, panelStride);
                break;
            case VectorWidth.V128:
                GemmPacking<MicroKernel128>.PackB(b, ldb, transB, k, n, panels, panelStride);
                break;
            default:
                GemmPacking<MicroKernelScalar>.PackB(b, ldb, transB, k, n, panels, panelStride);
                break;
        }
    }

    /// <summary>A product with packed weights: float32 panels here, reduced ones through <see cref="ReducedGemm"/>.</summary>
    private static void DispatchPacked(in GemmProblem problem, PackedMatrix b, int depthStart, ThreadTeam? team, ArrayPool<float> pool)
    {
        if (b.Precision == WeightPrecision.Float32)
        {
            Dispatch(problem, team, pool, b.Width);
        }
        else
        {
            ReducedGemm.Run(problem, b, depthStart, team, pool);
        }
    }

    internal static void Dispatch(in GemmProblem problem, ThreadTeam? team, ArrayPool<float> pool, VectorWidth width)
    {
        if (problem.M == 2 && problem.BPacked != null && !problem.TransA)
        {
            // Two rows against packed panels: one batch-1 pass a row (the panels stream through at bandwidth) rather
            // than one zero-padded MR-row tile that computes six rows to keep two. LSTM X = H = 256, one step at B = 2
            // (Zen 4, AVX-512): 86 µs through the tile, 49 µs as two passes (B = 1: 26 µs). Three rows are cheaper in
            // the tile (63 against 69 µs). The bits are the same: either way each element sums over K in order with FMA.
            GemmProblem row = problem;
            row.M = 1;
            for (int i = 0; i < 2; i++)
            {
                row.A = problem.A + (i * problem.Lda);
                row.C = problem.C + (i * problem.Ldc);
                DispatchWidth(row, team, pool, width);
            }

            return;
        }

        DispatchWidth(problem, team, pool, width);
    }

    private static void DispatchWidth(in GemmProblem problem, ThreadTeam? team, ArrayPool<float> pool, VectorWidth width)
    {
        switch (width)
        {
            case VectorWidth.V512:
                GemmDriver<MicroKernel512>.Run(problem, team, pool);
                break;
            case VectorWidth.V256:
                GemmDriver<MicroKernel256>.Run(problem, team, pool);
                break;
            case VectorWidth.V128 when Mad.SeparateWithAvx:
                // The opt-in without FMA: the same 8-wide panels, 256 bits at a time (the same bits).
                GemmDriver<MicroKernelAvx>.Run(problem, team, pool);
                break;
            case VectorWidth.V128:
                GemmDriver<MicroKernel128>.Run(problem, team, pool);
                break;
            default:
                GemmDriver<MicroKernelScalar>.Run(problem, team, pool);
                break;
        }
    }
}
