namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// One product C[M, N] = (accumulate ? C : 0) + op(A)[M, K] · op(B)[K, N] over raw pointers, already validated.
/// </summary>
/// <remarks>
/// op(A)(i, k) = transA ? A[k·lda + i] : A[i·lda + k];  op(B)(k, j) = transB ? B[j·ldb + k] : B[k·ldb + j].
/// When <see cref="BPacked"/> is set, B is ignored and op(B) comes from pre-packed NR-wide panels of
/// <see cref="BPanelStride"/> floats (the whole depth of the matrix, so a depth block starts at p0·NR).
/// </remarks>
internal unsafe struct GemmProblem
{
    public int M;
    public int N;
    public int K;
    public float* A;
    public nint Lda;
    public bool TransA;
    public float* B;
    public nint Ldb;
    public bool TransB;
    public float* BPacked;
    public nint BPanelStride;
    public float* C;
    public nint Ldc;
    public bool Accumulate;

    /// <summary>
    /// The batch-1 path streams the panels from the last to the first (which outputs are computed when, never the
    /// order of a sum): a sequence alternates the direction step by step, so that the panels read last by one step,
    /// still in L2, are the first the next step reads.
    /// </summary>
    public bool DescendingPanels;

    /// <summary>The sub-problem of columns [j0, j0 + n) (j0 a multiple of NR when B is packed).</summary>
    public readonly GemmProblem Columns(int j0, int n, int nr)
    {
        GemmProblem p = this;
        p.N = n;
        p.C = C + j0;
        if (BPacked != null)
        {
            p.BPacked = BPacked + ((j0 / nr) * BPanelStride);
        }
        else
        {
            p.B = TransB ? B + (j0 * Ldb) : B + j0;
        }

        return p;
    }

    /// <summary>The sub-problem of rows [i0, i0 + m).</summary>
    public readonly GemmProblem Rows(int i0, int m)
    {
        GemmProblem p = this;
        p.M = m;
        p.C = C + (i0 * Ldc);
        p.A = TransA ? A + i0 : A + (i0 * Lda);
        return p;
    }
}
