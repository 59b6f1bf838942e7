using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>
/// The products training runs as one where it ran two: a step's [x_t | h_{t−1}] against the whole fused matrix
/// (<see cref="Gemm.MultiplyPackedSplit"/>), and dW_ih, dW_hh with the bias sums from one packing of dGᵀ
/// (<see cref="Gemm.MultiplyAtBShared(int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, int, Span{float}, int, ReadOnlySpan{float}, int, int, Span{float}, int, Span{double}, bool, ThreadTeam?, System.Buffers.ArrayPool{float}?, VectorWidth)"/>):
/// the bits of the separate products at every width and thread count, and sums equal to a plain double loop.
/// </summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class TrainingProductTests
{
    private static readonly VectorWidth[] s_widths = [VectorWidth.V512, VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar];

    /// <summary>Rows (M ≡ 0, 2, 4 mod 6 and below one tile), input depth, recurrent depth, columns.</summary>
    private static readonly (int M, int K1, int K2, int N)[] s_split =
        [(4, 3, 5, 7), (9, 10, 64, 256), (16, 256, 256, 1024), (32, 256, 256, 1024), (20, 700, 400, 72), (14, 0, 33, 40)];

    [Fact]
    public void SplitA_HasTheBitsOfTheInputProduct_ThenTheRecurrentOne()
    {
        using var two = new ThreadTeam(2);
        foreach ((int m, int k1, int k2, int n) in s_split)
        {
            var random = new TestRandom((ulong)((m * 7) + k1));
            float[] x = random.Array(m * k1, -1, 1), h = random.Array(m * k2, -1, 1), w = random.Array(n * (k1 + k2), -1, 1);
            float[] start = random.Array(m * n, -1, 1);
            foreach (VectorWidth width in s_widths)
            {
                PackedMatrix fused = PackedMatrix.FromRowsAsColumns(w, n, k1 + k2, k1 + k2, width);
                foreach (bool accumulate in new[] { false, true })
                {
                    float[] expected = (float[])start.Clone();
                    Gemm.MultiplyPackedRange(m, x, k1, fused, 0, k1, n, expected, n, accumulate);
                    Gemm.MultiplyPackedRange(m, h, k2, fused, k1, k2, n, expected, n, accumulate: k1 > 0 || accumulate);
                    foreach (ThreadTeam? team in new[] { null, two })
                    {
                        float[] actual = (float[])start.Clone();
                        Gemm.MultiplyPackedSplit(m, x, k1, k1, h, k2, k2, fused, n, actual, n, accumulate, team);
                        Assert.True(Bits(expected).SequenceEqual(Bits(actual)), $"M={m} K1={k1} K2={k2} N={n} {width} accumulate={accumulate} threads={team?.ThreadCount ?? 1}");
                    }
                }
            }
        }
    }

    /// <summary>Gate width (rows of dW), steps·batch, input width, state width; 600 columns take the two-product fallback.</summary>
    private static readonly (int M, int K, int N1, int N2)[] s_shared =
        [(8, 5, 3, 4), (40, 27, 10, 64), (256, 300, 72, 72), (1024, 1100, 256, 256), (30, 13, 600, 20), (12, 9, 0, 17)];

    [Fact]
    public void SharedPacking_HasTheBitsOfTwoProducts_AndSumsInDouble()
    {
        using var two = new ThreadTeam(2);
        foreach ((int m, int k, int n1, int n2) in s_shared)
        {
            var random = new TestRandom((ulong)(m + k));
            float[] dG = random.Array(k * m, -1, 1), x = random.Array(k * n1, -1, 1), h = random.Array(k * n2, -1, 1);
            float[] startIh = random.Array(m * n1, -1, 1), startHh = random.Array(m * n2, -1, 1);

            // Σ_k dG[k, i] in double, k in order: the bias gradients as a pass of their own would add them.
            var sums = new double[m];
            for (int kk = 0; kk < k; kk++)
            {
                for (int i = 0; i < m; i++)
                {
                    sums[i] += dG[(kk * m) + i];
                }
            }

            foreach (VectorWidth width in s_widths)
            {
                float[] ih = (float[])startIh.Clone(), hh = (float[])startHh.Clone();
                Gemm.Multiply(true, false, m, n1, k, dG, m, x, n1, ih, n1, accumulate: true, null, null, width);
                Gemm.Multiply(true, false, m, n2, k, dG, m, h, n2, hh, n2, accumulate: true, null, null, width);
                foreach (ThreadTeam? team in new[] { null, two })
                {
                    float[] actualIh = (float[])startIh.Clone(), actualHh = (float[])startHh.Clone();
                    var actualSums = new double[m + 1];
                    actualSums.AsSpan().Fill(double.NaN);
                    Gemm.MultiplyAtBShared(m, k, dG, m, x, n1, n1, actualIh, n1, h, n2, n2, actualHh, n2, actualSums.AsSpan(0, m), accumulate: true, team, null, width);
                    string label = $"M={m} K={k} N1={n1} N2={n2} {width} threads={team?.ThreadCount ?? 1}";
                    Assert.True(Bits(ih).SequenceEqual(Bits(actualIh)), label + " dW_ih");
                    Assert.True(Bits(hh).SequenceEqual(Bits(actualHh)), label + " dW_hh");
                    Assert.True(sums.AsSpan().SequenceEqual(actualSums.AsSpan(0, m)), label + " sums");
                    Assert.True(double.IsNaN(actualSums[m]), label + " past the sums");
                }
            }
        }
    }

    [Fact]
    public void TrainingProducts_AllocateNothing_AfterWarmUp()
    {
        var random = new TestRandom(5);
        int m = 64, k = 48, n1 = 40, n2 = 32;
        float[] dG = random.Array(k * m), x = random.Array(k * n1), h = random.Array(k * n2), ih = new float[m * n1], hh = new float[m * n2];
        var sums = new double[m];
        PackedMatrix fused = PackedMatrix.FromRowsAsColumns(random.Array(m * (n1 + n2)), m, n1 + n2, n1 + n2);
        float[] rowsX = random.Array(k * n1), rowsH = random.Array(k * n2), gates = new float[k * m];
        using var team = new ThreadTeam(2);
        AllocationAssert.None(
            () =>
            {
                Gemm.MultiplyAtBShared(m, k, dG, m, x, n1, n1, ih, n1, h, n2, n2, hh, n2, sums, accumulate: true);
                Gemm.MultiplyAtBShared(m, k, dG, m, x, n1, n1, ih, n1, h, n2, n2, hh, n2, sums, accumulate: true, team);
                Gemm.MultiplyPackedSplit(k, rowsX, n1, n1, rowsH, n2, n2, fused, m, gates, m, accumulate: false);
                Gemm.MultiplyPackedSplit(k, rowsX, n1, n1, rowsH, n2, n2, fused, m, gates, m, accumulate: false, team);
            },
            team);
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
