using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Serving;

/// <summary>
/// The zero-allocation contract of the stream batchers (DESIGN.md §4): a synchronous step allocates nothing once the
/// pool has grown; an asynchronous step, nothing of its own in steady state (its task source is pooled).
/// </summary>
[Trait("Category", "Serving")]
[Collection(NonParallelCollection.Name)]
public sealed class ServingAllocationTests(ITestOutputHelper output)
{
    private static readonly RecurrentNetworkOptions s_lstm = new() { Cell = CellType.Lstm, InputSize = 16, HiddenSize = 64, Layers = 2 };

    [Theory]
    [Trait("Isa", "All")]
    [InlineData(1, 1)]
    [InlineData(7, 1)]
    [InlineData(64, 1)]
    [InlineData(64, 2)]
    public void ASynchronousStep_AllocatesNothing(int streams, int threads)
    {
        RecurrentNetwork network = TestNetworks.Create(s_lstm);
        using ThreadTeam? team = threads > 1 ? new ThreadTeam(threads) : null;
        var batcher = new StreamBatcher(network);
        StreamId[] all = [.. Enumerable.Range(0, streams + 3).Select(_ => batcher.Add())];
        batcher.Remove(all[1]);                                      // a hole: the ids are not slots 0 … n − 1
        StreamId[] ids = [.. all.Where(id => batcher.Contains(id)).Reverse().Take(streams)];
        float[] x = new TestRandom(1).Array(streams * s_lstm.InputSize), y = new float[streams * s_lstm.OutputSize];
        AllocationAssert.None(() => batcher.Step(ids, x, y, team), team);
    }

    [Fact]
    public async Task AnAsynchronousStep_AllocatesNothingOfItsOwn_InSteadyState()
    {
        // 16 producers in lock step. What a run allocates besides its steps (the producers' tasks and state machines,
        // Task.WhenAll) does not grow with the steps, so the difference between a long and a short run is the steps'
        // own cost. A task, a closure or a boxed source per step would be 24 bytes at the very least (one empty object)
        // and about 100 in practice; the bound of 2 bytes a step leaves room for the runtime's own now-and-then
        // allocations (the thread pool adding a thread, a timer) over the 32 000 steps measured, and catches any of them.
        const int producers = 16, shortRun = 50, longRun = 2050;
        RecurrentNetwork network = TestNetworks.Create(s_lstm with { HiddenSize = 16 });
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.FromMilliseconds(1) });
        StreamId[] streams = [.. Enumerable.Range(0, producers).Select(_ => batcher.Add())];
        float[] x = new TestRandom(2).Array(s_lstm.InputSize);
        float[][] y = [.. Enumerable.Range(0, producers).Select(_ => new float[network.Options.OutputSize])];

        async Task Produce(int p, int steps)
        {
            for (int t = 0; t < steps; t++)
            {
                await batcher.StepAsync(streams[p], x, y[p]);
            }
        }

        async Task<long> Measure(int steps)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Produce(p, steps)));
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        await Measure(longRun);                                      // warm-up: pools, tiering, the thread pool's threads
        var seen = new List<double>();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long small = await Measure(shortRun), large = await Measure(longRun);
            double perStep = (double)(large - small) / (producers * (longRun - shortRun));
            output.WriteLine($"short run {small} B, long run {large} B: {perStep:F3} B per step");
            seen.Add(perStep);
            if (perStep <= 2)
            {
                return;
            }
        }

        Assert.Fail($"An asynchronous step allocated more than 2 bytes in each of three measurements: {string.Join(", ", seen.Select(b => $"{b:F2}"))} B per step.");
    }
}
