using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>
/// One direction of one layer run with the batch in the vector lanes: the inference path of
/// <see cref="DirectionRun"/> for batches that fill panels of NR sequences (16, 31, 32, 47, 48, … at AVX2, where
/// NR = 16; at AVX-512 panels of 32, or of 16 where 32 would pad the batch: see <see cref="LaneWidth"/>).
/// </summary>
/// <remarks>
/// <para>Every product is computed transposed, Gᵀ[rows, NR] = W · Xᵀ, with the weights on the micro-kernel's
/// broadcast side (<see cref="PackedRowPanels"/>, rows unit by unit) and a panel of NR sequences as its vector side.
/// The state is kept as panels [unit][lane], which is exactly the layout of the next step's vector side, so a step
/// packs nothing; each weight is loaded once per step and panel, and the state panel stays in L1/L2.</para>
/// <para>The rows of a strip of panels hold every gate of whole units, so each strip's cell update runs right
/// after its products, on gates still in L1, and one team dispatch per step covers products and updates.</para>
/// <para>Bits: each gate is the same FMA chain over [x; h] as in the row-major path (the input part by the
/// projection, continued over h by the step), and the update runs the same IEEE operations per lane
/// (<see cref="LstmCell.Lanes"/>, <see cref="GruCell.ResetAfterLanes"/>, <see cref="ElmanCell.Lanes"/>), so the outputs and states are bit for bit those of <see cref="DirectionRun"/>.</para>
/// <para>Reduced weights (<see cref="DirectionWeights.Lanes"/> of a bf16 or int8 copy): the row panels hold the values the
/// network holds (bf16-rounded; int8 codes as q·2²⁴), so bf16 is float32's chain over the rounded weights; int8 keeps
/// each product's sums apart from zero and adds them once with the row's scale, fma(Σ, s·2⁻²⁴, y₀), the input part
/// onto +0 and the recurrent part onto the gates (GRU: onto +0, its products stay apart), as <see cref="ReducedGemm"/>
/// does on the row-major path, so the bits are its bits.</para>
/// <code>
///   scratch (floats, NR = lanes, P = ⌈B / NR⌉ panels, R = padded G·H rows, S = steps per projection chunk)
///     xT     [S][P][In][NR]   the chunk's inputs, transposed
///     gates  [S][P][R][NR]    the chunk's gate pre-activations (input part, then the recurrent part added in place)
///     rec    [P][R][NR]       GRU: the step's recurrent products (reset-after keeps them apart); int8: every cell's sums
///     h      [2][P][Hout][NR] ping-pong state panels
///     c      [P][H][NR]       LSTM cell state, updated in place
/// </code>
/// </remarks>
internal static unsafe class DirectionLanes
{
    /// <summary>
    /// Whether a forward call of <paramref name="o"/> at <paramref name="batch"/> runs in lanes: inference over
    /// whole sequences (no lengths), LSTM without projection, GRU reset-after or Elman, and at most a sixteenth of the
    /// lanes padding. Padded lanes are computed like the others: at LSTM H = 256, B = 24 (a quarter padding) the lanes
    /// took 1.3× the row-major time, while full panels save 7–15 % (H = 256 and 512, B = 16 … 256).
    /// </summary>
    public static bool Applies(RecurrentNetworkOptions o, int batch, bool wholeSequences)
    {
        if (o.IsExtended)
        {
            return false;   // ONNX's extras run on the row-major general path
        }

        bool cell = o.Cell switch
        {
            CellType.Lstm => o.ProjectionSize == 0,
            CellType.Gru => o.GruVariant == GruVariant.ResetAfter,
            _ => true,
        };
        return wholeSequences && cell && Fits(batch, LaneWidth(Isa.Best, batch));
    }

    /// <summary>At most a sixteenth of <paramref name="batch"/>'s panels of <paramref name="nr"/> lanes is padding.</summary>
    private static bool Fits(int batch, int nr)
    {
        int padded = Panels(batch, nr) * nr;
        return 16 * (padded - batch) <= padded;
    }

    /// <summary>
    /// Lanes per panel at <paramref name="width"/> for <paramref name="batch"/>: the micro-kernel's NR, or at
    /// AVX-512 one vector (16, <see cref="MicroKernel512Narrow"/>) where 32-lane panels would pad the batch
    /// (B = 16, 48, 80, …).
    /// </summary>
    private static int LaneWidth(VectorWidth width, int batch)
    {
        int nr = Gemm.PanelWidth(width);
        return width == VectorWidth.V512 && !Fits(batch, nr) ? MicroKernel512Narrow.NR : nr;
    }

    /// <summary>Floats of scratch a call needs (layer inputs at most <paramref name="inputSize"/> wide).</summary>
    public static long ScratchFloats(RecurrentNetworkOptions o, int steps, int batch, int inputSize, bool int8 = false)
    {
        Shape s = Shape.Of(o, steps, batch, inputSize, Isa.Best, int8);
        return s.XtFloats + s.GatesFloats + s.RecFloats + (3 * s.StateFloats) + (5 * GemmBlocking.AlignFloats);
    }

    /// <summary>
    /// x [T·B, inputSize] time-major → layerOut [T·B, F] (this direction's features at <paramref name="outputOffset"/>,
    /// added when <paramref name="addToOutput"/>), from h0/c0 (empty = zeros) into hN/cN (empty = not wanted).
    /// </summary>
    public static void Execute(
        RecurrentNetworkOptions o, DirectionWeights weights, Span<float> scratch, int steps, int batch, ThreadTeam? team,
        bool reverse, int outputOffset, bool addToOutput,
        ReadOnlySpan<float> x, int inputSize, Span<float> layerOut, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN)
    {
        LaneWeights lanes = weights.Lanes;
        bool int8 = lanes.InputScales.Length > 0;
        Shape shape = Shape.Of(o, steps, batch, inputSize, lanes.Input.Width, int8);
        fixed (float* all = scratch)
        fixed (float* px = x)
        fixed (float* py = layerOut)
        fixed (float* ph0 = h0)
        fixed (float* pc0 = c0)
        fixed (float* phN = hN)
        fixed (float* pcN = cN)
        fixed (float* bias = weights.Bias)
        fixed (float* newBias = weights.RecurrentNewBias)
        fixed (float* scaleX = lanes.InputScales)
        fixed (float* scaleH = lanes.RecurrentScales)
        {
            float* at = Align(all);
            var run = new Run
            {
                Shape = shape,
                Cell = o.Cell,
                Activation = o.Nonlinearity.ToActivationKind(),
                Width = lanes.Input.Width,
                Input = lanes.Input.Panels,
                Recurrent = lanes.Recurrent.Panels,
                Bias = bias,
                NewBias = newBias,
                ScaleX = int8 ? scaleX : null,
                ScaleH = int8 ? scaleH : null,
                X = px,
                Y = py,
                Features = o.LayerOutputSize,
                OutputOffset = outputOffset,
                AddToOutput = addToOutput,
            };
            run.Xt = at; at = Align(at + shape.XtFloats);
            run.Gates = at; at = Align(at + shape.GatesFloats);
            run.Rec = at; at = Align(at + shape.RecFloats);
            run.H0 = at; at = Align(at + shape.StateFloats);
            run.H1 = at; at = Align(at + shape.StateFloats);
            run.C = at;
            run.Parts = team is null || (long)shape.Rows * shape.Hidden * shape.Lanes * shape.Panels < GemmBlocking.MinParallelMacs
                ? 1 : Math.Min(team.ThreadCount, shape.Strips);

            switch (run.Width)
            {
                case VectorWidth.V512 when shape.Lanes == MicroKernel512Narrow.NR:
                    Loop<MicroKernel512Narrow>(ref run, team, reverse, ph0, pc0, phN, pcN);
                    break;
                case VectorWidth.V512:
                    Loop<MicroKernel512>(ref run, team, reverse, ph0, pc0, phN, pcN);
                    break;
                case VectorWidth.V256:
                    Loop<MicroKernel256>(ref run, team, reverse, ph0, pc0, phN, pcN);
                    break;
                case VectorWidth.V128 when Mad.SeparateWithAvx:
                    Loop<MicroKernelAvx>(ref run, team, reverse, ph0, pc0, phN, pcN);
                    break;
                case VectorWidth.V128:
                    Loop<MicroKernel128>(ref run, team, reverse, ph0, pc0, phN, pcN);
                    break;
                default:
                    Loop<MicroKernelScalar>(ref run, team, reverse, ph0, pc0, phN, pcN);
                    break;
            }

            GC.KeepAlive(lanes);
        }
    }

    private static void Loop<TKernel>(ref Run run, ThreadTeam? team, bool reverse, float* h0, float* c0, float* hN, float* cN)
        where TKernel : struct, IGemmMicroKernel
    {
        Shape s = run.Shape;
        bool lstm = run.Cell == CellType.Lstm;
        ToPanels<TKernel>(h0, s.Batch, s.Hidden, run.H0, s.Panels);
        if (lstm)
        {
            ToPanels<TKernel>(c0, s.Batch, s.Hidden, run.C, s.Panels);
        }

        var pack = new PackJob<TKernel> { Run = run };
        var projection = new ProjectionJob<TKernel> { Run = run };
        var step = new StepJob<TKernel> { Run = run };
        for (int i = 0; i < s.Steps; i++)
        {
            int t = reverse ? s.Steps - 1 - i : i;
            if (i % s.Chunk == 0)
            {
                int count = Math.Min(s.Chunk, s.Steps - i), first = reverse ? s.Steps - i - count : i;
                pack.First = first;
                pack.Count = count;
                Dispatch(team, ref pack, Math.Min(run.Parts, count * s.Panels));
                projection.Count = count;
                Dispatch(team, ref projection, run.Parts);
                step.First = first;
            }

            step.Time = t;
            Dispatch(team, ref step, run.Parts);
            float* next = step.Run.H1;
            step.Run.H1 = step.Run.H0;
            step.Run.H0 = next;
        }

        // step.Run.H0 now holds the final h.
        FromPanels<TKernel>(step.Run.H0, s.Batch, s.Hidden, hN, s.Panels);
        if (lstm)
        {
            FromPanels<TKernel>(run.C, s.Batch, s.Hidden, cN, s.Panels);
        }
    }

    private static void Dispatch<TJob>(ThreadTeam? team, ref TJob job, int parts)
        where TJob : struct, IParallelJob
    {
        if (parts == 1)
        {
            job.Execute(0);
        }
        else
        {
            team!.Run(ref job, parts);
        }
    }

    /// <summary>rows [B, size] (null: zeros) → panels [P][size][NR], zero past the batch.</summary>
    private static void ToPanels<TKernel>(float* rows, int batch, int size, float* panels, int count)
        where TKernel : struct, IGemmMicroKernel
    {
        int nr = TKernel.NR;
        if (rows == null)
        {
            new Span<float>(panels, count * size * nr).Clear();
            return;
        }

        for (int p = 0; p < count; p++)
        {
            LaneTiles<TKernel>.PackLanes(rows + ((nint)p * nr * size), size, Math.Min(nr, batch - (p * nr)), size, panels + ((nint)p * size * nr));
        }
    }

    /// <summary>panels [P][size][NR] → rows [B, size] (null: not wanted).</summary>
    private static void FromPanels<TKernel>(float* panels, int batch, int size, float* rows, int count)
        where TKernel : struct, IGemmMicroKernel
    {
        int nr = TKernel.NR;
        if (rows == null)
        {
            return;
        }

        for (int b = 0; b < batch; b++)
        {
            float* src = panels + ((nint)(b / nr) * size * nr) + (b % nr);
            float* dst = rows + ((nint)b * size);
            for (int u = 0; u < size; u++)
            {
                dst[u] = src[(nint)u * nr];
            }
        }
    }

    private static int Panels(int batch, int nr) => (batch + nr - 1) / nr;

    private static float* Align(float* p) => (float*)(((nuint)p + 63) & ~(nuint)63);

    /// <summary>The sizes of one call.</summary>
    private readonly record struct Shape(
        int Steps, int Batch, int InputSize, int Hidden, int Gates, int Lanes, int Panels, RowPanelLayout Layout, int Chunk, int StripRows, bool Int8)
    {
        public static Shape Of(RecurrentNetworkOptions o, int steps, int batch, int inputSize, VectorWidth width, bool int8)
        {
            int nr = LaneWidth(width, batch), panels = DirectionLanes.Panels(batch, nr), g = o.Gates;
            RowPanelLayout layout = RowPanelLayout.Of(width, g * o.HiddenSize);

            // A strip: the fewest MR-row panels that hold whole units (lcm(G, MR) rows) and at least 24 rows, so that
            // each update call covers several units (Elman's 6-row strips made one call per 6 units).
            int stripRows = layout.Mr;
            while (stripRows % g != 0 || stripRows < 24)
            {
                stripRows += layout.Mr;
            }

            // Steps per input projection: about eight panels of inputs, so that each weight panel is reused from L1.
            int chunk = Math.Clamp(8 / panels, 1, Math.Max(1, steps));
            return new Shape(steps, batch, inputSize, o.HiddenSize, g, nr, panels, layout, chunk, stripRows, int8);
        }

        /// <summary>Padded gate rows per panel.</summary>
        public int Rows => Layout.PaddedRows;

        /// <summary>Strips of whole units: full strips of <see cref="StripRows"/>, then one tail strip.</summary>
        public int Strips => BodyRows / StripRows + (BodyRows < Layout.Rows ? 1 : 0);

        /// <summary>Rows covered by full strips (a multiple of <see cref="StripRows"/> inside the MR-panel rows).</summary>
        public int BodyRows => Layout.Full / StripRows * StripRows;

        public long XtFloats => (long)Chunk * Panels * InputSize * Lanes;

        public long GatesFloats => (long)Chunk * Panels * Rows * Lanes;

        /// <summary>GRU's recurrent products, and at int8 every cell's unscaled recurrent sums.</summary>
        public long RecFloats => Gates == 3 || Int8 ? (long)Panels * Rows * Lanes : 0;

        public long StateFloats => (long)Panels * Hidden * Lanes;

        /// <summary>Real sequences in panel <paramref name="p"/>.</summary>
        public int LanesIn(int p) => Math.Min(Lanes, Batch - (p * Lanes));

        /// <summary>Rows [start, end) of strip <paramref name="strip"/> (end padded for the tail strip).</summary>
        public (int Start, int End) StripRange(int strip)
        {
            int start = strip * StripRows;
            return start < BodyRows ? (start, start + StripRows) : (BodyRows, Rows);
        }

        /// <summary>Strips [first, last) of part <paramref name="part"/> of <paramref name="parts"/>.</summary>
        public (int First, int Last) PartStrips(int part, int parts)
            => ((int)((long)Strips * part / parts), (int)((long)Strips * (part + 1) / parts));
    }

    /// <summary>Pointers and sizes shared by the jobs of one call.</summary>
    private struct Run
    {
        public Shape Shape;
        public CellType Cell;
        public ActivationKind Activation;
        public VectorWidth Width;
        public int Parts;
        public float* Input, Recurrent, Bias, NewBias;
        public float* ScaleX, ScaleH;   // int8: s·2⁻²⁴ per packed row of W_x and W_h; null otherwise
        public float* X, Y;
        public int Features, OutputOffset;
        public bool AddToOutput;
        public float* Xt, Gates, Rec, H0, H1, C;

        public readonly float* XtPanel(int slot, int p) => Xt + (((nint)slot * Shape.Panels) + p) * Shape.InputSize * Shape.Lanes;

        public readonly float* GatesPanel(int slot, int p) => Gates + (((nint)slot * Shape.Panels) + p) * Shape.Rows * Shape.Lanes;
    }

    /// <summary>The inputs of a chunk of steps packed as lane panels, the panels shared out among the parts.</summary>
    private struct PackJob<TKernel> : IParallelJob
        where TKernel : struct, IGemmMicroKernel
    {
        public Run Run;
        public int First, Count;

        public readonly void Execute(int part)
        {
            Shape s = Run.Shape;
            int panels = Count * s.Panels, parts = Math.Min(Run.Parts, panels);
            for (int q = panels * part / parts; q < panels * (part + 1) / parts; q++)
            {
                int slot = q / s.Panels, p = q % s.Panels;
                float* rows = Run.X + ((((nint)(First + slot) * s.Batch) + (p * s.Lanes)) * s.InputSize);
                LaneTiles<TKernel>.PackLanes(rows, s.InputSize, s.LanesIn(p), s.InputSize, Run.XtPanel(slot, p));
            }
        }
    }

    /// <summary>The input projection of a chunk of steps: every weight panel of the part's strips against every input panel.</summary>
    private struct ProjectionJob<TKernel> : IParallelJob
        where TKernel : struct, IGemmMicroKernel
    {
        public Run Run;
        public int Count;

        public readonly void Execute(int part)
        {
            Shape s = Run.Shape;
            (int first, int last) = s.PartStrips(part, Run.Parts);
            if (first >= last)
            {
                return;
            }

            int start = s.StripRange(first).Start, end = s.StripRange(last - 1).End;
            for (int i = start; i < end;)
            {
                int height = 0;
                for (int slot = 0; slot < Count; slot++)
                {
                    for (int p = 0; p < s.Panels; p++)
                    {
                        float* gates = Run.GatesPanel(slot, p);
                        height = LaneTiles<TKernel>.Tile(s.Layout, s.InputSize, Run.Input, i, end, Run.XtPanel(slot, p), gates, loadC: false);
                        if (Run.ScaleX != null)
                        {
                            LaneTiles<TKernel>.ScaleRows(gates, gates, Run.ScaleX, i, i + height, accumulate: false);
                        }
                    }
                }

                i += height;
            }
        }
    }

    /// <summary>One time step: per strip of the part and per panel, the recurrent products, the cell update and the outputs.</summary>
    private struct StepJob<TKernel> : IParallelJob
        where TKernel : struct, IGemmMicroKernel
    {
        public Run Run;
        public int Time, First;

        public readonly void Execute(int part)
        {
            Shape s = Run.Shape;
            (int first, int last) = s.PartStrips(part, Run.Parts);
            int nr = s.Lanes, h = s.Hidden, g = s.Gates, slot = Time - First;
            for (int strip = first; strip < last; strip++)
            {
                (int start, int end) = s.StripRange(strip);
                int u0 = start / g, units = (Math.Min(end, s.Layout.Rows) / g) - u0;
                for (int p = 0; p < s.Panels; p++)
                {
                    float* hPrev = Run.H0 + ((nint)p * h * nr), hNext = Run.H1 + ((nint)p * h * nr);
                    float* gates = Run.GatesPanel(slot, p);
                    switch (Run.Cell)
                    {
                        case CellType.Lstm:
                            Recurrent(s, p, start, end, hPrev, gates);
                            LstmCell.Lanes(Run.Width, nr, gates + ((nint)start * nr), Run.Bias, h, u0, units, Run.C + (((nint)p * h) + u0) * nr, hNext + ((nint)u0 * nr));
                            break;
                        case CellType.Gru:
                        {
                            float* rec = Run.Rec + ((nint)p * s.Rows * nr);
                            LaneTiles<TKernel>.Rows(s.Layout, h, Run.Recurrent, start, end, hPrev, rec, loadC: false);
                            if (Run.ScaleH != null)
                            {
                                LaneTiles<TKernel>.ScaleRows(rec, rec, Run.ScaleH, start, end, accumulate: false);
                            }

                            GruCell.ResetAfterLanes(
                                Run.Width, nr, gates + ((nint)start * nr), rec + ((nint)start * nr), Run.Bias, Run.NewBias, h, u0, units,
                                hPrev + ((nint)u0 * nr), hNext + ((nint)u0 * nr));
                            break;
                        }

                        default:
                            Recurrent(s, p, start, end, hPrev, gates);
                            ElmanCell.Lanes(Run.Activation, nr, gates + ((nint)start * nr), Run.Bias, u0, units, hNext + ((nint)u0 * nr));
                            break;
                    }
                }
            }

            if (first < last)
            {
                int ua = s.StripRange(first).Start / g, ub = Math.Min(s.StripRange(last - 1).End, s.Layout.Rows) / g;
                for (int p = 0; p < s.Panels; p++)
                {
                    WriteOutputs(p, ua, ub);
                }
            }
        }

        /// <summary>
        /// gates += W_h · h for the rows [<paramref name="start"/>, <paramref name="end"/>): the chain continued over h, or
        /// at int8 the unscaled sums (in the panel's rec scratch) added once with their scales, as the row-major path does.
        /// </summary>
        private readonly void Recurrent(Shape s, int p, int start, int end, float* hPrev, float* gates)
        {
            if (Run.ScaleH == null)
            {
                LaneTiles<TKernel>.Rows(s.Layout, s.Hidden, Run.Recurrent, start, end, hPrev, gates, loadC: true);
                return;
            }

            float* sums = Run.Rec + ((nint)p * s.Rows * s.Lanes);
            LaneTiles<TKernel>.Rows(s.Layout, s.Hidden, Run.Recurrent, start, end, hPrev, sums, loadC: false);
            LaneTiles<TKernel>.ScaleRows(sums, gates, Run.ScaleH, start, end, accumulate: true);
        }

        /// <summary>
        /// layerOut[t, b, offset + u] (=, or += when summing directions) for the panel's sequences and the units
        /// [<paramref name="ua"/>, <paramref name="ub"/>): the state panel transposed in 4×4 blocks, four output rows
        /// written side by side (one output row per lane, one lane after another, thrashed L1: rows 2 KiB apart share
        /// its sets).
        /// </summary>
        private readonly void WriteOutputs(int p, int ua, int ub)
        {
            Shape s = Run.Shape;
            int nr = s.Lanes, lanes = s.LanesIn(p), features = Run.Features;
            bool add = Run.AddToOutput;
            float* h = Run.H1 + ((nint)p * s.Hidden * nr);
            float* y = Run.Y + ((((nint)Time * s.Batch) + (p * nr)) * features) + Run.OutputOffset;
            int l = 0;
            if (Sse.IsSupported)
            {
                for (; l + 4 <= lanes; l += 4)
                {
                    float* r0 = y + ((nint)l * features), r1 = r0 + features, r2 = r1 + features, r3 = r2 + features;
                    int u = ua;
                    for (; u + 4 <= ub; u += 4)
                    {
                        float* src = h + ((nint)u * nr) + l;
                        Vector128<float> a = Sse.LoadVector128(src), b = Sse.LoadVector128(src + nr);
                        Vector128<float> c = Sse.LoadVector128(src + (2 * nr)), d = Sse.LoadVector128(src + (3 * nr));
                        Transpose4.InPlace(ref a, ref b, ref c, ref d);
                        Put(r0 + u, a, add);                                                     // lane l: units u … u+3
                        Put(r1 + u, b, add);
                        Put(r2 + u, c, add);
                        Put(r3 + u, d, add);
                    }

                    for (; u < ub; u++)
                    {
                        float* src = h + ((nint)u * nr) + l;
                        Put(r0 + u, src[0], add);
                        Put(r1 + u, src[1], add);
                        Put(r2 + u, src[2], add);
                        Put(r3 + u, src[3], add);
                    }
                }
            }

            for (; l < lanes; l++)
            {
                float* row = y + ((nint)l * features);
                for (int u = ua; u < ub; u++)
                {
                    Put(row + u, h[((nint)u * nr) + l], add);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* destination, Vector128<float> value, bool add)
            => Sse.Store(destination, add ? Sse.Add(Sse.LoadVector128(destination), value) : value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* destination, float value, bool add)
            => *destination = add ? *destination + value : value;
    }
}
