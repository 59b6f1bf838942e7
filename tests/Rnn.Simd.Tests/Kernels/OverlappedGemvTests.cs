using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>
/// OverlappedGemv on its own: each call's batch-1 product and, over a chunk's steps, the 16 projected rows give the
/// bits of the separate packed products, on one thread and split over two (a partial last group of panels, tiles left
/// over when a step has more tiles than groups, both directions).
/// </summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed unsafe class OverlappedGemvTests
{
    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(2, 16)]
    [InlineData(1, 1)]
    public void StepsAndTiles_AreBitIdentical_ToTheSeparateProducts(int threads, int tileSteps)
    {
        const int n = 1024 + 64, inputDepth = 96, depth = 136, k = inputDepth + depth, rows = OverlappedGemv.Rows;
        var random = new TestRandom(17);
        float[] w = random.Array(n * k), h = random.Array(depth), y0 = random.Array(n), x = random.Array(rows * inputDepth);
        PackedMatrix packed = PackedMatrix.FromRowsAsColumns(w, n, k, k, VectorWidth.V512);
        Assert.True(OverlappedGemv.Serves(packed));

        float[] yExpected = (float[])y0.Clone(), cExpected = new float[rows * n];
        Gemm.MultiplyPackedRange(1, h, depth, packed, inputDepth, depth, n, yExpected, n, accumulate: true);
        Gemm.MultiplyPackedRange(rows, x, inputDepth, packed, 0, inputDepth, n, cExpected, n, accumulate: false);

        using var team = threads > 1 ? new ThreadTeam(threads) : null;
        float[] a = new float[rows * inputDepth], c = new float[rows * n];
        OverlappedGemv.PackRows(x, inputDepth, inputDepth, a);
        fixed (float* pa = a)
        fixed (float* pc = c)
        fixed (float* ph = h)
        {
            for (int step = 0; step < tileSteps; step++)
            {
                float[] y = (float[])y0.Clone();
                fixed (float* py = y)
                {
                    OverlappedGemv.Run(ph, inputDepth, depth, packed, n, py, accumulate: true, descending: step % 2 == 1, pa, inputDepth, pc, n, step, tileSteps, team);
                }

                StreamingTests.AssertBits(yExpected, y, $"y, step {step}");
            }
        }

        StreamingTests.AssertBits(cExpected, c, "projected rows");
    }
}
