using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Serving;

/// <summary>README's "Serving many streams" runs, and its outputs are those of per-stream Step.</summary>
[Trait("Category", "Serving")]
public sealed class ReadmeServingExampleTests
{
    [Fact]
    public async Task TheReadmeExample_Runs()
    {
        RecurrentNetwork network = TestNetworks.Create(new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 4, HiddenSize = 8, Layers = 2 });
        RecurrentNetworkOptions o = network.Options;
        float[] x = [.. Enumerable.Range(0, o.InputSize).Select(i => 0.1f * i)];
        CancellationToken cancellationToken = CancellationToken.None;
        using var file = new MemoryStream();

        // ---- README: "Serving many streams" (begin) ----
        // Synchronous: the caller chooses which streams step now (any set, in any order): one batched step for all.
        var batcher = new StreamBatcher(network);
        StreamId a = batcher.Add(), b = batcher.Add();            // slots, reused after Remove
        float[] xs = new float[2 * o.InputSize], ys = new float[2 * o.OutputSize];   // row i: the i-th id's
        batcher.Step([b, a], xs, ys);                             // each row the bits of network.Step on that stream alone
        RecurrentState saved = network.CreateState();
        batcher.Snapshot(a, saved);                               // and batcher.Restore(id, state) to continue it
        RecurrentStateSerializer.Save(saved, file);
        batcher.Remove(b);

        // Asynchronous: each caller awaits a step of its own stream; a background loop batches whatever is ready.
        using var service = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxBatch = 256, MaxDelay = TimeSpan.FromMilliseconds(1) });
        StreamId call = service.Add();
        float[] y = new float[o.OutputSize];
        await service.StepAsync(call, x, y, cancellationToken);  // a pooled ValueTask: nothing allocated in steady state
        // ---- README: "Serving many streams" (end) ----

        RecurrentState alone = network.CreateState();
        float[] expected = new float[o.OutputSize];
        network.Step(alone, x, expected);
        StreamBatcherTests.AssertBits(expected, y, "the README's async step");
        Assert.Equal(1, saved.Steps);
        Assert.True(file.Length > 0);
        Assert.Equal(1, batcher.Count);
    }
}
