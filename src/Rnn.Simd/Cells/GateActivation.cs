using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The activation passes of the cell updates, in place: a block of gate pre-activations becomes f(a + b), or
/// f((a + r) + b) with the recurrent products r kept apart (GRU). Each loop body holds one activation.
/// </summary>
/// <remarks>
/// An update that inlined all of a cell's activations into one loop body (three σ and two tanh for LSTM) kept more
/// vectors live than x64 has registers: the JIT spilled about ninety of them to the stack per iteration, and the LSTM
/// update of a batch-16 step took about 200 cycles per vector. One activation per pass, over gates that are still in L1,
/// keeps every loop in registers. Each element still runs the same IEEE operations in the same order, so the bits are
/// unchanged (and the same at every width, see <see cref="IUnaryOperator"/>).
/// </remarks>
internal static unsafe class GateActivation
{
    /// <summary>x[i] = f(x[i] + b[i]) for i &lt; <paramref name="n"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Apply<TOp>(VectorWidth width, float* x, float* b, nint n)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        switch (width)
        {
            case VectorWidth.V512:
                for (; n - i >= Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    TOp.Invoke(Vector512.Load(x + i) + Vector512.Load(b + i)).Store(x + i);
                }

                break;

            case VectorWidth.V256:
                for (; n - i >= Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    TOp.Invoke(Vector256.Load(x + i) + Vector256.Load(b + i)).Store(x + i);
                }

                break;

            case VectorWidth.V128:
                for (; n - i >= Vector128<float>.Count; i += Vector128<float>.Count)
                {
                    TOp.Invoke(Vector128.Load(x + i) + Vector128.Load(b + i)).Store(x + i);
                }

                break;
        }

        for (; i < n; i++)
        {
            x[i] = TOp.Invoke(x[i] + b[i]);
        }
    }

    /// <summary>x[i] = f((x[i] + r[i]) + b[i]) for i &lt; <paramref name="n"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Apply<TOp>(VectorWidth width, float* x, float* r, float* b, nint n)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        switch (width)
        {
            case VectorWidth.V512:
                for (; n - i >= Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    TOp.Invoke((Vector512.Load(x + i) + Vector512.Load(r + i)) + Vector512.Load(b + i)).Store(x + i);
                }

                break;

            case VectorWidth.V256:
                for (; n - i >= Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    TOp.Invoke((Vector256.Load(x + i) + Vector256.Load(r + i)) + Vector256.Load(b + i)).Store(x + i);
                }

                break;

            case VectorWidth.V128:
                for (; n - i >= Vector128<float>.Count; i += Vector128<float>.Count)
                {
                    TOp.Invoke((Vector128.Load(x + i) + Vector128.Load(r + i)) + Vector128.Load(b + i)).Store(x + i);
                }

                break;
        }

        for (; i < n; i++)
        {
            x[i] = TOp.Invoke((x[i] + r[i]) + b[i]);
        }
    }

    /// <summary>
    /// The batch-in-lanes form: for each of <paramref name="units"/> rows of <paramref name="lanes"/> floats,
    /// <paramref name="stride"/> apart, x[u·stride + l] = f(x[u·stride + l] + b[u]), the bias broadcast along the row.
    /// <paramref name="lanes"/> is a multiple of the vector length at <paramref name="width"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ApplyLanes<TOp>(VectorWidth width, float* x, nint stride, int units, int lanes, float* b)
        where TOp : struct, IUnaryOperator
    {
        Debug.Assert(lanes % (int)width == 0);
        switch (width)
        {
            case VectorWidth.V512:
                for (int u = 0; u < units; u++, x += stride)
                {
                    Vector512<float> bu = Vector512.Create(b[u]);
                    for (int l = 0; l < lanes; l += Vector512<float>.Count)
                    {
                        TOp.Invoke(Vector512.Load(x + l) + bu).Store(x + l);
                    }
                }

                break;

            case VectorWidth.V256:
                for (int u = 0; u < units; u++, x += stride)
                {
                    Vector256<float> bu = Vector256.Create(b[u]);
                    for (int l = 0; l < lanes; l += Vector256<float>.Count)
                    {
                        TOp.Invoke(Vector256.Load(x + l) + bu).Store(x + l);
                    }
                }

                break;

            case VectorWidth.V128:
                for (int u = 0; u < units; u++, x += stride)
                {
                    Vector128<float> bu = Vector128.Create(b[u]);
                    for (int l = 0; l < lanes; l += Vector128<float>.Count)
                    {
                        TOp.Invoke(Vector128.Load(x + l) + bu).Store(x + l);
                    }
                }

                break;

            default:
                for (int u = 0; u < units; u++, x += stride)
                {
                    for (int l = 0; l < lanes; l++)
                    {
                        x[l] = TOp.Invoke(x[l] + b[u]);
                    }
                }

                break;
        }
    }

    /// <summary>
    /// <see cref="ApplyLanes{TOp}(VectorWidth, float*, nint, int, int, float*)"/> with a recurrent term kept apart:
    /// x[u·stride + l] = f((x[u·stride + l] + r[u·stride + l]) + b[u]).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void ApplyLanes<TOp>(VectorWidth width, float* x, float* r, nint stride, int units, int lanes, float* b)
        where TOp : struct, IUnaryOperator
    {
        Debug.Assert(lanes % (int)width == 0);
        switch (width)
        {
            case VectorWidth.V512:
                for (int u = 0; u < units; u++, x += stride, r += stride)
                {
                    Vector512<float> bu = Vector512.Create(b[u]);
                    for (int l = 0; l < lanes; l += Vector512<float>.Count)
                    {
                        TOp.Invoke((Vector512.Load(x + l) + Vector512.Load(r + l)) + bu).Store(x + l);
                    }
                }

                break;

            case VectorWidth.V256:
                for (int u = 0; u < units; u++, x += stride, r += stride)
                {
                    Vector256<float> bu = Vector256.Create(b[u]);
                    for (int l = 0; l < lanes; l += Vector256<float>.Count)
                    {
                        TOp.Invoke((Vector256.Load(x + l) + Vector256.Load(r + l)) + bu).Store(x + l);
                    }
                }

                break;

            case VectorWidth.V128:
                for (int u = 0; u < units; u++, x += stride, r += stride)
                {
                    Vector128<float> bu = Vector128.Create(b[u]);
                    for (int l = 0; l < lanes; l += Vector128<float>.Count)
                    {
                        TOp.Invoke((Vector128.Load(x + l) + Vector128.Load(r + l)) + bu).Store(x + l);
                    }
                }

                break;

            default:
                for (int u = 0; u < units; u++, x += stride, r += stride)
                {
                    for (int l = 0; l < lanes; l++)
                    {
                        x[l] = TOp.Invoke((x[l] + r[l]) + b[u]);
                    }
                }

                break;
        }
    }
}
