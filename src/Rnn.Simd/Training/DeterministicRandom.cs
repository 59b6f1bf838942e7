using System.Numerics;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// A seeded generator whose numbers are the same bits on every machine, runtime, vector width and thread count:
/// xoshiro256** (Blackman and Vigna, 2018) with its state filled from the seed by SplitMix64 (Steele, Lea and
/// Flood, 2014), as its authors recommend. <see cref="System.Random"/> promises no such thing.
/// </summary>
/// <remarks>
/// Uniform floats take the top 24 bits (every value is exact in float); doubles the top 53. Normals use
/// Marsaglia's polar form of the Box–Muller transform in double, with a logarithm computed here from IEEE
/// operations only (<see cref="Math.Log(double)"/> is the platform's libm, whose last bit may differ between
/// systems). Not for cryptography. Not thread-safe: one generator per thread.
/// </remarks>
public sealed class DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpareNormal;

    /// <summary>Creates a generator from a seed; every seed (0 included) is valid.</summary>
    public DeterministicRandom(ulong seed) => Reset(seed);

    /// <summary>A generator from the raw xoshiro256** state (not all zero); for known-answer tests.</summary>
    internal DeterministicRandom(ulong s0, ulong s1, ulong s2, ulong s3)
    {
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    /// <summary>Restarts the generator as if created from <paramref name="seed"/> (allocates nothing).</summary>
    internal void Reset(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);   // four outputs of a bijection of distinct counters: never all zero
        _hasSpareNormal = false;
    }

    /// <summary>
    /// The generator's whole state: the four xoshiro256** words and the normal kept for the next
    /// <see cref="NextNormal"/>. Reading it and setting it on another generator makes the two produce the same
    /// numbers from then on (checkpoints save and restore it).
    /// </summary>
    /// <exception cref="ArgumentException">Set to a state whose four words are all zero (xoshiro256** would then
    /// produce only zeros; no seeded generator is ever in it) or whose kept normal is not finite.</exception>
    public DeterministicRandomState State
    {
        get => new(_s0, _s1, _s2, _s3, _hasSpareNormal ? _spareNormal : null);
        set
        {
            if ((value.S0 | value.S1 | value.S2 | value.S3) == 0)
            {
                ThrowHelper.Argument(nameof(value), "The four state words are all zero; xoshiro256** cannot leave that state.");
            }

            if (value.SpareNormal is { } spare && !double.IsFinite(spare))
            {
                ThrowHelper.Argument(nameof(value), $"The kept normal must be finite, was {spare}.");
            }

            (_s0, _s1, _s2, _s3) = (value.S0, value.S1, value.S2, value.S3);
            _hasSpareNormal = value.SpareNormal.HasValue;
            _spareNormal = value.SpareNormal.GetValueOrDefault();
        }
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) on the grid k·2⁻²⁴ (the top 24 bits).</summary>
    public float NextSingle() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [0, 1) on the grid k·2⁻⁵³ (the top 53 bits).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// A standard normal N(0, 1), in double: Marsaglia's polar method (two normals per accepted pair; the second
    /// is kept for the next call).
    /// </summary>
    public double NextNormal()
    {
        if (_hasSpareNormal)
        {
            _hasSpareNormal = false;
            return _spareNormal;
        }

        double u, v, s;
        do
        {
            u = (2 * NextDouble()) - 1;
            v = (2 * NextDouble()) - 1;
            s = (u * u) + (v * v);
        }
        while (s >= 1 || s == 0);

        double factor = Math.Sqrt(-2 * Log(s) / s);
        _spareNormal = v * factor;
        _hasSpareNormal = true;
        return u * factor;
    }

    /// <summary>SplitMix64: advances <paramref name="state"/> by the golden gamma and returns its mixed value.</summary>
    internal static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// ln x for finite x &gt; 0 from IEEE operations only, so the same bits everywhere (within a few ulps of the true
    /// value). x = m · 2^e with m in [√½, √2); ln m = 2 atanh f = 2 (f + f³/3 + … + f²⁵/25) with f = (m − 1)/(m + 1),
    /// |f| &lt; 0.172, so the truncated terms are below 1e−19 of the result; ln 2 in two parts (fdlibm's split) keeps
    /// e · ln 2 exact to double precision.
    /// </summary>
    internal static double Log(double x)
    {
        const double Ln2High = 6.93147180369123816490e-01;   // 0x3FE62E42FEE00000: e · Ln2High is exact for |e| < 2^11
        const double Ln2Low = 1.90821492927058770002e-10;    // ln 2 − Ln2High
        const double Sqrt2 = 1.4142135623730951;
        const double SmallestNormal = 2.2250738585072014e-308;   // 2^−1022

        System.Diagnostics.Debug.Assert(x > 0 && double.IsFinite(x));
        int exponent = 0;
        if (x < SmallestNormal)    // subnormal: scale into the normal range
        {
            x *= 18014398509481984.0;   // 2^54
            exponent = -54;
        }

        long bits = BitConverter.DoubleToInt64Bits(x);
        exponent += (int)((bits >> 52) & 0x7FF) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);   // [1, 2)
        if (m > Sqrt2)
        {
            m *= 0.5;
            exponent++;
        }

        double f = (m - 1) / (m + 1);
        double f2 = f * f;
        double series = 1.0 / 25;
        for (int k = 23; k >= 3; k -= 2)
        {
            series = (series * f2) + (1.0 / k);
        }

        double twoF = 2 * f;
        double lnM = twoF + (twoF * f2 * series);   // the small correction last, so 2f keeps its precision
        return (exponent * Ln2High) + ((exponent * Ln2Low) + lnM);
    }
}

/// <summary>A snapshot of a <see cref="DeterministicRandom"/>'s state (see <see cref="DeterministicRandom.State"/>).</summary>
/// <param name="S0">xoshiro256** state word 0.</param>
/// <param name="S1">xoshiro256** state word 1.</param>
/// <param name="S2">xoshiro256** state word 2.</param>
/// <param name="S3">xoshiro256** state word 3.</param>
/// <param name="SpareNormal">The second normal of the last accepted pair, returned by the next
/// <see cref="DeterministicRandom.NextNormal"/>; null when there is none.</param>
public readonly record struct DeterministicRandomState(ulong S0, ulong S1, ulong S2, ulong S3, double? SpareNormal);
