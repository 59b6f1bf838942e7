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

    /// <summary>
    /// True (the default): a step's awaiting code goes on on the thread pool, never on the loop's thread. False: it
    /// goes on on the thread that completes the step, inline: for a step that ran, the loop's thread, which runs the
    /// batch's continuations one after the other before it takes the next batch. That saves a thread pool hand-off a
    /// step (and, on few cores, the threads' switches), but a continuation that blocks or runs long delays every
    /// stream: use it only when what follows each await is short and never waits (as a service's reply write and
    /// next read are).
    /// </summary>
    public bool RunContinuationsAsynchronously { get; init; } = true;
}
