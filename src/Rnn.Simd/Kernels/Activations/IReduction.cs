using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>An associative combining step of a row reduction (sum, max), with its identity element.</summary>
internal interface IReduction
{
    static abstract float Identity { get; }

    static abstract float Combine(float left, float right);

    static abstract Vector128<float> Combine(Vector128<float> left, Vector128<float> right);

    static abstract Vector256<float> Combine(Vector256<float> left, Vector256<float> right);

    static abstract Vector512<float> Combine(Vector512<float> left, Vector512<float> right);
}
