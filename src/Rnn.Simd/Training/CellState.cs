namespace Rnn.Simd.Training;

/// <summary>
/// The carried state of B streams through a unidirectional <see cref="CellNetwork"/> (<see cref="CellNetwork.Step"/>,
/// <see cref="CellNetwork.Process"/>): [L, B, S] per layer, the layout of the network's s0 and s_n. Not thread-safe:
/// one per stream group; save it (a checkpoint's tensors) to resume a stream.
/// </summary>
public sealed class CellState
{
    private readonly float[] _state;

    internal CellState(CellNetwork network, int batch)
    {
        Network = network;
        Batch = batch;
        _state = new float[batch * network.StateSize];
    }

    /// <summary>The network this state runs through.</summary>
    public CellNetwork Network { get; }

    /// <summary>Streams.</summary>
    public int Batch { get; }

    /// <summary>Steps run since creation or <see cref="Reset"/>.</summary>
    public long Steps { get; internal set; }

    /// <summary>The state, [L, B, S] (writable: set it to resume a saved stream).</summary>
    public Span<float> State => _state;

    /// <summary>Zero state, zero steps.</summary>
    public void Reset()
    {
        Array.Clear(_state);
        Steps = 0;
    }
}
