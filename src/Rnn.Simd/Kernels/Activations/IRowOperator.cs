using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// An element-wise function f(a, b) of two row elements, with per-row constants (a row's max, its
/// sum) held in the struct. As for <see cref="IUnaryOperator"/>, every overload computes the same
/// operations per lane, so the bits never depend on the width.
/// </summary>
internal interface IRowOperator
{
    float Invoke(float a, float b);

    Vector128<float> Invoke(Vector128<float> a, Vector128<float> b);

    Vector256<float> Invoke(Vector256<float> a, Vector256<float> b);

    Vector512<float> Invoke(Vector512<float> a, Vector512<float> b);
}
