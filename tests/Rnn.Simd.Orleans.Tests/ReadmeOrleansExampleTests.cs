using Orleans.TestingHost;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.Orleans.Tests;

/// <summary>README's "Streams across machines" runs (on a one-silo cluster), and its output is that of per-stream Step.</summary>
[Trait("Category", "Orleans")]
public sealed class ReadmeOrleansExampleTests
{
    [Fact]
    public async Task TheReadmeExample_Runs()
    {
        float[] x = TestModel.Inputs(seed: 6, 1)[0];
        static RecurrentNetwork LoadNetwork() => TestModel.Load();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, siloBuilder) =>
        {
            // ---- README: "Streams across machines" (begin) ----
            // Silo: the network loaded once per silo, one batcher per silo, a storage that outlives the silos.
            siloBuilder.AddRecurrentStreams(_ => LoadNetwork(), new AsyncStreamBatcherOptions { MaxBatch = 256 }, persistEvery: 0);
            // ---- README (pause) ----
            siloBuilder.AddMemoryGrainStorage(RecurrentStreamHost.StorageName);
            // ---- README (resume) ----
            // ---- README: "Streams across machines" (end) ----
        });
        await using InProcessTestCluster cluster = builder.Build();
        await cluster.DeployAsync().WaitAsync(TimeSpan.FromSeconds(60));
        IClusterClient client = cluster.Client;

        // ---- README: "Streams across machines, the client" (begin) ----
        // Client: a stream is a grain keyed by its id, on whichever silo holds it now.
        IRecurrentStreamGrain call = client.GetGrain<IRecurrentStreamGrain>("call-42");
        float[] y = await call.Step(x);                        // bit for bit network.Step on this stream alone
        // ---- README: "Streams across machines, the client" (end) ----

        TestModel.AssertBits(TestModel.DirectRun([x]), [y], "README example");
    }
}
