using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>tanh'(x) from the output y = tanh(x): 1 − y², as one fused multiply-add.</summary>
/// <remarks>The FMA rounds once, so 1 − y² keeps its relative accuracy when |y| is close to 1.</remarks>
internal readonly struct TanhDerivativeOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float y) => Mad.Fma(-y, y, 1f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> y) => Mad.Fma(-y, y, Vector128<float>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> y) => Mad.Fma(-y, y, Vector256<float>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> y) => Mad.Fma(-y, y, Vector512<float>.One);
}
