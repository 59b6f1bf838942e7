using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// exp(x) in float, the same operations in every lane at every width (≤ 2 ulp; see the tests).
/// </summary>
/// <remarks>
/// The algorithm and the polynomial are Cephes' expf (Stephen L. Moshier, Cephes Math Library,
/// single/expf.c): x = n·ln2 + r with n = round(x·log2 e) and |r| ≲ ln2/2; ln2 split into
/// C1 + C2 so that n·C1 is exact; e^r ≈ 1 + r + r²·P(r) with a degree-5 P.
/// What is ours: every multiply-add is a fused multiply-add (MathF.FusedMultiplyAdd in scalar,
/// Vector*.FusedMultiplyAdd in vectors: the same single rounding everywhere, emulated exactly where
/// the hardware has none), n is rounded by the 1.5·2^23 trick instead of a float→int conversion,
/// and 2^n is applied as two factors so that the result overflows and underflows (through the
/// denormals) exactly as the correctly rounded result would.
/// Special values: NaN → NaN, +∞ → +∞, −∞ → +0, x &gt; 88.72 → +∞, x &lt; −103.97 → +0.
/// </remarks>
internal readonly struct ExpOperator : IUnaryOperator
{
    // Inputs are clamped to [MinInput, MaxInput] first. e^89 > 2^128 overflows and e^−104 < 2^−150
    // rounds to +0, so the clamp never changes a result; it bounds n to [−150, 128], which keeps the
    // exponent arithmetic below in range. A NaN input stays NaN: MathF.Min/Max propagate it, and the
    // vectors use the native min/max with the bound first, which return the second operand when either
    // is NaN (x86 minps/maxps; Arm's fmin/fmax propagate NaN anyway). The IEEE Vector.Min/Max give the
    // same values here (the bounds are not ±0), but cost about seven instructions each on x86 instead of
    // one: the clamp was half the work of a σ.
    internal const float MaxInput = 89f;
    internal const float MinInput = -104f;

    private const float Log2E = 1.44269504088896341f;

    // 1.5·2^23. For |v| < 2^22, v + RoundMagic lands in [2^23, 2^24), where the float spacing is 1,
    // so the addition rounds v to the nearest integer (ties to even) and leaves it in the low
    // mantissa bits: n = bits(t) − bits(RoundMagic) as an int, and t − RoundMagic as a float.
    private const float RoundMagic = 12582912f;
    private const int RoundMagicBits = 0x4B40_0000;

    // Cephes: ln 2 = C1 + C2, C1 with 9 significant bits so n·C1 is exact for |n| ≤ 2^15.
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;

    // Cephes expf polynomial: e^r ≈ 1 + r + r²·(P0·r^5 + ... + P5).
    private const float P0 = 1.9875691500e-4f;
    private const float P1 = 1.3981999507e-3f;
    private const float P2 = 8.3334519073e-3f;
    private const float P3 = 4.1665795894e-2f;
    private const float P4 = 1.6666665459e-1f;
    private const float P5 = 5.0000001201e-1f;

    private const int ExponentBias = 127;
    private const int MantissaBits = 23;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        x = MathF.Max(MathF.Min(x, MaxInput), MinInput);

        // Plain multiply then add: .NET never contracts these into an FMA, and the vector code
        // below does the same two roundings.
        float t = (x * Log2E) + RoundMagic;
        float n = t - RoundMagic;
        int ni = unchecked(BitConverter.SingleToInt32Bits(t) - RoundMagicBits);

        float r = Mad.Fma(n, -Ln2Hi, x);
        r = Mad.Fma(n, -Ln2Lo, r);

        float p = Mad.Fma(P0, r, P1);
        p = Mad.Fma(p, r, P2);
        p = Mad.Fma(p, r, P3);
        p = Mad.Fma(p, r, P4);
        p = Mad.Fma(p, r, P5);
        float y = Mad.Fma(p, r * r, r) + 1f;

        // 2^n = 2^n1 · 2^n2 with n1 = ⌊n/2⌋ ∈ [−75, 64], n2 = n − n1 ∈ [−75, 64]: both factors are
        // normal floats. y·2^n1 is exact, so the second product is the only rounding: it gives +∞
        // or a correctly rounded denormal exactly where y·2^n does.
        int n1 = ni >> 1;
        int n2 = ni - n1;
        return y * Pow2(n1) * Pow2(n2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x)
    {
        x = Vector128.MaxNative(Vector128.Create(MinInput), Vector128.MinNative(Vector128.Create(MaxInput), x));

        Vector128<float> t = (x * Vector128.Create(Log2E)) + Vector128.Create(RoundMagic);
        Vector128<float> n = t - Vector128.Create(RoundMagic);
        Vector128<int> ni = t.AsInt32() - Vector128.Create(RoundMagicBits);

        Vector128<float> r = Mad.Fma(n, Vector128.Create(-Ln2Hi), x);
        r = Mad.Fma(n, Vector128.Create(-Ln2Lo), r);

        Vector128<float> p = Mad.Fma(Vector128.Create(P0), r, Vector128.Create(P1));
        p = Mad.Fma(p, r, Vector128.Create(P2));
        p = Mad.Fma(p, r, Vector128.Create(P3));
        p = Mad.Fma(p, r, Vector128.Create(P4));
        p = Mad.Fma(p, r, Vector128.Create(P5));
        Vector128<float> y = Mad.Fma(p, r * r, r) + Vector128<float>.One;

        Vector128<int> n1 = Vector128.ShiftRightArithmetic(ni, 1);
        Vector128<int> n2 = ni - n1;
        return y * Pow2(n1) * Pow2(n2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x)
    {
        x = Vector256.MaxNative(Vector256.Create(MinInput), Vector256.MinNative(Vector256.Create(MaxInput), x));

        Vector256<float> t = (x * Vector256.Create(Log2E)) + Vector256.Create(RoundMagic);
        Vector256<float> n = t - Vector256.Create(RoundMagic);
        Vector256<int> ni = t.AsInt32() - Vector256.Create(RoundMagicBits);

        Vector256<float> r = Mad.Fma(n, Vector256.Create(-Ln2Hi), x);
        r = Mad.Fma(n, Vector256.Create(-Ln2Lo), r);

        Vector256<float> p = Mad.Fma(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Mad.Fma(p, r, Vector256.Create(P2));
        p = Mad.Fma(p, r, Vector256.Create(P3));
        p = Mad.Fma(p, r, Vector256.Create(P4));
        p = Mad.Fma(p, r, Vector256.Create(P5));
        Vector256<float> y = Mad.Fma(p, r * r, r) + Vector256<float>.One;

        Vector256<int> n1 = Vector256.ShiftRightArithmetic(ni, 1);
        Vector256<int> n2 = ni - n1;
        return y * Pow2(n1) * Pow2(n2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        x = Vector512.MaxNative(Vector512.Create(MinInput), Vector512.MinNative(Vector512.Create(MaxInput), x));

        Vector512<float> t = (x * Vector512.Create(Log2E)) + Vector512.Create(RoundMagic);
        Vector512<float> n = t - Vector512.Create(RoundMagic);
        Vector512<int> ni = t.AsInt32() - Vector512.Create(RoundMagicBits);

        Vector512<float> r = Mad.Fma(n, Vector512.Create(-Ln2Hi), x);
        r = Mad.Fma(n, Vector512.Create(-Ln2Lo), r);

        Vector512<float> p = Mad.Fma(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Mad.Fma(p, r, Vector512.Create(P2));
        p = Mad.Fma(p, r, Vector512.Create(P3));
        p = Mad.Fma(p, r, Vector512.Create(P4));
        p = Mad.Fma(p, r, Vector512.Create(P5));
        Vector512<float> y = Mad.Fma(p, r * r, r) + Vector512<float>.One;

        Vector512<int> n1 = Vector512.ShiftRightArithmetic(ni, 1);
        Vector512<int> n2 = ni - n1;
        return y * Pow2(n1) * Pow2(n2);
    }

    // 2^k for k in [−126, 127], built from the exponent field. For NaN inputs k is garbage, but the
    // product with y (NaN) is NaN whatever 2^k turns out to be.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Pow2(int k) => BitConverter.Int32BitsToSingle(unchecked((k + ExponentBias) << MantissaBits));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Pow2(Vector128<int> k) =>
        Vector128.ShiftLeft(k + Vector128.Create(ExponentBias), MantissaBits).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pow2(Vector256<int> k) =>
        Vector256.ShiftLeft(k + Vector256.Create(ExponentBias), MantissaBits).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pow2(Vector512<int> k) =>
        Vector512.ShiftLeft(k + Vector512.Create(ExponentBias), MantissaBits).AsSingle();
}
