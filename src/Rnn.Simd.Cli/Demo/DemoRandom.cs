using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>The experiments' data streams: one <see cref="DeterministicRandom"/> per (seed, purpose).</summary>
internal static class DemoRandom
{
    /// <summary>The training data's stream.</summary>
    public const ulong Training = 1;

    /// <summary>The held-out data's stream.</summary>
    public const ulong Test = 2;

    /// <summary>An independent generator for one purpose of one run (the seed itself initialises the weights).</summary>
    public static DeterministicRandom Stream(ulong seed, ulong purpose) => new((seed * 0x9E3779B97F4A7C15UL) + purpose);

    /// <summary>Uniform in [0, <paramref name="maxExclusive"/>) (modulo bias below 2⁻⁵⁰ for the small ranges used here).</summary>
    public static int Next(this DeterministicRandom random, int maxExclusive) => (int)(random.NextUInt64() % (ulong)maxExclusive);
}
