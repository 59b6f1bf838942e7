using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// Batch-1 sequences long enough for the input projection to ride along the recurrent products (Kernels/Gemm/OverlappedGemv
/// at Vector512, panels streamed in alternating directions at every width) give the bits of the same sequence run as one
/// row of a batch of two, whose products take the ordinary paths.
/// </summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class OverlappedProjectionTests
{
    public static TheoryData<int, int, int, int> Shapes() => new()
    {
        // input, hidden, steps, threads: depths equal and unequal, steps a multiple of 16 and not, tiles left over
        // when a thread has fewer groups of four panels than tiles, and two threads splitting the panels.
        { 16, 16, 32, 1 },
        { 24, 32, 45, 1 },
        { 40, 24, 50, 1 },
        { 96, 64, 71, 1 },
        { 256, 256, 40, 2 },
        { 200, 136, 49, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BatchOne_IsBitIdentical_ToARowOfABatchOfTwo(int input, int hidden, int steps, int threads)
    {
        using var team = threads > 1 ? new ThreadTeam(threads) : null;
        foreach (RecurrentNetworkOptions baseOptions in TestNetworks.Architectures(input, hidden, layers: 1))
        {
            foreach (bool bidirectional in new[] { false, true })
            {
                RecurrentNetworkOptions o = baseOptions with { Bidirectional = bidirectional };
                RecurrentNetwork network = TestNetworks.Create(o, seed: (ulong)(input + hidden + steps));
                var random = new TestRandom((ulong)steps);
                float[] x = random.Array(steps * input, -2f, 2f), other = random.Array(steps * input, -2f, 2f);
                float[] pair = new float[2 * steps * input];
                for (int t = 0; t < steps; t++)
                {
                    x.AsSpan(t * input, input).CopyTo(pair.AsSpan(2 * t * input));
                    other.AsSpan(t * input, input).CopyTo(pair.AsSpan(((2 * t) + 1) * input));
                }

                int features = o.LayerOutputSize, states = o.Directions * o.OutputSize;
                float[] y1 = new float[steps * features], y2 = new float[2 * steps * features];
                float[] h1 = new float[states], h2 = new float[2 * states];
                network.Forward(x, steps, 1, y1, hN: h1, threads: team);
                network.Forward(pair, steps, 2, y2, hN: h2, threads: team);

                string what = $"{o.Cell} {o.GruVariant} proj {o.ProjectionSize} bidirectional {bidirectional}, X={input} H={hidden} T={steps}, {threads} thread(s)";
                float[] row0 = new float[y1.Length];
                for (int t = 0; t < steps; t++)
                {
                    y2.AsSpan(2 * t * features, features).CopyTo(row0.AsSpan(t * features));
                }

                StreamingTests.AssertBits(row0, y1, what + ", output");
                float[] h0 = new float[states];
                for (int d = 0; d < o.Directions; d++)
                {
                    h2.AsSpan(2 * d * o.OutputSize, o.OutputSize).CopyTo(h0.AsSpan(d * o.OutputSize));
                }

                StreamingTests.AssertBits(h0, h1, what + ", h_n");
            }
        }
    }

    [Fact]
    public void BatchOneSequence_AllocatesNothing_AfterWarmUp()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 64, HiddenSize = 64 };
        RecurrentNetwork network = TestNetworks.Create(o, seed: 3);
        const int steps = 40;
        float[] x = new TestRandom(4).Array(steps * o.InputSize, -1f, 1f), y = new float[steps * o.OutputSize];
        using var team = new ThreadTeam(2);
        foreach (ThreadTeam? threads in new[] { null, team })
        {
            network.Forward(x, steps, 1, y, threads: threads);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++)
            {
                network.Forward(x, steps, 1, y, threads: threads);
            }

            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }
}
