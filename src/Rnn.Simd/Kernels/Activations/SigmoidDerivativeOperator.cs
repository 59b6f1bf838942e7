using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>σ'(x) from the output y = σ(x): y·(1 − y).</summary>
/// <remarks>1 − y is exact for y ∈ [0.5, 1] (Sterbenz), so the only rounding there is the product.</remarks>
internal readonly struct SigmoidDerivativeOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float y) => y * (1f - y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> y) => y * (Vector128<float>.One - y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> y) => y * (Vector256<float>.One - y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> y) => y * (Vector512<float>.One - y);
}
