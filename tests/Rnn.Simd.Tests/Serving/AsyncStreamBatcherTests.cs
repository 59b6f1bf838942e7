using System.Runtime.CompilerServices;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Serving;

/// <summary>
/// <see cref="AsyncStreamBatcher"/>: every stream's outputs are those of a direct per-stream run, whatever the
/// batches; a stream's steps keep their order; cancellation, removal, disposal and a failing batch complete every
/// step cleanly. The loop is held at a gate (its test seam) where a test needs a batch in flight, so nothing depends
/// on timing: waits are for events, with generous time-outs that only a hang reaches.
/// </summary>
[Trait("Category", "Serving")]
public sealed class AsyncStreamBatcherTests
{
    private static readonly TimeSpan s_hang = TimeSpan.FromSeconds(60);
    private static readonly RecurrentNetworkOptions s_lstm = new() { Cell = CellType.Lstm, InputSize = 6, HiddenSize = 24, Layers = 2 };

    [Theory]
    [Trait("Isa", "All")]
    [InlineData(1, 16, 1, true)]
    [InlineData(2, 64, 0, true)]
    [InlineData(1, 64, 0, false)]
    public async Task ManyConcurrentProducers_EachGetTheirDirectRun(int threads, int maxBatch, int delayMs, bool continueAsynchronously)
    {
        // 64 tasks × 200 steps, each on a stream of its own that it adds and removes; other streams come and go.
        const int producers = 64, steps = 200;
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 9);
        using ThreadTeam? team = threads > 1 ? new ThreadTeam(threads) : null;
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
        {
            MaxBatch = maxBatch, MaxDelay = TimeSpan.FromMilliseconds(delayMs), Threads = team, RunContinuationsAsynchronously = continueAsynchronously,
        });
        float[][] inputs = [.. Enumerable.Range(0, producers).Select(p => new TestRandom((ulong)p + 1).Array(steps * s_lstm.InputSize, -2f, 2f))];
        var sizes = new List<int>();
        batcher.BeforeBatch = n =>
        {
            lock (sizes)
            {
                sizes.Add(n);
            }
        };

        async Task<float[]> Produce(int p)
        {
            await Task.Yield();
            StreamId stream = batcher.Add();
            var outputs = new float[steps * s_lstm.OutputSize];
            for (int t = 0; t < steps; t++)
            {
                await batcher.StepAsync(stream, inputs[p].AsMemory(t * s_lstm.InputSize, s_lstm.InputSize), outputs.AsMemory(t * s_lstm.OutputSize, s_lstm.OutputSize));
                if (p % 8 == 0 && t % 50 == 49)
                {
                    // A short-lived neighbour: joins, takes a step with this stream's input, leaves.
                    StreamId visitor = batcher.Add();
                    await batcher.StepAsync(visitor, inputs[p].AsMemory(0, s_lstm.InputSize), new float[s_lstm.OutputSize]);
                    batcher.Remove(visitor);
                }
            }

            Assert.Equal(steps, batcher.StepsOf(stream));
            batcher.Remove(stream);
            return outputs;
        }

        float[][] results = await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() => Produce(p)))).WaitAsync(s_hang);
        for (int p = 0; p < producers; p++)
        {
            StreamBatcherTests.AssertBits(DirectRun(network, inputs[p], steps), results[p], $"producer {p}");
        }

        Assert.Equal(0, batcher.Count);
        Assert.All(sizes, n => Assert.InRange(n, 1, maxBatch));
        Assert.Equal((producers * steps) + (producers / 8 * (steps / 50)), sizes.Sum());
    }

    [Theory]
    [InlineData(1, 5, 0)]
    [InlineData(2, 16, 1)]
    public async Task CancellationsRacingTheLoop_NeverRunACancelledStep_NorLoseACompletedOne(int threads, int maxBatch, int delayMs)
    {
        // Producers queue two steps at a time and cancel at random moments, racing the loop. Whatever the timing, a
        // cancelled step never ran and a completed one did: each stream's outputs are a direct run over exactly the
        // steps that completed, in order, and its step count is theirs.
        const int producers = 16, steps = 200;
        RecurrentNetwork network = TestNetworks.Create(s_lstm with { Cell = CellType.Gru }, seed: 12);
        RecurrentNetworkOptions o = network.Options;
        using ThreadTeam? team = threads > 1 ? new ThreadTeam(threads) : null;
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
        {
            MaxBatch = maxBatch, MaxDelay = TimeSpan.FromMilliseconds(delayMs), Threads = team,
        });

        async Task<int> Produce(int p)
        {
            var random = new TestRandom((ulong)p + 77);
            StreamId stream = batcher.Add();
            float[] inputs = random.Array(steps * o.InputSize, -2f, 2f), outputs = new float[steps * o.OutputSize];
            var ran = new List<int>();
            for (int t = 0; t < steps; t += 2)
            {
                using var cancel = new CancellationTokenSource();
                Task first = batcher.StepAsync(stream, inputs.AsMemory(t * o.InputSize, o.InputSize), outputs.AsMemory(t * o.OutputSize, o.OutputSize), random.Next(3) == 0 ? cancel.Token : default).AsTask();
                Task second = batcher.StepAsync(stream, inputs.AsMemory((t + 1) * o.InputSize, o.InputSize), outputs.AsMemory((t + 1) * o.OutputSize, o.OutputSize), cancel.Token).AsTask();
                if (random.Next(2) == 0)
                {
                    await Task.Yield();
                }

                if (random.Next(3) != 0)
                {
                    cancel.Cancel();
                }

                foreach ((Task step, int time) in new[] { (first, t), (second, t + 1) })
                {
                    try
                    {
                        await step.WaitAsync(s_hang);
                        ran.Add(time);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }

            Assert.Equal(ran.Count, batcher.StepsOf(stream));
            batcher.Remove(stream);
            float[] completed = [.. ran.SelectMany(time => inputs.Skip(time * o.InputSize).Take(o.InputSize))];
            float[] expected = DirectRun(network, completed, ran.Count);
            float[] actual = [.. ran.SelectMany(time => outputs.Skip(time * o.OutputSize).Take(o.OutputSize))];
            StreamBatcherTests.AssertBits(expected, actual, $"producer {p}'s completed steps");
            return ran.Count;
        }

        int[] completedSteps = await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() => Produce(p)))).WaitAsync(s_hang);
        Assert.InRange(completedSteps.Sum(), 1, (producers * steps) - 1);   // some steps ran, some were cancelled
        Assert.Equal(0, batcher.Count);
    }

    [Theory]
    [Trait("Isa", "All")]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(2, 1)]
    public async Task ServedSize_BatchesSplitAcrossTwoThreads_OrSideBySideBatchers_KeepEveryStreamsBits(int batchers, int threads)
    {
        // The service's model (LSTM X = H = 256) and a full batch of 256 streams per batcher: large enough that a team of
        // two splits each batched step (the team's dispatch count proves it). Several batchers over the one shared
        // network step their batches at the same time. Every stream's outputs are its own Step run's, bit for bit.
        const int streamsPerBatcher = 256, steps = 3;
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 256, HiddenSize = 256 };
        RecurrentNetwork network = TestNetworks.Create(o, seed: 31);
        ThreadTeam?[] teams = [.. Enumerable.Range(0, batchers).Select(_ => threads > 1 ? new ThreadTeam(threads) : null)];
        AsyncStreamBatcher[] fronts = [.. teams.Select(team => new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
        {
            MaxBatch = streamsPerBatcher, MaxDelay = TimeSpan.FromMilliseconds(1), Threads = team, InitialCapacity = streamsPerBatcher,
        }))];
        try
        {
            int streams = batchers * streamsPerBatcher;
            float[][] inputs = [.. Enumerable.Range(0, streams).Select(s => new TestRandom((ulong)s + 500).Array(steps * o.InputSize, -1f, 1f))];
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            async Task<float[]> Produce(int s)
            {
                AsyncStreamBatcher batcher = fronts[s % batchers];
                StreamId stream = batcher.Add();
                var outputs = new float[steps * o.OutputSize];
                await gate.Task;   // every stream registered before the first step: full batches
                for (int t = 0; t < steps; t++)
                {
                    await batcher.StepAsync(stream, inputs[s].AsMemory(t * o.InputSize, o.InputSize), outputs.AsMemory(t * o.OutputSize, o.OutputSize));
                }

                batcher.Remove(stream);
                return outputs;
            }

            Task<float[]>[] producers = [.. Enumerable.Range(0, streams).Select(Produce)];
            Assert.True(SpinWait.SpinUntil(() => fronts.Sum(f => f.Count) == streams, s_hang));
            gate.SetResult();
            float[][] results = await Task.WhenAll(producers).WaitAsync(s_hang);
            for (int s = 0; s < streams; s++)
            {
                StreamBatcherTests.AssertBits(DirectRun(network, inputs[s], steps), results[s], $"stream {s}");
            }

            foreach (ThreadTeam? team in teams)
            {
                Assert.True(team is null || team.Dispatches > 0, "A team of two never split a batched step.");
            }
        }
        finally
        {
            foreach (AsyncStreamBatcher front in fronts)
            {
                front.Dispose();
            }

            foreach (ThreadTeam? team in teams)
            {
                team?.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Continuations_RunOnThePool_OrInlineOnTheLoop_AsAsked(bool continueAsynchronously)
    {
        // The test's thread only blocks on events: an inline continuation must never wait for the loop it runs on.
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 4);
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.Zero, RunContinuationsAsynchronously = continueAsynchronously });
        StreamId stream = batcher.Add();
        float[] x = new float[s_lstm.InputSize], y = new float[s_lstm.OutputSize];
        for (int t = 0; t < 5; t++)
        {
            using var gate = new LoopGate();
            using var done = new ManualResetEventSlim();
            batcher.BeforeBatch = gate.Hold;
            var thread = new StrongBox<string?>();
            Task observed = NameTheThreadAfter(batcher.StepAsync(stream, x, y), thread, done);   // its await is registered here: the loop is held
            gate.WaitUntilHeld();
            gate.Release();
            Assert.True(done.Wait(s_hang), "The step never completed.");
            Assert.Equal(!continueAsynchronously, thread.Value == "Rnn.Simd stream batcher");
            Assert.True(SpinWait.SpinUntil(() => observed.IsCompleted, s_hang));
            Assert.True(observed.IsCompletedSuccessfully);
        }

        Assert.Equal(5, batcher.StepsOf(stream));

        static async Task NameTheThreadAfter(ValueTask step, StrongBox<string?> thread, ManualResetEventSlim done)
        {
            await step.ConfigureAwait(false);   // no context: the continuation runs where the batcher puts it
            thread.Value = Thread.CurrentThread.Name;
            done.Set();
        }
    }

    [Fact]
    public async Task StepsOfAStream_MadeWithoutWaiting_RunInOrder()
    {
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 2);
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.Zero });
        const int steps = 40;
        float[][] inputs = [new TestRandom(1).Array(steps * s_lstm.InputSize), new TestRandom(2).Array(steps * s_lstm.InputSize)];
        StreamId[] streams = [batcher.Add(), batcher.Add()];
        float[][] outputs = [new float[steps * s_lstm.OutputSize], new float[steps * s_lstm.OutputSize]];
        var pending = new List<Task>();
        for (int t = 0; t < steps; t++)
        {
            for (int s = 0; s < 2; s++)
            {
                pending.Add(batcher.StepAsync(streams[s], inputs[s].AsMemory(t * s_lstm.InputSize, s_lstm.InputSize), outputs[s].AsMemory(t * s_lstm.OutputSize, s_lstm.OutputSize)).AsTask());
            }
        }

        await Task.WhenAll(pending).WaitAsync(s_hang);
        for (int s = 0; s < 2; s++)
        {
            StreamBatcherTests.AssertBits(DirectRun(network, inputs[s], steps), outputs[s], $"stream {s}");
        }
    }

    [Fact]
    public async Task Cancelling_RemovesAStepNotStarted_AndLetsOneInABatchComplete()
    {
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 4);
        using var gate = new LoopGate();
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.Zero }) { BeforeBatch = gate.Hold };
        float[] x = new TestRandom(3).Array(3 * s_lstm.InputSize);
        StreamId a = batcher.Add(), b = batcher.Add();
        float[] y1 = new float[s_lstm.OutputSize], y2 = new float[s_lstm.OutputSize], yB = new float[s_lstm.OutputSize];

        using var inFlight = new CancellationTokenSource();
        Task first = batcher.StepAsync(a, X(x, 0), y1, inFlight.Token).AsTask();
        gate.WaitUntilHeld();                                      // a's first step is in the batch being run
        using var queued = new CancellationTokenSource();
        Task second = batcher.StepAsync(a, X(x, 1), y2, queued.Token).AsTask();   // queued behind it
        Task other = batcher.StepAsync(b, X(x, 2), yB, queued.Token).AsTask();    // b: ready, not taken yet

        queued.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.WaitAsync(s_hang));   // while the loop is held
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => other.WaitAsync(s_hang));
        inFlight.Cancel();
        gate.Release();
        await first.WaitAsync(s_hang);                             // in a batch already: it completes

        float[] reference = DirectRun(network, x, 1);
        StreamBatcherTests.AssertBits(reference, y1, "the step in flight");
        Assert.Equal(1, batcher.StepsOf(a));                       // the cancelled steps never ran
        Assert.Equal(0, batcher.StepsOf(b));
        Assert.All(yB, v => Assert.Equal(0f, v));

        // a goes on from its one step; a second step on it equals a direct run's second step.
        float[] again = new float[s_lstm.OutputSize];
        await batcher.StepAsync(a, X(x, 1), again).AsTask().WaitAsync(s_hang);
        float[] direct = DirectRun(network, x.AsSpan(0, 2 * s_lstm.InputSize).ToArray(), 2);
        StreamBatcherTests.AssertBits(direct.AsSpan(s_lstm.OutputSize).ToArray(), again, "the next step after the cancelled one");

        Assert.True(batcher.StepAsync(a, X(x, 2), again, queued.Token).IsCanceled);   // a token cancelled already
    }

    [Fact]
    public async Task Removing_AStreamWithStepsPending_FailsThemAndNoOneElse()
    {
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 5);
        using var gate = new LoopGate();
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.Zero }) { BeforeBatch = gate.Hold };
        float[] x = new TestRandom(4).Array(s_lstm.InputSize);
        StreamId a = batcher.Add(), b = batcher.Add();
        Task taken = batcher.StepAsync(a, x, new float[s_lstm.OutputSize]).AsTask();
        gate.WaitUntilHeld();
        Task queued = batcher.StepAsync(a, x, new float[s_lstm.OutputSize]).AsTask();
        float[] yB = new float[s_lstm.OutputSize];
        Task neighbour = batcher.StepAsync(b, x, yB).AsTask();
        batcher.Remove(a);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => queued.WaitAsync(s_hang));
        Assert.Contains("was removed before this step ran", error.Message, StringComparison.Ordinal);
        gate.Release();
        error = await Assert.ThrowsAsync<InvalidOperationException>(() => taken.WaitAsync(s_hang));
        Assert.Contains("was removed before this step ran", error.Message, StringComparison.Ordinal);
        await neighbour.WaitAsync(s_hang);
        StreamBatcherTests.AssertBits(DirectRun(network, x, 1), yB, "the neighbour's step");
        Assert.Throws<ArgumentException>(() => { _ = batcher.StepAsync(a, x, new float[s_lstm.OutputSize]); });
    }

    [Fact]
    public async Task AFailingBatch_FailsOnlyItsSteps_WithTheCause()
    {
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 6);
        using var gate = new LoopGate();
        int batches = 0;
        var cause = new InvalidDataException("planted");
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.Zero })
        {
            BeforeBatch = n =>
            {
                if (Interlocked.Increment(ref batches) == 1)
                {
                    gate.Hold(n);
                }
                else if (batches == 2)
                {
                    throw cause;
                }
            },
        };
        float[] x = new TestRandom(5).Array(s_lstm.InputSize);
        StreamId a = batcher.Add(), b = batcher.Add(), c = batcher.Add();
        float[] yA = new float[s_lstm.OutputSize];
        Task first = batcher.StepAsync(a, x, yA).AsTask();
        gate.WaitUntilHeld();
        Task failB = batcher.StepAsync(b, x, new float[s_lstm.OutputSize]).AsTask();
        Task failC = batcher.StepAsync(c, x, new float[s_lstm.OutputSize]).AsTask();   // b and c: the second batch
        gate.Release();
        await first.WaitAsync(s_hang);
        foreach (Task failed in new[] { failB, failC })
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failed.WaitAsync(s_hang));
            Assert.Same(cause, error.InnerException);
            Assert.Contains("A batched step of 2 stream(s) failed (InvalidDataException: planted)", error.Message, StringComparison.Ordinal);
        }

        // The loop goes on: c steps again (its state untouched by the failed batch), as a fresh stream would.
        float[] yC = new float[s_lstm.OutputSize];
        await batcher.StepAsync(c, x, yC).AsTask().WaitAsync(s_hang);
        StreamBatcherTests.AssertBits(DirectRun(network, x, 1), yC, "a step after the failed batch");
        StreamBatcherTests.AssertBits(DirectRun(network, x, 1), yA, "the batch before it");
    }

    [Fact]
    public async Task Disposing_CompletesTheBatchInFlight_AndFailsTheRest()
    {
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 7);
        using var gate = new LoopGate();
        var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.Zero }) { BeforeBatch = gate.Hold };
        float[] x = new TestRandom(6).Array(s_lstm.InputSize);
        StreamId a = batcher.Add(), b = batcher.Add();
        float[] yA = new float[s_lstm.OutputSize];
        Task inFlight = batcher.StepAsync(a, x, yA).AsTask();
        gate.WaitUntilHeld();
        Task[] queued = [batcher.StepAsync(a, x, new float[s_lstm.OutputSize]).AsTask(), batcher.StepAsync(b, x, new float[s_lstm.OutputSize]).AsTask()];

        Task disposing = Task.Run(batcher.Dispose);                 // waits for the loop, which the gate holds
        while (!batcher.IsDisposed)
        {
            await Task.Delay(1);
        }

        gate.Release();
        await disposing.WaitAsync(s_hang);
        await inFlight.WaitAsync(s_hang);
        StreamBatcherTests.AssertBits(DirectRun(network, x, 1), yA, "the batch in flight");
        foreach (Task t in queued)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(() => t.WaitAsync(s_hang));
        }

        Assert.Throws<ObjectDisposedException>(() => { _ = batcher.StepAsync(a, x, yA); });
        Assert.Throws<ObjectDisposedException>(() => batcher.Add());
        RecurrentState saved = network.CreateState();
        batcher.Snapshot(a, saved);                                   // streams can still be saved
        Assert.Equal(1, saved.Steps);
        batcher.Dispose();
    }

    [Fact]
    public async Task TheLoop_DoesNotWaitOutTheDelay_WhenEveryStreamOrAFullBatchIsReady()
    {
        // A delay no test could wait out: completing at all shows the loop did not wait for it.
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 8);
        var sizes = new List<int>();
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions { MaxBatch = 2, MaxDelay = TimeSpan.FromHours(1) })
        {
            BeforeBatch = sizes.Add,
        };
        float[] x = new float[s_lstm.InputSize];
        StreamId a = batcher.Add(), b = batcher.Add();                                    // every stream ready
        await Task.WhenAll(batcher.StepAsync(a, x, new float[s_lstm.OutputSize]).AsTask(), batcher.StepAsync(b, x, new float[s_lstm.OutputSize]).AsTask()).WaitAsync(s_hang);
        StreamId c = batcher.Add();                                                       // a full batch ready
        await Task.WhenAll(batcher.StepAsync(c, x, new float[s_lstm.OutputSize]).AsTask(), batcher.StepAsync(b, x, new float[s_lstm.OutputSize]).AsTask()).WaitAsync(s_hang);
        Assert.Equal(2, sizes[^1]);
    }

    /// <summary>One stream run step by step with <see cref="RecurrentNetwork.Step"/>: the reference of every test here.</summary>
    [Fact]
    public async Task BatchStepped_ReportsEveryStepOnce_AndCapacityFollowsThePool()
    {
        // 12 streams, 30 steps each, every batch reported with its size; the sizes add up to the steps taken, and a
        // batch is never reported for a stream removed before its step ran.
        const int streams = 12, steps = 30;
        RecurrentNetwork network = TestNetworks.Create(s_lstm, seed: 4);
        var sizes = new List<int>();
        var durations = new List<TimeSpan>();
        using var batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
        {
            MaxBatch = 5,
            BatchStepped = (n, elapsed) =>
            {
                sizes.Add(n);   // the loop's thread only: no lock needed while it runs, read after the steps complete
                durations.Add(elapsed);
            },
        });
        Assert.Equal(0, batcher.Capacity);
        StreamId[] ids = [.. Enumerable.Range(0, streams).Select(_ => batcher.Add())];
        int capacity = batcher.Capacity;
        Assert.InRange(capacity, streams, 2 * streams);
        float[] x = new TestRandom(3).Array(s_lstm.InputSize);
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            var y = new float[s_lstm.OutputSize];
            for (int t = 0; t < steps; t++)
            {
                await batcher.StepAsync(id, x, y);
            }
        }))).WaitAsync(s_hang);

        Assert.Equal(streams * steps, sizes.Sum());
        Assert.All(sizes, n => Assert.InRange(n, 1, 5));
        Assert.All(durations, d => Assert.True(d >= TimeSpan.Zero));
        foreach (StreamId id in ids)
        {
            batcher.Remove(id);
        }

        StreamId again = batcher.Add();
        Assert.Equal(capacity, batcher.Capacity);   // a freed slot serves the new stream: the pool does not grow
        batcher.Remove(again);
    }

    internal static float[] DirectRun(RecurrentNetwork network, float[] inputs, int steps)
    {
        RecurrentNetworkOptions o = network.Options;
        RecurrentState state = network.CreateState();
        var outputs = new float[steps * o.OutputSize];
        for (int t = 0; t < steps; t++)
        {
            network.Step(state, inputs.AsSpan(t * o.InputSize, o.InputSize), outputs.AsSpan(t * o.OutputSize, o.OutputSize));
        }

        return outputs;
    }

    private static Memory<float> X(float[] x, int t) => x.AsMemory(t * s_lstm.InputSize, s_lstm.InputSize);

    /// <summary>Holds the loop inside a batch until released.</summary>
    private sealed class LoopGate : IDisposable
    {
        private readonly ManualResetEventSlim _held = new(), _release = new();

        public void Hold(int batch)
        {
            _held.Set();
            Assert.True(_release.Wait(s_hang), "The test never released the loop.");
        }

        public void WaitUntilHeld() => Assert.True(_held.Wait(s_hang), "The loop never took the batch.");

        public void Release() => _release.Set();

        public void Dispose()
        {
            _release.Set();
            _held.Dispose();
            _release.Dispose();
        }
    }
}
