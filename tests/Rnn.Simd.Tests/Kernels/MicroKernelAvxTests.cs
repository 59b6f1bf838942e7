using System.Buffers;
using System.Runtime.Intrinsics.X86;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>
/// <see cref="MicroKernelAvx"/>, the opt-in's 256-bit kernel over the 128-bit path's panels, against
/// <see cref="MicroKernel128"/>: the same bits for every tile kind (full, short, edge), the batch-1 product over every
/// count of panels its blocks of eight and pairs meet, and threads. Fused by default, separate under
/// RNN_SIMD_DETERMINISM=SameMachine without FMA: equal either way, since both kernels run the same chains.
/// </summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
[Trait("Determinism", "SameMachine")]
[Collection(NonParallelCollection.Name)]
public sealed unsafe class MicroKernelAvxTests
{
    [Fact]
    public void Products_AreBitIdentical_ToTheSseKernel()
    {
        if (!Avx.IsSupported)
        {
            return;   // The kernel runs only where AVX is (DOTNET_EnableAVX=0 or DOTNET_EnableHWIntrinsic=0 here).
        }

        using var two = new ThreadTeam(2);
        (int M, int N, int K)[] shapes =
            [(1, 1, 1), (6, 8, 1), (6, 8, 2), (4, 8, 3), (3, 45, 70), (17, 129, 257), (10, 40, 33), (14, 70, 300),
             (100, 7, 513), (64, 520, 300), (7, 1100, 1030)];
        var random = new TestRandom(21);
        foreach ((int m, int n, int k) in shapes)
        {
            float[] a = random.Array(m * k), b = random.Array(n * k), c0 = random.Array(m * n);
            foreach (bool transA in new[] { false, true })
            {
                foreach (bool transB in new[] { false, true })
                {
                    foreach (bool accumulate in new[] { false, true })
                    {
                        foreach (ThreadTeam? team in new[] { null, two })
                        {
                            float[] expected = Run<MicroKernel128>(m, n, k, a, transA, b, transB, c0, accumulate, team);
                            float[] actual = Run<MicroKernelAvx>(m, n, k, a, transA, b, transB, c0, accumulate, team);
                            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{m}×{n}×{k} transA={transA} transB={transB} accumulate={accumulate} threads={team?.ThreadCount ?? 1}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void BatchOneProducts_AreBitIdentical_ToTheSseKernel_ForEveryPanelCount()
    {
        if (!Avx.IsSupported)
        {
            return;
        }

        var random = new TestRandom(22);
        foreach (int k in new[] { 1, 5, 64, 300 })
        {
            // 1 … 26 panels of 8, and a partial last panel: the blocks of eight, the pairs, a single one.
            foreach (int n in Enumerable.Range(1, 26).Select(p => p * 8).Concat([3, 13, 77, 203]))
            {
                float[] x = random.Array(k), w = random.Array(n * k), y0 = random.Array(n);
                PackedMatrix packed = PackedMatrix.FromRowsAsColumns(w, n, k, k, VectorWidth.V128);
                foreach (bool accumulate in new[] { false, true })
                {
                    float[] expected = RunPacked<MicroKernel128>(x, packed, y0, accumulate);
                    float[] actual = RunPacked<MicroKernelAvx>(x, packed, y0, accumulate);
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"1×{n}×{k} accumulate={accumulate}");
                }
            }
        }
    }

    /// <summary>The opt-in takes the 256-bit kernel exactly where it is separate and AVX is there.</summary>
    [Fact]
    public void OptIn_ChoosesTheAvxKernel_OnlyWhereSeparateWithAvx() =>
        Assert.Equal(Mad.SeparateWhereEmulated && Avx.IsSupported, Mad.SeparateWithAvx);

    private static float[] Run<TKernel>(int m, int n, int k, float[] a, bool transA, float[] b, bool transB, float[] c0, bool accumulate, ThreadTeam? team)
        where TKernel : struct, IGemmMicroKernel
    {
        float[] c = (float[])c0.Clone();
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var problem = new GemmProblem
            {
                M = m, N = n, K = k,
                A = pa, Lda = transA ? m : k, TransA = transA,
                B = pb, Ldb = transB ? k : n, TransB = transB,
                C = pc, Ldc = n,
                Accumulate = accumulate,
            };
            GemmDriver<TKernel>.Run(problem, team, ArrayPool<float>.Shared);
        }

        return c;
    }

    private static float[] RunPacked<TKernel>(float[] x, PackedMatrix packed, float[] y0, bool accumulate)
        where TKernel : struct, IGemmMicroKernel
    {
        float[] y = (float[])y0.Clone();
        fixed (float* px = x)
        fixed (float* py = y)
        {
            var problem = new GemmProblem
            {
                M = 1, N = packed.N, K = packed.K,
                A = px, Lda = packed.K,
                BPacked = packed.Panels, BPanelStride = packed.PanelStride,
                C = py, Ldc = packed.N,
                Accumulate = accumulate,
            };
            GemmDriver<TKernel>.Run(problem, null, ArrayPool<float>.Shared);
        }

        GC.KeepAlive(packed);
        return y;
    }
}
