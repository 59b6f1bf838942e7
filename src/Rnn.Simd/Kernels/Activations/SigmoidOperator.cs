using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>σ(x) = 1/(1 + e^−x) in float, the same operations in every lane at every width (≤ 2 ulp).</summary>
/// <remarks>
/// Computed as e/(1 + e) for x &lt; 0 and 1/(1 + e) otherwise, with e = e^−|x| ∈ [0, 1] from
/// <see cref="ExpOperator"/>: one exp, one division, and e never overflows, so σ(x) for
/// x ∈ [−103.9, −87.3] comes out as the correct denormal instead of the 0 that 1/(1 + e^−x)
/// gives once e^−x = +∞. Special values: σ(±0) = 0.5, σ(+∞) = 1, σ(−∞) = +0, NaN → NaN.
/// </remarks>
internal readonly struct SigmoidOperator : IUnaryOperator
{
    private const int SignBit = unchecked((int)0x8000_0000);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        // −|x| by setting the sign bit: exactly what the vector x | −0 does, NaN included.
        float e = ExpOperator.Invoke(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) | SignBit));
        float numerator = x < 0f ? e : 1f;
        return numerator / (1f + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> e = ExpOperator.Invoke(x | Vector128.Create(-0f));
        Vector128<float> numerator = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), e, Vector128<float>.One);
        return numerator / (Vector128<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> e = ExpOperator.Invoke(x | Vector256.Create(-0f));
        Vector256<float> numerator = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), e, Vector256<float>.One);
        return numerator / (Vector256<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> e = ExpOperator.Invoke(x | Vector512.Create(-0f));
        Vector512<float> numerator = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), e, Vector512<float>.One);
        return numerator / (Vector512<float>.One + e);
    }
}
