using System.Buffers;

namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>An array pool that counts rentals and returns, so a test can prove every rental comes back.</summary>
internal sealed class TrackingArrayPool<T> : ArrayPool<T>
{
    private readonly ArrayPool<T> _inner = ArrayPool<T>.Create();
    private readonly HashSet<T[]> _outstanding = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();

    public int Rented { get; private set; }

    public int Returned { get; private set; }

    public int Outstanding
    {
        get
        {
            lock (_lock)
            {
                return _outstanding.Count;
            }
        }
    }

    public override T[] Rent(int minimumLength)
    {
        T[] array = _inner.Rent(minimumLength);
        lock (_lock)
        {
            Rented++;
            Assert.True(_outstanding.Add(array), "The pool handed out an array that was already rented.");
        }

        return array;
    }

    public override void Return(T[] array, bool clearArray = false)
    {
        lock (_lock)
        {
            Returned++;
            Assert.True(_outstanding.Remove(array), "An array was returned that this pool did not rent (or was returned twice).");
        }

        _inner.Return(array, clearArray);
    }
}
