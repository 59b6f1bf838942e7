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

    /// <summary>
    /// A second product with the same op(A) (transposed A only, B unpacked and stored [K, N2]): C2[M, N2] =
    /// (accumulate ? C2 : 0) + op(A) · B2, run on each packed block of A right after the first (the weight gradients
    /// dW_ih = dGᵀ·x and dW_hh = dGᵀ·h pack dGᵀ once). Null when there is none.
    /// </summary>
    public float* B2;
    public nint Ldb2;
    public int N2;
    public float* C2;
    public nint Ldc2;

    /// <summary>
    /// A second source of A (A not transposed): depths from <see cref="K1"/> on are <c>A2[i·Lda2 + k − K1]</c>, the first
    /// K1 <c>A[i·Lda + k]</c> (a step's input rows and recurrent state in one product over the fused [W_x | W_h]). Null when there is none.
    /// </summary>
    public float* A2;
    public nint Lda2;
    public int K1;

    /// <summary>
    /// When set (transposed A only), the packing of A also adds Σ_k op(A)(i, k) into <c>ASums[i]</c> in double, k in
    /// order (the bias gradients' column sums of dG, read once with the packing instead of in a pass of their own).
    /// The caller clears the sums first.
    /// </summary>
    public double* ASums;

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
        if (A2 != null)
        {
            p.A2 = A2 + (i0 * Lda2);
        }

        if (C2 != null)
        {
            p.C2 = C2 + (i0 * Ldc2);
        }

        if (ASums != null)
        {
            p.ASums = ASums + i0;
        }

        return p;
    }
}
