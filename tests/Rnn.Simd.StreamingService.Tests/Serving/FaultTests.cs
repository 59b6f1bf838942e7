using Google.Protobuf;
using Grpc.Core;
using Rnn.Simd.Layers;
using Rnn.Simd.StreamingProtocol;
using Xunit;

namespace Rnn.Simd.StreamingService.Tests.Serving;

/// <summary>
/// What clients do wrong: disconnect mid-stream (the slot is freed; thousands of times, no leak), send malformed
/// frames (an error status on that call only; every other stream keeps the bits of its direct run), stop reading
/// (the others go on). Waits are for completion only, with time-outs that only a hang reaches.
/// </summary>
[Trait("Category", "Serving")]
public sealed class FaultTests
{
    private static readonly TimeSpan s_hang = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(true, 10_000)]
    [InlineData(false, 2_000)]
    public async Task ClientsThatDisconnectMidStream_FreeTheirSlots(bool batched, int cycles)
    {
        // Each cycle opens a call, sends two frames, and leaves in one of three ways: cancels after the first output
        // (a reset mid-stream), cancels with the second frame's step possibly in flight, or drops its connection
        // (the channel disposed). 16 cycles run at once.
        const int concurrency = 16;
        RecurrentNetwork network = ServiceHost.SmallNetwork();
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { Batched = batched }, network);
        using var shared = host.Channel();
        var sharedClient = new StreamingInference.StreamingInferenceClient(shared);
        int next = -1;

        async Task Worker()
        {
            float[] values = new float[network.Options.InputSize];
            for (int cycle = Interlocked.Increment(ref next); cycle < cycles; cycle = Interlocked.Increment(ref next))
            {
                int way = cycle % 3;
                using var own = way == 2 ? host.Channel() : null;
                var client = own is null ? sharedClient : new StreamingInference.StreamingInferenceClient(own);
                using var cancel = new CancellationTokenSource();
                using AsyncDuplexStreamingCall<Frame, Output> call = client.Stream(cancellationToken: cancel.Token);
                SeededFrames.Fill(cycle, 0, values);
                await call.RequestStream.WriteAsync(Streams.Frame(0, values));
                Assert.True(await call.ResponseStream.MoveNext());
                if (way != 0)
                {
                    await call.RequestStream.WriteAsync(Streams.Frame(1, values));
                }

                if (way == 2)
                {
                    own!.Dispose();   // the connection goes, with the call on it
                }
                else
                {
                    await cancel.CancelAsync();
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker))).WaitAsync(s_hang);

        MetricsSnapshot metrics = await host.WaitForNoStreamsAsync(s_hang);
        Assert.Equal(0, metrics.LiveStreams);
        Assert.Equal(0, host.Engine.Count);
        Assert.Equal(cycles, metrics.StreamsOpened);
        // The pool holds about as many slots as streams were open at once (16 here, plus calls the server had not
        // yet ended: generous room for a loaded machine), never one per stream served.
        Assert.InRange(host.Engine.Capacity, 0, 16 * concurrency);
        // And the service still serves: a fresh stream gets its direct run.
        float[] outputs = await Streams.RunAsync(sharedClient, 3, 5, network.Options.InputSize, network.Options.OutputSize).WaitAsync(s_hang);
        Streams.AssertBits(Streams.DirectRun(network, 3, 5), outputs, "a stream after the disconnects");
    }

    public static TheoryData<string, StatusCode> MalformedFrames => new()
    {
        { "short", StatusCode.InvalidArgument },
        { "long", StatusCode.InvalidArgument },
        { "empty", StatusCode.InvalidArgument },
        { "nan", StatusCode.InvalidArgument },
        { "infinity", StatusCode.InvalidArgument },
        { "out-of-order", StatusCode.InvalidArgument },
        { "oversized", StatusCode.ResourceExhausted },
    };

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public async Task AMalformedFrame_FailsItsCallOnly_AndNoOtherStreamChangesABit(string kind, StatusCode expected)
    {
        // 6 good streams run 40 frames each while 6 bad calls send 3 good frames and then the malformed one, all at
        // once through the batcher; the bad calls end with the status, the good streams equal their direct runs.
        const int good = 6, frames = 40;
        RecurrentNetwork network = ServiceHost.SmallNetwork();
        int x = network.Options.InputSize, hOut = network.Options.OutputSize;
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { Batched = true, MaxDelay = TimeSpan.FromMilliseconds(2) }, network);
        using var channel = host.Channel();
        var client = new StreamingInference.StreamingInferenceClient(channel);

        async Task<StatusCode> Bad(int stream)
        {
            using AsyncDuplexStreamingCall<Frame, Output> call = client.Stream();
            float[] values = new float[x];
            try
            {
                for (int t = 0; t < 3; t++)
                {
                    SeededFrames.Fill(stream, t, values);
                    await call.RequestStream.WriteAsync(Streams.Frame(t, values));
                    Assert.True(await call.ResponseStream.MoveNext());
                }

            }
            catch (RpcException e)
            {
                return e.StatusCode;   // a good frame refused: fails the assertion below
            }

            try
            {
                await call.RequestStream.WriteAsync(Malformed(kind, x));
            }
            catch (RpcException)
            {
                // The server may end the call while a large frame is still on its way: its status is read below.
            }

            try
            {
                await call.ResponseStream.MoveNext();
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }

        Task<float[]>[] goodRuns = [.. Enumerable.Range(0, good).Select(s => Task.Run(() => Streams.RunAsync(client, s, frames, x, hOut)))];
        Task<StatusCode>[] badRuns = [.. Enumerable.Range(100, 6).Select(s => Task.Run(() => Bad(s)))];
        StatusCode[] statuses = await Task.WhenAll(badRuns).WaitAsync(s_hang);
        float[][] outputs = await Task.WhenAll(goodRuns).WaitAsync(s_hang);

        Assert.All(statuses, status => Assert.Equal(expected, status));
        for (int s = 0; s < good; s++)
        {
            Streams.AssertBits(Streams.DirectRun(network, s, frames), outputs[s], $"good stream {s} beside '{kind}' frames");
        }

        MetricsSnapshot metrics = await host.WaitForNoStreamsAsync(s_hang);
        Assert.Equal(0, metrics.LiveStreams);
        Assert.Equal((good * frames) + (6 * 3), metrics.Steps);   // the malformed frames never reached the network
        Assert.Equal("ok\n", await host.HealthAsync());
    }

    [Fact]
    public async Task AStalledClient_DoesNotStallTheOthers_AndFreesItsSlotWhenItGoes()
    {
        // One client tries to send 30,000 frames (1.2 MB) and never reads an output: its server call blocks writing
        // once HTTP/2 flow control fills, then stops reading, and the client's writes block in turn (a bounded
        // backlog at both ends); 8 others on the same connection finish 50 frames each with their direct runs' bits.
        const int others = 8, frames = 50, flooded = 30_000;
        RecurrentNetwork network = ServiceHost.SmallNetwork();
        int x = network.Options.InputSize, hOut = network.Options.OutputSize;
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { Batched = true }, network);
        using var channel = host.Channel();
        var client = new StreamingInference.StreamingInferenceClient(channel);

        using var stop = new CancellationTokenSource();
        AsyncDuplexStreamingCall<Frame, Output> stalled = client.Stream(cancellationToken: stop.Token);
        int written = 0;
        Task flood = Task.Run(async () =>
        {
            float[] values = new float[x];
            for (int t = 0; t < flooded; t++)
            {
                SeededFrames.Fill(999, t, values);
                await stalled.RequestStream.WriteAsync(Streams.Frame(t, values), stop.Token);
                written = t + 1;
            }
        });

        // Let the flood get ahead: the server has answered some of its frames (and then stopped, the client not reading).
        DateTime deadline = DateTime.UtcNow + s_hang;
        while ((await host.MetricsAsync()).Steps < 100 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        float[][] outputs = await Task.WhenAll(Enumerable.Range(0, others).Select(s => Streams.RunAsync(client, s, frames, x, hOut))).WaitAsync(s_hang);
        for (int s = 0; s < others; s++)
        {
            Streams.AssertBits(Streams.DirectRun(network, s, frames), outputs[s], $"stream {s} beside a stalled client");
        }

        long stalledSteps = (await host.MetricsAsync()).Steps - (others * frames);
        Assert.InRange(stalledSteps, 100, flooded - 1);
        Assert.False(flood.IsCompleted, $"the server took all {written} frames of a client that reads nothing: its backlog is unbounded");
        Assert.Equal(1, host.Engine.Count);   // the stalled stream still holds its slot, alone

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => flood).WaitAsync(s_hang);
        stalled.Dispose();
        MetricsSnapshot metrics = await host.WaitForNoStreamsAsync(s_hang);
        Assert.Equal(0, metrics.LiveStreams);
        Assert.Equal(0, host.Engine.Count);
    }

    [Fact]
    public async Task StreamsPastTheLimit_AreRefusedWithResourceExhausted()
    {
        RecurrentNetwork network = ServiceHost.SmallNetwork();
        await using ServiceHost host = await ServiceHost.StartAsync(new ServerOptions { Batched = true, MaxStreams = 2 }, network);
        using var channel = host.Channel();
        var client = new StreamingInference.StreamingInferenceClient(channel);
        float[] values = new float[network.Options.InputSize];
        using var first = client.Stream();
        using var second = client.Stream();
        foreach (var call in new[] { first, second })
        {
            await call.RequestStream.WriteAsync(Streams.Frame(0, values));
            Assert.True(await call.ResponseStream.MoveNext());
        }

        // The third call is refused as it opens, before any frame: its first read gives the status (a write may
        // already find the call over).
        using var third = client.Stream();
        RpcException e = await Assert.ThrowsAsync<RpcException>(() => third.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Equal(1, (await host.MetricsAsync()).StreamsRefused);
    }

    /// <summary>A frame of the named fault (sequence 3, after three good frames).</summary>
    private static Frame Malformed(string kind, int x)
    {
        float[] values = new float[x];
        SeededFrames.Fill(0, 3, values);
        switch (kind)
        {
            case "short": return Streams.Frame(3, values[..^1]);
            case "long": return Streams.Frame(3, [.. values, 0f]);
            case "empty": return Streams.Frame(3, []);
            case "nan": values[x / 2] = float.NaN; return Streams.Frame(3, values);
            case "infinity": values[0] = float.NegativeInfinity; return Streams.Frame(3, values);
            case "out-of-order": return Streams.Frame(5, values);
            case "oversized": return Streams.Frame(3, new float[100_000]);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }
}
