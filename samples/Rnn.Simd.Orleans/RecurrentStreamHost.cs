using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.Orleans;

/// <summary>
/// A silo's share of the streams: the network, loaded once per silo, and one <see cref="AsyncStreamBatcher"/> that
/// every <see cref="RecurrentStreamGrain"/> activated on the silo steps through, so the steps of the silo's streams
/// that are waiting at the same time run as one batched step. A singleton of the silo's container
/// (<see cref="RecurrentStreamSiloBuilderExtensions.AddRecurrentStreams"/>), disposed with it.
/// </summary>
public sealed class RecurrentStreamHost : IDisposable
{
    /// <summary>The name of the grain storage provider that keeps the streams' snapshots.</summary>
    public const string StorageName = "rnn-streams";

    /// <summary>Creates the silo's batcher for <paramref name="network"/>.</summary>
    /// <param name="network">A unidirectional, forward network: the same weights on every silo of the cluster.</param>
    /// <param name="batching">The batcher's options, or null for its defaults.</param>
    /// <param name="persistEvery">Write a stream's snapshot after every this many of its steps (≥ 0); 0: only when its grain deactivates.</param>
    public RecurrentStreamHost(RecurrentNetwork network, AsyncStreamBatcherOptions? batching = null, int persistEvery = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfNegative(persistEvery);
        Batcher = new AsyncStreamBatcher(network, batching);
        PersistEvery = persistEvery;
    }

    /// <summary>The network every stream on this silo runs.</summary>
    public RecurrentNetwork Network => Batcher.Network;

    /// <summary>The batcher the silo's stream grains share.</summary>
    public AsyncStreamBatcher Batcher { get; }

    /// <summary>Steps between two saves of a stream's snapshot; 0: saved only when its grain deactivates.</summary>
    public int PersistEvery { get; }

    /// <summary>Stops the batcher's loop (the silo is shutting down: its grains have deactivated).</summary>
    public void Dispose() => Batcher.Dispose();
}
