using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>Feeds float results into a SHA-256 for the determinism tests.</summary>
internal static class BitHash
{
    /// <summary>
    /// Hashes the bits of <paramref name="values"/>, every NaN as the one canonical quiet NaN: the contract covers
    /// every bit of every number, but not NaN payloads and signs, which hardware and software FMA choose differently.
    /// </summary>
    public static void Append(IncrementalHash hash, ReadOnlySpan<float> values)
    {
        Span<int> bits = stackalloc int[256];
        for (int start = 0; start < values.Length; start += bits.Length)
        {
            int count = Math.Min(bits.Length, values.Length - start);
            for (int i = 0; i < count; i++)
            {
                float v = values[start + i];
                bits[i] = float.IsNaN(v) ? 0x7FC0_0000 : BitConverter.SingleToInt32Bits(v);
            }

            hash.AppendData(MemoryMarshal.AsBytes(bits[..count]));
        }
    }
}
