namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): a fixed
/// sequence on every platform and runtime, unlike <see cref="Random"/>'s unseeded algorithm choice.
/// </summary>
public struct SplitMix(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        return Mix(z);
    }

    /// <summary>The next value in [−1, 1), a multiple of 2⁻²³.</summary>
    public float NextSigned() => ToSigned(Next());

    /// <summary>SplitMix64's finaliser: every bit of <paramref name="z"/> affects every bit of the result.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The top 24 bits of <paramref name="bits"/> as a value in [−1, 1).</summary>
    public static float ToSigned(ulong bits) => ((bits >> 40) * (2f / (1 << 24))) - 1f;
}
