using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// The one loop skeleton for element-wise activations: full vectors of the chosen width, then a
/// scalar tail. No arguments are checked here (callers validate); only Debug.Assert.
/// </summary>
/// <remarks>
/// The tail is scalar rather than an overlapping last vector: an output may be the very same span
/// as an input (in place), and re-running a vector over already written elements would read
/// outputs as inputs. Every element's bits are the same whichever path computes it, because every
/// <see cref="IUnaryOperator"/> runs the same operations in each lane as in scalar.
/// </remarks>
internal static class ElementwiseDriver
{
    /// <summary>y[i] = TOp(x[i]). <paramref name="y"/> is the same span as <paramref name="x"/> or disjoint from it.</summary>
    public static void Map<TOp>(ReadOnlySpan<float> x, Span<float> y, VectorWidth width)
        where TOp : struct, IUnaryOperator
    {
        Debug.Assert(x.Length == y.Length, "x and y have the same length.");

        ref float xRef = ref MemoryMarshal.GetReference(x);
        ref float yRef = ref MemoryMarshal.GetReference(y);
        nuint length = (nuint)x.Length;
        nuint i = 0;

        switch (width)
        {
            case VectorWidth.V512:
                for (; length - i >= (nuint)Vector512<float>.Count; i += (nuint)Vector512<float>.Count)
                {
                    TOp.Invoke(Vector512.LoadUnsafe(ref xRef, i)).StoreUnsafe(ref yRef, i);
                }

                break;

            case VectorWidth.V256:
                for (; length - i >= (nuint)Vector256<float>.Count; i += (nuint)Vector256<float>.Count)
                {
                    TOp.Invoke(Vector256.LoadUnsafe(ref xRef, i)).StoreUnsafe(ref yRef, i);
                }

                break;

            case VectorWidth.V128:
                for (; length - i >= (nuint)Vector128<float>.Count; i += (nuint)Vector128<float>.Count)
                {
                    TOp.Invoke(Vector128.LoadUnsafe(ref xRef, i)).StoreUnsafe(ref yRef, i);
                }

                break;

            default:
                Debug.Assert(width == VectorWidth.Scalar, "A defined width.");
                break;
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref yRef, i) = TOp.Invoke(Unsafe.Add(ref xRef, i));
        }
    }

    /// <summary>
    /// dx[i] = dy[i]·TDerivative(y[i]), or dx[i] = dx[i] + dy[i]·TDerivative(y[i]) when
    /// <paramref name="accumulate"/>. <paramref name="dx"/> is the same span as <paramref name="y"/>
    /// or <paramref name="dy"/>, or disjoint from both.
    /// </summary>
    /// <remarks>
    /// Accumulation is a separate add after the product (not an FMA), so "overwrite, then add" and
    /// "accumulate" give the same bits, and accumulating into zeros equals overwriting.
    /// </remarks>
    public static void MapGradient<TDerivative>(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate, VectorWidth width)
        where TDerivative : struct, IUnaryOperator
    {
        Debug.Assert(y.Length == dy.Length && y.Length == dx.Length, "y, dy and dx have the same length.");

        ref float yRef = ref MemoryMarshal.GetReference(y);
        ref float dyRef = ref MemoryMarshal.GetReference(dy);
        ref float dxRef = ref MemoryMarshal.GetReference(dx);
        nuint length = (nuint)y.Length;
        nuint i = 0;

        switch (width)
        {
            case VectorWidth.V512:
                for (; length - i >= (nuint)Vector512<float>.Count; i += (nuint)Vector512<float>.Count)
                {
                    Vector512<float> g = Vector512.LoadUnsafe(ref dyRef, i) * TDerivative.Invoke(Vector512.LoadUnsafe(ref yRef, i));
                    if (accumulate)
                    {
                        g = Vector512.LoadUnsafe(ref dxRef, i) + g;
                    }

                    g.StoreUnsafe(ref dxRef, i);
                }

                break;

            case VectorWidth.V256:
                for (; length - i >= (nuint)Vector256<float>.Count; i += (nuint)Vector256<float>.Count)
                {
                    Vector256<float> g = Vector256.LoadUnsafe(ref dyRef, i) * TDerivative.Invoke(Vector256.LoadUnsafe(ref yRef, i));
                    if (accumulate)
                    {
                        g = Vector256.LoadUnsafe(ref dxRef, i) + g;
                    }

                    g.StoreUnsafe(ref dxRef, i);
                }

                break;

            case VectorWidth.V128:
                for (; length - i >= (nuint)Vector128<float>.Count; i += (nuint)Vector128<float>.Count)
                {
                    Vector128<float> g = Vector128.LoadUnsafe(ref dyRef, i) * TDerivative.Invoke(Vector128.LoadUnsafe(ref yRef, i));
                    if (accumulate)
                    {
                        g = Vector128.LoadUnsafe(ref dxRef, i) + g;
                    }

                    g.StoreUnsafe(ref dxRef, i);
                }

                break;

            default:
                Debug.Assert(width == VectorWidth.Scalar, "A defined width.");
                break;
        }

        for (; i < length; i++)
        {
            float g = Unsafe.Add(ref dyRef, i) * TDerivative.Invoke(Unsafe.Add(ref yRef, i));
            if (accumulate)
            {
                g = Unsafe.Add(ref dxRef, i) + g;
            }

            Unsafe.Add(ref dxRef, i) = g;
        }
    }
}
