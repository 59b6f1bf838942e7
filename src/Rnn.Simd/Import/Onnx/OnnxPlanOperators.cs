using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Kernels.Gemm;

namespace Rnn.Simd.Import.Onnx;

/// <summary>The plan steps of If (a branch chosen when the plan is made), Conv, Pad, Pow, the element-wise
/// functions and ReduceMean.</summary>
internal sealed partial class OnnxPlan
{
    private sealed partial class Builder
    {
        // The branch is chosen now: its nodes join the plan's straight line of steps.
        private void AddIf(OnnxNode node)
        {
            bool take = OnnxStatic.Condition(node, values[node.Inputs[0]], where);
            OnnxGraph branch = OnnxStatic.Attribute(node, take ? "then_branch" : "else_branch")!.Graph!;
            IReadOnlyDictionary<string, PlanValue> scope = model.Scope(branch);
            Dictionary<string, PlanValue> outer = values;
            values = new Dictionary<string, PlanValue>(outer, StringComparer.Ordinal);
            foreach ((string name, PlanValue v) in scope)
            {
                values[name] = v;
            }

            foreach (OnnxNode inner in branch.Nodes)
            {
                if (!inner.Outputs.All(o => o.Length == 0 || scope.ContainsKey(o)))
                {
                    Add(inner);
                }
            }

            PlanValue[] results = [.. branch.Outputs.Select(o => values[o.Name])];
            values = outer;
            Set(node, results);
        }

        private void AddConv(OnnxNode node, PlanValue x, PlanValue w, PlanValue? bias)
        {
            int rank = x.Shape.Length;
            if (rank is not (3 or 4) || w.Shape.Length != rank)
            {
                throw OnnxStatic.Bad(node, where, $"convolves {x} with weights {w}; 1-D and 2-D convolutions (input [N, C, W] or [N, C, H, W]) are supported");
            }

            if (!w.IsStatic || w.IsInteger)
            {
                throw OnnxStatic.Bad(node, where, "convolves with weights that are not constant floats, which is not supported");
            }

            int group = checked((int)OnnxStatic.Int(node, "group", 1));
            long batch = x.Shape[0], channels = x.Shape[1], maps = w.Shape[0], perGroup = w.Shape[1];
            if (group < 1 || perGroup * group != channels || maps % group != 0)
            {
                throw OnnxStatic.Bad(node, where, $"has group {group}, input {x} and weights {w}, which do not fit");
            }

            int spatial = rank - 2;
            long[] size = x.Shape[2..], kernel = w.Shape[2..];
            long[] strides = OnnxStatic.Attribute(node, "strides")?.Ints ?? [.. Enumerable.Repeat(1L, spatial)];
            long[] dilations = OnnxStatic.Attribute(node, "dilations")?.Ints ?? [.. Enumerable.Repeat(1L, spatial)];
            long[] pads = OnnxStatic.Attribute(node, "pads")?.Ints ?? new long[2 * spatial];
            long[]? declared = OnnxStatic.Attribute(node, "kernel_shape")?.Ints;
            string autoPad = OnnxStatic.Attribute(node, "auto_pad")?.S ?? "NOTSET";
            if (strides.Length != spatial || dilations.Length != spatial || pads.Length != 2 * spatial || (declared is not null && !declared.SequenceEqual(kernel)) ||
                strides.Any(v => v < 1) || dilations.Any(v => v < 1) || pads.Any(v => v < 0) || kernel.Any(v => v < 1))
            {
                throw OnnxStatic.Bad(node, where, $"has strides, dilations, pads or kernel_shape that do not fit its {spatial}-D weights {w}");
            }

            var begin = new long[spatial];
            var outSize = new long[spatial];
            for (int d = 0; d < spatial; d++)
            {
                long extent = (dilations[d] * (kernel[d] - 1)) + 1;
                switch (autoPad)
                {
                    case "NOTSET":
                        begin[d] = pads[d];
                        outSize[d] = ((size[d] + pads[d] + pads[d + spatial] - extent) / strides[d]) + 1;
                        break;
                    case "VALID":
                        outSize[d] = ((size[d] - extent) / strides[d]) + 1;
                        break;
                    case "SAME_UPPER" or "SAME_LOWER":
                        outSize[d] = (size[d] + strides[d] - 1) / strides[d];
                        long total = Math.Max(0, ((outSize[d] - 1) * strides[d]) + extent - size[d]);
                        begin[d] = autoPad == "SAME_UPPER" ? total / 2 : total - (total / 2);
                        break;
                    default:
                        throw OnnxStatic.Bad(node, where, $"has auto_pad '{autoPad}'; NOTSET, VALID, SAME_UPPER and SAME_LOWER are read");
                }

                if (outSize[d] < 1)
                {
                    throw OnnxStatic.Bad(node, where, $"has a kernel of extent {extent} longer than its padded input {x} along spatial axis {d}");
                }
            }

            if (bias is not null && (bias.IsInteger || bias.Length != maps))
            {
                throw OnnxStatic.Bad(node, where, $"adds bias {bias}; expected [{maps}]");
            }

            PlanValue y = New([batch, maps, .. outSize]);
            var g = new ConvGeometry(
                (int)batch, (int)channels, (int)maps, group,
                spatial == 2 ? (int)size[0] : 1, (int)size[^1], spatial == 2 ? (int)kernel[0] : 1, (int)kernel[^1],
                spatial == 2 ? (int)strides[0] : 1, (int)strides[^1], spatial == 2 ? (int)dilations[0] : 1, (int)dilations[^1],
                spatial == 2 ? (int)begin[0] : 0, (int)begin[^1], spatial == 2 ? (int)outSize[0] : 1, (int)outSize[^1]);
            float[] weights = w.Floats!;
            if (perGroup == 1 && maps == group)
            {
                // Depthwise: one filter per channel, a direct loop.
                Steps.Add((ref Call c) => g.Depthwise(c.Read(x), weights, bias is null ? default : c.Read(bias), c.Write(y)));
                Set(node, [y]);
                return;
            }

            // Otherwise per group a product: rows of the unfolded input [N·OH·OW, C/group·KH·KW] times the packed
            // weights, then each map's column moved to its row of the output (with the bias).
            PackedMatrix[] packed = model.Cached(w, () => g.Pack(weights));
            if (packed.Length != group || packed[0].K != g.Depth)
            {
                packed = g.Pack(weights);
            }

            PlanValue columns = New([g.Rows * g.Depth]), products = New([g.Rows * g.MapsPerGroup]), transposed = New([g.TapMajor ? g.TransposedRows * g.ChannelsPerGroup : 0]);
            var pool = model.Pool;
            Steps.Add((ref Call c) =>
            {
                ReadOnlySpan<float> input = c.Read(x);
                ReadOnlySpan<float> b = bias is null ? default : c.Read(bias);
                Span<float> cols = c.Write(columns), prod = c.Write(products), output = c.Write(y), rows = c.Write(transposed);
                for (int k = 0; k < g.Groups; k++)
                {
                    if (g.TapMajor)
                    {
                        g.UnfoldTapMajor(input, k, rows, cols);
                    }
                    else
                    {
                        g.Unfold(input, k, cols);
                    }

                    MultiplyRows(g.Rows, cols, g.Depth, packed[k], prod, g.MapsPerGroup, c.Threads, pool);
                    g.Scatter(prod, k, b, output);
                }
            });
            Set(node, [y]);
        }

        private void AddPad(OnnxNode node, PlanValue x, PlanValue?[] inputs)
        {
            int rank = x.Shape.Length;
            string mode = OnnxStatic.Attribute(node, "mode")?.S ?? "constant";
            long[] pads;
            long[]? axes = null;
            float fill = 0;
            if (model.Opset < 11)
            {
                pads = OnnxStatic.Attribute(node, "pads")?.Ints ?? throw OnnxStatic.Bad(node, where, "has no pads");
                fill = OnnxStatic.Float(node, "value", 0);
            }
            else
            {
                PlanValue p = inputs.Length > 1 && inputs[1] is { } given ? given : throw OnnxStatic.Bad(node, where, "has no pads");
                if (!p.IsStatic)
                {
                    throw OnnxStatic.Bad(node, where, "has pads computed from the call's data; pads must be known when the plan is made");
                }

                pads = p.AsIntegers();
                if (inputs.Length > 2 && inputs[2] is { } value)
                {
                    fill = value.IsStatic && value.Length == 1 ? (value.Floats is { } f ? f[0] : value.Integers![0])
                        : throw OnnxStatic.Bad(node, where, "has a constant_value that is not one known value");
                }

                axes = inputs.Length > 3 && inputs[3] is { } a ? a.AsIntegers() : null;
            }

            long[] axisList = axes is null ? [.. Enumerable.Range(0, rank).Select(d => (long)d)] : [.. axes.Select(v => OnnxStatic.Normalise(v, rank, node, where))];
            if (rank == 0 || pads.Length != 2 * axisList.Length || axisList.Distinct().Count() != axisList.Length)
            {
                throw OnnxStatic.Bad(node, where, $"has {pads.Length} pads for {axisList.Length} axes of {x}");
            }

            if (mode is not ("constant" or "reflect" or "edge"))
            {
                throw OnnxStatic.Bad(node, where, $"has mode '{mode}'; constant, reflect and edge are read");
            }

            var before = new long[rank];
            var after = new long[rank];
            for (int i = 0; i < axisList.Length; i++)
            {
                before[axisList[i]] = pads[i];
                after[axisList[i]] = pads[i + axisList.Length];
            }

            long[] shape = new long[rank];
            for (int d = 0; d < rank; d++)
            {
                shape[d] = x.Shape[d] + before[d] + after[d];
                if (shape[d] < 0 || (mode != "constant" && shape[d] > 0 && x.Shape[d] == 0) ||
                    (mode == "reflect" && (before[d] >= x.Shape[d] || after[d] >= x.Shape[d]) && (before[d] > 0 || after[d] > 0)))
                {
                    throw OnnxStatic.Bad(node, where, $"pads axis {d} of {x} by {before[d]} and {after[d]} in mode {mode}, which does not fit");
                }
            }

            var padding = new PadMap(x.Shape, shape, before, mode);
            PlanValue y = New(shape);
            Steps.Add((ref Call c) => padding.Run(c.Read(x), fill, c.Write(y)));
            Set(node, [y]);
        }

        private void AddPow(OnnxNode node, PlanValue x, PlanValue e)
        {
            if (e.IsInteger && !e.IsStatic)
            {
                throw OnnxStatic.Bad(node, where, "raises to int64 powers of the call, which is not supported");
            }

            long[] shape = TensorOps.Broadcast(x.Shape, e.Shape) ?? throw OnnxStatic.Bad(node, where, $"cannot broadcast {x} with {e}");
            PlanValue y = New(shape);
            float? scalar = e.IsStatic && e.Length == 1 ? (e.Floats is { } f ? f[0] : e.Integers![0]) : null;
            if (scalar is { } p && shape.SequenceEqual(x.Shape))
            {
                // The common exponents exactly as ONNX Runtime's fast paths compute them; others by MathF.Pow.
                Steps.Add(p switch
                {
                    2f => (ref Call c) => TensorPrimitives.Multiply(c.Read(x), c.Read(x), c.Write(y)),
                    0.5f => (ref Call c) => TensorPrimitives.Sqrt(c.Read(x), c.Write(y)),
                    1f => (ref Call c) => c.Read(x).CopyTo(c.Write(y)),
                    _ => (ref Call c) =>
                    {
                        ReadOnlySpan<float> v = c.Read(x);
                        Span<float> r = c.Write(y);
                        for (int i = 0; i < r.Length; i++)
                        {
                            r[i] = MathF.Pow(v[i], p);
                        }
                    },
                });
            }
            else
            {
                PlanValue exponent = e.IsInteger ? PlanValue.Static(e.Shape, [.. e.Integers!.Select(v => (float)v)]) : e;
                Steps.Add((ref Call c) => TensorOps.Binary<float, PowOp>(c.Read(x), x.Shape, c.Read(exponent), exponent.Shape, c.Write(y), shape));
            }

            Set(node, [y]);
        }

        private void AddUnary(OnnxNode node, PlanValue x)
        {
            PlanValue y = New(x.Shape);
            Steps.Add(node.OpType switch
            {
                "Sqrt" => (ref Call c) => TensorPrimitives.Sqrt(c.Read(x), c.Write(y)),
                "Neg" => (ref Call c) => TensorPrimitives.Negate(c.Read(x), c.Write(y)),
                "Abs" => (ref Call c) => TensorPrimitives.Abs(c.Read(x), c.Write(y)),

                // Log by OnnxMath and Exp element by element with MathF: the same bits on every instruction set.
                "Log" => (ref Call c) => OnnxMath.Log(c.Read(x), c.Write(y)),
                _ => (ref Call c) =>
                {
                    ReadOnlySpan<float> v = c.Read(x);
                    Span<float> r = c.Write(y);
                    for (int i = 0; i < r.Length; i++)
                    {
                        r[i] = MathF.Exp(v[i]);
                    }
                },
            });
            Set(node, [y]);
        }

        private void AddReduceMean(OnnxNode node, PlanValue x, PlanValue?[] inputs)
        {
            int rank = x.Shape.Length;
            long[]? axes = model.Opset < 18
                ? OnnxStatic.Attribute(node, "axes")?.Ints
                : inputs.Length > 1 && inputs[1] is { } a ? (a.IsStatic ? a.AsIntegers() : throw OnnxStatic.Bad(node, where, "has axes computed from the call's data")) : null;
            bool keep = OnnxStatic.Int(node, "keepdims", 1) != 0;
            if ((axes is null || axes.Length == 0) && OnnxStatic.Int(node, "noop_with_empty_axes", 0) != 0)
            {
                Set(node, [x]);
                return;
            }

            var reduced = new bool[rank];
            foreach (long axis in axes is { Length: > 0 } ? axes : Enumerable.Range(0, rank).Select(d => (long)d))
            {
                reduced[OnnxStatic.Normalise(axis, rank, node, where)] = true;
            }

            long[] kept = [.. x.Shape.Select((d, i) => reduced[i] ? 1 : d)];
            long[] shape = keep ? kept : [.. x.Shape.Where((_, i) => !reduced[i])];
            long count = x.Shape.Where((_, i) => reduced[i]).Aggregate(1L, (p, d) => p * d);
            PlanValue y = New(shape);
            Steps.Add((ref Call c) =>
            {
                // Sums in the input's order (fixed), then the mean.
                Span<float> r = c.Write(y);
                r.Clear();
                TensorOps.SumInto(c.Read(x), x.Shape, kept, r);
                if (count != 1)
                {
                    for (int i = 0; i < r.Length; i++)
                    {
                        r[i] = count == 0 ? float.NaN : r[i] / count;
                    }
                }
            });
            Set(node, [y]);
        }
    }

    /// <summary>C[m, n] = A[m, k]·B for the few rows a convolution of a short frame has: the packed kernels run
    /// whole tiles of 6 or 4 rows; up to 3 rows, and the last of an odd count, go one by one through the batch-1
    /// path, which streams the weights once instead of computing a padded tile.</summary>
    private static void MultiplyRows(int m, ReadOnlySpan<float> a, int lda, PackedMatrix b, Span<float> c, int ldc, Kernels.Threading.ThreadTeam? threads, System.Buffers.ArrayPool<float> pool)
    {
        int tiled = m <= 3 ? 0 : m - (m % 2);
        if (tiled > 0)
        {
            Gemm.MultiplyPacked(tiled, a, lda, b, c, ldc, accumulate: false, threads, pool);
        }

        for (int row = tiled; row < m; row++)
        {
            Gemm.MultiplyPacked(1, a.Slice(row * lda, b.K), lda, b, c.Slice(row * ldc, b.N), ldc, accumulate: false, threads, pool);
        }
    }

    /// <summary>A convolution's sizes, 1-D ones as 2-D with height 1.</summary>
    private sealed record ConvGeometry(
        int Batch, int Channels, int Maps, int Groups, int Height, int Width, int KernelHeight, int KernelWidth,
        int StrideHeight, int StrideWidth, int DilationHeight, int DilationWidth, int PadTop, int PadLeft, int OutHeight, int OutWidth)
    {
        // Per kernel column j: the output columns ow whose input column ow·s + j·d − pad lies inside [0, Width).
        private readonly int[] _first = [.. Enumerable.Range(0, KernelWidth).Select(j => Range(j, PadLeft, DilationWidth, StrideWidth, Width, OutWidth).First)];
        private readonly int[] _last = [.. Enumerable.Range(0, KernelWidth).Select(j => Range(j, PadLeft, DilationWidth, StrideWidth, Width, OutWidth).Last)];

        public int ChannelsPerGroup => Channels / Groups;

        public int MapsPerGroup => Maps / Groups;

        /// <summary>Output positions of one image.</summary>
        public int Positions => OutHeight * OutWidth;

        /// <summary>Rows of one group's product: every position of every image.</summary>
        public int Rows => Batch * Positions;

        /// <summary>Depth of one group's product.</summary>
        public int Depth => ChannelsPerGroup * KernelHeight * KernelWidth;

        private static (int First, int Last) Range(int j, int pad, int dilation, int stride, int width, int outWidth)
        {
            int shift = (j * dilation) - pad;
            int first = shift >= 0 ? 0 : Math.Min(outWidth, (-shift + stride - 1) / stride);
            int last = width - 1 - shift < 0 ? 0 : Math.Min(outWidth, ((width - 1 - shift) / stride) + 1);
            return (first, Math.Max(first, last));
        }

        /// <summary>Whether the unfolded rows run tap-major (depth index j·C/group + ci): 1-D, dilation 1, a short kernel
        /// and several channels. The input is then transposed once to [positions, C/group] with zero rows for the
        /// padding, and each unfolded row is one contiguous run of it.</summary>
        public bool TapMajor => Height == 1 && KernelHeight == 1 && DilationWidth == 1 && KernelWidth < 16 && ChannelsPerGroup > 1;

        /// <summary>Rows of the transposed, padded input that <see cref="UnfoldTapMajor"/> reads.</summary>
        public int TransposedRows => ((OutWidth - 1) * StrideWidth) + KernelWidth;

        public PackedMatrix[] Pack(float[] weights)
        {
            var packed = new PackedMatrix[Groups];
            int rows = MapsPerGroup, depth = Depth, cg = ChannelsPerGroup, kw = KernelWidth;
            for (int k = 0; k < Groups; k++)
            {
                ReadOnlySpan<float> w = weights.AsSpan(k * rows * depth, rows * depth);
                if (TapMajor)
                {
                    // W'[m, j·cg + ci] = W[m, ci, j].
                    var permuted = new float[rows * depth];
                    for (int m = 0; m < rows; m++)
                    {
                        for (int ci = 0; ci < cg; ci++)
                        {
                            for (int j = 0; j < kw; j++)
                            {
                                permuted[(m * depth) + (j * cg) + ci] = w[(m * depth) + (ci * kw) + j];
                            }
                        }
                    }

                    w = permuted;
                }

                packed[k] = PackedMatrix.FromRowsAsColumns(w, rows, depth, depth);
            }

            return packed;
        }

        /// <summary>The tap-major rows: t[r, ci] = x[n, group's ci, r − pad] (0 outside), then row p = t[p·s …, all of C/group] over KW rows.</summary>
        public void UnfoldTapMajor(ReadOnlySpan<float> x, int group, Span<float> transposed, Span<float> columns)
        {
            int cg = ChannelsPerGroup, depth = Depth, rows = TransposedRows;
            for (int n = 0; n < Batch; n++)
            {
                for (int r = 0; r < rows; r++)
                {
                    int iw = r - PadLeft;
                    if (iw < 0 || iw >= Width)
                    {
                        transposed.Slice(r * cg, cg).Clear();
                    }
                }

                int from = Math.Max(0, PadLeft), to = Math.Min(rows, PadLeft + Width);
                ref float t = ref MemoryMarshal.GetReference(transposed);
                for (int ci = 0; ci < cg; ci++)
                {
                    ReadOnlySpan<float> line = x.Slice(((n * Channels) + (group * cg) + ci) * Width, Width);
                    for (int r = from; r < to; r++)
                    {
                        Unsafe.Add(ref t, (r * cg) + ci) = line[r - PadLeft];
                    }
                }

                for (int ow = 0; ow < OutWidth; ow++)
                {
                    transposed.Slice(ow * StrideWidth * cg, depth).CopyTo(columns.Slice(((n * Positions) + ow) * depth, depth));
                }
            }
        }

        /// <summary>The rows [n·P + p, ci·KH·KW + i·KW + j] = x[n, group's ci, oh·s + i·d − pad, ow·s + j·d − pad] (0 outside):
        /// one column of the unfolded matrix at a time, down its rows.</summary>
        public void Unfold(ReadOnlySpan<float> x, int group, Span<float> columns)
        {
            int depth = Depth, cg = ChannelsPerGroup, positions = Positions;
            if (KernelWidth >= 16 && DilationWidth == 1)
            {
                UnfoldRows(x, group, columns);
                return;
            }

            for (int n = 0; n < Batch; n++)
            {
                for (int ci = 0; ci < cg; ci++)
                {
                    ReadOnlySpan<float> plane = x.Slice(((n * Channels) + (group * cg) + ci) * Height * Width, Height * Width);
                    for (int i = 0; i < KernelHeight; i++)
                    {
                        for (int j = 0; j < KernelWidth; j++)
                        {
                            int column = (((ci * KernelHeight) + i) * KernelWidth) + j;
                            int shift = (j * DilationWidth) - PadLeft, first = _first[j], last = _last[j];
                            for (int oh = 0; oh < OutHeight; oh++)
                            {
                                int ih = (oh * StrideHeight) + (i * DilationHeight) - PadTop;
                                int at = (((n * positions) + (oh * OutWidth)) * depth) + column;
                                if (ih < 0 || ih >= Height)
                                {
                                    for (int ow = 0; ow < OutWidth; ow++, at += depth)
                                    {
                                        columns[at] = 0f;
                                    }

                                    continue;
                                }

                                ReadOnlySpan<float> line = plane.Slice(ih * Width, Width);
                                _ = columns[at + ((OutWidth - 1) * depth)];
                                ref float to = ref MemoryMarshal.GetReference(columns);
                                int ow2 = 0;
                                for (; ow2 < first; ow2++, at += depth)
                                {
                                    Unsafe.Add(ref to, at) = 0f;
                                }

                                if (last > first)
                                {
                                    _ = line[((last - 1) * StrideWidth) + shift];
                                    ref float from = ref MemoryMarshal.GetReference(line);
                                    for (int iw = (ow2 * StrideWidth) + shift; ow2 < last; ow2++, at += depth, iw += StrideWidth)
                                    {
                                        Unsafe.Add(ref to, at) = Unsafe.Add(ref from, iw);
                                    }
                                }

                                for (; ow2 < OutWidth; ow2++, at += depth)
                                {
                                    Unsafe.Add(ref to, at) = 0f;
                                }
                            }
                        }
                    }
                }
            }
        }

        // Long kernels (a short-time Fourier transform's): each row's kernel-wide runs copied whole.
        private void UnfoldRows(ReadOnlySpan<float> x, int group, Span<float> columns)
        {
            int depth = Depth, cg = ChannelsPerGroup;
            for (int n = 0; n < Batch; n++)
            {
                for (int oh = 0; oh < OutHeight; oh++)
                {
                    for (int ow = 0; ow < OutWidth; ow++)
                    {
                        Span<float> row = columns.Slice(((n * Positions) + (oh * OutWidth) + ow) * depth, depth);
                        int left = (ow * StrideWidth) - PadLeft;
                        int j0 = Math.Clamp(-left, 0, KernelWidth), j1 = Math.Clamp(Width - left, j0, KernelWidth);
                        for (int ci = 0; ci < cg; ci++)
                        {
                            int channel = (group * cg) + ci;
                            for (int i = 0; i < KernelHeight; i++)
                            {
                                Span<float> part = row.Slice(((ci * KernelHeight) + i) * KernelWidth, KernelWidth);
                                int ih = (oh * StrideHeight) + (i * DilationHeight) - PadTop;
                                if (ih < 0 || ih >= Height)
                                {
                                    part.Clear();
                                    continue;
                                }

                                part[..j0].Clear();
                                part[j1..].Clear();
                                x.Slice((((n * Channels) + channel) * Height * Width) + (ih * Width) + left + j0, j1 - j0).CopyTo(part[j0..j1]);
                            }
                        }
                    }
                }
            }
        }

        /// <summary>y[n, group's map m, p] = product[n·P + p, m] + bias[map].</summary>
        public void Scatter(ReadOnlySpan<float> product, int group, ReadOnlySpan<float> bias, Span<float> y)
        {
            int mg = MapsPerGroup, positions = Positions;
            for (int n = 0; n < Batch; n++)
            {
                for (int m = 0; m < mg; m++)
                {
                    int map = (group * mg) + m;
                    float b = bias.IsEmpty ? 0f : bias[map];
                    Span<float> line = y.Slice(((n * Maps) + map) * positions, positions);
                    for (int p = 0; p < positions; p++)
                    {
                        line[p] = product[(((n * positions) + p) * mg) + m] + b;
                    }
                }
            }
        }

        /// <summary>One filter per channel (group = channels = maps): y[n, c, oh, ow] = Σ w[c, i, j]·x[…] summed in
        /// (i, j) order, then + bias[c]; a kernel tap at a time over a whole output row.</summary>
        public void Depthwise(ReadOnlySpan<float> x, float[] weights, ReadOnlySpan<float> bias, Span<float> y)
        {
            int kernel = KernelHeight * KernelWidth;
            int padded = Math.Max(PadLeft + Width, OutWidth + KernelWidth - 1) + 4;
            if (Height == 1 && KernelHeight == 1 && StrideWidth == 1 && DilationWidth == 1 && padded <= 1024)
            {
                DepthwiseRow(x, weights, bias, y, stackalloc float[padded]);
                return;
            }

            for (int n = 0; n < Batch; n++)
            {
                for (int ch = 0; ch < Channels; ch++)
                {
                    ReadOnlySpan<float> plane = x.Slice(((n * Channels) + ch) * Height * Width, Height * Width);
                    ReadOnlySpan<float> w = weights.AsSpan(ch * kernel, kernel);
                    Span<float> o = y.Slice(((n * Channels) + ch) * Positions, Positions);
                    o.Clear();
                    for (int oh = 0; oh < OutHeight; oh++)
                    {
                        Span<float> row = o.Slice(oh * OutWidth, OutWidth);
                        for (int i = 0; i < KernelHeight; i++)
                        {
                            int ih = (oh * StrideHeight) + (i * DilationHeight) - PadTop;
                            if (ih < 0 || ih >= Height)
                            {
                                continue;
                            }

                            ReadOnlySpan<float> line = plane.Slice(ih * Width, Width);
                            for (int j = 0; j < KernelWidth; j++)
                            {
                                float tap = w[(i * KernelWidth) + j];
                                int shift = (j * DilationWidth) - PadLeft, first = _first[j], last = _last[j];
                                if (last <= first)
                                {
                                    continue;
                                }

                                ref float to = ref Unsafe.Add(ref MemoryMarshal.GetReference(row), first);
                                ref float from = ref Unsafe.Add(ref MemoryMarshal.GetReference(line), (first * StrideWidth) + shift);
                                _ = line[((last - 1) * StrideWidth) + shift];   // the last input read is inside the line
                                int count = last - first, ow = 0;
                                if (StrideWidth == 1)
                                {
                                    // Four outputs at a time: the same multiply, then add, per element.
                                    var t = Vector128.Create(tap);
                                    for (; ow <= count - 4; ow += 4)
                                    {
                                        (Vector128.LoadUnsafe(ref to, (nuint)ow) + (t * Vector128.LoadUnsafe(ref from, (nuint)ow))).StoreUnsafe(ref to, (nuint)ow);
                                    }
                                }

                                for (int iw = ow * StrideWidth; ow < count; ow++, iw += StrideWidth)
                                {
                                    Unsafe.Add(ref to, ow) += tap * Unsafe.Add(ref from, iw);
                                }
                            }
                        }
                    }

                    if (!bias.IsEmpty)
                    {
                        float b = bias[ch];
                        for (int p = 0; p < o.Length; p++)
                        {
                            o[p] += b;
                        }
                    }
                }
            }
        }

        // 1-D, stride 1, dilation 1: the row with its zero padding in a buffer, four outputs at a time, each summed
        // over the taps in order from +0 and then the bias added, as the general loop does (a padding tap adds a
        // zero product there, which leaves the sum's bits as the general loop's skipping it does).
        private void DepthwiseRow(ReadOnlySpan<float> x, float[] weights, ReadOnlySpan<float> bias, Span<float> y, Span<float> padded)
        {
            int k = KernelWidth, width = OutWidth;
            padded.Clear();
            for (int n = 0; n < Batch; n++)
            {
                for (int ch = 0; ch < Channels; ch++)
                {
                    x.Slice(((n * Channels) + ch) * Width, Width).CopyTo(padded.Slice(PadLeft, Width));
                    ReadOnlySpan<float> w = weights.AsSpan(ch * k, k);
                    Span<float> o = y.Slice(((n * Channels) + ch) * width, width);
                    float b = bias.IsEmpty ? 0f : bias[ch];
                    ref float line = ref MemoryMarshal.GetReference(padded);
                    int ow = 0;
                    for (; ow <= width - 4; ow += 4)
                    {
                        Vector128<float> sum = Vector128<float>.Zero;
                        for (int j = 0; j < k; j++)
                        {
                            sum += Vector128.Create(w[j]) * Vector128.LoadUnsafe(ref line, (nuint)(ow + j));
                        }

                        (sum + Vector128.Create(b)).CopyTo(o.Slice(ow, 4));
                    }

                    for (; ow < width; ow++)
                    {
                        float sum = 0f;
                        for (int j = 0; j < k; j++)
                        {
                            sum += w[j] * padded[ow + j];
                        }

                        o[ow] = sum + b;
                    }
                }
            }
        }
    }

    /// <summary>Where each output index of a Pad comes from, per axis (−1: the constant), made once per plan.</summary>
    private sealed class PadMap
    {
        private readonly long[] _inShape, _outShape;
        private readonly int[][] _source;

        public PadMap(long[] inShape, long[] outShape, long[] before, string mode)
        {
            _inShape = inShape;
            _outShape = outShape;
            _source = new int[inShape.Length][];
            for (int d = 0; d < inShape.Length; d++)
            {
                long n = inShape[d];
                var map = new int[outShape[d]];
                for (long o = 0; o < outShape[d]; o++)
                {
                    long i = o - before[d];
                    if (i < 0 || i >= n)
                    {
                        i = mode switch
                        {
                            "edge" => Math.Clamp(i, 0, n - 1),
                            "reflect" => n == 1 ? 0 : Reflect(i, n),
                            _ => -1,
                        };
                    }

                    map[o] = (int)i;
                }

                _source[d] = map;
            }
        }

        public void Run(ReadOnlySpan<float> x, float fill, Span<float> y)
        {
            int rank = _inShape.Length, last = rank - 1;
            int width = (int)_outShape[last], inWidth = (int)_inShape[last];
            if (y.IsEmpty)
            {
                return;
            }

            Span<long> index = stackalloc long[TensorOps.MaxRank];
            Span<long> strides = stackalloc long[TensorOps.MaxRank];
            TensorOps.Strides(_inShape, strides);
            index[..rank].Clear();
            int[] inner = _source[last];
            for (int at = 0; at < y.Length; at += width)
            {
                long start = 0;
                for (int d = 0; d < last && start >= 0; d++)
                {
                    int s = _source[d][index[d]];
                    start = s < 0 ? -1 : start + (s * strides[d]);
                }

                Span<float> row = y.Slice(at, width);
                if (start < 0)
                {
                    row.Fill(fill);
                }
                else
                {
                    ReadOnlySpan<float> line = x.Slice((int)start, inWidth);
                    for (int j = 0; j < width; j++)
                    {
                        int s = inner[j];
                        row[j] = s < 0 ? fill : line[s];
                    }
                }

                for (int d = last - 1; d >= 0; d--)
                {
                    if (++index[d] < _outShape[d])
                    {
                        break;
                    }

                    index[d] = 0;
                }
            }
        }

        // numpy's reflect (the edge not repeated), folded as often as needed.
        private static long Reflect(long i, long n)
        {
            long period = 2 * (n - 1);
            i %= period;
            if (i < 0)
            {
                i += period;
            }

            return i < n ? i : period - i;
        }
    }
}
