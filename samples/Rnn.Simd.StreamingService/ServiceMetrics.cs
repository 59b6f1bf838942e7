using System.Diagnostics;
using System.Numerics;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.StreamingService;

/// <summary>
/// The service's counters, updated lock-free from every call and the batcher's loop, read by <c>/metrics</c>:
/// streams, steps (with a steps-per-second rate over the last whole second), the step latency (a frame handed to the
/// engine → its output back), batched steps by size, what the engine's calls allocated, refused frames.
/// </summary>
public sealed class ServiceMetrics : IDisposable
{
    /// <summary>Batch-size buckets: 1, 2, 3–4, 5–8, …, 2049–4096 (upper bounds 2^i).</summary>
    public const int BatchBuckets = 13;

    private readonly long[] _batchSizes = new long[BatchBuckets];
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Timer _sampler;
    private long _opened, _closed, _steps, _batches, _batchedSteps, _engineBytes, _engineTicks, _invalid, _oversized, _refused;
    private long _lastSteps;
    private double _stepsPerSecond;

    /// <summary>Starts the once-a-second steps/s sampler.</summary>
    public ServiceMetrics()
    {
        _sampler = new Timer(_ => Sample(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Frame → output, per step.</summary>
    public LatencyHistogram StepLatency { get; } = new();

    /// <summary>Streams open now.</summary>
    public long LiveStreams => Interlocked.Read(ref _opened) - Interlocked.Read(ref _closed);

    /// <summary>Streams opened since the start.</summary>
    public long StreamsOpened => Interlocked.Read(ref _opened);

    /// <summary>Steps completed since the start.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Bytes the engine's calls allocated on the calling threads (see <see cref="StreamEngine"/>).</summary>
    public long EngineAllocatedBytes => Interlocked.Read(ref _engineBytes);

    /// <summary>A stream was opened.</summary>
    public void StreamOpened() => Interlocked.Increment(ref _opened);

    /// <summary>A stream was closed (its slot freed).</summary>
    public void StreamClosed() => Interlocked.Increment(ref _closed);

    /// <summary>A call was refused: the service holds its most streams.</summary>
    public void StreamRefused() => Interlocked.Increment(ref _refused);

    /// <summary>A frame was malformed (wrong length, not finite, out of order).</summary>
    public void FrameInvalid() => Interlocked.Increment(ref _invalid);

    /// <summary>A call failed with RESOURCE_EXHAUSTED on a frame larger than the receive limit.</summary>
    public void FrameOversized() => Interlocked.Increment(ref _oversized);

    /// <summary>One step completed, <paramref name="ticks"/> after its frame was handed to the engine.</summary>
    public void StepCompleted(long ticks)
    {
        Interlocked.Increment(ref _steps);
        StepLatency.RecordTicks(ticks);
    }

    /// <summary>What one engine call allocated on its thread.</summary>
    public void EngineAllocated(long bytes)
    {
        if (bytes != 0)
        {
            Interlocked.Add(ref _engineBytes, bytes);
        }
    }

    /// <summary>The engine computed for <paramref name="ticks"/> (a batched step, or one stream's <c>Step</c>).</summary>
    public void EngineBusy(long ticks) => Interlocked.Add(ref _engineTicks, ticks);

    /// <summary>The batcher's loop stepped <paramref name="size"/> streams as one batch (its BatchStepped callback).</summary>
    public void BatchStepped(int size, TimeSpan elapsed)
    {
        EngineBusy(elapsed.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        int bucket = Math.Min(BatchBuckets - 1, size <= 1 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)(size - 1)));
        Interlocked.Increment(ref _batchSizes[bucket]);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchedSteps, size);
    }

    /// <summary>Everything, for <c>/metrics</c> (JSON by System.Text.Json; names in snake_case).</summary>
    public MetricsSnapshot Snapshot(string mode, string model, int capacity)
    {
        var batchSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < BatchBuckets; i++)
        {
            int low = i == 0 ? 1 : (1 << (i - 1)) + 1, high = 1 << i;
            batchSizes[low == high ? $"{high}" : $"{low}-{high}"] = Interlocked.Read(ref _batchSizes[i]);
        }

        long batches = Interlocked.Read(ref _batches);
        return new MetricsSnapshot
        {
            Mode = mode,
            Model = model,
            UptimeSeconds = Stopwatch.GetElapsedTime(_started).TotalSeconds,
            LiveStreams = LiveStreams,
            StreamsOpened = Interlocked.Read(ref _opened),
            StreamsRefused = Interlocked.Read(ref _refused),
            Capacity = capacity,
            Steps = Steps,
            StepsPerSecond = Volatile.Read(ref _stepsPerSecond),
            StepLatencyP50Us = StepLatency.Quantile(0.50) / 1e3,
            StepLatencyP99Us = StepLatency.Quantile(0.99) / 1e3,
            StepLatencyP999Us = StepLatency.Quantile(0.999) / 1e3,
            StepLatencyMaxUs = StepLatency.MaxNanoseconds / 1e3,
            Batches = batches,
            MeanBatchSize = batches == 0 ? 0 : Interlocked.Read(ref _batchedSteps) / (double)batches,
            BatchSizes = batchSizes,
            Gen0Collections = GC.CollectionCount(0),
            Gen1Collections = GC.CollectionCount(1),
            Gen2Collections = GC.CollectionCount(2),
            AllocatedBytes = GC.GetTotalAllocatedBytes(precise: false),
            EngineAllocatedBytes = EngineAllocatedBytes,
            EngineSeconds = Interlocked.Read(ref _engineTicks) / (double)Stopwatch.Frequency,
            CpuSeconds = Environment.CpuUsage.TotalTime.TotalSeconds,
            InvalidFrames = Interlocked.Read(ref _invalid),
            OversizedFrames = Interlocked.Read(ref _oversized),
        };
    }

    /// <summary>Stops the sampler.</summary>
    public void Dispose() => _sampler.Dispose();

    private void Sample()
    {
        long steps = Steps;
        Volatile.Write(ref _stepsPerSecond, steps - _lastSteps);
        _lastSteps = steps;
    }
}
