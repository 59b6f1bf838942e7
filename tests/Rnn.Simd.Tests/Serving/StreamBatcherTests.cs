using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Serving;

/// <summary>
/// <see cref="StreamBatcher"/> (issue 20, item 1): any set of streams stepped as one batch gives every stream the bits
/// of <see cref="RecurrentNetwork.Step"/> on its own state, for every cell, stacked, at batches that take the row-major,
/// the lane and the batch-1 paths, on one and two threads, with streams joining and leaving, reset, snapshot and
/// restore between steps.
/// </summary>
[Trait("Category", "Serving")]
[Trait("Isa", "All")]
public sealed class StreamBatcherTests
{
    private static readonly int Nr = Gemm.PanelWidth(Isa.Best);

    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        int count = ServedArchitectures().Count();
        for (int a = 0; a < count; a++)
        {
            data.Add(a, 1);
            data.Add(a, 2);
        }

        return data;
    }

    /// <summary>
    /// Elman (tanh, ReLU), LSTM (with and without projection), GRU (both variants), two layers; a three-layer LSTM; and
    /// GRU and LSTM with ONNX's cell clip (the general path of <see cref="RecurrentNetworkOptions"/>' extras).
    /// </summary>
    internal static IEnumerable<RecurrentNetworkOptions> ServedArchitectures() =>
    [
        .. TestNetworks.Architectures(input: 7, hidden: 33, layers: 2),
        new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 20, Layers = 3 },
        new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 6, HiddenSize = 17, Layers = 2, CellClip = 1.5f },
        new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 6, HiddenSize = 17, CellClip = 1.5f },
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnySetOfStreams_SteppedTogether_GetsTheBitsOfStepAlone(int architecture, int threads)
    {
        RecurrentNetworkOptions o = ServedArchitectures().ElementAt(architecture);
        RecurrentNetwork network = TestNetworks.Create(o, seed: (ulong)architecture + 40);
        using ThreadTeam? team = threads > 1 ? new ThreadTeam(threads) : null;
        var random = new TestRandom((ulong)(architecture * 7) + (ulong)threads);
        var batcher = new StreamBatcher(network);
        var live = new List<(StreamId Id, RecurrentState Reference)>();
        void Join()
        {
            live.Add((batcher.Add(), network.CreateState()));
        }

        for (int i = 0; i < (2 * Nr) + 3; i++)
        {
            Join();
        }

        // Batch sizes around the lane panels (NR − 1, NR, NR + 1, 2·NR), the batch-1 path, small row-major batches, all.
        int[] sizes = [1, 2, 3, 5, Nr - 1, Nr, Nr + 1, 2 * Nr, int.MaxValue];
        bool sawLanes = false;
        for (int round = 0; round < 45; round++)
        {
            // Streams join and leave; some are reset, snapshotted or restored between steps.
            switch (random.Next(6))
            {
                case 0:
                    Join();
                    break;
                case 1 when live.Count > 2:
                {
                    int leaving = random.Next(live.Count);
                    batcher.Remove(live[leaving].Id);
                    Assert.False(batcher.Contains(live[leaving].Id));
                    live.RemoveAt(leaving);
                    break;
                }

                case 2:
                {
                    (StreamId id, RecurrentState reference) = live[random.Next(live.Count)];
                    batcher.Reset(id);
                    reference.Reset();
                    break;
                }

                case 3:
                {
                    (StreamId id, RecurrentState reference) = live[random.Next(live.Count)];
                    RecurrentState restored = RandomState(network, random);
                    batcher.Restore(id, restored);
                    reference.CopyFrom(restored);
                    break;
                }
            }

            int n = Math.Min(sizes[round % sizes.Length], live.Count);
            sawLanes |= n > 1 && DirectionLanes.Applies(o, n, wholeSequences: true);
            var chosen = Choose(live, n, random);
            StreamId[] ids = [.. chosen.Select(s => s.Id)];
            float[] x = random.Array(n * o.InputSize, -2f, 2f);
            float[] y = new float[n * o.OutputSize];
            batcher.Step(ids, x, y, team);

            for (int i = 0; i < n; i++)
            {
                float[] alone = new float[o.OutputSize];
                network.Step(chosen[i].Reference, x.AsSpan(i * o.InputSize, o.InputSize), alone);
                AssertBits(alone, y.AsSpan(i * o.OutputSize, o.OutputSize).ToArray(), $"{o.Cell} round {round}, row {i} of {n}");
            }

            // Every stream's state, stepped this round or not, is its reference's.
            foreach ((StreamId id, RecurrentState reference) in live)
            {
                AssertSameState(batcher, id, reference, $"{o.Cell} round {round}");
            }
        }

        bool lanesApply = o.ProjectionSize == 0 && o.CellClip == 0 && !(o.Cell == CellType.Gru && o.GruVariant == GruVariant.ResetBefore);
        Assert.Equal(lanesApply, sawLanes);
    }

    [Fact]
    public void Slots_AreReused_AndStaleIdsRefused()
    {
        var batcher = new StreamBatcher(TestNetworks.Create(new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 3, HiddenSize = 4 }), capacity: 8);
        StreamId[] first = [.. Enumerable.Range(0, 8).Select(_ => batcher.Add())];
        Assert.Equal(8, batcher.Capacity);
        foreach (StreamId id in first.Take(5))
        {
            batcher.Remove(id);
        }

        StreamId[] second = [.. Enumerable.Range(0, 5).Select(_ => batcher.Add())];
        Assert.Equal(8, batcher.Capacity);     // the pool did not grow
        Assert.Equal(8, batcher.Count);
        Assert.Equal(first.Take(5).Select(s => s.Slot).Order(), second.Select(s => s.Slot).Order());
        Assert.All(first.Take(5), id => Assert.False(batcher.Contains(id)));
        Assert.All(second, id => Assert.DoesNotContain(id, first));
        Assert.Throws<ArgumentException>(() => batcher.Step([first[0]], new float[3], new float[4]));
        batcher.Add();
        Assert.Equal(16, batcher.Capacity);    // full: doubled
    }

    [Fact]
    public void ASnapshot_SavedAndRestoredElsewhere_ContinuesWithTheSameBits()
    {
        RecurrentNetworkOptions o = ServedArchitectures().ElementAt(6);
        RecurrentNetwork network = TestNetworks.Create(o, seed: 3);
        var random = new TestRandom(11);
        var here = new StreamBatcher(network);
        StreamId[] streams = [here.Add(), here.Add(), here.Add()];
        for (int t = 0; t < 4; t++)
        {
            here.Step(streams, random.Array(3 * o.InputSize), new float[3 * o.OutputSize]);
        }

        RecurrentState snapshot = network.CreateState();
        here.Snapshot(streams[1], snapshot);
        Assert.Equal(4, snapshot.Steps);
        using var file = new MemoryStream();
        RecurrentStateSerializer.Save(snapshot, file);
        file.Position = 0;

        var there = new StreamBatcher(network);
        there.Add();
        StreamId moved = there.Add();
        there.Restore(moved, RecurrentStateSerializer.Load(network, file));
        Assert.Equal(4, there.StepsOf(moved));

        float[] x = random.Array(o.InputSize);
        float[] yHere = new float[3 * o.OutputSize], yThere = new float[o.OutputSize];
        float[] xHere = new float[3 * o.InputSize];
        x.CopyTo(xHere, o.InputSize);
        here.Step(streams, xHere, yHere);
        there.Step([moved], x, yThere);
        AssertBits(yHere.AsSpan(o.OutputSize, o.OutputSize).ToArray(), yThere, "the moved stream's next output");
        Assert.Equal(5, there.StepsOf(moved));
    }

    internal static List<T> Choose<T>(List<T> items, int n, TestRandom random)
    {
        var pool = new List<T>(items);
        for (int i = 0; i < n; i++)
        {
            int j = i + random.Next(pool.Count - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }

        return pool.GetRange(0, n);
    }

    internal static RecurrentState RandomState(RecurrentNetwork network, TestRandom random)
    {
        RecurrentState state = network.CreateState();
        random.Fill(state.Hidden, -0.9f, 0.9f);
        random.Fill(state.Cell, -2f, 2f);
        return state;
    }

    internal static void AssertSameState(StreamBatcher batcher, StreamId id, RecurrentState reference, string what)
    {
        RecurrentState actual = batcher.Network.CreateState();
        batcher.Snapshot(id, actual);
        AssertBits(reference.Hidden.ToArray(), actual.Hidden.ToArray(), what + " h");
        AssertBits(reference.Cell.ToArray(), actual.Cell.ToArray(), what + " c");
        Assert.Equal(reference.Steps, actual.Steps);
    }

    internal static void AssertBits(float[] expected, float[] actual, string what) => StreamingTests.AssertBits(expected, actual, what);
}
