namespace Rnn.Simd.Tests.Reference;

/// <summary>The readable ground truth for matrix products: plain loops accumulating in double.</summary>
internal static class ReferenceGemm
{
    /// <summary>
    /// R[m, n] = Σ_k op(A)(i, k) · op(B)(k, j) in double, and S[m, n] = Σ_k |op(A)(i, k) · op(B)(k, j)|,
    /// the scale an FMA chain's rounding error is bounded by: |c − R| ≤ γ_K · S with γ_K ≈ K·2⁻²⁴.
    /// op(A)(i, k) = a[i·lda + k] (or a[k·lda + i] when transA); op(B)(k, j) = b[k·ldb + j] (or b[j·ldb + k]).
    /// </summary>
    public static (double[] Result, double[] Scale) Multiply(
        bool transA, bool transB, int m, int n, int k, float[] a, int lda, float[] b, int ldb)
    {
        // Gather op(A) by rows and op(B) by columns into dense double arrays, so the inner loop is a
        // contiguous dot product (the reference is run on thousands of shapes).
        var rowsA = new double[m * k];
        var colsB = new double[n * k];
        for (int i = 0; i < m; i++)
        {
            for (int p = 0; p < k; p++)
            {
                rowsA[(i * k) + p] = transA ? a[(p * lda) + i] : a[(i * lda) + p];
            }
        }

        for (int j = 0; j < n; j++)
        {
            for (int p = 0; p < k; p++)
            {
                colsB[(j * k) + p] = transB ? b[(j * ldb) + p] : b[(p * ldb) + j];
            }
        }

        var result = new double[m * n];
        var scale = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            ReadOnlySpan<double> row = rowsA.AsSpan(i * k, k);
            for (int j = 0; j < n; j++)
            {
                ReadOnlySpan<double> col = colsB.AsSpan(j * k, k);
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double term = row[p] * col[p];
                    sum += term;
                    abs += Math.Abs(term);
                }

                result[(i * n) + j] = sum;
                scale[(i * n) + j] = abs;
            }
        }

        return (result, scale);
    }
}
