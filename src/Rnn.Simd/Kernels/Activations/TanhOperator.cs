using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>tanh(x) in float, the same operations in every lane at every width (≤ 2 ulp; see the tests).</summary>
/// <remarks>
/// Cephes' tanhf scheme (Stephen L. Moshier, Cephes Math Library, single/tanhf.c), on a = |x|:
/// a &lt; 0.625 → a + a·z·P(z) with z = a² and Cephes' degree-4 P; otherwise 1 − 2/(e^(2a) + 1) with
/// <see cref="ExpOperator"/>. The sign of x is put back last, so tanh is exactly odd and
/// tanh(±0) = ±0. Vectors compute both branches and select per lane; scalar computes the one it
/// needs, which gives the same bits. ±∞ → ±1 (e^(2a) = +∞ gives 1 − 0), NaN → NaN.
/// </remarks>
internal readonly struct TanhOperator : IUnaryOperator
{
    private const float SmallLimit = 0.625f;

    // Cephes tanhf: tanh(a) ≈ a + a·z·(T0·z^4 + T1·z^3 + T2·z^2 + T3·z + T4) for a < 0.625.
    private const float T0 = -5.70498872745e-3f;
    private const float T1 = 2.06390887954e-2f;
    private const float T2 = -5.37397155531e-2f;
    private const float T3 = 1.33314422036e-1f;
    private const float T4 = -3.33332819422e-1f;

    private const int SignBit = unchecked((int)0x8000_0000);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x)
    {
        int bits = BitConverter.SingleToInt32Bits(x);
        float a = BitConverter.Int32BitsToSingle(bits & ~SignBit);

        float r;
        if (a < SmallLimit)
        {
            float z = a * a;
            float p = Mad.Fma(T0, z, T1);
            p = Mad.Fma(p, z, T2);
            p = Mad.Fma(p, z, T3);
            p = Mad.Fma(p, z, T4);
            r = Mad.Fma(p * z, a, a);
        }
        else
        {
            // Also the NaN path (NaN < 0.625 is false), as in the vector select below.
            float e = ExpOperator.Invoke(a + a);
            r = 1f - (2f / (e + 1f));
        }

        // r ≥ +0 (or NaN): OR-ing in the sign of x is copysign.
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(r) | (bits & SignBit));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> sign = Vector128.Create(-0f);
        Vector128<float> a = Vector128.AndNot(x, sign);

        Vector128<float> z = a * a;
        Vector128<float> p = Mad.Fma(Vector128.Create(T0), z, Vector128.Create(T1));
        p = Mad.Fma(p, z, Vector128.Create(T2));
        p = Mad.Fma(p, z, Vector128.Create(T3));
        p = Mad.Fma(p, z, Vector128.Create(T4));
        Vector128<float> small = Mad.Fma(p * z, a, a);

        Vector128<float> e = ExpOperator.Invoke(a + a);
        Vector128<float> large = Vector128<float>.One - (Vector128.Create(2f) / (e + Vector128<float>.One));

        Vector128<float> r = Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(SmallLimit)), small, large);
        return r | (x & sign);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> sign = Vector256.Create(-0f);
        Vector256<float> a = Vector256.AndNot(x, sign);

        Vector256<float> z = a * a;
        Vector256<float> p = Mad.Fma(Vector256.Create(T0), z, Vector256.Create(T1));
        p = Mad.Fma(p, z, Vector256.Create(T2));
        p = Mad.Fma(p, z, Vector256.Create(T3));
        p = Mad.Fma(p, z, Vector256.Create(T4));
        Vector256<float> small = Mad.Fma(p * z, a, a);

        Vector256<float> e = ExpOperator.Invoke(a + a);
        Vector256<float> large = Vector256<float>.One - (Vector256.Create(2f) / (e + Vector256<float>.One));

        Vector256<float> r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(SmallLimit)), small, large);
        return r | (x & sign);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> sign = Vector512.Create(-0f);
        Vector512<float> a = Vector512.AndNot(x, sign);

        Vector512<float> z = a * a;
        Vector512<float> p = Mad.Fma(Vector512.Create(T0), z, Vector512.Create(T1));
        p = Mad.Fma(p, z, Vector512.Create(T2));
        p = Mad.Fma(p, z, Vector512.Create(T3));
        p = Mad.Fma(p, z, Vector512.Create(T4));
        Vector512<float> small = Mad.Fma(p * z, a, a);

        Vector512<float> e = ExpOperator.Invoke(a + a);
        Vector512<float> large = Vector512<float>.One - (Vector512.Create(2f) / (e + Vector512<float>.One));

        Vector512<float> r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(SmallLimit)), small, large);
        return r | (x & sign);
    }
}
