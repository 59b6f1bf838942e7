using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Serving;

/// <summary>How an <see cref="AsyncStreamBatcher"/> forms its batches.</summary>
public sealed record AsyncStreamBatcherOptions
{
    /// <summary>The most streams one batched step takes (≥ 1). Default 256.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>
    /// How long the loop, once a step is waiting, waits at most for more streams to become ready before it steps
    /// the ones it has (≥ 0; waited in whole milliseconds, rounded up). It does not wait when every registered stream
    /// is ready or <see cref="MaxBatch"/> are. Default 1 ms; zero steps whatever is ready at once.
    /// </summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Threads for the batched steps' matrix products (the loop's thread takes part), or null for the loop's thread only.</summary>
    public ThreadTeam? Threads { get; init; }

    /// <summary>Stream slots to make up front (the pool grows past it when needed).</summary>
    public int InitialCapacity { get; init; }

    /// <summary>
    /// Called on the loop's thread after each batched step, with the number of streams it stepped and how long the
    /// step took, before the batch's tasks complete; for metrics (a batch-size histogram). Null for none. It must be
    /// quick, allocate nothing and not throw: an exception fails the batch's steps as a failing step does (their
    /// states have advanced).
    /// </summary>
    public Action<int, TimeSpan>? BatchStepped { get; init; }
}
