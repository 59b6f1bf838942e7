using System.Numerics;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// Index arithmetic over row-major tensors, for the graph operators that move values rather than compute them
/// (Transpose, Slice, Concat, Gather) and for broadcasting element-wise arithmetic; the same code serves values
/// known when a plan is made and values of a call. No allocation: multi-indices live on the stack.
/// </summary>
internal static class TensorOps
{
    public const int MaxRank = 8;

    public static void Strides(ReadOnlySpan<long> shape, Span<long> strides)
    {
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= shape[i];
        }
    }

    /// <summary>numpy's broadcast of two shapes, or null when they do not broadcast.</summary>
    public static long[]? Broadcast(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)], db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
            {
                return null;
            }

            result[i] = da == 1 ? db : da;
        }

        return result;
    }

    /// <summary>out = op(a, b) with numpy broadcasting to <paramref name="shape"/>; op is '+', '-', '*', '/' or '=' (1 where equal).</summary>
    public static void Binary<T>(char op, ReadOnlySpan<T> a, long[] aShape, ReadOnlySpan<T> b, long[] bShape, Span<T> result, long[] shape)
        where T : INumber<T>
    {
        switch (op)
        {
            case '+':
                Binary<T, AddOp<T>>(a, aShape, b, bShape, result, shape);
                break;
            case '-':
                Binary<T, SubtractOp<T>>(a, aShape, b, bShape, result, shape);
                break;
            case '*':
                Binary<T, MultiplyOp<T>>(a, aShape, b, bShape, result, shape);
                break;
            case '/':
                Binary<T, DivideOp<T>>(a, aShape, b, bShape, result, shape);
                break;
            default:
                Binary<T, EqualOp<T>>(a, aShape, b, bShape, result, shape);
                break;
        }
    }

    /// <summary>out = <typeparamref name="TOp"/>(a, b) with numpy broadcasting to <paramref name="shape"/>.</summary>
    public static void Binary<T, TOp>(ReadOnlySpan<T> a, long[] aShape, ReadOnlySpan<T> b, long[] bShape, Span<T> result, long[] shape)
        where TOp : struct, IBinaryOp<T>
    {
        int rank = shape.Length;
        Span<long> sa = stackalloc long[MaxRank], sb = stackalloc long[MaxRank], index = stackalloc long[MaxRank];
        BroadcastStrides(aShape, rank, sa);
        BroadcastStrides(bShape, rank, sb);
        index[..rank].Clear();
        long ia = 0, ib = 0;
        for (int n = 0; n < result.Length; n++)
        {
            result[n] = TOp.Apply(a[(int)ia], b[(int)ib]);

            // Next multi-index, last axis fastest.
            for (int d = rank - 1; d >= 0; d--)
            {
                ia += sa[d];
                ib += sb[d];
                if (++index[d] < shape[d])
                {
                    break;
                }

                ia -= sa[d] * shape[d];
                ib -= sb[d] * shape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>ONNX's Expand: <paramref name="source"/> broadcast (numpy's rules) to <paramref name="shape"/>.</summary>
    public static void Expand<T>(ReadOnlySpan<T> source, long[] sourceShape, Span<T> result, long[] shape)
    {
        if (!result.IsEmpty)
        {
            // The second operand is a scalar that FirstOp ignores.
            Binary<T, FirstOp<T>>(source, sourceShape, source[..1], [], result, shape);
        }
    }

    /// <summary>Adds every element of <paramref name="source"/> into <paramref name="sums"/>, whose shape
    /// <paramref name="reducedShape"/> is the source's with the summed axes set to 1, in the source's order.</summary>
    public static void SumInto(ReadOnlySpan<float> source, long[] shape, long[] reducedShape, Span<float> sums)
    {
        int rank = shape.Length;
        int from = 0;
        while (from < rank && reducedShape[from] == shape[from])
        {
            from++;
        }

        int to = from;
        while (to < rank && (reducedShape[to] == 1 || shape[to] == 1))
        {
            to++;
        }

        bool neighbours = true;
        for (int d = to; d < rank; d++)
        {
            neighbours &= reducedShape[d] == shape[d];
        }

        if (neighbours)
        {
            // The summed axes are neighbours: [outer, summed, inner] into [outer, inner], in the same order.
            int outer = (int)PlanValue.Count(shape.AsSpan(0, from)), count = (int)PlanValue.Count(shape.AsSpan(from, to - from)), inner = (int)PlanValue.Count(shape.AsSpan(to));
            for (int o = 0; o < outer; o++)
            {
                Span<float> sum = sums.Slice(o * inner, inner);
                for (int k = 0; k < count; k++)
                {
                    ReadOnlySpan<float> part = source.Slice(((o * count) + k) * inner, inner);
                    for (int i = 0; i < inner; i++)
                    {
                        sum[i] += part[i];
                    }
                }
            }

            return;
        }

        Span<long> step = stackalloc long[MaxRank], index = stackalloc long[MaxRank];
        BroadcastStrides(reducedShape, rank, step);
        index[..rank].Clear();
        long at = 0;
        for (int n = 0; n < source.Length; n++)
        {
            sums[(int)at] += source[n];
            for (int d = rank - 1; d >= 0; d--)
            {
                at += step[d];
                if (++index[d] < shape[d])
                {
                    break;
                }

                at -= step[d] * shape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>result[i…] = source[i at perm…] (ONNX Transpose: output axis j is input axis perm[j]).</summary>
    public static void Transpose<T>(ReadOnlySpan<T> source, long[] shape, long[] perm, Span<T> result)
    {
        (long rows, long columns) = TransposeAsMatrix(shape, perm);
        if (rows == 1 || columns == 1)
        {
            // Only axes of size 1 move: the same order.
            source[..result.Length].CopyTo(result);
            return;
        }

        if (rows > 0)
        {
            // A matrix [rows, columns] → [columns, rows], in blocks that stay in L1.
            const int block = 32;
            for (int r0 = 0; r0 < rows; r0 += block)
            {
                for (int c0 = 0; c0 < columns; c0 += block)
                {
                    int r1 = (int)Math.Min(rows, r0 + block), c1 = (int)Math.Min(columns, c0 + block);
                    for (int r = r0; r < r1; r++)
                    {
                        for (int c = c0; c < c1; c++)
                        {
                            result[(int)((c * rows) + r)] = source[(int)((r * columns) + c)];
                        }
                    }
                }
            }

            return;
        }

        int rank = shape.Length;
        Span<long> strides = stackalloc long[MaxRank], step = stackalloc long[MaxRank], outShape = stackalloc long[MaxRank], index = stackalloc long[MaxRank];
        Strides(shape, strides);
        for (int j = 0; j < rank; j++)
        {
            step[j] = strides[(int)perm[j]];
            outShape[j] = shape[(int)perm[j]];
        }

        Walk(source, result, rank, outShape, step, 0, index);
    }

    /// <summary>Copies the slice of <paramref name="source"/> with per-axis start and step (already normalised) into <paramref name="result"/> of <paramref name="outShape"/>.</summary>
    public static void Slice<T>(ReadOnlySpan<T> source, long[] shape, long[] starts, long[] steps, long[] outShape, Span<T> result)
    {
        int rank = shape.Length;
        Span<long> strides = stackalloc long[MaxRank], step = stackalloc long[MaxRank], index = stackalloc long[MaxRank];
        Strides(shape, strides);
        long start = 0;
        for (int d = 0; d < rank; d++)
        {
            start += starts[d] * strides[d];
            step[d] = steps[d] * strides[d];
        }

        if (rank > 0 && steps[rank - 1] == 1 && !result.IsEmpty)
        {
            // Runs along the last axis are contiguous: copy them whole.
            int run = (int)outShape[rank - 1];
            index[..rank].Clear();
            long position = start;
            for (int at = 0; at < result.Length; at += run)
            {
                source.Slice((int)position, run).CopyTo(result.Slice(at, run));
                for (int d = rank - 2; d >= 0; d--)
                {
                    position += step[d];
                    if (++index[d] < outShape[d])
                    {
                        break;
                    }

                    position -= step[d] * outShape[d];
                    index[d] = 0;
                }
            }

            return;
        }

        Walk(source, result, rank, outShape, step, start, index);
    }

    /// <summary>Where a slice is one contiguous block of its source (the axes before the first one the result has
    /// more than one element of are single elements, the axes after it whole, steps 1 where they matter): the
    /// block's start, else −1.</summary>
    public static long ContiguousSlice(long[] shape, long[] starts, long[] steps, long[] outShape)
    {
        int rank = shape.Length, k = 0;
        while (k < rank && outShape[k] == 1)
        {
            k++;
        }

        for (int d = k; d < rank; d++)
        {
            if ((d > k && outShape[d] != shape[d]) || (outShape[d] > 1 && steps[d] != 1))
            {
                return -1;
            }
        }

        Span<long> strides = stackalloc long[MaxRank];
        Strides(shape, strides);
        long start = 0;
        for (int d = 0; d < rank; d++)
        {
            start += starts[d] * strides[d];
        }

        return start;
    }

    /// <summary>A transpose seen as a matrix transpose [rows, columns] → [columns, rows] once axes of size 1 are
    /// dropped and axes that stay neighbours merged: (rows, columns); (1, n) when it keeps the order of the
    /// elements; (−1, −1) when it is neither.</summary>
    public static (long Rows, long Columns) TransposeAsMatrix(long[] shape, long[] perm)
    {
        Span<int> compressed = stackalloc int[MaxRank];
        int kept = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            compressed[d] = shape[d] == 1 ? -1 : kept++;
        }

        // Output groups: runs of source axes (size above 1) that stay neighbours.
        Span<long> size = stackalloc long[MaxRank];
        Span<int> first = stackalloc int[MaxRank];
        int groups = 0, previous = -2;
        foreach (long p in perm)
        {
            int c = compressed[(int)p];
            if (c < 0)
            {
                continue;
            }

            if (groups > 0 && c == previous + 1)
            {
                size[groups - 1] *= shape[p];
            }
            else
            {
                first[groups] = c;
                size[groups++] = shape[p];
            }

            previous = c;
        }

        return groups switch
        {
            0 => (1, 1),
            1 => (1, size[0]),
            2 => (size[1], size[0]),
            _ => (-1, -1),
        };
    }

    /// <summary>Gather along <paramref name="axis"/>: result = source[…, indices[j], …] for each index (already in range).</summary>
    public static void Gather<T>(ReadOnlySpan<T> source, long[] shape, int axis, ReadOnlySpan<long> indices, Span<T> result)
    {
        long outer = 1, inner = 1;
        for (int d = 0; d < axis; d++)
        {
            outer *= shape[d];
        }

        for (int d = axis + 1; d < shape.Length; d++)
        {
            inner *= shape[d];
        }

        int n = 0;
        for (long o = 0; o < outer; o++)
        {
            foreach (long i in indices)
            {
                source.Slice((int)(((o * shape[axis]) + i) * inner), (int)inner).CopyTo(result.Slice(n, (int)inner));
                n += (int)inner;
            }
        }
    }

    /// <summary>The block of one Concat input: copies its rows of <paramref name="width"/> into the result's rows of
    /// <paramref name="total"/> at column <paramref name="at"/> (outer = the product of the dimensions before the axis).</summary>
    public static void ConcatPart<T>(ReadOnlySpan<T> part, long outer, long width, long total, long at, Span<T> result)
    {
        for (long o = 0; o < outer; o++)
        {
            part.Slice((int)(o * width), (int)width).CopyTo(result.Slice((int)((o * total) + at), (int)width));
        }
    }

    private static void BroadcastStrides(long[] shape, int rank, Span<long> strides)
    {
        Span<long> own = stackalloc long[MaxRank];
        Strides(shape, own);
        for (int d = 0; d < rank; d++)
        {
            int k = d - (rank - shape.Length);
            strides[d] = k < 0 || shape[k] == 1 ? 0 : own[k];
        }
    }

    // Visits the result in order; the source position moves by step[d] along axis d.
    private static void Walk<T>(ReadOnlySpan<T> source, Span<T> result, int rank, ReadOnlySpan<long> shape, ReadOnlySpan<long> step, long position, Span<long> index)
    {
        if (result.IsEmpty)
        {
            return;
        }

        index[..rank].Clear();
        for (int n = 0; n < result.Length; n++)
        {
            result[n] = source[(int)position];
            for (int d = rank - 1; d >= 0; d--)
            {
                position += step[d];
                if (++index[d] < shape[d])
                {
                    break;
                }

                position -= step[d] * shape[d];
                index[d] = 0;
            }
        }
    }
}

/// <summary>An element-wise operator of two values, for <see cref="TensorOps.Binary{T, TOp}"/>.</summary>
internal interface IBinaryOp<T>
{
    static abstract T Apply(T x, T y);
}

/// <summary>x: a broadcast copy (Expand).</summary>
internal readonly struct FirstOp<T> : IBinaryOp<T>
{
    public static T Apply(T x, T y) => x;
}

internal readonly struct AddOp<T> : IBinaryOp<T>
    where T : INumber<T>
{
    public static T Apply(T x, T y) => x + y;
}

internal readonly struct SubtractOp<T> : IBinaryOp<T>
    where T : INumber<T>
{
    public static T Apply(T x, T y) => x - y;
}

internal readonly struct MultiplyOp<T> : IBinaryOp<T>
    where T : INumber<T>
{
    public static T Apply(T x, T y) => x * y;
}

internal readonly struct DivideOp<T> : IBinaryOp<T>
    where T : INumber<T>
{
    public static T Apply(T x, T y) => x / y;
}

internal readonly struct EqualOp<T> : IBinaryOp<T>
    where T : INumber<T>
{
    public static T Apply(T x, T y) => x == y ? T.One : T.Zero;
}

/// <summary>ONNX Pow on floats: MathF.Pow (the same bits on every instruction set).</summary>
internal readonly struct PowOp : IBinaryOp<float>
{
    public static float Apply(float x, float y) => MathF.Pow(x, y);
}
