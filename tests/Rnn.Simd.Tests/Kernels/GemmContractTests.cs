using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>The contracts of DESIGN.md §4 for the GEMM layer: determinism, errors, allocation, pooling.</summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class GemmContractTests
{
    private static readonly (int M, int N, int K)[] s_shapes =
        [(1, 1, 1), (1, 1027, 300), (3, 45, 70), (6, 32, 256), (17, 129, 257), (64, 520, 300), (100, 7, 513),
         (10, 40, 33), (14, 70, 300), (32, 1024, 256)]; // M ≡ 4, 2, 2 mod 6: short tiles after the 6-row ones

    /// <summary>Every width (in software where not accelerated) and 1, 2 and 3 threads give the same bits.</summary>
    [Fact]
    public void Results_AreBitIdentical_AcrossWidthsAndThreadCounts()
    {
        using var two = new ThreadTeam(2);
        using var three = new ThreadTeam(3);
        foreach ((int m, int n, int k) in s_shapes)
        {
            var gemm = new GemmCase(m, n, k, seed: 99);
            foreach (GemmVariant variant in Enum.GetValues<GemmVariant>())
            {
                float[] expected = gemm.Run(variant, accumulate: true, Isa.Best);
                foreach (VectorWidth width in new[] { VectorWidth.V512, VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar })
                {
                    foreach (ThreadTeam? team in new[] { null, two, three })
                    {
                        float[] actual = gemm.Run(variant, accumulate: true, width, team, checkAccuracy: false);
                        AssertBitIdentical(expected, actual, $"{gemm} {variant} {width} threads={team?.ThreadCount ?? 1}");
                    }
                }
            }
        }
    }

    [Fact]
    public void ZeroBytesAllocated_PerCall_AfterWarmUp()
    {
        var random = new TestRandom(1);
        int m = 70, n = 300, k = 260;
        float[] a = random.Array(m * k), b = random.Array(n * k), c = new float[m * n], x = random.Array(k), y = new float[n];
        PackedMatrix packed = PackedMatrix.FromRowsAsColumns(b, n, k, k);
        using var team = new ThreadTeam(2);

        void Calls()
        {
            Gemm.MultiplyABt(m, n, k, a, k, b, k, c, n, accumulate: false);
            Gemm.MultiplyAB(m, k, n, c, n, b, k, a, k, accumulate: true);
            Gemm.MultiplyAtB(n, k, m, c, n, a, k, b, k, accumulate: true);
            Gemm.MultiplyPacked(m, a, k, packed, c, n, accumulate: true);
            Gemm.MultiplyPacked(1, x, k, packed, y, n, accumulate: false);
            Gemm.MultiplyABt(m, n, k, a, k, b, k, c, n, accumulate: false, team);
            Gemm.MultiplyPacked(1, x, k, packed, y, n, accumulate: true, team);
        }

        AllocationAssert.None(Calls, team, repeats: 100);
    }

    [Fact]
    public void EveryPooledRental_IsReturned()
    {
        var pool = new TrackingArrayPool<float>();
        using var team = new ThreadTeam(2);
        var gemm = new GemmCase(40, 300, 270, seed: 4);
        foreach (GemmVariant variant in Enum.GetValues<GemmVariant>())
        {
            gemm.Run(variant, accumulate: false, Isa.Best, null, pool);
            gemm.Run(variant, accumulate: true, Isa.Best, team, pool);
        }

        var gemv = new GemmCase(1, 300, 270, seed: 4);
        gemv.Run(GemmVariant.PackedWeights, accumulate: false, Isa.Best, team, pool);
        Assert.True(pool.Rented > 0, "The kernels rented nothing from the pool they were given.");
        Assert.Equal(pool.Rented, pool.Returned);
        Assert.Equal(0, pool.Outstanding);
    }

    private static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} bit for bit.");
            }
        }
    }
}
