namespace Rnn.Simd.StreamingProtocol;

/// <summary>What <c>/metrics</c> returns.</summary>
public sealed record MetricsSnapshot
{
    /// <summary>"batched" or "per-stream".</summary>
    public string Mode { get; init; } = "";

    /// <summary>Where the model came from.</summary>
    public string Model { get; init; } = "";

    /// <summary>Seconds since the service started.</summary>
    public double UptimeSeconds { get; init; }

    /// <summary>Streams (calls) open now.</summary>
    public long LiveStreams { get; init; }

    /// <summary>Streams opened since the start.</summary>
    public long StreamsOpened { get; init; }

    /// <summary>Calls refused at the stream limit.</summary>
    public long StreamsRefused { get; init; }

    /// <summary>Stream slots the engine holds (the batcher's pool; per-stream: live states).</summary>
    public int Capacity { get; init; }

    /// <summary>Steps (frames answered) since the start.</summary>
    public long Steps { get; init; }

    /// <summary>Steps in the last whole second.</summary>
    public double StepsPerSecond { get; init; }

    /// <summary>Step latency quantiles since the start, µs (frame handed to the engine → output back).</summary>
    public double StepLatencyP50Us { get; init; }

    /// <summary>See <see cref="StepLatencyP50Us"/>.</summary>
    public double StepLatencyP99Us { get; init; }

    /// <summary>See <see cref="StepLatencyP50Us"/>.</summary>
    public double StepLatencyP999Us { get; init; }

    /// <summary>The longest step, µs.</summary>
    public double StepLatencyMaxUs { get; init; }

    /// <summary>Batched steps since the start (batched mode).</summary>
    public long Batches { get; init; }

    /// <summary>Streams per batched step, on average.</summary>
    public double MeanBatchSize { get; init; }

    /// <summary>Batched steps by size bucket ("1", "2", "3-4", …).</summary>
    public IReadOnlyDictionary<string, long> BatchSizes { get; init; } = new Dictionary<string, long>();

    /// <summary>Garbage collections of each generation since the process started.</summary>
    public int Gen0Collections { get; init; }

    /// <summary>See <see cref="Gen0Collections"/>.</summary>
    public int Gen1Collections { get; init; }

    /// <summary>See <see cref="Gen0Collections"/>.</summary>
    public int Gen2Collections { get; init; }

    /// <summary>Bytes the whole process allocated since it started (gRPC, Kestrel, the engine).</summary>
    public long AllocatedBytes { get; init; }

    /// <summary>Bytes allocated inside the engine's calls on the callers' threads.</summary>
    public long EngineAllocatedBytes { get; init; }

    /// <summary>Seconds the engine computed: the batched steps' durations, or the sum of the streams' <c>Step</c> calls.</summary>
    public double EngineSeconds { get; init; }

    /// <summary>CPU seconds the whole process used since it started (all threads, user and kernel).</summary>
    public double CpuSeconds { get; init; }

    /// <summary>Frames refused with INVALID_ARGUMENT.</summary>
    public long InvalidFrames { get; init; }

    /// <summary>Calls ended with RESOURCE_EXHAUSTED by an oversized frame.</summary>
    public long OversizedFrames { get; init; }
}
