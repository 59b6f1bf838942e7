using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>One direction of one layer run over a batch of sequences (DESIGN.md §3, layer 4).</summary>
internal unsafe ref struct DirectionRun : IBatchRows
{
    private readonly RecurrentNetworkOptions _o;
    private readonly DirectionWeights _w;
    private readonly ForwardPlan _plan;
    private readonly Span<float> _all;
    private readonly int _steps;
    private readonly int _batch;
    private readonly ThreadTeam? _team;
    private readonly ArrayPool<float> _pool;

    public DirectionRun(RecurrentNetworkOptions options, DirectionWeights weights, ForwardPlan plan, Span<float> scratch, int steps, int batch, ThreadTeam? team, ArrayPool<float> pool)
    {
        _o = options;
        _w = weights;
        _plan = plan;
        _all = scratch;
        _steps = steps;
        _batch = batch;
        _team = team;
        _pool = pool;
    }

    /// <summary>Runs from t = T − 1 down to 0 instead of up.</summary>
    public bool Reverse { get; init; }

    /// <summary>Feature offset of this direction within an output row.</summary>
    public int OutputOffset { get; init; }

    /// <summary>Add h_t into the output instead of writing it (DirectionMerge.Sum, second direction).</summary>
    public bool AddToOutput { get; init; }

    /// <summary>
    /// Training with recurrent (variational) dropout: the mask [B, Hout] applied to h_{t−1} wherever it enters a
    /// recurrent product (the same at every step); the state itself, and GRU's z ⊙ h_{t−1}, stay unmasked. Empty: none.
    /// </summary>
    public ReadOnlySpan<float> RecurrentMask { get; init; }

    /// <summary>With <see cref="RecurrentMask"/>: scratch [B, Hout] for the masked h_{t−1} of a step.</summary>
    public Span<float> MaskedState { get; init; }

    /// <summary>
    /// x [T·B, inputSize] time-major → layerOut [T·B, F] (this direction's features), with optional lengths,
    /// initial states (empty = zeros) and final-state destinations (empty = not wanted).
    /// </summary>
    /// <remarks>
    /// With a recording <paramref name="record"/> (training), the gate activations, every state and the cell's
    /// intermediate values stay in the record for backward; the results have the same bits either way.
    /// </remarks>
    public readonly void Execute(
        ReadOnlySpan<float> x, int inputSize, Span<float> layerOut, ReadOnlySpan<int> lengths,
        ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, DirectionRecord record = default)
    {
        int batch = _batch, steps = _steps;
        bool recording = record.IsRecording;
        if (_plan.Lanes && !recording && lengths.IsEmpty)
        {
            DirectionLanes.Execute(_o, _w, _plan.LaneScratch(_all), steps, batch, _team, Reverse, OutputOffset, AddToOutput, x, inputSize, layerOut, h0, c0, hN, cN);
            return;
        }

        // Training (every step recorded) on a team: threads take rows of the batch for the whole sequence (BatchSplit),
        // unless rows share the recurrent dropout's masked scratch.
        int parts = BatchSplit.Parts(_team, _o, batch, rowsShareNothing: recording && RecurrentMask.IsEmpty);
        if (parts > 1)
        {
            fixed (float* pinX = x, pinOut = layerOut, pinH0 = h0, pinC0 = c0, pinHN = hN, pinCN = cN, pinRecord = record.Gates, pinScratch = _all)
            fixed (int* pinLengths = lengths)
            {
                var arguments = new RowArguments { X = x, InputSize = inputSize, LayerOut = layerOut, Lengths = lengths, H0 = h0, C0 = c0, HN = hN, CN = cN, Record = record };
                BatchSplit.Run<DirectionRun>(_team!, parts, batch, Unsafe.AsPointer(ref Unsafe.AsRef(in this)), Unsafe.AsPointer(ref arguments));
            }

            return;
        }

        Rows(0, batch, _team, x, inputSize, layerOut, lengths, h0, c0, hN, cN, record);
    }

    /// <summary>The arguments of <see cref="Execute"/> that every part of a <see cref="BatchSplit"/> gets.</summary>
    private ref struct RowArguments
    {
        public ReadOnlySpan<float> X, H0, C0;
        public Span<float> LayerOut, HN, CN;
        public ReadOnlySpan<int> Lengths;
        public int InputSize;
        public DirectionRecord Record;
    }

    /// <summary>Part of a <see cref="BatchSplit"/>: the recurrence for some rows, on the calling thread alone.</summary>
    public static void RunRows(void* self, void* arguments, int b0, int rows)
    {
        ref DirectionRun run = ref Unsafe.AsRef<DirectionRun>(self);
        ref RowArguments a = ref Unsafe.AsRef<RowArguments>(arguments);
        run.Rows(b0, rows, null, a.X, a.InputSize, a.LayerOut, a.Lengths, a.H0, a.C0, a.HN, a.CN, a.Record);
    }

    /// <summary>
    /// The recurrence through every step for batch rows <paramref name="b0"/> … <paramref name="b0"/> + <paramref name="rows"/> − 1,
    /// with <paramref name="team"/> splitting each step's work. Every [B, ·] buffer is used only at those rows.
    /// </summary>
    private readonly void Rows(
        int b0, int rows, ThreadTeam? team, ReadOnlySpan<float> x, int inputSize, Span<float> layerOut, ReadOnlySpan<int> lengths,
        ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, DirectionRecord record)
    {
        int batch = _batch, steps = _steps, h = _o.HiddenSize, hOut = _o.OutputSize, gh = _o.Gates * h;
        bool lstm = _o.Cell == CellType.Lstm;
        bool recording = record.IsRecording;
        bool whole = b0 == 0 && rows == batch;
        Span<float> gx = recording ? record.Gates : _plan.Gx(_all);
        Span<float> hPrev, hNext, cPrev = default, cNext = default;
        if (recording)
        {
            // State slots: the state before step t is slot t (forward) or t + 1 (reverse); see DirectionRecord.
            hPrev = record.HSlot(Reverse ? steps : 0, batch).Slice(b0 * hOut, rows * hOut);
            hNext = default;
            if (lstm)
            {
                cPrev = record.CSlot(Reverse ? steps : 0, batch).Slice(b0 * h, rows * h);
            }
        }
        else
        {
            hPrev = Part(_plan.H(_all, 0), whole, b0 * hOut, rows * hOut);
            hNext = Part(_plan.H(_all, 1), whole, b0 * hOut, rows * hOut);
            cPrev = Part(_plan.C(_all, 0), whole, b0 * h, rows * h);
            cNext = Part(_plan.C(_all, 1), whole, b0 * h, rows * h);
        }

        Start(h0.IsEmpty ? h0 : h0.Slice(b0 * hOut, rows * hOut), hPrev);
        if (lstm)
        {
            Start(c0.IsEmpty ? c0 : c0.Slice(b0 * h, rows * h), cPrev);
        }

        // The input projection, gx[T·B, G·H] = X · W_xᵀ (the first inputSize columns of the fused matrix), runs as one
        // large product per chunk of steps, just before the recurrence reaches them: the chunk's gates are still in
        // cache when each step continues their FMA chains with the recurrent columns (one product over all T·B rows
        // would leave them in DRAM at large B·T). The chunking changes no bits: each element is one chain either way.
        // At batch 1 (Vector512) the projection after the first `chunk` steps (1 to 16, so that the rest is whole chunks
        // of 16) rides along the recurrent products instead (OverlappedGemv): each chunk of 16 steps is computed during
        // the steps of the block before it, an equal share per step. (Batch 1 is never split into parts.)
        bool overlap = whole && OverlapApplies(recording, steps);
        int chunk = overlap ? ((steps - 1) % OverlappedGemv.Rows) + 1 : ProjectionChunk(batch, gh, steps);
        float[]? rented = overlap ? _pool.Rent(OverlappedGemv.Rows * inputSize) : null;
        try
        {
            fixed (float* aPack = rented)
            fixed (float* gxBase = gx)
            {
                for (int s = 0; s < steps; s++)
                {
                    int t = Reverse ? steps - 1 - s : s;
                    if (!whole)
                    {
                        // A part's rows of one step are contiguous, its rows of several steps are not: one product a step.
                        Gemm.MultiplyPackedRange(
                            rows, x.Slice(((t * batch) + b0) * inputSize, rows * inputSize), inputSize, _w.Fused, 0, inputSize, gh,
                            gx.Slice(((t * batch) + b0) * gh, rows * gh), gh, accumulate: false, team, _pool);
                    }
                    else if (s % chunk == 0 && (!overlap || s == 0))
                    {
                        int count = Math.Min(chunk, steps - s), first = Reverse ? steps - s - count : s;
                        Gemm.MultiplyPackedRange(
                            count * batch, x.Slice(first * batch * inputSize, count * batch * inputSize), inputSize, _w.Fused, 0, inputSize, gh,
                            gx.Slice(first * batch * gh, count * batch * gh), gh, accumulate: false, team, _pool);
                    }

                    var pending = default(PendingProjection);
                    if (overlap)
                    {
                        // The block of steps [s0, next) computes the projection of [next, next + 16); the last block none.
                        int tile = OverlappedGemv.Rows, s0 = s < chunk ? 0 : s - ((s - chunk) % tile), next = s < chunk ? chunk : s0 + tile;
                        if (next + tile <= steps)
                        {
                            int first = Reverse ? steps - next - tile : next;
                            if (s == s0)
                            {
                                OverlappedGemv.PackRows(x.Slice(first * inputSize, tile * inputSize), inputSize, inputSize, new Span<float>(aPack, tile * inputSize));
                            }

                            pending = new PendingProjection { A = aPack, C = gxBase + ((nint)first * gh), TileStep = s - s0, TileSteps = next - s0 };
                        }
                    }

                    // At batch 1, alternate the direction of the panel stream: the panels read last are the first read next.
                    pending.Descending = batch == 1 && (s & 1) == 1;

                    StepAt(b0, rows, team, t, gx, inputSize, lengths, layerOut, record, pending, ref hPrev, ref hNext, ref cPrev, ref cNext);
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                _pool.Return(rented);
            }
        }

        // hPrev (cPrev) is now the final state: a ping-pong buffer, or the last slot of the record.

        if (!hN.IsEmpty)
        {
            hPrev.CopyTo(hN.Slice(b0 * hOut, rows * hOut));
        }

        if (lstm && !cN.IsEmpty)
        {
            cPrev.CopyTo(cN.Slice(b0 * h, rows * h));
        }
    }

    /// <summary>
    /// Whether the batch-1 path carries the input projection along the recurrent products (<see cref="OverlappedGemv"/>):
    /// inference at batch 1 on Vector512 float32 panels, a cell whose recurrent product is one product of the fused
    /// matrix (Elman, LSTM, GRU reset-after), and more steps than one chunk, so that at least one rides along. On a team
    /// each thread carries the tiles of its own panels. (It once ran at half speed on two threads: the worker's copy of
    /// the tile kernel had been inlined into the job's trampoline and kept its tile on the stack; the kernels are now
    /// never inlined, see KernelCompilationTests.)
    /// </summary>
    private readonly bool OverlapApplies(bool recording, int steps) =>
        _batch == 1 && !recording && RecurrentMask.IsEmpty && !_o.IsExtended && steps > OverlappedGemv.Rows
        && (_o.Cell != CellType.Gru || _o.GruVariant == GruVariant.ResetAfter)
        && OverlappedGemv.Serves(_w.Fused) && (_o.Gates * _o.HiddenSize) % _w.Fused.Nr == 0;

    /// <summary>One step of <see cref="Rows"/>: the products and cell update, lengths, the output rows, the state swap.</summary>
    private readonly void StepAt(
        int b0, int rows, ThreadTeam? team, int t, Span<float> gx, int inputSize, ReadOnlySpan<int> lengths, Span<float> layerOut, DirectionRecord record,
        in PendingProjection pending, ref Span<float> hPrev, ref Span<float> hNext, ref Span<float> cPrev, ref Span<float> cNext)
    {
        int batch = _batch, h = _o.HiddenSize, hOut = _o.OutputSize, gh = _o.Gates * h, features = _o.LayerOutputSize;
        bool lstm = _o.Cell == CellType.Lstm;
        bool recording = record.IsRecording;

        Span<float> gates = gx.Slice(((t * batch) + b0) * gh, rows * gh);
        StepRecord stepRecord = default;
        if (recording)
        {
            int after = Reverse ? t : t + 1;
            hNext = record.HSlot(after, batch).Slice(b0 * hOut, rows * hOut);
            if (lstm)
            {
                cNext = record.CSlot(after, batch).Slice(b0 * h, rows * h);
            }

            stepRecord = record.At(t, batch, b0, rows);
        }

        Span<float> hRecurrent = hPrev;
        if (!RecurrentMask.IsEmpty)
        {
            hRecurrent = MaskedState;
            TensorPrimitives.Multiply(hPrev, RecurrentMask, hRecurrent);
        }

        Step(b0, rows, team, gates, inputSize, hPrev, hRecurrent, cPrev, hNext, cNext, stepRecord, pending);

        for (int b = 0; b < rows; b++)
        {
            bool active = lengths.IsEmpty || t < lengths[b0 + b];
            if (!active)
            {
                // Past this sequence's end: the state carries through unchanged and the output is 0.
                hPrev.Slice(b * hOut, hOut).CopyTo(hNext.Slice(b * hOut, hOut));
                if (lstm)
                {
                    cPrev.Slice(b * h, h).CopyTo(cNext.Slice(b * h, h));
                }
            }

            Span<float> destination = layerOut.Slice((((t * batch) + b0 + b) * features) + OutputOffset, hOut);
            if (AddToOutput)
            {
                if (active)
                {
                    TensorPrimitives.Add(destination, hNext.Slice(b * hOut, hOut), destination);
                }
            }
            else if (active)
            {
                hNext.Slice(b * hOut, hOut).CopyTo(destination);
            }
            else
            {
                destination.Clear();
            }
        }

        Swap(ref hPrev, ref hNext);
        Swap(ref cPrev, ref cNext);
    }

    /// <summary>
    /// Steps per input-projection product: about 128 KiB of gates (at least 96 rows, one full block of the GEMM's
    /// A side), so that a chunk's products are still in L2 when the recurrence reads them.
    /// </summary>
    internal static int ProjectionChunk(int batch, int gatesWidth, int steps)
    {
        int rows = Math.Max(96, (128 * 1024 / sizeof(float)) / Math.Max(1, gatesWidth));
        return Math.Clamp((rows + batch - 1) / Math.Max(1, batch), 1, Math.Max(1, steps));
    }

    /// <summary>
    /// One time step for the whole batch: recurrent product(s), then the cell update per row. The products read
    /// <paramref name="hRecurrent"/> (h_{t−1}, or h_{t−1} ⊙ the recurrent dropout mask); GRU's z ⊙ h_{t−1} reads <paramref name="hPrev"/>.
    /// </summary>
    private readonly void Step(int b0, int rows, ThreadTeam? team, Span<float> gates, int inputSize, Span<float> hPrev, Span<float> hRecurrent, Span<float> cPrev, Span<float> hNext, Span<float> cNext, StepRecord record, in PendingProjection pending)
    {
        int batch = rows, h = _o.HiddenSize, hOut = _o.OutputSize, gh = _o.Gates * h;
        if (_o.IsExtended)
        {
            Debug.Assert(b0 == 0 && rows == _batch);
            ExtendedStep(gates, inputSize, hPrev, cPrev, hNext, cNext);
            return;
        }

        switch (_o.Cell)
        {
            case CellType.Rnn:
            {
                Recurrent(batch, team, hRecurrent, hOut, inputSize, gates, accumulate: true, pending);
                fixed (float* g = gates)
                fixed (float* bias = _w.Bias)
                fixed (float* hn = hNext)
                {
                    var work = new ElmanRows { Gates = g, Bias = bias, H = hn, Size = h, Activation = _o.Nonlinearity.ToActivationKind() };
                    RangeParallel.Run(team, batch, Math.Max(1, 4096 / h), ref work);
                }

                break;
            }

            case CellType.Lstm:
            {
                Recurrent(batch, team, hRecurrent, hOut, inputSize, gates, accumulate: true, pending);
                bool projected = _w.Projection is not null;
                Span<float> hCell = !projected ? hNext : record.HCell.IsEmpty ? Part(_plan.HCell(_all), b0 == 0 && rows == _batch, b0 * h, rows * h) : record.HCell;
                // Rows are independent and use no shared temporaries (hCell doubles as the scratch), so threads split them.
                fixed (float* g = gates)
                fixed (float* bias = _w.Bias)
                fixed (float* c0 = cPrev)
                fixed (float* c1 = cNext)
                fixed (float* cell = hCell)
                fixed (float* tanhC = record.TanhC)
                {
                    var work = new LstmRows { Gates = g, Bias = bias, CPrev = c0, C = c1, HCell = cell, TanhC = tanhC, H = h };
                    RangeParallel.Run(team, batch, Math.Max(1, 2048 / h), ref work);
                }

                if (projected)
                {
                    Gemm.MultiplyPacked(batch, hCell, h, _w.Projection!, hNext, hOut, accumulate: false, team, _pool);
                }

                break;
            }

            default:
                GruStep(b0, rows, team, gates, inputSize, hPrev, hRecurrent, hNext, record.Extra, pending);
                break;
        }
    }

    // extra — training: receives hn = W_hn h + b_hn (reset-after) or r ⊙ h (reset-before), [B, H]; else empty.
    private readonly void GruStep(int b0, int rows, ThreadTeam? team, Span<float> gates, int inputSize, Span<float> hPrev, Span<float> hRecurrent, Span<float> hNext, Span<float> extra, in PendingProjection pending)
    {
        int batch = rows, h = _o.HiddenSize, gh = _o.Gates * h;
        Span<float> recurrent = Part(_plan.Gh(_all), b0 == 0 && rows == _batch, b0 * gh, rows * gh);
        if (_o.GruVariant == GruVariant.ResetAfter)
        {
            // recurrent[B, 3H] = h · W_hᵀ for r, z and n; r then gates the whole W_hn h + b_hn.
            Recurrent(batch, team, hRecurrent, h, inputSize, recurrent, accumulate: false, pending);
            fixed (float* g = gates)
            fixed (float* rec = recurrent)
            fixed (float* bias = _w.Bias)
            fixed (float* newBias = _w.RecurrentNewBias)
            fixed (float* hp = hPrev)
            fixed (float* hn = hNext)
            fixed (float* ex = extra)
            {
                var work = new GruResetAfterRows { Gates = g, Recurrent = rec, Bias = bias, NewBias = newBias, HPrev = hp, H = hn, Hn = ex, Size = h };
                RangeParallel.Run(team, batch, Math.Max(1, 2048 / h), ref work);
            }

            return;
        }

        Debug.Assert(b0 == 0 && rows == _batch);

        // Reset-before: r, z first (recurrent columns of their 2H rows only), then W_hn (r ⊙ h).
        Gemm.MultiplyPackedRange(batch, hRecurrent, h, _w.Fused, inputSize, h, 2 * h, recurrent, gh, accumulate: false, _team, _pool);
        Span<float> resetH = extra.IsEmpty ? _plan.HCell(_all) : extra;
        for (int b = 0; b < batch; b++)
        {
            Span<float> g = gates.Slice(b * gh, gh);
            GruCell.ResetBeforeGates(g, recurrent.Slice(b * gh, gh), _w.Bias);
            TensorPrimitives.Multiply(g[..h], hRecurrent.Slice(b * h, h), resetH.Slice(b * h, h));
        }

        Span<float> recurrentNew = _plan.RecurrentNew(_all);
        Gemm.MultiplyPacked(batch, resetH, h, _w.RecurrentNew!, recurrentNew, h, accumulate: false, _team, _pool);
        for (int b = 0; b < batch; b++)
        {
            // h_{t−1} − n is formed in the row of h being written, as in reset-after.
            Span<float> hRow = hNext.Slice(b * h, h);
            GruCell.ResetBeforeState(gates.Slice(b * gh, gh), _w.Bias, recurrentNew.Slice(b * h, h), hPrev.Slice(b * h, h), hRow, hRow);
        }
    }

    /// <summary>
    /// One step with ONNX's extras (<see cref="RecurrentNetworkOptions.IsExtended"/>): the same products as the fast
    /// path, then <see cref="ExtendedCell"/>'s element-wise update, row by row on the calling thread.
    /// </summary>
    private readonly void ExtendedStep(Span<float> gates, int inputSize, Span<float> hPrev, Span<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int batch = _batch, h = _o.HiddenSize, gh = _o.Gates * h, direction = Reverse && _o.Bidirectional ? 1 : 0;
        float clip = _o.CellClip;
        if (_o.Cell != CellType.Gru)
        {
            Gemm.MultiplyPackedRange(batch, hPrev, h, _w.Fused, inputSize, h, gh, gates, gh, accumulate: true, _team, _pool);
        }

        CellActivation first = _o.Activation(direction, 0);
        switch (_o.Cell)
        {
            case CellType.Rnn:
                for (int b = 0; b < batch; b++)
                {
                    ExtendedCell.Elman(gates.Slice(b * gh, gh), _w.Bias, first, clip, hNext.Slice(b * h, h));
                }

                return;
            case CellType.Lstm:
            {
                CellActivation candidate = _o.Activation(direction, 1), output = _o.Activation(direction, 2);
                for (int b = 0; b < batch; b++)
                {
                    ExtendedCell.Lstm(
                        gates.Slice(b * gh, gh), _w.Bias, _w.Peephole, cPrev.Slice(b * h, h), cNext.Slice(b * h, h), hNext.Slice(b * h, h),
                        first, candidate, output, clip, _o.CoupledInputForget);
                }

                return;
            }
        }

        CellActivation candidateGru = _o.Activation(direction, 1);
        bool resetAfter = _o.GruVariant == GruVariant.ResetAfter;
        Span<float> recurrent = _plan.Gh(_all);
        Gemm.MultiplyPackedRange(batch, hPrev, h, _w.Fused, inputSize, h, resetAfter ? gh : 2 * h, recurrent, gh, accumulate: false, _team, _pool);
        for (int b = 0; b < batch; b++)
        {
            ExtendedCell.GruGates(gates.Slice(b * gh, gh), recurrent.Slice(b * gh, gh), _w.Bias, first, clip, h);
        }

        Span<float> recurrentNew;
        if (resetAfter)
        {
            recurrentNew = recurrent;   // the n rows of h · W_hᵀ
        }
        else
        {
            Span<float> resetH = _plan.HCell(_all);
            for (int b = 0; b < batch; b++)
            {
                TensorPrimitives.Multiply(gates.Slice(b * gh, h), hPrev.Slice(b * h, h), resetH.Slice(b * h, h));
            }

            recurrentNew = _plan.RecurrentNew(_all);
            Gemm.MultiplyPacked(batch, resetH, h, _w.RecurrentNew!, recurrentNew, h, accumulate: false, _team, _pool);
        }

        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> newRow = resetAfter ? recurrentNew.Slice((b * gh) + (GateLayout.GruNew * h), h) : recurrentNew.Slice(b * h, h);
            ExtendedCell.GruState(gates.Slice(b * gh, gh), _w.Bias, newRow, resetAfter ? _w.RecurrentNewBias : default, hPrev.Slice(b * h, h), hNext.Slice(b * h, h), candidateGru, clip);
        }
    }

    /// <summary>state = initial, or zeros when initial is empty (also the start of backward's gradients).</summary>
    internal static void Start(ReadOnlySpan<float> initial, Span<float> state)
    {
        if (initial.IsEmpty)
        {
            state.Clear();
        }
        else
        {
            initial.CopyTo(state);
        }
    }

    /// <summary>
    /// The recurrent product of a step, destination[B, G·H] (+)= h[B, depth] · W_hᵀ (the fused matrix's columns from
    /// <paramref name="inputSize"/>), carrying <paramref name="pending"/>'s slice of a later input projection along at batch 1.
    /// </summary>
    private readonly void Recurrent(int batch, ThreadTeam? team, Span<float> hRecurrent, int depth, int inputSize, Span<float> destination, bool accumulate, in PendingProjection pending)
    {
        int gh = _o.Gates * _o.HiddenSize;
        if (pending.A != null)
        {
            fixed (float* hp = hRecurrent)
            fixed (float* d = destination)
            {
                OverlappedGemv.Run(hp, inputSize, depth, _w.Fused, gh, d, accumulate, pending.Descending, pending.A, inputSize, pending.C, gh, pending.TileStep, pending.TileSteps, team);
            }

            return;
        }

        Gemm.MultiplyPackedRange(batch, hRecurrent, depth, _w.Fused, inputSize, depth, gh, destination, gh, accumulate, team, _pool, pending.Descending);
    }

    /// <summary>
    /// What a batch-1 step carries along its recurrent product: the packed rows and destination of the projection chunk
    /// being computed (null: none) and this step's share of its tiles; and the direction of the panel stream.
    /// </summary>
    private struct PendingProjection
    {
        public float* A;
        public float* C;
        public int TileStep;
        public int TileSteps;
        public bool Descending;
    }

    /// <summary>Rows <paramref name="start"/> … of a [B, ·] scratch view for a part of the batch; the view itself for the whole batch.</summary>
    private static Span<float> Part(Span<float> all, bool whole, int start, int length) => whole ? all : all.Slice(start, length);

    internal static void Swap(ref Span<float> a, ref Span<float> b)
    {
        Span<float> t = a;
        a = b;
        b = t;
    }

    /// <summary>Elman's update of the rows of one part: h = act(a + b), in place in the gates row.</summary>
    private struct ElmanRows : IRangeWork
    {
        public float* Gates, Bias, H;
        public int Size;
        public ActivationKind Activation;

        public readonly void Run(int start, int end)
        {
            int h = Size;
            var bias = new ReadOnlySpan<float>(Bias, h);
            for (int b = start; b < end; b++)
            {
                // The gates row is [h] wide for Elman (G = 1).
                ElmanCell.Forward(new Span<float>(Gates + ((nint)b * h), h), bias, Activation, new Span<float>(H + ((nint)b * h), h));
            }
        }
    }

    /// <summary>
    /// GRU reset-after's update of the rows of one part: one pass per row (<see cref="GruCell.ResetAfter(Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>), no
    /// temporaries, so threads split the rows.
    /// </summary>
    private struct GruResetAfterRows : IRangeWork
    {
        public float* Gates, Recurrent, Bias, NewBias, HPrev, H, Hn;
        public int Size;

        public readonly void Run(int start, int end)
        {
            int h = Size, gh = 3 * h;
            var bias = new ReadOnlySpan<float>(Bias, gh);
            var newBias = new ReadOnlySpan<float>(NewBias, h);
            for (int b = start; b < end; b++)
            {
                GruCell.ResetAfter(
                    new Span<float>(Gates + ((nint)b * gh), gh), new ReadOnlySpan<float>(Recurrent + ((nint)b * gh), gh), bias, newBias,
                    new ReadOnlySpan<float>(HPrev + ((nint)b * h), h), new Span<float>(H + ((nint)b * h), h),
                    Hn == null ? default : new Span<float>(Hn + ((nint)b * h), h));
            }
        }
    }

    /// <summary>The LSTM cell update of the rows of one part; tanh(c) kept for backward when <see cref="TanhC"/> is set.</summary>
    private struct LstmRows : IRangeWork
    {
        public float* Gates, Bias, CPrev, C, HCell, TanhC;
        public int H;

        public readonly void Run(int start, int end)
        {
            int h = H, gh = 4 * h;
            var bias = new ReadOnlySpan<float>(Bias, gh);
            for (int b = start; b < end; b++)
            {
                var hCell = new Span<float>(HCell + ((nint)b * h), h);
                Span<float> tanhC = TanhC == null ? hCell : new Span<float>(TanhC + ((nint)b * h), h);
                LstmCell.Forward(
                    new Span<float>(Gates + ((nint)b * gh), gh), bias, new ReadOnlySpan<float>(CPrev + ((nint)b * h), h),
                    new Span<float>(C + ((nint)b * h), h), hCell, tanhC);
            }
        }
    }
}
