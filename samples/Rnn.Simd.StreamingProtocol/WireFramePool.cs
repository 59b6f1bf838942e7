namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// Reusable <see cref="WireFrame"/>s for incoming messages: gRPC's deserializer rents one per message, and whoever
/// reads the message returns it when done with it. Thread-safe; a frame not returned is left to the collector.
/// </summary>
public sealed class WireFramePool
{
    private readonly Lock _lock = new();
    private readonly WireFrame[] _free;
    private int _count;

    /// <summary>A pool that keeps at most <paramref name="limit"/> idle frames.</summary>
    public WireFramePool(int limit = 8192)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        _free = new WireFrame[limit];
    }

    /// <summary>An idle frame, or a new one.</summary>
    public WireFrame Rent()
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                WireFrame frame = _free[--_count];
                _free[_count] = null!;
                return frame;
            }
        }

        return new WireFrame();
    }

    /// <summary>Takes a frame back (once per rental; dropped when the pool is full).</summary>
    public void Return(WireFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        lock (_lock)
        {
            if (_count < _free.Length)
            {
                _free[_count++] = frame;
            }
        }
    }
}
