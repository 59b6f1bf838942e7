namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// The operators' shape rules (shared by values known when a plan is made and values of a call) and their
/// evaluation on known values: the shape arithmetic exporters emit (Shape → Gather → Unsqueeze → Concat →
/// ConstantOfShape …) is computed once per plan, never per call.
/// </summary>
internal static class OnnxStatic
{
    private static readonly HashSet<string> s_static = new(StringComparer.Ordinal)
    {
        "Constant", "Shape", "Size", "ConstantOfShape", "Equal", "Not", "Add", "Sub", "Mul", "Div",
        "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Slice", "Concat", "Gather", "Identity", "Cast", "Expand",
    };

    public static bool CanEvaluate(string op) => s_static.Contains(op);

    public static PlanValue[] Evaluate(OnnxNode node, PlanValue?[] inputs, long opset, string where)
    {
        PlanValue In(int i) => i < inputs.Length && inputs[i] is { } v ? v : throw OnnxErrors.Create($"{where}: {node.Label} lacks input {i}.");
        switch (node.OpType)
        {
            case "Constant":
                return [Constant(node, where)];
            case "Shape":
            {
                // Opset 15's start and end (negative: from the back; clamped).
                long[] shape = In(0).Shape;
                long Clamp(long v) => Math.Clamp(v < 0 ? v + shape.Length : v, 0, shape.Length);
                long start = Clamp(Int(node, "start", 0)), end = Math.Max(start, Clamp(Int(node, "end", shape.Length)));
                return [PlanValue.Static([end - start], shape[(int)start..(int)end])];
            }

            case "Size":
                return [PlanValue.Static([], [(long)In(0).Length])];
            case "ConstantOfShape":
            {
                long[] shape = In(0).AsIntegers();
                PlanValue.Count(shape);
                OnnxAttribute? value = Attribute(node, "value");
                if (value?.T is { ElementType: not OnnxElementType.Float } t)
                {
                    return [PlanValue.Static(shape, Enumerable.Repeat(t.Integers[0], (int)PlanValue.Count(shape)).ToArray())];
                }

                float fill = value?.T is { } f && f.Length > 0 ? f.Floats[0] : 0f;
                return [PlanValue.Static(shape, Enumerable.Repeat(fill, (int)PlanValue.Count(shape)).ToArray())];
            }

            case "Not":
                return [PlanValue.Static(In(0).Shape, [.. In(0).AsIntegers().Select(v => v == 0 ? 1L : 0L)])];
            case "Add" or "Sub" or "Mul" or "Div" or "Equal":
                return [Binary(node, In(0), In(1), where)];
            case "Identity" or "Cast":
                return [CastValue(node, In(0), where)];
            case "Expand":
            {
                PlanValue x = In(0);
                long[] shape = ExpandedShape(node, x.Shape, In(1), where);
                return [x.IsInteger
                    ? Fill(shape, x.Integers!, (s, r) => TensorOps.Expand<long>(s, x.Shape, r, shape))
                    : Fill(shape, x.Floats!, (s, r) => TensorOps.Expand<float>(s, x.Shape, r, shape))];
            }

            default:
                return [Move(node, inputs, opset, where)];
        }
    }

    /// <summary>The shape-moving operators on known values.</summary>
    private static PlanValue Move(OnnxNode node, PlanValue?[] inputs, long opset, string where)
    {
        PlanValue x = inputs[0] ?? throw OnnxErrors.Create($"{where}: {node.Label} lacks its data input.");
        switch (node.OpType)
        {
            case "Reshape" or "Squeeze" or "Unsqueeze" or "Flatten":
                return x.WithShape(ReshapedShape(node, x.Shape, inputs, opset, where));
            case "Transpose":
            {
                long[] perm = Permutation(node, x.Shape.Length, where), shape = [.. perm.Select(p => x.Shape[p])];
                return x.IsInteger
                    ? Fill(shape, x.Integers!, (s, r) => TensorOps.Transpose<long>(s, x.Shape, perm, r))
                    : Fill(shape, x.Floats!, (s, r) => TensorOps.Transpose<float>(s, x.Shape, perm, r));
            }

            case "Slice":
            {
                (long[] starts, long[] steps, long[] shape) = SliceParameters(node, x.Shape, inputs, opset, where);
                return x.IsInteger
                    ? Fill(shape, x.Integers!, (s, r) => TensorOps.Slice<long>(s, x.Shape, starts, steps, shape, r))
                    : Fill(shape, x.Floats!, (s, r) => TensorOps.Slice<float>(s, x.Shape, starts, steps, shape, r));
            }

            case "Gather":
            {
                (int axis, long[] indices, long[] shape) = GatherParameters(node, x.Shape, inputs[1] ?? throw OnnxErrors.Create($"{where}: {node.Label} lacks indices."), where);
                return x.IsInteger
                    ? Fill(shape, x.Integers!, (s, r) => TensorOps.Gather<long>(s, x.Shape, axis, indices, r))
                    : Fill(shape, x.Floats!, (s, r) => TensorOps.Gather<float>(s, x.Shape, axis, indices, r));
            }

            default:
            {
                // Concat
                PlanValue[] parts = [.. inputs.Where(v => v is not null).Select(v => v!)];
                (int axis, long[] shape) = ConcatShape(node, [.. parts.Select(p => p.Shape)], where);
                long outer = 1, total = shape[axis];
                for (int d = 0; d < axis; d++)
                {
                    outer *= shape[d];
                }

                long inner = PlanValue.Count(shape) / Math.Max(1, outer * total), at = 0;
                if (parts.Any(p => p.IsInteger != parts[0].IsInteger))
                {
                    OnnxErrors.Fail($"{where}: {node.Label} concatenates tensors of different types.");
                }

                var ints = new long[parts[0].IsInteger ? PlanValue.Count(shape) : 0];
                var floats = new float[parts[0].IsInteger ? 0 : PlanValue.Count(shape)];
                foreach (PlanValue p in parts)
                {
                    long width = p.Shape[axis] * inner;
                    if (p.IsInteger)
                    {
                        TensorOps.ConcatPart<long>(p.Integers, outer, width, total * inner, at, ints);
                    }
                    else
                    {
                        TensorOps.ConcatPart<float>(p.Floats, outer, width, total * inner, at, floats);
                    }

                    at += width;
                }

                return parts[0].IsInteger ? PlanValue.Static(shape, ints) : PlanValue.Static(shape, floats);
            }
        }
    }

    public static long[] ReshapedShape(OnnxNode node, long[] shape, PlanValue?[] inputs, long opset, string where)
    {
        long count = PlanValue.Count(shape);
        switch (node.OpType)
        {
            case "Reshape":
            {
                long[] target = (inputs.Length > 1 && inputs[1] is { } t ? t : throw OnnxErrors.Create($"{where}: {node.Label} lacks its shape input.")).AsIntegers();
                bool allowZero = Int(node, "allowzero", 0) != 0;
                var result = new long[target.Length];
                int infer = -1;
                long known = 1;
                for (int i = 0; i < target.Length; i++)
                {
                    long d = target[i] == 0 && !allowZero ? (i < shape.Length ? shape[i] : throw Bad(node, where, "copies a dimension the input lacks")) : target[i];
                    if (d == -1)
                    {
                        if (infer >= 0)
                        {
                            throw Bad(node, where, "has two −1 dimensions");
                        }

                        infer = i;
                        continue;
                    }

                    if (d < 0)
                    {
                        throw Bad(node, where, $"has dimension {d}");
                    }

                    result[i] = d;
                    known *= d;
                }

                if (infer >= 0)
                {
                    if (known == 0 || count % known != 0)
                    {
                        throw Bad(node, where, $"cannot infer −1 for {count} elements");
                    }

                    result[infer] = count / known;
                }

                if (PlanValue.Count(result) != count)
                {
                    throw Bad(node, where, $"reshapes {count} elements to [{string.Join(", ", result)}]");
                }

                return result;
            }

            case "Flatten":
            {
                long axis = Normalise(Int(node, "axis", 1), shape.Length + 1, node, where);
                long outer = 1;
                for (int d = 0; d < axis; d++)
                {
                    outer *= shape[d];
                }

                return [outer, outer == 0 ? 0 : count / outer];
            }

            case "Squeeze":
            {
                long[] axes = Axes(node, inputs, opset, where) ?? [.. Enumerable.Range(0, shape.Length).Where(d => shape[d] == 1).Select(d => (long)d)];
                var drop = axes.Select(a => Normalise(a, shape.Length, node, where)).ToHashSet();
                if (drop.Any(d => shape[d] != 1))
                {
                    throw Bad(node, where, "squeezes an axis whose size is not 1");
                }

                return [.. shape.Where((_, d) => !drop.Contains(d))];
            }

            default:
            {
                long[] axes = Axes(node, inputs, opset, where) ?? throw Bad(node, where, "has no axes");
                int rank = shape.Length + axes.Length;
                var add = axes.Select(a => Normalise(a, rank, node, where)).ToHashSet();
                var result = new long[rank];
                for (int d = 0, k = 0; d < rank; d++)
                {
                    result[d] = add.Contains(d) ? 1 : shape[k++];
                }

                return result;
            }
        }
    }

    /// <summary>Expand's result shape: numpy's broadcast of the input's shape with the shape input's values.</summary>
    public static long[] ExpandedShape(OnnxNode node, long[] shape, PlanValue target, string where)
    {
        long[] to = target.AsIntegers();
        if (target.Shape.Length != 1 || to.Length > TensorOps.MaxRank || to.Any(d => d < 0))
        {
            throw Bad(node, where, $"expands to [{string.Join(", ", to)}]");
        }

        long[] result = TensorOps.Broadcast(shape, to) ?? throw Bad(node, where, $"cannot expand [{string.Join(", ", shape)}] to [{string.Join(", ", to)}]");
        PlanValue.Count(result);
        return result;
    }

    public static long[] Permutation(OnnxNode node, int rank, string where)
    {
        long[] perm = Attribute(node, "perm")?.Ints ?? [.. Enumerable.Range(0, rank).Reverse().Select(d => (long)d)];
        if (perm.Length != rank || rank > TensorOps.MaxRank || perm.Order().Select((p, i) => p == i).Any(ok => !ok))
        {
            throw Bad(node, where, $"has perm [{string.Join(", ", perm)}] for rank {rank}");
        }

        return perm;
    }

    public static (long[] Starts, long[] Steps, long[] Shape) SliceParameters(OnnxNode node, long[] shape, PlanValue?[] inputs, long opset, string where)
    {
        long[] starts, ends;
        long[]? axes, steps = null;
        if (opset < 10)
        {
            starts = Attribute(node, "starts")?.Ints ?? throw Bad(node, where, "has no starts");
            ends = Attribute(node, "ends")?.Ints ?? throw Bad(node, where, "has no ends");
            axes = Attribute(node, "axes")?.Ints;
        }
        else
        {
            PlanValue? Get(int i) => i < inputs.Length ? inputs[i] : null;
            starts = (Get(1) ?? throw Bad(node, where, "has no starts")).AsIntegers();
            ends = (Get(2) ?? throw Bad(node, where, "has no ends")).AsIntegers();
            axes = Get(3)?.AsIntegers();
            steps = Get(4)?.AsIntegers();
        }

        int rank = shape.Length;
        if (rank > TensorOps.MaxRank || starts.Length != ends.Length || (axes is not null && axes.Length != starts.Length) || (steps is not null && steps.Length != starts.Length))
        {
            throw Bad(node, where, "has starts, ends, axes and steps of different lengths");
        }

        var outStarts = new long[rank];
        var outSteps = Enumerable.Repeat(1L, rank).ToArray();
        long[] outShape = [.. shape];
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = (int)Normalise(axes?[i] ?? i, rank, node, where);
            long dim = shape[axis], step = steps?[i] ?? 1;
            if (step == 0)
            {
                throw Bad(node, where, "has step 0");
            }

            long start = starts[i] < 0 ? starts[i] + dim : starts[i], end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
                outShape[axis] = Math.Max(0, (end - start + step - 1) / step);
            }
            else
            {
                start = Math.Clamp(start, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                outShape[axis] = Math.Max(0, (start - end + (-step) - 1) / -step);
            }

            outStarts[axis] = outShape[axis] == 0 ? 0 : start;
            outSteps[axis] = step;
        }

        return (outStarts, outSteps, outShape);
    }

    public static (int Axis, long[] Indices, long[] Shape) GatherParameters(OnnxNode node, long[] shape, PlanValue indices, string where)
    {
        int axis = (int)Normalise(Int(node, "axis", 0), shape.Length, node, where);
        long[] values = indices.AsIntegers();
        long dim = shape[axis];
        long[] normalised = [.. values.Select(i => i < -dim || i >= dim ? throw Bad(node, where, $"index {i} is outside [−{dim}, {dim})") : i < 0 ? i + dim : i)];
        return (axis, normalised, [.. shape[..axis], .. indices.Shape, .. shape[(axis + 1)..]]);
    }

    public static (int Axis, long[] Shape) ConcatShape(OnnxNode node, long[][] shapes, string where)
    {
        if (shapes.Length == 0)
        {
            throw Bad(node, where, "has no inputs");
        }

        int rank = shapes[0].Length;
        int axis = (int)Normalise(Int(node, "axis", 0), rank, node, where);
        long[] result = [.. shapes[0]];
        result[axis] = 0;
        foreach (long[] s in shapes)
        {
            if (s.Length != rank || Enumerable.Range(0, rank).Any(d => d != axis && s[d] != shapes[0][d]))
            {
                throw Bad(node, where, $"concatenates [{string.Join(", ", s)}] with [{string.Join(", ", shapes[0])}] on axis {axis}");
            }

            result[axis] += s[axis];
        }

        return (axis, result);
    }

    /// <summary>An If's condition known when the plan is made: one value, true when not zero.</summary>
    public static bool Condition(OnnxNode node, PlanValue condition, string where)
    {
        if (!condition.IsStatic)
        {
            throw Bad(node, where, "has a condition computed from the call's data; an If is run only when its condition is known when the plan is made (from constants, shapes, or the value of a scalar int64 input)");
        }

        if (condition.Length != 1)
        {
            throw Bad(node, where, $"has a condition of {condition.Length} values; expected one");
        }

        return condition.IsInteger ? condition.Integers![0] != 0 : condition.Floats![0] != 0;
    }

    public static long Normalise(long axis, int rank, OnnxNode node, string where) =>
        axis >= -rank && axis < rank ? (axis < 0 ? axis + rank : axis) : throw Bad(node, where, $"has axis {axis} for rank {rank}");

    public static OnnxAttribute? Attribute(OnnxNode node, string name) => node.Attributes.TryGetValue(name, out OnnxAttribute? a) ? a : null;

    public static long Int(OnnxNode node, string name, long fallback) => Attribute(node, name)?.I ?? fallback;

    public static float Float(OnnxNode node, string name, float fallback) => Attribute(node, name)?.F ?? fallback;

    public static InvalidDataException Bad(OnnxNode node, string where, string what) => OnnxErrors.Create($"{where}: {node.Label} {what}.");

    private static long[]? Axes(OnnxNode node, PlanValue?[] inputs, long opset, string where) =>
        opset < 13 ? Attribute(node, "axes")?.Ints : inputs.Length > 1 && inputs[1] is { } a ? a.AsIntegers() : null;

    private static PlanValue Constant(OnnxNode node, string where)
    {
        if (Attribute(node, "value")?.T is { } t)
        {
            return OnnxModel.ToValue(t);
        }

        if (Attribute(node, "value_float") is { } f)
        {
            return PlanValue.Static([], [f.F]);
        }

        if (Attribute(node, "value_floats") is { } fs)
        {
            return PlanValue.Static([fs.Floats.Length], fs.Floats);
        }

        if (Attribute(node, "value_int") is { } i)
        {
            return PlanValue.Static([], [i.I]);
        }

        if (Attribute(node, "value_ints") is { } ints)
        {
            return PlanValue.Static([ints.Ints.Length], ints.Ints);
        }

        throw Bad(node, where, "has no value this reader reads (value, value_float(s), value_int(s))");
    }

    private static PlanValue Binary(OnnxNode node, PlanValue a, PlanValue b, string where)
    {
        long[] shape = TensorOps.Broadcast(a.Shape, b.Shape) ?? throw Bad(node, where, $"cannot broadcast {a} with {b}");
        char op = node.OpType switch { "Add" => '+', "Sub" => '-', "Mul" => '*', "Div" => '/', _ => '=' };
        if (a.IsInteger && b.IsInteger)
        {
            if (op == '/' && b.Integers!.Contains(0))
            {
                throw Bad(node, where, "divides by zero");
            }

            var r = new long[PlanValue.Count(shape)];
            TensorOps.Binary<long>(op, a.Integers, a.Shape, b.Integers, b.Shape, r, shape);
            return PlanValue.Static(shape, r);
        }

        if (a.IsInteger != b.IsInteger)
        {
            throw Bad(node, where, "mixes int64 and float inputs");
        }

        var f = new float[PlanValue.Count(shape)];
        TensorOps.Binary<float>(op, a.Floats, a.Shape, b.Floats, b.Shape, f, shape);
        return op == '=' ? PlanValue.Static(shape, [.. f.Select(v => (long)v)]) : PlanValue.Static(shape, f);
    }

    private static PlanValue CastValue(OnnxNode node, PlanValue x, string where)
    {
        if (node.OpType == "Identity")
        {
            return x;
        }

        long to = Int(node, "to", 1);
        return to switch
        {
            1 => x.IsInteger ? PlanValue.Static(x.Shape, [.. x.Integers!.Select(v => (float)v)]) : x,
            6 or 7 or 9 => x.IsInteger ? x : PlanValue.Static(x.Shape, [.. x.Floats!.Select(v => (long)v)]),
            _ => throw Bad(node, where, $"casts to type {to}; float32, int32, int64 and bool are read"),
        };
    }

    private static PlanValue Fill<T>(long[] shape, T[] source, Action<T[], T[]> fill)
    {
        var result = new T[PlanValue.Count(shape)];
        fill(source, result);
        return result is float[] f ? PlanValue.Static(shape, f) : PlanValue.Static(shape, (long[])(object)result);
    }
}
