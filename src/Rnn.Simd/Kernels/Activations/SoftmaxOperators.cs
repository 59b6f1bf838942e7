using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Activations;

// The per-row steps of softmax and log-softmax, forward and backward (see Softmax.cs). They live in
// one file because each is one line and none is used anywhere else; a and b are the two row
// operands named in each summary, and the broadcast fields are per-row constants.

/// <summary>a ↦ a (b unused): a plain row sum or max.</summary>
internal readonly struct FirstOperator : IRowOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a;
}

/// <summary>(a, b) ↦ a·b: Σ dy·y for the softmax backward.</summary>
internal readonly struct ProductOperator : IRowOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a * b;
}

/// <summary>x ↦ e^(x − max) (b unused): the shifted exponentials of a softmax row.</summary>
internal readonly struct ExpShiftOperator(float max) : IRowOperator
{
    private readonly float _max = max;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => ExpOperator.Invoke(a - _max);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => ExpOperator.Invoke(a - Vector128.Create(_max));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => ExpOperator.Invoke(a - Vector256.Create(_max));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => ExpOperator.Invoke(a - Vector512.Create(_max));
}

/// <summary>e ↦ e / sum (b unused): normalises a softmax row. A division, not a reciprocal multiply: 0.5 ulp.</summary>
internal readonly struct DivideOperator(float sum) : IRowOperator
{
    private readonly float _sum = sum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => a / _sum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => a / Vector128.Create(_sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a / Vector256.Create(_sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a / Vector512.Create(_sum);
}

/// <summary>
/// x ↦ (x − max) − log(sum) (b unused): a log-softmax row. Two subtractions, not x − (max + log sum):
/// max + log sum would round at the scale of max and swamp outputs near 0.
/// </summary>
internal readonly struct LogSoftmaxOutputOperator(float max, float logSum) : IRowOperator
{
    private readonly float _max = max;
    private readonly float _logSum = logSum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => (a - _max) - _logSum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => (a - Vector128.Create(_max)) - Vector128.Create(_logSum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => (a - Vector256.Create(_max)) - Vector256.Create(_logSum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => (a - Vector512.Create(_max)) - Vector512.Create(_logSum);
}

/// <summary>(dy, y) ↦ y·(dy − Σ dy·y): the softmax backward.</summary>
internal readonly struct SoftmaxGradientOperator(float dot) : IRowOperator
{
    private readonly float _dot = dot;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => b * (a - _dot);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) => b * (a - Vector128.Create(_dot));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => b * (a - Vector256.Create(_dot));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => b * (a - Vector512.Create(_dot));
}

/// <summary>(dy, y) ↦ dy − e^y·Σ dy: the log-softmax backward, the product and difference in one FMA.</summary>
internal readonly struct LogSoftmaxGradientOperator(float sum) : IRowOperator
{
    private readonly float _sum = sum;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Invoke(float a, float b) => Mad.Fma(-ExpOperator.Invoke(b), _sum, a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<float> Invoke(Vector128<float> a, Vector128<float> b) =>
        Mad.Fma(-ExpOperator.Invoke(b), Vector128.Create(_sum), a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) =>
        Mad.Fma(-ExpOperator.Invoke(b), Vector256.Create(_sum), a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) =>
        Mad.Fma(-ExpOperator.Invoke(b), Vector512.Create(_sum), a);
}
