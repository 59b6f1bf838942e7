using System.Buffers;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// What one set of input shapes makes of an <see cref="OnnxModel"/>: the values known beforehand, a workspace
/// layout (one slice per computed tensor), and the steps of a call in graph order. Immutable; calls rent the
/// workspace from the pool.
/// </summary>
internal sealed partial class OnnxPlan
{
    private readonly long[][] _inputShapes;
    private readonly bool[] _inputIntegers;
    private readonly long[]?[] _inputValues;
    private readonly Step[] _steps;
    private readonly int _workspace;

    private OnnxPlan(long[][] inputShapes, bool[] inputIntegers, long[]?[] inputValues, Step[] steps, int workspace, PlanValue[] outputs)
    {
        _inputShapes = inputShapes;
        _inputIntegers = inputIntegers;
        _inputValues = inputValues;
        _steps = steps;
        _workspace = workspace;
        Outputs = outputs;
    }

    private delegate void Step(ref Call call);

    public PlanValue[] Outputs { get; }

    public bool Matches(ReadOnlySpan<OnnxFeed> inputs)
    {
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i].IsInteger != _inputIntegers[i] || !inputs[i].Shape.AsSpan().SequenceEqual(_inputShapes[i]) ||
                (_inputValues[i] is { } value && !inputs[i].Integers.Span.SequenceEqual(value)))
            {
                return false;
            }
        }

        return true;
    }

    public void Run(ReadOnlySpan<OnnxFeed> inputs, ReadOnlySpan<Memory<float>> outputs, ThreadTeam? threads, ArrayPool<float> pool)
    {
        for (int i = 0; i < inputs.Length; i++)
        {
            long expected = PlanValue.Count(_inputShapes[i]);
            if ((_inputIntegers[i] ? inputs[i].Integers.Length : inputs[i].Floats.Length) != expected)
            {
                ThrowHelper.Argument(nameof(inputs), $"Feed {i} holds {(_inputIntegers[i] ? inputs[i].Integers.Length : inputs[i].Floats.Length)} values; its shape [{string.Join(", ", _inputShapes[i])}] has {expected}.");
            }
        }

        using SpanOwner<float> work = SpanOwner<float>.Allocate(_workspace, pool);
        var call = new Call { Work = work.Span, Inputs = inputs, Threads = threads };
        foreach (Step step in _steps)
        {
            step(ref call);
        }

        for (int i = 0; i < outputs.Length; i++)
        {
            if (!outputs[i].IsEmpty)
            {
                PlanValue v = Outputs[i];
                if (v.IsInteger)
                {
                    ReadOnlySpan<long> ints = v.Integers ?? call.Inputs[v.Input].Integers.Span;
                    Span<float> o = outputs[i].Span;
                    for (int k = 0; k < ints.Length; k++)
                    {
                        o[k] = ints[k];
                    }
                }
                else
                {
                    call.Read(v).CopyTo(outputs[i].Span);
                }
            }
        }
    }

    public static OnnxPlan Make(OnnxModel model, OnnxGraph graph, Dictionary<string, PlanValue> constants, ReadOnlySpan<OnnxFeed> feeds)
    {
        string where = model.Source;
        var values = new Dictionary<string, PlanValue>(constants, StringComparer.Ordinal);
        var shapes = new long[feeds.Length][];
        var integers = new bool[feeds.Length];
        var known = new long[]?[feeds.Length];
        for (int i = 0; i < feeds.Length; i++)
        {
            OnnxValue declared = graph.Inputs[i];
            long[] shape = [.. feeds[i].Shape];
            bool isInteger = feeds[i].IsInteger;
            bool wantsInteger = declared.ElementType is 6 or 7;
            if (declared.ElementType != 0 && wantsInteger != isInteger)
            {
                ThrowHelper.Argument("inputs", $"Graph input '{declared.Name}' is {(wantsInteger ? "int64" : "float32")}; feed {i} is {(isInteger ? "int64" : "float32")}.");
            }

            if (shape.Any(d => d < 0) || shape.Length > TensorOps.MaxRank ||
                (declared.Dimensions is { } dims && (dims.Length != shape.Length || dims.Where((d, k) => d >= 0 && d != shape[k]).Any())))
            {
                ThrowHelper.Argument("inputs", $"Graph input '{declared.Name}' is declared [{string.Join(", ", declared.Dimensions ?? [])}] (−1: any); feed {i} is [{string.Join(", ", shape)}].");
            }

            PlanValue.Count(shape);
            shapes[i] = shape;
            integers[i] = isInteger;
            values[declared.Name] = PlanValue.FromInput(shape, isInteger, i);
            if (model.IsValueInput(i) && isInteger && shape.Length == 0)
            {
                // The plan is made for this value (it picks If branches): a static value, part of the plan's key.
                if (feeds[i].Integers.Length != 1)
                {
                    ThrowHelper.Argument("inputs", $"Feed {i} ('{declared.Name}') holds {feeds[i].Integers.Length} values; its shape [] has 1.");
                }

                known[i] = feeds[i].Integers.ToArray();
                values[declared.Name] = PlanValue.Static(shape, known[i]!);
            }
        }

        var builder = new Builder(model, where, values);
        foreach (OnnxNode node in graph.Nodes)
        {
            if (node.Outputs.All(o => o.Length == 0 || constants.ContainsKey(o)))
            {
                continue;   // folded at load
            }

            builder.Add(node);
        }

        PlanValue[] outputs = [.. graph.Outputs.Select(o => values[o.Name])];
        return new OnnxPlan(shapes, integers, known, [.. builder.Steps], builder.Workspace, outputs);
    }

    /// <summary>A node of the call's kind (Conv, Sigmoid, …) whose inputs are all known: run once, when the plan (or
    /// the model) is made, on a workspace of its own; its results are known values.</summary>
    internal static PlanValue[] EvaluateKnown(OnnxModel model, OnnxNode node, PlanValue?[] inputs)
    {
        var values = new Dictionary<string, PlanValue>(StringComparer.Ordinal);
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is { } v)
            {
                values[node.Inputs[i]] = v;
            }
        }

        var builder = new Builder(model, model.Source, values) { Evaluating = true };
        builder.Add(node);
        var work = new float[builder.Workspace];
        var call = new Call { Work = work };
        foreach (Step step in builder.Steps)
        {
            step(ref call);
        }

        var results = new PlanValue[node.Outputs.Length];
        for (int k = 0; k < results.Length; k++)
        {
            PlanValue r = values.TryGetValue(node.Outputs[k], out PlanValue? v) ? v : PlanValue.Static([0], Array.Empty<float>());
            results[k] = r.IsStatic ? r : PlanValue.Static(r.Shape, call.Read(r).ToArray());
        }

        return results;
    }

    /// <summary>The state of one call: the workspace and the feeds.</summary>
    private ref struct Call
    {
        public Span<float> Work;
        public ReadOnlySpan<OnnxFeed> Inputs;
        public ThreadTeam? Threads;

        public readonly ReadOnlySpan<float> Read(PlanValue v) =>
            v.Floats is { } f ? f : v.Input >= 0 ? Inputs[v.Input].Floats.Span : Work.Slice(v.Offset, v.Length);

        public readonly ReadOnlySpan<long> ReadIntegers(PlanValue v) => v.Integers is { } i ? i : Inputs[v.Input].Integers.Span;

        public readonly Span<float> Write(PlanValue v) => Work.Slice(v.Offset, v.Length);
    }

    /// <summary>Turns nodes into known values or steps.</summary>
    private sealed partial class Builder(OnnxModel model, string where, Dictionary<string, PlanValue> values)
    {
        public List<Step> Steps { get; } = [];

        public int Workspace { get; private set; }

        /// <summary>Whether this builder runs one node on known values (<see cref="EvaluateKnown"/>).</summary>
        public bool Evaluating { get; init; }

        public void Add(OnnxNode node)
        {
            if (node.OpType == "If")
            {
                AddIf(node);
                return;
            }

            PlanValue?[] inputs = [.. node.Inputs.Select(i => i.Length == 0 ? null : values[i])];
            string op = node.OpType;
            bool known = inputs.All(v => v is null || v.IsStatic);
            if (OnnxStatic.CanEvaluate(op) && (known || op is "Shape" or "Size"))
            {
                Set(node, OnnxStatic.Evaluate(node, inputs, model.Opset, where));
                return;
            }

            if (known && !Evaluating && op is not ("RNN" or "LSTM" or "GRU"))
            {
                Set(node, EvaluateKnown(model, node, inputs));
                return;
            }

            PlanValue x = inputs.Length > 0 && inputs[0] is { } first ? first : throw OnnxStatic.Bad(node, where, "lacks its first input");
            switch (op)
            {
                case "Reshape" or "Squeeze" or "Unsqueeze" or "Flatten":
                    Set(node, [x.WithShape(OnnxStatic.ReshapedShape(node, x.Shape, inputs, model.Opset, where))]);
                    return;
                case "Identity":
                    Set(node, [x]);
                    return;
                case "Cast":
                    long to = OnnxStatic.Int(node, "to", 1);
                    if ((to == 1) != !x.IsInteger)
                    {
                        throw OnnxStatic.Bad(node, where, "converts a value of the call between float and integer, which is not supported");
                    }

                    Set(node, [x]);
                    return;
            }

            if (x.IsInteger && op != "Gather")
            {
                throw OnnxStatic.Bad(node, where, "computes on int64 values of the call, which is not supported");
            }

            switch (op)
            {
                case "Transpose":
                {
                    long[] perm = OnnxStatic.Permutation(node, x.Shape.Length, where);
                    long[] transposed = [.. perm.Select(p => x.Shape[p])];
                    if (TensorOps.TransposeAsMatrix(x.Shape, perm).Rows == 1)
                    {
                        // Only axes of size 1 move: the same values in the same order, a view.
                        Set(node, [x.WithShape(transposed)]);
                        break;
                    }

                    PlanValue y = New(transposed);
                    Steps.Add((ref Call c) => TensorOps.Transpose(c.Read(x), x.Shape, perm, c.Write(y)));
                    Set(node, [y]);
                    break;
                }

                case "Slice":
                {
                    (long[] starts, long[] steps, long[] shape) = OnnxStatic.SliceParameters(node, x.Shape, inputs, model.Opset, where);
                    long block = TensorOps.ContiguousSlice(x.Shape, starts, steps, shape);
                    if (block >= 0 && x.Offset >= 0)
                    {
                        // One contiguous block of a tensor of the workspace: a view.
                        Set(node, [PlanValue.InWorkspace(shape, x.Offset + (int)block)]);
                        break;
                    }

                    PlanValue y = New(shape);
                    Steps.Add((ref Call c) => TensorOps.Slice(c.Read(x), x.Shape, starts, steps, shape, c.Write(y)));
                    Set(node, [y]);
                    break;
                }

                case "Concat":
                {
                    PlanValue[] parts = [.. inputs.Where(v => v is not null).Select(v => v!)];
                    if (parts.Any(p => p.IsInteger))
                    {
                        throw OnnxStatic.Bad(node, where, "concatenates int64 values of the call");
                    }

                    (int axis, long[] shape) = OnnxStatic.ConcatShape(node, [.. parts.Select(p => p.Shape)], where);
                    PlanValue y = New(shape);
                    long outer = 1, inner = 1;
                    for (int d = 0; d < axis; d++)
                    {
                        outer *= shape[d];
                    }

                    for (int d = axis + 1; d < shape.Length; d++)
                    {
                        inner *= shape[d];
                    }

                    Steps.Add((ref Call c) =>
                    {
                        long at = 0;
                        foreach (PlanValue p in parts)
                        {
                            TensorOps.ConcatPart(c.Read(p), outer, p.Shape[axis] * inner, shape[axis] * inner, at, c.Write(y));
                            at += p.Shape[axis] * inner;
                        }
                    });
                    Set(node, [y]);
                    break;
                }

                case "Gather":
                    AddGather(node, x, inputs[1] ?? throw OnnxStatic.Bad(node, where, "has no indices"));
                    break;
                case "Expand":
                {
                    long[] shape = OnnxStatic.ExpandedShape(node, x.Shape, inputs.Length > 1 && inputs[1] is { IsStatic: true } to ? to : throw OnnxStatic.Bad(node, where, "has a shape not known when the plan is made"), where);
                    PlanValue y = New(shape);
                    Steps.Add((ref Call c) => TensorOps.Expand(c.Read(x), x.Shape, c.Write(y), shape));
                    Set(node, [y]);
                    break;
                }

                case "Add" or "Sub" or "Mul" or "Div":
                    AddBinary(node, x, inputs[1] ?? throw OnnxStatic.Bad(node, where, "has one input"));
                    break;
                case "Relu" or "Sigmoid" or "Tanh":
                {
                    ActivationKind kind = op switch { "Relu" => ActivationKind.Relu, "Sigmoid" => ActivationKind.Sigmoid, _ => ActivationKind.Tanh };
                    PlanValue y = New(x.Shape);
                    Steps.Add((ref Call c) => Activations.Forward(kind, c.Read(x), c.Write(y)));
                    Set(node, [y]);
                    break;
                }

                case "Softmax" or "LogSoftmax":
                {
                    long axis = OnnxStatic.Normalise(OnnxStatic.Int(node, "axis", model.Opset < 13 ? 1 : -1), x.Shape.Length, node, where);
                    if (axis != x.Shape.Length - 1)
                    {
                        throw OnnxStatic.Bad(node, where, $"normalises over axis {axis}; only the last axis is supported");
                    }

                    int cols = (int)x.Shape[^1], rows = cols == 0 ? 0 : x.Length / cols;
                    bool log = op == "LogSoftmax";
                    PlanValue y = New(x.Shape);
                    Steps.Add((ref Call c) =>
                    {
                        if (log)
                        {
                            Activations.LogSoftmaxRows(c.Read(x), cols, c.Write(y), cols, rows, cols);
                        }
                        else
                        {
                            Activations.SoftmaxRows(c.Read(x), cols, c.Write(y), cols, rows, cols);
                        }
                    });
                    Set(node, [y]);
                    break;
                }

                case "Conv":
                    AddConv(node, x, inputs[1] ?? throw OnnxStatic.Bad(node, where, "has no weights"), inputs.Length > 2 ? inputs[2] : null);
                    break;
                case "Pad":
                    AddPad(node, x, inputs);
                    break;
                case "Pow":
                    AddPow(node, x, inputs[1] ?? throw OnnxStatic.Bad(node, where, "has no exponent"));
                    break;
                case "Sqrt" or "Log" or "Exp" or "Neg" or "Abs":
                    AddUnary(node, x);
                    break;
                case "ReduceMean":
                    AddReduceMean(node, x, inputs);
                    break;
                case "MatMul":
                    AddProduct(node, x, inputs[1] ?? throw OnnxStatic.Bad(node, where, "has one input"), transB: false, alpha: 1, beta: 0, bias: null);
                    break;
                case "Gemm":
                    if (OnnxStatic.Int(node, "transA", 0) != 0 || x.Shape.Length != 2)
                    {
                        throw OnnxStatic.Bad(node, where, "is a Gemm with transA = 1 or an input of rank other than 2, which is not supported");
                    }

                    AddProduct(
                        node, x, inputs[1] ?? throw OnnxStatic.Bad(node, where, "has one input"), OnnxStatic.Int(node, "transB", 0) != 0,
                        OnnxStatic.Float(node, "alpha", 1), OnnxStatic.Float(node, "beta", 1), inputs.Length > 2 ? inputs[2] : null);
                    break;
                case "RNN" or "LSTM" or "GRU":
                    AddRecurrent(node, inputs);
                    break;
                default:
                    // Constant, Shape, Size, ConstantOfShape, Equal, Not, If: evaluated on values known when the plan is
                    // made; reached here, one of its inputs is the call's data.
                    throw OnnxStatic.Bad(node, where, "reads values only known when the model runs; it is supported on constants and shapes only");
            }
        }

        private void AddGather(OnnxNode node, PlanValue data, PlanValue indices)
        {
            if (indices.IsStatic)
            {
                (int axis, long[] idx, long[] shape) = OnnxStatic.GatherParameters(node, data.Shape, indices, where);
                PlanValue y = New(shape);
                Steps.Add((ref Call c) => TensorOps.Gather(c.Read(data), data.Shape, axis, idx, c.Write(y)));
                Set(node, [y]);
                return;
            }

            // An embedding lookup: a known table, ids of the call.
            int gatherAxis = (int)OnnxStatic.Normalise(OnnxStatic.Int(node, "axis", 0), data.Shape.Length, node, where);
            if (!indices.IsInteger || gatherAxis != 0 || data.IsInteger)
            {
                throw OnnxStatic.Bad(node, where, "gathers with ids of the call other than rows of a float table");
            }

            long rows = data.Shape[0];
            int width = rows == 0 ? 0 : data.Length / (int)rows;
            PlanValue result = New([.. indices.Shape, .. data.Shape[1..]]);
            string label = node.Label;
            Steps.Add((ref Call c) =>
            {
                ReadOnlySpan<long> ids = c.ReadIntegers(indices);
                ReadOnlySpan<float> table = c.Read(data);
                Span<float> y = c.Write(result);
                for (int i = 0; i < ids.Length; i++)
                {
                    long id = ids[i] < 0 ? ids[i] + rows : ids[i];
                    if ((ulong)id >= (ulong)rows)
                    {
                        ThrowHelper.ArgumentOutOfRange("inputs", $"{label}: id {ids[i]} at {i} is outside [−{rows}, {rows}).");
                    }

                    table.Slice((int)id * width, width).CopyTo(y.Slice(i * width, width));
                }
            });
            Set(node, [result]);
        }

        private void AddBinary(OnnxNode node, PlanValue a, PlanValue b)
        {
            if (b.IsInteger)
            {
                throw OnnxStatic.Bad(node, where, "mixes int64 and float inputs");
            }

            long[] shape = TensorOps.Broadcast(a.Shape, b.Shape) ?? throw OnnxStatic.Bad(node, where, $"cannot broadcast {a} with {b}");
            char op = node.OpType switch { "Add" => '+', "Sub" => '-', "Mul" => '*', _ => '/' };
            if (op is '+' or '*' && !a.Shape.SequenceEqual(shape) && b.Shape.SequenceEqual(shape))
            {
                (a, b) = (b, a);   // the same bits (IEEE addition and multiplication commute); the full operand first
            }

            PlanValue y = New(shape);
            if (a.Shape.SequenceEqual(shape) && b.Shape.SequenceEqual(shape))
            {
                Steps.Add((ref Call c) => Elementwise(op, c.Read(a), c.Read(b), c.Write(y)));
            }
            else if (a.Shape.SequenceEqual(shape) && OuterBlocks(b.Shape, shape) is { } blocks)
            {
                // b holds one value per block of a's trailing axes (a scalar: one block; a bias per channel): a
                // scalar per block.
                int inner = blocks.Inner;
                Steps.Add((ref Call c) =>
                {
                    ReadOnlySpan<float> x = c.Read(a), v = c.Read(b);
                    Span<float> r = c.Write(y);
                    for (int o = 0, at = 0; o < v.Length; o++, at += inner)
                    {
                        Elementwise(op, x.Slice(at, inner), v[o], r.Slice(at, inner));
                    }
                });
            }
            else if (a.Shape.SequenceEqual(shape) && b.Length == (shape.Length == 0 ? 1 : shape[^1]) && b.Shape.Take(b.Shape.Length - 1).All(d => d == 1))
            {
                // The common bias: a row vector added to every row.
                int width = b.Length;
                Steps.Add((ref Call c) =>
                {
                    ReadOnlySpan<float> x = c.Read(a), v = c.Read(b);
                    Span<float> r = c.Write(y);
                    for (int at = 0; at < r.Length; at += width)
                    {
                        Elementwise(op, x.Slice(at, width), v, r.Slice(at, width));
                    }
                });
            }
            else
            {
                Steps.Add((ref Call c) => TensorOps.Binary(op, c.Read(a), a.Shape, c.Read(b), b.Shape, c.Write(y), shape));
            }

            Set(node, [y]);
        }

        private void AddProduct(OnnxNode node, PlanValue a, PlanValue b, bool transB, float alpha, float beta, PlanValue? bias)
        {
            if (!b.IsStatic || b.IsInteger || b.Shape.Length != 2 || a.Shape.Length < 1)
            {
                throw OnnxStatic.Bad(node, where, "multiplies by something other than a constant float matrix, which is not supported");
            }

            int k = (int)a.Shape[^1], n = (int)(transB ? b.Shape[0] : b.Shape[1]);
            if ((transB ? b.Shape[1] : b.Shape[0]) != k)
            {
                throw OnnxStatic.Bad(node, where, $"multiplies {a} by {b}{(transB ? "ᵀ" : "")}");
            }

            long[] shape = [.. a.Shape[..^1], n];
            PlanValue y = New(shape);
            int m = k == 0 ? 0 : a.Length / k;
            PackedMatrix packed = transB ? PackedMatrix.FromRowsAsColumns(b.Floats, n, k, k) : PackedMatrix.FromMatrix(b.Floats, k, n, n);
            if (bias is not null && beta is not (0 or 1))
            {
                throw OnnxStatic.Bad(node, where, $"has beta = {beta}; Gemm is read with beta 0 or 1");
            }

            long[]? biasShape = bias is null || beta == 0 ? null : TensorOps.Broadcast(shape, bias.Shape);
            if (bias is not null && beta != 0 && (biasShape is null || !biasShape.SequenceEqual(shape)))
            {
                throw OnnxStatic.Bad(node, where, $"adds C {bias} that does not broadcast to {string.Join(", ", shape)}");
            }

            ArrayPool<float> pool = model.Pool;
            Steps.Add((ref Call c) =>
            {
                Span<float> r = c.Write(y);
                Gemm.MultiplyPacked(m, c.Read(a), k, packed, r, n, accumulate: false, c.Threads, pool);
                if (alpha != 1)
                {
                    TensorPrimitives.Multiply(r, alpha, r);
                }

                if (biasShape is not null)
                {
                    ReadOnlySpan<float> cv = c.Read(bias!);
                    if (bias!.Length == n)
                    {
                        for (int at = 0; at < r.Length; at += n)
                        {
                            TensorPrimitives.Add(r.Slice(at, n), cv, r.Slice(at, n));
                        }
                    }
                    else
                    {
                        TensorOps.Binary('+', (ReadOnlySpan<float>)r, shape, cv, bias.Shape, r, shape);
                    }
                }
            });
            Set(node, [y]);
        }

        private void AddRecurrent(OnnxNode node, PlanValue?[] inputs)
        {
            OnnxRecurrentLayer layer = model.Recurrent(node);
            RecurrentNetworkOptionsView o = new(layer);
            PlanValue x = inputs[0]!;
            if (x.Shape.Length != 3 || x.Shape[2] != o.Input)
            {
                throw OnnxStatic.Bad(node, where, $"reads X {x}; expected [{(layer.Layout == 0 ? "T, B" : "B, T")}, {o.Input}]");
            }

            int steps = (int)x.Shape[layer.Layout == 0 ? 0 : 1], batch = (int)x.Shape[layer.Layout == 0 ? 1 : 0];
            long[] state = layer.Layout == 0 ? [o.Directions, batch, o.Hidden] : [batch, o.Directions, o.Hidden];
            PlanValue? Optional(int i, long[] expected, string role)
            {
                PlanValue? v = i < inputs.Length ? inputs[i] : null;
                if (v is not null && (v.IsInteger || !v.Shape.SequenceEqual(expected)))
                {
                    throw OnnxStatic.Bad(node, where, $"reads {role} {v}; expected [{string.Join(", ", expected)}]");
                }

                return v;
            }

            PlanValue? lengths = inputs.Length > 4 ? inputs[4] : null;
            PlanValue? h0 = Optional(5, state, "initial_h"), c0 = o.Lstm ? Optional(6, state, "initial_c") : null;
            if (lengths is not null && (!lengths.IsInteger || lengths.Length != batch))
            {
                throw OnnxStatic.Bad(node, where, $"reads sequence_lens {lengths}; expected int [{batch}]");
            }

            PlanValue y = New(layer.Layout == 0 ? [steps, o.Directions, batch, o.Hidden] : [batch, steps, o.Directions, o.Hidden]);
            PlanValue yH = New(state), yC = New(o.Lstm ? state : [0]);
            Steps.Add((ref Call c) =>
            {
                int[]? rented = lengths is null ? null : ArrayPool<int>.Shared.Rent(batch);
                try
                {
                    if (rented is not null)
                    {
                        ReadOnlySpan<long> l = c.ReadIntegers(lengths!);
                        for (int i = 0; i < batch; i++)
                        {
                            if (l[i] < 0 || l[i] > steps)
                            {
                                ThrowHelper.ArgumentOutOfRange("inputs", $"{node.Label}: sequence_lens[{i}] = {l[i]} is outside [0, {steps}].");
                            }

                            rented[i] = (int)l[i];
                        }
                    }

                    layer.Run(
                        c.Read(x), steps, batch, c.Write(y), c.Write(yH), o.Lstm ? c.Write(yC) : default,
                        h0 is null ? default : c.Read(h0), c0 is null ? default : c.Read(c0), rented is null ? default : rented.AsSpan(0, batch), c.Threads);
                }
                finally
                {
                    if (rented is not null)
                    {
                        ArrayPool<int>.Shared.Return(rented);
                    }
                }
            });
            Set(node, [y, yH, yC]);
        }

        // b's shape (aligned right) is shape's first k axes then 1s: b.Length blocks of the remaining axes' size.
        private static (int Inner, int Outer)? OuterBlocks(long[] b, long[] shape)
        {
            int rank = shape.Length, offset = rank - b.Length, k = 0;
            if (offset < 0)
            {
                return null;
            }

            while (k < rank && (k < offset ? 1 : b[k - offset]) == shape[k] && (k >= offset || shape[k] == 1))
            {
                k++;
            }

            for (int d = k; d < rank; d++)
            {
                if (d >= offset && b[d - offset] != 1)
                {
                    return null;
                }
            }

            long inner = PlanValue.Count(shape[k..]);
            return inner <= 1 ? null : ((int)inner, (int)PlanValue.Count(shape[..k]));
        }

        private static void Elementwise(char op, ReadOnlySpan<float> a, float b, Span<float> r)
        {
            switch (op)
            {
                case '+':
                    TensorPrimitives.Add(a, b, r);
                    break;
                case '-':
                    TensorPrimitives.Subtract(a, b, r);
                    break;
                case '*':
                    TensorPrimitives.Multiply(a, b, r);
                    break;
                default:
                    TensorPrimitives.Divide(a, b, r);
                    break;
            }
        }

        private static void Elementwise(char op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> r)
        {
            switch (op)
            {
                case '+':
                    TensorPrimitives.Add(a, b, r);
                    break;
                case '-':
                    TensorPrimitives.Subtract(a, b, r);
                    break;
                case '*':
                    TensorPrimitives.Multiply(a, b, r);
                    break;
                default:
                    TensorPrimitives.Divide(a, b, r);
                    break;
            }
        }

        private PlanValue New(long[] shape)
        {
            var v = PlanValue.InWorkspace(shape, Workspace);
            if ((long)Workspace + v.Length > Array.MaxLength)
            {
                OnnxErrors.Fail($"{where}: the call needs more than {Array.MaxLength} floats of workspace.");
            }

            Workspace += v.Length;
            return v;
        }

        private void Set(OnnxNode node, PlanValue[] results)
        {
            for (int k = 0; k < node.Outputs.Length && k < results.Length; k++)
            {
                if (node.Outputs[k].Length > 0)
                {
                    values[node.Outputs[k]] = results[k];
                }
            }
        }
    }

    /// <summary>The sizes of a recurrent node's layer.</summary>
    private readonly struct RecurrentNetworkOptionsView(OnnxRecurrentLayer layer)
    {
        public int Input => layer.Network.Options.InputSize;

        public int Hidden => layer.Network.Options.HiddenSize;

        public int Directions => layer.Network.Options.Directions;

        public bool Lstm => layer.Network.Options.Cell == CellType.Lstm;
    }
}
