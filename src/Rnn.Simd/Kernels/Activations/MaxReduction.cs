using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// IEEE 754-2019 maximum (NaN wins, −0 &lt; +0), as MathF.Max and Vector*.Max in .NET 10. Exactly
/// associative and commutative up to NaN payloads, so any order gives the same value.
/// </summary>
internal readonly struct MaxReduction : IReduction
{
    public static float Identity => float.NegativeInfinity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Combine(float left, float right) => MathF.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Combine(Vector128<float> left, Vector128<float> right) => Vector128.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Combine(Vector256<float> left, Vector256<float> right) => Vector256.Max(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Combine(Vector512<float> left, Vector512<float> right) => Vector512.Max(left, right);
}
