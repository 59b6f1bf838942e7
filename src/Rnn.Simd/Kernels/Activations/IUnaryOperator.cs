using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// An element-wise function f(x) with one overload per width. Every overload computes the same
/// sequence of IEEE operations on each lane, so a lane's bits never depend on the width it ran at:
/// that is what makes the element-wise kernels deterministic across ISAs (DESIGN.md §4).
/// </summary>
internal interface IUnaryOperator
{
    static abstract float Invoke(float x);

    static abstract Vector128<float> Invoke(Vector128<float> x);

    static abstract Vector256<float> Invoke(Vector256<float> x);

    static abstract Vector512<float> Invoke(Vector512<float> x);
}
