namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>
/// A tiny seeded generator (SplitMix64) for test data: the same seed gives the same numbers on every
/// runtime and machine, which System.Random does not promise.
/// </summary>
internal sealed class TestRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (exact in float).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [lo, hi).</summary>
    public float Uniform(float lo, float hi) => lo + ((hi - lo) * NextFloat());

    public int Next(int maxExclusive) => (int)(NextUInt64() % (ulong)maxExclusive);

    public float[] Array(int length, float lo = -1f, float hi = 1f)
    {
        var data = new float[length];
        Fill(data, lo, hi);
        return data;
    }

    public void Fill(Span<float> data, float lo = -1f, float hi = 1f)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = Uniform(lo, hi);
        }
    }
}
