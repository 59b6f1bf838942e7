using System.Buffers;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// A tape's one pooled buffer: rented on first use, exchanged for a larger rental only when a call needs more (so
/// calls of a steady size allocate nothing), returned to the pool on <see cref="Dispose"/>.
/// </summary>
internal sealed class TapeBuffer(ArrayPool<float> pool, string ownerName) : IDisposable
{
    private float[]? _array;

    /// <summary>Floats currently held.</summary>
    public int Capacity => _array?.Length ?? 0;

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Makes room for <paramref name="length"/> floats (old contents are not kept).</summary>
    /// <exception cref="ObjectDisposedException">After <see cref="Dispose"/>.</exception>
    public void Reserve(int length)
    {
        if (IsDisposed)
        {
            ThrowHelper.ObjectDisposed(ownerName);
        }

        if (_array is null || _array.Length < length)
        {
            if (_array is not null)
            {
                pool.Return(_array);
                _array = null;
            }

            _array = pool.Rent(Math.Max(length, 1));
        }
    }

    /// <summary>A view of the reserved floats.</summary>
    public Span<float> Slice(int start, int length) => _array.AsSpan(start, length);

    /// <summary>Returns the buffer to the pool; <see cref="Reserve"/> throws afterwards.</summary>
    public void Dispose()
    {
        IsDisposed = true;
        if (_array is not null)
        {
            pool.Return(_array);
            _array = null;
        }
    }
}
