using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Reliability;

/// <summary>
/// Issue 7, items 3 and 5: one shared model driven from 2 × cores threads, every stream bit-identical to the same
/// stream run alone, every pooled rental returned; and a long stream whose memory does not grow.
/// </summary>
/// <remarks>
/// Step counts scale with environment variables for longer runs:
/// <c>RNN_SIMD_SOAK_STEPS</c> (total steps of the concurrency soak, default 10⁶) and <c>RNN_SIMD_STREAM_STEPS</c>
/// (steps of the memory soak, default 10⁶), e.g.
/// <code>RNN_SIMD_STREAM_STEPS=10000000 dotnet test tests/Rnn.Simd.Tests -c Release --filter "FullyQualifiedName~SoakTests" --logger "console;verbosity=detailed"</code>
/// </remarks>
[Trait("Category", "Reliability")]
[Collection(NonParallelCollection.Name)] // saturates every core; measures process-wide memory
public sealed class SoakTests(ITestOutputHelper output)
{
    private const int InputSize = 8, Hidden = 32, Classes = 5, InputBlock = 997;

    [Fact]
    public void SharedModel_FromTwiceAsManyThreadsAsCores_EveryStreamBitIdenticalToASingleThreadedRun_NoRentalLeaked()
    {
        long totalSteps = Scale("RNN_SIMD_SOAK_STEPS", 1_000_000);
        int threads = 2 * Environment.ProcessorCount;
        long perStream = (totalSteps + threads - 1) / threads;
        var pool = new TrackingArrayPool<float>();

        // Two kinds of shared, immutable model: a bare LSTM stack and a classifier snapshot (embedding-free GRU + head).
        var lstmOptions = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = InputSize, HiddenSize = Hidden, Layers = 2 };
        RecurrentNetwork lstm = RecurrentNetwork.FromPyTorch(lstmOptions, TestNetworks.PyTorchParameters(lstmOptions, 21), pool: pool);
        SequenceClassifierInference classifier;
        using (var trainable = SequenceClassifier.Create(
            new SequenceClassifierOptions { InputSize = InputSize, Classes = Classes, Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = Hidden } },
            seed: 22,
            pool))
        {
            classifier = trainable.ToInference();   // the snapshot shares nothing mutable with the trainable model
        }

        // Each stream: its own seeded inputs, its own state; odd streams use the classifier.
        var streams = Enumerable.Range(0, threads).Select(i => new SoakStream(i, perStream, i % 2 == 0 ? lstm : null, i % 2 == 1 ? classifier : null)).ToArray();
        var clock = Stopwatch.StartNew();
        using (var start = new Barrier(threads))
        {
            var workers = streams.Select(s => new Thread(() =>
            {
                start.SignalAndWait();
                s.Run();
            })).ToArray();
            foreach (Thread worker in workers)
            {
                worker.Start();
            }

            foreach (Thread worker in workers)
            {
                worker.Join();
            }
        }

        TimeSpan concurrent = clock.Elapsed;
        clock.Restart();
        var alone = Enumerable.Range(0, threads).Select(i => new SoakStream(i, perStream, i % 2 == 0 ? lstm : null, i % 2 == 1 ? classifier : null)).ToArray();
        foreach (SoakStream s in alone)
        {
            s.Run();
        }

        TimeSpan sequential = clock.Elapsed;
        for (int i = 0; i < threads; i++)
        {
            Assert.True(streams[i].Error is null, $"stream {i} failed: {streams[i].Error}");
            Assert.Equal(alone[i].Steps, streams[i].Steps);
            Assert.True(alone[i].Hash == streams[i].Hash, $"stream {i}: outputs differ from the single-threaded run.");
            Assert.Equal(alone[i].FinalState, streams[i].FinalState);
        }

        Assert.True(pool.Rented >= threads * perStream, $"only {pool.Rented} rentals");
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(pool.Rented, pool.Returned);
        output.WriteLine(
            $"soak: {threads} threads × {perStream} steps = {threads * perStream} steps in {concurrent.TotalSeconds:F2} s " +
            $"(single-threaded reference {sequential.TotalSeconds:F2} s); rentals {pool.Rented}, returned {pool.Returned}, outstanding {pool.Outstanding}");
    }

    [Fact]
    public void LongStream_AllocatesNothing_AndItsMemoryDoesNotGrow()
    {
        long steps = Scale("RNN_SIMD_STREAM_STEPS", 1_000_000);
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = InputSize, HiddenSize = Hidden, Layers = 2 };
        RecurrentNetwork network = TestNetworks.Create(o, seed: 23);
        RecurrentState state = network.CreateState();
        float[] inputs = new TestRandom(24).Array(InputBlock * InputSize), y = new float[Hidden];
        void Steps(long count)
        {
            for (long t = 0; t < count; t++)
            {
                network.Step(state, inputs.AsSpan((int)(t % InputBlock) * InputSize, InputSize), y);
            }
        }

        WarmUp.Run(() => Steps(100));
        Steps(10_000);
        (long heap0, long workingSet0) = Settle();
        long allocated0 = GC.GetAllocatedBytesForCurrentThread();
        int gen0 = GC.CollectionCount(0);
        long started = Stopwatch.GetTimestamp();   // not a Stopwatch object: the measurement itself allocates nothing
        Steps(steps);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocated0;
        int collections = GC.CollectionCount(0) - gen0;
        (long heap1, long workingSet1) = Settle();

        output.WriteLine(
            $"stream: {steps} steps in {elapsed.TotalSeconds:F2} s ({elapsed.TotalMicroseconds / steps:F2} µs/step); allocated {allocated} B on the thread, " +
            $"gen-0 collections {collections}; managed heap {heap0} → {heap1} B ({heap1 - heap0:+#;-#;0}); " +
            $"working set {workingSet0 >> 10} → {workingSet1 >> 10} KiB ({(workingSet1 - workingSet0) >> 10:+#;-#;0} KiB)");
        Assert.True(state.Steps > steps);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(0, allocated);
        // The heap is shared with the test runner's own threads: a few KiB of slack for them, none of it per step.
        Assert.True(heap1 - heap0 < 256 * 1024, $"the managed heap grew by {heap1 - heap0} B over {steps} steps");
        Assert.True(workingSet1 - workingSet0 < 32L << 20, $"the working set grew by {(workingSet1 - workingSet0) >> 10} KiB over {steps} steps");
    }

    private static (long Heap, long WorkingSet) Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
    }

    private static long Scale(string variable, long fallback) =>
        long.TryParse(Environment.GetEnvironmentVariable(variable), out long value) && value > 0 ? value : fallback;

    /// <summary>One stream: seeded inputs, its own state, an FNV-style hash over the bits of every output.</summary>
    private sealed class SoakStream(int index, long steps, RecurrentNetwork? network, SequenceClassifierInference? classifier)
    {
        public long Steps { get; private set; }

        public ulong Hash { get; private set; } = 14695981039346656037UL;

        public float[] FinalState { get; private set; } = [];

        public Exception? Error { get; private set; }

        public void Run()
        {
            try
            {
                float[] inputs = new TestRandom(1000 + (ulong)index).Array(InputBlock * InputSize);
                float[] y = new float[Math.Max(Hidden, Classes)];
                RecurrentState? state = network?.CreateState();
                ModelStream? stream = classifier?.CreateStream();
                for (long t = 0; t < steps; t++)
                {
                    ReadOnlySpan<float> x = inputs.AsSpan((int)(t % InputBlock) * InputSize, InputSize);
                    Span<float> output;
                    if (state is not null)
                    {
                        output = y.AsSpan(0, Hidden);
                        network!.Step(state, x, output);
                    }
                    else
                    {
                        output = y.AsSpan(0, Classes);
                        stream!.Step(x);
                        stream.Read(output, probabilities: (t & 1) == 0);
                    }

                    ulong hash = Hash;
                    foreach (float v in output)
                    {
                        hash = (hash ^ (uint)BitConverter.SingleToInt32Bits(v)) * 1099511628211UL;
                    }

                    Hash = hash;
                    Steps++;
                }

                FinalState = (state ?? stream!.State).Hidden.ToArray();
            }
            catch (Exception e)
            {
                Error = e;
            }
        }
    }
}
