using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Activations;

/// <summary>
/// Loop skeletons over one matrix row: an element-wise map and a map-reduce whose result does not
/// depend on the vector width. Callers validate; only Debug.Assert here.
/// </summary>
/// <remarks>
/// <para>
/// Reductions use <see cref="VirtualLanes"/> = 16 partial results whatever the width: element i of
/// the row always goes to partial i mod 16. Vector512 keeps the 16 partials in one register,
/// Vector256 in two (lanes 0–7 and 8–15), Vector128 in four, scalar in 16 floats; the row is walked
/// in blocks of 16, so every partial sees the same terms in the same order at every width. The last
/// (length mod 16) elements go to their partials in scalar. The 16 partials are then combined in
/// one fixed pairwise tree: p[k] ⊕= p[k + 8] for k &lt; 8, then + 4, + 2, + 1.
/// </para>
/// <para>
/// Maps and tails are scalar-finished (no overlapping last vector) so that outputs may be the very
/// same span as an input.
/// </para>
/// </remarks>
internal static class RowDriver
{
    /// <summary>The number of partial results of every reduction, independent of the width.</summary>
    public const int VirtualLanes = 16;

    /// <summary>dst[i] = op(a[i], b[i]). <paramref name="dst"/> is the same span as an input or disjoint from both.</summary>
    public static void Map<TOp>(TOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst, VectorWidth width)
        where TOp : struct, IRowOperator
    {
        Debug.Assert(a.Length == b.Length && a.Length == dst.Length, "a, b and dst have the same length.");

        ref float aRef = ref MemoryMarshal.GetReference(a);
        ref float bRef = ref MemoryMarshal.GetReference(b);
        ref float dRef = ref MemoryMarshal.GetReference(dst);
        nuint length = (nuint)a.Length;
        nuint i = 0;

        switch (width)
        {
            case VectorWidth.V512:
                for (; length - i >= 16; i += 16)
                {
                    op.Invoke(Vector512.LoadUnsafe(ref aRef, i), Vector512.LoadUnsafe(ref bRef, i)).StoreUnsafe(ref dRef, i);
                }

                break;

            case VectorWidth.V256:
                for (; length - i >= 8; i += 8)
                {
                    op.Invoke(Vector256.LoadUnsafe(ref aRef, i), Vector256.LoadUnsafe(ref bRef, i)).StoreUnsafe(ref dRef, i);
                }

                break;

            case VectorWidth.V128:
                for (; length - i >= 4; i += 4)
                {
                    op.Invoke(Vector128.LoadUnsafe(ref aRef, i), Vector128.LoadUnsafe(ref bRef, i)).StoreUnsafe(ref dRef, i);
                }

                break;

            default:
                Debug.Assert(width == VectorWidth.Scalar, "A defined width.");
                break;
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref dRef, i) = op.Invoke(Unsafe.Add(ref aRef, i), Unsafe.Add(ref bRef, i));
        }
    }

    /// <summary>
    /// Returns ⊕ᵢ op(a[i], b[i]) in the fixed 16-partial order, and stores each op(a[i], b[i]) to
    /// <paramref name="store"/> unless it is empty. <paramref name="store"/> is the same span as an
    /// input or disjoint from both. An empty row gives <see cref="IReduction.Identity"/>.
    /// </summary>
    public static float MapReduce<TOp, TReduce>(TOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> store, VectorWidth width)
        where TOp : struct, IRowOperator
        where TReduce : struct, IReduction
    {
        Debug.Assert(a.Length == b.Length, "a and b have the same length.");
        Debug.Assert(store.IsEmpty || store.Length == a.Length, "store is empty or as long as a.");

        ref float aRef = ref MemoryMarshal.GetReference(a);
        ref float bRef = ref MemoryMarshal.GetReference(b);
        ref float sRef = ref MemoryMarshal.GetReference(store);
        bool storing = !store.IsEmpty;
        nuint length = (nuint)a.Length;
        nuint blocked = length & ~(nuint)(VirtualLanes - 1);

        Partials partials = default;
        ref float pRef = ref partials[0];
        nuint i = 0;

        switch (width)
        {
            case VectorWidth.V512:
            {
                // One register: lane k is partial k.
                Vector512<float> acc = Vector512.Create(TReduce.Identity);
                for (; i < blocked; i += 16)
                {
                    Vector512<float> t = op.Invoke(Vector512.LoadUnsafe(ref aRef, i), Vector512.LoadUnsafe(ref bRef, i));
                    if (storing)
                    {
                        t.StoreUnsafe(ref sRef, i);
                    }

                    acc = TReduce.Combine(acc, t);
                }

                acc.StoreUnsafe(ref pRef);
                break;
            }

            case VectorWidth.V256:
            {
                // acc0 holds partials 0–7, acc1 partials 8–15 of each block of 16.
                Vector256<float> acc0 = Vector256.Create(TReduce.Identity);
                Vector256<float> acc1 = acc0;
                for (; i < blocked; i += 16)
                {
                    Vector256<float> t0 = op.Invoke(Vector256.LoadUnsafe(ref aRef, i), Vector256.LoadUnsafe(ref bRef, i));
                    Vector256<float> t1 = op.Invoke(Vector256.LoadUnsafe(ref aRef, i + 8), Vector256.LoadUnsafe(ref bRef, i + 8));
                    if (storing)
                    {
                        t0.StoreUnsafe(ref sRef, i);
                        t1.StoreUnsafe(ref sRef, i + 8);
                    }

                    acc0 = TReduce.Combine(acc0, t0);
                    acc1 = TReduce.Combine(acc1, t1);
                }

                acc0.StoreUnsafe(ref pRef);
                acc1.StoreUnsafe(ref pRef, 8);
                break;
            }

            case VectorWidth.V128:
            {
                // acc0..acc3 hold partials 0–3, 4–7, 8–11, 12–15 of each block of 16.
                Vector128<float> acc0 = Vector128.Create(TReduce.Identity);
                Vector128<float> acc1 = acc0;
                Vector128<float> acc2 = acc0;
                Vector128<float> acc3 = acc0;
                for (; i < blocked; i += 16)
                {
                    Vector128<float> t0 = op.Invoke(Vector128.LoadUnsafe(ref aRef, i), Vector128.LoadUnsafe(ref bRef, i));
                    Vector128<float> t1 = op.Invoke(Vector128.LoadUnsafe(ref aRef, i + 4), Vector128.LoadUnsafe(ref bRef, i + 4));
                    Vector128<float> t2 = op.Invoke(Vector128.LoadUnsafe(ref aRef, i + 8), Vector128.LoadUnsafe(ref bRef, i + 8));
                    Vector128<float> t3 = op.Invoke(Vector128.LoadUnsafe(ref aRef, i + 12), Vector128.LoadUnsafe(ref bRef, i + 12));
                    if (storing)
                    {
                        t0.StoreUnsafe(ref sRef, i);
                        t1.StoreUnsafe(ref sRef, i + 4);
                        t2.StoreUnsafe(ref sRef, i + 8);
                        t3.StoreUnsafe(ref sRef, i + 12);
                    }

                    acc0 = TReduce.Combine(acc0, t0);
                    acc1 = TReduce.Combine(acc1, t1);
                    acc2 = TReduce.Combine(acc2, t2);
                    acc3 = TReduce.Combine(acc3, t3);
                }

                acc0.StoreUnsafe(ref pRef);
                acc1.StoreUnsafe(ref pRef, 4);
                acc2.StoreUnsafe(ref pRef, 8);
                acc3.StoreUnsafe(ref pRef, 12);
                break;
            }

            default:
                // Scalar: the loop below does the blocks too (element i still goes to partial i mod 16).
                Debug.Assert(width == VectorWidth.Scalar, "A defined width.");
                ((Span<float>)partials).Fill(TReduce.Identity);
                break;
        }

        for (; i < length; i++)
        {
            float t = op.Invoke(Unsafe.Add(ref aRef, i), Unsafe.Add(ref bRef, i));
            if (storing)
            {
                Unsafe.Add(ref sRef, i) = t;
            }

            ref float partial = ref Unsafe.Add(ref pRef, i & (VirtualLanes - 1));
            partial = TReduce.Combine(partial, t);
        }

        // The fixed pairwise tree: 16 → 8 → 4 → 2 → 1.
        for (int half = VirtualLanes / 2; half > 0; half >>= 1)
        {
            for (int k = 0; k < half; k++)
            {
                partials[k] = TReduce.Combine(partials[k], partials[k + half]);
            }
        }

        return partials[0];
    }

    /// <summary>The 16 partial results, on the stack.</summary>
    [InlineArray(VirtualLanes)]
    private struct Partials
    {
        private float _element0;
    }
}
