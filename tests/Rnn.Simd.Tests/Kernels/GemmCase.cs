using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Reference;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>How op(B) reaches the product, and whether A is stored transposed.</summary>
public enum GemmVariant
{
    /// <summary>C = A·B, A [M, K], B [K, N].</summary>
    AB,

    /// <summary>C = A·Bᵀ, B stored [N, K] (weights).</summary>
    ABt,

    /// <summary>C = Aᵀ·B, A stored [K, M] (weight gradients).</summary>
    AtB,

    /// <summary>C = A·Wᵀ with W [N, K] packed once.</summary>
    PackedWeights,

    /// <summary>C = A·B with B [K, N] packed once.</summary>
    PackedMatrix,
}

/// <summary>
/// One seeded product shape: logical op(A) [M, K], op(B) [K, N] and a starting C, the double reference,
/// and a checker that stores the operands in any variant with padded row strides and canary-guarded C.
/// </summary>
internal sealed class GemmCase
{
    /// <summary>Bits of a NaN with a payload no kernel produces: written around every destination view.</summary>
    public static readonly float Canary = BitConverter.Int32BitsToSingle(0x7FC0_DEAD);

    private const double Unit = 1.0 / (1 << 24);
    private readonly double[] _reference;
    private readonly double[] _scale;

    public GemmCase(int m, int n, int k, ulong seed, Func<TestRandom, float>? generator = null)
    {
        M = m;
        N = n;
        K = k;
        var random = new TestRandom(seed);
        generator ??= r => r.Uniform(-1f, 1f);
        A = Enumerable.Range(0, m * k).Select(_ => generator(random)).ToArray();
        B = Enumerable.Range(0, k * n).Select(_ => generator(random)).ToArray();
        C0 = Enumerable.Range(0, m * n).Select(_ => random.Uniform(-2f, 2f)).ToArray();
        (_reference, _scale) = ReferenceGemm.Multiply(false, false, m, n, k, A, k, B, n);
    }

    public int M { get; }

    public int N { get; }

    public int K { get; }

    /// <summary>op(A), dense row-major [M, K].</summary>
    public float[] A { get; }

    /// <summary>op(B), dense row-major [K, N].</summary>
    public float[] B { get; }

    /// <summary>The starting C for accumulating products, dense [M, N].</summary>
    public float[] C0 { get; }

    public override string ToString() => $"M={M} N={N} K={K}";

    /// <summary>Runs one variant and returns C densely (the canaries and tolerance already checked).</summary>
    public float[] Run(GemmVariant variant, bool accumulate, VectorWidth width, ThreadTeam? team = null, ArrayPool<float>? pool = null, bool checkAccuracy = true)
    {
        const int padA = 3, padB = 5, padC = 2, lead = 7, trail = 9;
        bool transA = variant == GemmVariant.AtB;
        bool transB = variant is GemmVariant.ABt or GemmVariant.PackedWeights;

        // Store op(A) and op(B) in the variant's layout with padded strides; padding holds NaN so that a
        // kernel reading outside the view poisons the result.
        int lda = (transA ? M : K) + padA;
        int ldb = (transB ? K : N) + padB;
        float[] a = new float[((transA ? K : M) * lda) + 1];
        float[] b = new float[((transB ? N : K) * ldb) + 1];
        a.AsSpan().Fill(float.NaN);
        b.AsSpan().Fill(float.NaN);
        for (int i = 0; i < M; i++)
        {
            for (int p = 0; p < K; p++)
            {
                a[transA ? (p * lda) + i : (i * lda) + p] = A[(i * K) + p];
            }
        }

        for (int p = 0; p < K; p++)
        {
            for (int j = 0; j < N; j++)
            {
                b[transB ? (j * ldb) + p : (p * ldb) + j] = B[(p * N) + j];
            }
        }

        int ldc = N + padC;
        int extent = M == 0 || N == 0 ? 0 : ((M - 1) * ldc) + N;
        float[] c = new float[lead + extent + trail];
        c.AsSpan().Fill(Canary);
        for (int i = 0; i < M; i++)
        {
            for (int j = 0; j < N; j++)
            {
                // Overwriting must ignore what C held, even NaN.
                c[lead + (i * ldc) + j] = accumulate ? C0[(i * N) + j] : float.NaN;
            }
        }

        Span<float> view = c.AsSpan(lead, extent);
        switch (variant)
        {
            case GemmVariant.PackedWeights:
                Gemm.MultiplyPacked(M, a, lda, PackedMatrix.FromRowsAsColumns(b, N, K, ldb, width), view, ldc, accumulate, team, pool);
                break;
            case GemmVariant.PackedMatrix:
                Gemm.MultiplyPacked(M, a, lda, PackedMatrix.FromMatrix(b, K, N, ldb, width), view, ldc, accumulate, team, pool);
                break;
            default:
                Gemm.Multiply(transA, transB, M, N, K, a, lda, b, ldb, view, ldc, accumulate, team, pool, width);
                break;
        }

        var dense = new float[M * N];
        for (int idx = 0; idx < c.Length; idx++)
        {
            int rel = idx - lead;
            bool inside = rel >= 0 && rel < extent && rel % ldc < N;
            if (inside)
            {
                dense[((rel / ldc) * N) + (rel % ldc)] = c[idx];
            }
            else
            {
                Assert.True(
                    BitConverter.SingleToInt32Bits(c[idx]) == BitConverter.SingleToInt32Bits(Canary),
                    $"{this} {variant}: wrote outside the destination at offset {rel}.");
            }
        }

        if (checkAccuracy)
        {
            CheckAccuracy(dense, accumulate, variant);
        }

        return dense;
    }

    /// <summary>
    /// |c − ref| ≤ (K + 1)·2⁻²⁴·(Σ|a·b| + |C0|) + (K + 1)·2⁻¹⁴⁹: the rounding bound of one FMA chain of
    /// length K (plus the final rounding), with room for denormal underflow. Non-finite references must match
    /// in kind: NaN where the reference is NaN, the same infinity where it is infinite.
    /// </summary>
    public void CheckAccuracy(float[] dense, bool accumulate, GemmVariant variant)
    {
        for (int idx = 0; idx < dense.Length; idx++)
        {
            double c0 = accumulate ? C0[idx] : 0.0;
            double expected = _reference[idx] + c0;
            double actual = dense[idx];
            if (double.IsNaN(expected) || double.IsInfinity(expected))
            {
                Assert.True(
                    expected.Equals(actual),
                    $"{this} {variant} acc={accumulate} at ({idx / N}, {idx % N}): expected {expected}, got {actual}.");
                continue;
            }

            double tolerance = ((K + 1) * Unit * (_scale[idx] + Math.Abs(c0)) * 1.0001) + ((K + 1) * (double)float.Epsilon);
            double error = Math.Abs(actual - expected);
            if (!(error <= tolerance))
            {
                Assert.Fail($"{this} {variant} acc={accumulate} at ({idx / N}, {idx % N}): expected {expected:R}, got {actual:R}, error {error:E3} > tolerance {tolerance:E3}.");
            }
        }
    }
}
