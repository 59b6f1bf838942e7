using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>relu(x) = max(x, 0) with IEEE 754-2019 maximum semantics at every width.</summary>
/// <remarks>
/// MathF.Max and Vector*.Max both implement IEEE maximum in .NET 10: NaN → NaN (as PyTorch's relu),
/// and −0 counts as less than +0, so relu(−0) = +0. Denormals pass through unchanged.
/// </remarks>
internal readonly struct ReluOperator : IUnaryOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float x) => MathF.Max(x, 0f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
}
