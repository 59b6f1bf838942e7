namespace Rnn.Simd.Networks;

/// <summary>Small per-instance buffers that grow to the largest call and are then reused (no allocation at a steady size).</summary>
internal static class Buffers
{
    /// <summary>Replaces <paramref name="buffer"/> by a larger array when it holds fewer than <paramref name="length"/> values.</summary>
    public static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }
    }
}
