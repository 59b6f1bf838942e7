using System.Runtime.InteropServices;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// OpenBLAS's sgemm/sgemv, the bar the issue sets for GEMM, called in the same BenchmarkDotNet run as our
/// kernels so that the ratio is measured under the same machine conditions. Needs libopenblas0
/// (Debian: <c>apt-get install libopenblas-dev</c>, which ../shared/peers/setup.sh also installs).
/// </summary>
internal static partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    public static bool IsAvailable => NativeLibrary.TryLoad(Library, out _);

    /// <summary>C[m, n] = A[m, k] · B[n, k]ᵀ (row-major), OpenBLAS restricted to one thread.</summary>
    public static void SgemmABt(int m, int n, int k, float[] a, float[] b, float[] c) =>
        cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1f, a, k, b, k, 0f, c, n);

    /// <summary>y[n] = W[n, k] · x[k].</summary>
    public static void Sgemv(int n, int k, float[] w, float[] x, float[] y) =>
        cblas_sgemv(RowMajor, NoTrans, n, k, 1f, w, k, x, 1, 0f, y, 1);

    /// <summary>Limits OpenBLAS to <paramref name="threads"/> threads (a no-op when the library is missing).</summary>
    public static void SetThreadsIfAvailable(int threads)
    {
        if (IsAvailable)
        {
            openblas_set_num_threads(threads);
        }
    }

    [LibraryImport(Library)]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc);

    [LibraryImport(Library)]
    private static partial void cblas_sgemv(int order, int trans, int m, int n, float alpha, float[] a, int lda, float[] x, int incx, float beta, float[] y, int incy);

    [LibraryImport(Library)]
    private static partial void openblas_set_num_threads(int threads);
}
