using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// The lane-major inference path (<see cref="DirectionLanes"/>) against the row-major one: the same outputs and final
/// states bit for bit, for every cell, stacked, bidirectional (concatenated and summed), with initial states, on one
/// and two threads, at panel-filling, padded and multi-panel batches. Per-sequence lengths keep a call on the
/// row-major path, so lengths all equal to T give the reference. Under the opt-in Determinism.SameMachine without FMA
/// too (the trait), where both paths run on MicroKernelAvx (or SSE without AVX), with separate multiply-adds.
/// </summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
[Trait("Determinism", "SameMachine")]
public sealed class LaneRunTests
{
    private static readonly int Nr = Gemm.PanelWidth(Isa.Best);

    public static TheoryData<int, int, int> Shapes()
    {
        // (hidden, batch, seed): odd unit counts leave tail strips; batches of one full panel, of panels with one lane
        // padding (a lane count that is no multiple of 4), of three panels; the wider rows split over two threads.
        // B = 15, 16 and 48 fill 16-lane panels: at AVX-512 they run one vector of lanes (MicroKernel512Narrow).
        var data = new TheoryData<int, int, int>();
        int seed = 0;
        // B = 16 at H = 64 and B = 64 at H = 48 split over two threads too (11 steps make two chunks at B = 16, three
        // at B = 64 in 32-lane panels).
        foreach ((int hidden, int batch) in new[] { (33, Nr), (21, OnePaddedLane()), (13, 3 * Nr), (70, 2 * Nr), (37, 15), (45, 16), (29, 48), (64, 16), (48, 64) })
        {
            data.Add(hidden, batch, ++seed);
        }

        return data;
    }

    /// <summary>The smallest batch in lanes that leaves one lane padding: 15 at NR = 4, 8 and 16, 31 at 32.</summary>
    private static int OnePaddedLane()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 8, HiddenSize = 8 };
        return Enumerable.Range(Nr, 4 * Nr).First(b => b % Nr == Nr - 1 && DirectionLanes.Applies(o, b, wholeSequences: true));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LanePath_MatchesTheRowPath_BitForBit(int hidden, int batch, int seed)
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions baseOptions in TestNetworks.Architectures(input: 19, hidden: hidden))
        {
            foreach (RecurrentNetworkOptions o in new[]
            {
                baseOptions,
                baseOptions with { Bidirectional = true },
                baseOptions with { Bidirectional = true, Merge = DirectionMerge.Sum, Layers = 1 },
            })
            {
                bool lanes = DirectionLanes.Applies(o, batch, wholeSequences: true);
                bool expected = o.ProjectionSize == 0 && !(o.Cell == CellType.Gru && o.GruVariant == GruVariant.ResetBefore);
                Assert.Equal(expected, lanes);
                Assert.False(DirectionLanes.Applies(o, batch, wholeSequences: false));

                RecurrentNetwork network = TestNetworks.Create(o, seed: (ulong)seed);
                const int steps = 11;
                var random = new TestRandom((ulong)(seed * 31));
                float[] x = random.Array(steps * batch * o.InputSize, -3f, 3f);
                float[] h0 = random.Array(o.Layers * o.Directions * batch * o.OutputSize, -1f, 1f);
                float[] c0 = o.Cell == CellType.Lstm ? random.Array(o.Layers * o.Directions * batch * o.HiddenSize, -2f, 2f) : [];
                int[] all = Enumerable.Repeat(steps, batch).ToArray();
                foreach (ThreadTeam? threads in new[] { null, team })
                {
                    (float[] y, float[] hN, float[] cN) = Run(network, o, x, steps, batch, h0, c0, default, threads);
                    (float[] yRef, float[] hNRef, float[] cNRef) = Run(network, o, x, steps, batch, h0, c0, all, threads);
                    BitAssert(yRef, y, $"{o} B={batch} outputs");
                    BitAssert(hNRef, hN, $"{o} B={batch} hN");
                    BitAssert(cNRef, cN, $"{o} B={batch} cN");
                }
            }
        }
    }

    [Fact]
    public void SmallOrSparseBatches_StayOnTheRowPath()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 8, HiddenSize = 8 };
        Assert.False(DirectionLanes.Applies(o, 1, wholeSequences: true));
        Assert.False(DirectionLanes.Applies(o, Nr + 1, wholeSequences: true));            // almost half the lanes padding
        Assert.False(DirectionLanes.Applies(o, Nr - (Nr / 4), wholeSequences: true));     // a quarter: slower than the rows
        Assert.True(DirectionLanes.Applies(o, 4 * Nr, wholeSequences: true));
    }

    private static (float[] Y, float[] HN, float[] CN) Run(
        RecurrentNetwork network, RecurrentNetworkOptions o, float[] x, int steps, int batch, float[] h0, float[] c0, int[]? lengths, ThreadTeam? threads)
    {
        float[] y = new float[steps * batch * o.LayerOutputSize];
        float[] hN = new float[o.Layers * o.Directions * batch * o.OutputSize];
        float[] cN = o.Cell == CellType.Lstm ? new float[o.Layers * o.Directions * batch * o.HiddenSize] : [];
        network.Forward(x, steps, batch, y, h0, c0, hN, cN, lengths: lengths, threads: threads);
        return (y, hN, cN);
    }

    private static void BitAssert(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, the row path gives {expected[i]:R}.");
            }
        }
    }
}
