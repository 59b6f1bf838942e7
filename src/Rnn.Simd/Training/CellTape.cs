using System.Buffers;

namespace Rnn.Simd.Training;

/// <summary>
/// What a recording <see cref="CellNetwork"/> forward call keeps for backward: the input, every layer's outputs,
/// every step's states and the cells' records, in one buffer rented from the network's pool and reused by calls
/// that fit (steady sizes allocate nothing). One per thread; dispose to return the buffer.
/// </summary>
public sealed class CellTape : IDisposable
{
    private readonly TapeBuffer _buffer;
    private int[] _lengths = [];
    private int _length;
    private bool _hasLengths;

    internal CellTape(CellNetwork owner, ArrayPool<float> pool)
    {
        Owner = owner;
        _buffer = new TapeBuffer(pool, nameof(CellTape));
    }

    /// <summary>Whether a forward call has been recorded.</summary>
    public bool IsRecorded { get; internal set; }

    /// <summary>Time steps of the recorded call.</summary>
    public int Steps { get; private set; }

    /// <summary>Sequences of the recorded call.</summary>
    public int Batch { get; private set; }

    /// <summary>Floats currently held.</summary>
    public int Capacity => _buffer.Capacity;

    internal CellNetwork Owner { get; }

    internal long ParameterVersion { get; private set; }

    internal ReadOnlySpan<int> Lengths => _hasLengths ? _lengths.AsSpan(0, Batch) : default;

    internal Span<float> Buffer => _buffer.Slice(0, _length);

    /// <summary>Sizes the tape for a call (old contents are not kept).</summary>
    internal void Begin(int steps, int batch, int length, ReadOnlySpan<int> lengths, long version)
    {
        _buffer.Reserve(length);
        IsRecorded = false;
        if (_lengths.Length < batch && !lengths.IsEmpty)
        {
            _lengths = new int[batch];
        }

        lengths.CopyTo(_lengths);
        _hasLengths = !lengths.IsEmpty;
        Steps = steps;
        Batch = batch;
        _length = length;
        ParameterVersion = version;
    }

    /// <summary>Returns the buffer to the pool. The tape can not be used afterwards.</summary>
    public void Dispose()
    {
        IsRecorded = false;
        _buffer.Dispose();
    }
}
