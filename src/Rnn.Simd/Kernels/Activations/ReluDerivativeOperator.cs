using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>relu'(x) from the output y = relu(x): 1 where y &gt; 0, else 0 (also for y = NaN).</summary>
/// <remarks>
/// The backward driver multiplies dy by this, so dx = dy where y &gt; 0 and dx = dy·0 elsewhere:
/// ±0 for finite dy, NaN for dy = ±∞ or NaN (a non-finite upstream gradient is not hidden).
/// </remarks>
internal readonly struct ReluDerivativeOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float y) => y > 0f ? 1f : 0f;

    // The all-ones compare mask AND 1.0 gives 1.0 where y > 0 and +0 elsewhere.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> y) => Vector128.GreaterThan(y, Vector128<float>.Zero) & Vector128<float>.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> y) => Vector256.GreaterThan(y, Vector256<float>.Zero) & Vector256<float>.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> y) => Vector512.GreaterThan(y, Vector512<float>.Zero) & Vector512<float>.One;
}
