using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.TestingHost;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Orleans.Tests;

/// <summary>
/// <see cref="RecurrentStreamGrain"/> in in-process clusters: a stream moved to another silo (by migration, or by
/// its silo shutting down) continues with the bits of the unmoved run (<c>RecurrentNetwork.Step</c> in this process),
/// and the streams of one silo, stepping at the same time through its shared batcher, each keep their own bits.
/// Nothing depends on timing: every wait is for an event, with time-outs only a hang reaches.
/// </summary>
[Trait("Category", "Orleans")]
public sealed class RecurrentStreamGrainTests
{
    private const int K = 12;   // steps before and after the move
    private static readonly TimeSpan s_hang = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task MigratedStream_ContinuesBitIdenticallyOnTheOtherSilo()
    {
        // Both silos live throughout, so Orleans' memory storage (records in grains of the cluster) is enough here.
        await using InProcessTestCluster cluster = await StartAsync(2, silo => silo.AddMemoryGrainStorage(RecurrentStreamHost.StorageName));
        IRecurrentStreamGrain grain = cluster.Client.GetGrain<IRecurrentStreamGrain>("migrated call");
        float[][] inputs = TestModel.Inputs(seed: 1, 2 * K);
        var outputs = new List<float[]>();
        await StepAsync(grain, inputs, 0, K, outputs);
        SiloAddress from = await grain.GetSilo();
        SiloAddress to = cluster.Silos.Select(s => s.SiloAddress).Single(a => !a.Equals(from));

        await cluster.MigrateAsync(grain, to).WaitAsync(s_hang);

        Assert.Equal(to, await grain.GetSilo());
        Assert.Equal(K, await grain.GetSteps());
        await StepAsync(grain, inputs, K, 2 * K, outputs);
        TestModel.AssertBits(TestModel.DirectRun(inputs), outputs, "migrated stream");
        Assert.Equal(2 * K, await grain.GetSteps());
    }

    [Fact]
    public async Task StreamOfAStoppedSilo_ContinuesBitIdenticallyOnTheSurvivor()
    {
        var records = new SharedGrainStorage.Records();
        await using InProcessTestCluster cluster = await StartAsync(2, silo => silo.Services.AddGrainStorage(
            RecurrentStreamHost.StorageName, (services, _) => new SharedGrainStorage(records, services.GetRequiredService<Serializer>())));
        IRecurrentStreamGrain grain = cluster.Client.GetGrain<IRecurrentStreamGrain>("call outliving its silo");
        float[][] inputs = TestModel.Inputs(seed: 2, 2 * K);
        var outputs = new List<float[]>();
        await StepAsync(grain, inputs, 0, K, outputs);
        SiloAddress from = await grain.GetSilo();
        Assert.Equal(0, Interlocked.Read(ref records.Writes));   // persistEvery = 0: nothing saved while it runs

        // A graceful stop deactivates the silo's grains: the stream's state goes to the storage, outside the silo.
        await cluster.StopSiloAsync(cluster.Silos.Single(s => s.SiloAddress.Equals(from))).WaitAsync(s_hang);
        Assert.Equal(1, Interlocked.Read(ref records.Writes));

        await StepAsync(grain, inputs, K, 2 * K, outputs);
        SiloAddress now = await grain.GetSilo();
        Assert.NotEqual(from, now);
        Assert.Equal(cluster.Silos.Single().SiloAddress, now);
        TestModel.AssertBits(TestModel.DirectRun(inputs), outputs, "stream of the stopped silo");
        Assert.Equal(2 * K, await grain.GetSteps());
    }

    [Fact]
    public async Task PersistEvery_SavesTheStateOfEveryNthStep()
    {
        const int every = 5, steps = 2 * every + 3;
        var records = new SharedGrainStorage.Records();
        await using InProcessTestCluster cluster = await StartAsync(1, silo => silo.Services.AddGrainStorage(
            RecurrentStreamHost.StorageName, (services, _) => new SharedGrainStorage(records, services.GetRequiredService<Serializer>())), persistEvery: every);
        IRecurrentStreamGrain grain = cluster.Client.GetGrain<IRecurrentStreamGrain>("durable call");
        float[][] inputs = TestModel.Inputs(seed: 4, steps);

        await StepAsync(grain, inputs, 0, steps, []);

        // Saved after steps 5 and 10: the record holds the state of the direct run after step 10, bit for bit.
        Assert.Equal(2, Interlocked.Read(ref records.Writes));
        Serializer serializer = cluster.Silos.Single().ServiceProvider.GetRequiredService<Serializer>();
        RecurrentStreamSnapshot? snapshot = serializer.Deserialize<RecurrentStreamSnapshot>(records.Items.Values.Single().Data);
        Assert.NotNull(snapshot?.State);
        RecurrentNetwork network = TestModel.Load();
        using var file = new MemoryStream(snapshot.State);
        RecurrentState saved = RecurrentStateSerializer.Load(network, file);
        RecurrentState expected = network.CreateState();
        foreach (float[] x in inputs.Take(2 * every))
        {
            network.Step(expected, x, new float[TestModel.Options.OutputSize]);
        }

        Assert.Equal(2 * every, saved.Steps);
        TestModel.AssertBits([expected.Hidden.ToArray(), expected.Cell.ToArray()], [saved.Hidden.ToArray(), saved.Cell.ToArray()], "saved h and c");
    }

    [Fact]
    public async Task StreamOfAKilledSilo_ContinuesFromItsLastSave()
    {
        // persistEvery = K: the K-th step is durable when it returns, so a crash right after it loses nothing.
        var records = new SharedGrainStorage.Records();
        await using InProcessTestCluster cluster = await StartAsync(2, silo => silo.Services.AddGrainStorage(
            RecurrentStreamHost.StorageName, (services, _) => new SharedGrainStorage(records, services.GetRequiredService<Serializer>())), persistEvery: K);
        IRecurrentStreamGrain grain = cluster.Client.GetGrain<IRecurrentStreamGrain>("call outliving a crash");
        float[][] inputs = TestModel.Inputs(seed: 5, 2 * K);
        var outputs = new List<float[]>();
        await StepAsync(grain, inputs, 0, K, outputs);
        SiloAddress from = await grain.GetSilo();

        await cluster.KillSiloAsync(cluster.Silos.Single(s => s.SiloAddress.Equals(from))).WaitAsync(s_hang);
        Assert.Equal(1, Interlocked.Read(ref records.Writes));   // a killed silo deactivates nothing

        await StepAsync(grain, inputs, K, 2 * K, outputs);
        Assert.NotEqual(from, await grain.GetSilo());
        TestModel.AssertBits(TestModel.DirectRun(inputs), outputs, "stream of the killed silo");
    }

    [Fact]
    public async Task ConcurrentStreamsOfOneSilo_EachGetTheirOwnBits_ThroughOneBatcher()
    {
        const int streams = 8, steps = 2 * K;
        await using InProcessTestCluster cluster = await StartAsync(1, silo => silo.AddMemoryGrainStorage(RecurrentStreamHost.StorageName));
        RecurrentStreamHost host = cluster.Silos.Single().ServiceProvider.GetRequiredService<RecurrentStreamHost>();
        IRecurrentStreamGrain[] grains = [.. Enumerable.Range(0, streams).Select(s => cluster.Client.GetGrain<IRecurrentStreamGrain>($"stream {s}"))];
        float[][][] inputs = [.. Enumerable.Range(0, streams).Select(s => TestModel.Inputs(seed: 100 + s, steps))];

        async Task<List<float[]>> Run(int s)
        {
            var outputs = new List<float[]>();
            await StepAsync(grains[s], inputs[s], 0, steps, outputs);
            return outputs;
        }

        List<float[]>[] results = await Task.WhenAll(Enumerable.Range(0, streams).Select(s => Task.Run(() => Run(s)))).WaitAsync(s_hang);

        for (int s = 0; s < streams; s++)
        {
            TestModel.AssertBits(TestModel.DirectRun(inputs[s]), results[s], $"stream {s}");
        }

        Assert.Equal(streams, host.Batcher.Count);   // one batcher holds them all
    }

    [Fact]
    public async Task Reset_StartsTheSequenceAgain_AndAWrongInputIsRefused()
    {
        await using InProcessTestCluster cluster = await StartAsync(1, silo => silo.AddMemoryGrainStorage(RecurrentStreamHost.StorageName));
        IRecurrentStreamGrain grain = cluster.Client.GetGrain<IRecurrentStreamGrain>("reset call");
        float[][] inputs = TestModel.Inputs(seed: 3, K);
        await StepAsync(grain, inputs, 0, K, []);

        await grain.Reset();

        Assert.Equal(0, await grain.GetSteps());
        var outputs = new List<float[]>();
        await StepAsync(grain, inputs, 0, K, outputs);
        TestModel.AssertBits(TestModel.DirectRun(inputs), outputs, "after reset");
        ArgumentException e = await Assert.ThrowsAnyAsync<ArgumentException>(() => grain.Step(new float[TestModel.Options.InputSize + 1]));
        Assert.Contains("input has 6 values", e.Message, StringComparison.Ordinal);   // the engine's message, across the wire
        Assert.Equal(K, await grain.GetSteps());   // the refused step changed nothing
    }

    private static async Task<InProcessTestCluster> StartAsync(short silos, Action<ISiloBuilder> storage, int persistEvery = 0)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            storage(silo);
            silo.AddRecurrentStreams(_ => TestModel.Load(), persistEvery: persistEvery);
        });
        InProcessTestCluster cluster = builder.Build();
        await cluster.DeployAsync().WaitAsync(s_hang);
        return cluster;
    }

    private static async Task StepAsync(IRecurrentStreamGrain grain, float[][] inputs, int from, int to, List<float[]> outputs)
    {
        for (int t = from; t < to; t++)
        {
            outputs.Add(await grain.Step(inputs[t]).WaitAsync(s_hang));
        }
    }
}
