namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The two roundings of <see cref="WeightPrecision"/>: float32 to bfloat16 (round to nearest, ties to even) and to a
/// symmetric int8 code with one scale per output row (per row of each PyTorch tensor: a fused [W_x | W_h] row has two). Each weight is rounded once, from the float32 value the
/// network holds; a value that is already a bfloat16 (as read from a BF16 safetensors file) is kept exactly.
/// </summary>
internal static class ReducedWeights
{
    /// <summary>The largest int8 code: the symmetric range [−127, 127] (−128 unused, so q and −q both exist).</summary>
    public const int Int8Max = 127;

    /// <summary>The bfloat16 bits of <paramref name="value"/>, rounded to nearest even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040u);
        }

        // Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when the dropped half is above one
        // half, or equal to it and the kept half is odd (ties to even). Overflow past the largest finite gives ±∞.
        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary><paramref name="value"/> rounded to the nearest bfloat16, as a float.</summary>
    public static float RoundToBFloat16(float value) => BitConverter.UInt32BitsToSingle((uint)ToBFloat16Bits(value) << 16);

    /// <summary>
    /// 2²⁴: the kernels widen an int8 code q to the float q·2²⁴ (the byte placed in a word's top byte, converted) and
    /// the stored scale is s·2⁻²⁴, so y = fma(Σ x·(q·2²⁴), s·2⁻²⁴, y₀). Powers of two: the same value as s·Σ x·q except
    /// where a partial sum leaves the normal range.
    /// </summary>
    public const float Int8Lift = 16777216f;

    /// <summary>The scale of one output row: max|w| / 127, or 0 for a row of zeros.</summary>
    public static float Int8Scale(float maxAbs) => maxAbs / Int8Max;

    /// <summary>The int8 code of <paramref name="value"/> under <paramref name="scale"/>: round(w / s) (ties to even), clamped.</summary>
    public static sbyte ToInt8(float value, float scale)
    {
        if (scale == 0f)
        {
            return 0;
        }

        float q = MathF.Round(value / scale, MidpointRounding.ToEven);
        return (sbyte)Math.Clamp(q, -Int8Max, Int8Max);
    }
}
