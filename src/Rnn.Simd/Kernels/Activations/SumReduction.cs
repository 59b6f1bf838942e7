using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>Float addition. Not associative: <see cref="RowDriver"/> fixes the order.</summary>
internal readonly struct SumReduction : IReduction
{
    public static float Identity => 0f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Combine(float left, float right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Combine(Vector128<float> left, Vector128<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Combine(Vector256<float> left, Vector256<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Combine(Vector512<float> left, Vector512<float> right) => left + right;
}
