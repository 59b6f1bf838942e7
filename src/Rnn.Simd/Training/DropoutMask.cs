using System.Diagnostics;

namespace Rnn.Simd.Training;

/// <summary>
/// Dropout masks from a counter-based generator: whether position i of a mask is kept depends only on the mask's key
/// (seed, step, kind, index) and i, never on the order positions are drawn in. Each draw is the SplitMix64 output at
/// position i of the stream the key starts (Steele, Lea and Flood, 2014); its top 24 bits are a uniform u on the
/// grid k·2⁻²⁴, and the position is dropped when u &lt; p (on the same grid). Scalar integer code only: the same
/// bits on every machine, vector width and thread count.
/// </summary>
internal static class DropoutMask
{
    /// <summary>The kinds of mask, one stream each.</summary>
    public const ulong LayerOutput = 1, WeightDrop = 2, Embedding = 3, Input = 4, Recurrent = 5;

    /// <summary>The key of one mask: the stream of (<paramref name="seed"/>, <paramref name="step"/>, <paramref name="kind"/>, <paramref name="index"/>).</summary>
    public static ulong Key(ulong seed, long step, ulong kind, int index)
    {
        ulong state = seed;
        ulong key = DeterministicRandom.SplitMix64(ref state) ^ (ulong)step;
        key = DeterministicRandom.SplitMix64(ref key) ^ ((kind << 32) | (uint)index);
        return DeterministicRandom.SplitMix64(ref key);
    }

    /// <summary>The drop threshold of a rate: u24 &lt; threshold is dropped (p rounded to the 2⁻²⁴ grid).</summary>
    public static uint Threshold(float rate)
    {
        Debug.Assert(rate is >= 0 and < 1);
        return (uint)Math.Round(rate * (double)(1 << 24));
    }

    /// <summary>The factor of a kept value, 1/(1 − p) rounded once to float.</summary>
    public static float Scale(float rate) => (float)(1.0 / (1.0 - rate));

    /// <summary>Whether position <paramref name="position"/> of the mask keyed <paramref name="key"/> is kept.</summary>
    public static bool Kept(ulong key, long position, uint threshold)
    {
        ulong state = key + ((ulong)position * 0x9E3779B97F4A7C15UL);
        return (uint)(DeterministicRandom.SplitMix64(ref state) >> 40) >= threshold;
    }

    /// <summary>Writes the mask keyed <paramref name="key"/>: 1/(1 − p) where kept, 0 where dropped.</summary>
    public static void Fill(Span<float> mask, float rate, ulong key)
    {
        uint threshold = Threshold(rate);
        float scale = Scale(rate);
        for (int i = 0; i < mask.Length; i++)
        {
            mask[i] = Kept(key, i, threshold) ? scale : 0f;
        }
    }
}
