using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>f(x) = x. The entry points copy instead (same bits, NaN payloads included); this exists so
/// the generic drivers and tests can treat identity like any other activation.</summary>
internal readonly struct IdentityOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => x;
}
