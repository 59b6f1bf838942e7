using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>Where one direction's parameter gradients go: PyTorch's tensors of that (layer, direction), added into.</summary>
internal readonly ref struct DirectionGradients
{
    public DirectionGradients(Span<float> weightIh, Span<float> weightHh, Span<float> biasIh, Span<float> biasHh, Span<float> weightHr)
    {
        WeightIh = weightIh;
        WeightHh = weightHh;
        BiasIh = biasIh;
        BiasHh = biasHh;
        WeightHr = weightHr;
    }

    public Span<float> WeightIh { get; }

    public Span<float> WeightHh { get; }

    public Span<float> BiasIh { get; }

    public Span<float> BiasHh { get; }

    public Span<float> WeightHr { get; }
}

/// <summary>The scratch of one direction's backward pass (views into the tape).</summary>
internal readonly ref struct BackwardScratch
{
    public Span<float> GatesX { get; init; }        // [T, B, G·H]  dL/d(pre-activation) in PyTorch's gate order, the input columns' view
    public Span<float> GatesH { get; init; }        // [T, B, G·H]  GRU reset-after: the recurrent columns' view (n row differs)
    public Span<float> HAll { get; init; }          // [T, B, Hout] LSTM projection: dL/dh_t of every step
    public Span<float> H0 { get; init; }            // [B, Hout]    dL/dh ping-pong
    public Span<float> H1 { get; init; }
    public Span<float> C0 { get; init; }            // [B, H]       dL/dc ping-pong
    public Span<float> C1 { get; init; }
    public Span<float> Cell { get; init; }          // [B, H]       LSTM projection: dL/d(o ⊙ tanh c); GRU reset-before: dL/d(r ⊙ h)
    public Span<float> Row0 { get; init; }          // [H]
    public Span<float> BiasSum { get; init; }       // [2·G·H] floats = [G·H] doubles
}

/// <summary>
/// Backpropagation through time for one direction of one layer (seeds 003 and 004): walks the recorded steps
/// backwards, turning dL/dh_t (from the layer above and from step t + 1) into dL/d(gate pre-activations), then
/// forms the weight, bias and input gradients with one large product each.
/// </summary>
/// <remarks>
/// <para>The gate gradients dG are stored in PyTorch's gate order (<see cref="GateLayout.ToPyTorch"/>; LSTM i, f, g, o,
/// where the forward pass keeps i, f, o, g): each weight gradient is then one product written straight into PyTorch's
/// tensor, so its inputs (x or h, T·B rows) are packed once rather than once per run of matching gate blocks.</para>
/// <para>Derivatives are taken from the recorded outputs (σ' = y(1 − y), tanh' = 1 − y²). At a step past a sequence's
/// length the state passed through unchanged, so its gradient does too and the step's gates get none.
/// Everything runs in a fixed order, so results have the same bits for every vector width and thread count.</para>
/// </remarks>
internal unsafe ref struct DirectionBackward : IBatchRows
{
    private readonly RecurrentNetworkOptions _o;
    private readonly DirectionWeights _w;
    private readonly DirectionRecord _r;
    private readonly BackwardScratch _s;
    private readonly int _steps, _batch;
    private readonly ThreadTeam? _team;
    private readonly ArrayPool<float> _pool;

    public DirectionBackward(RecurrentNetworkOptions options, DirectionWeights weights, DirectionRecord record, BackwardScratch scratch, int steps, int batch, ThreadTeam? team, ArrayPool<float> pool)
    {
        _o = options;
        _w = weights;
        _r = record;
        _s = scratch;
        _steps = steps;
        _batch = batch;
        _team = team;
        _pool = pool;
    }

    /// <summary>Whether this is the direction that ran from t = T − 1 down to 0.</summary>
    public bool Reverse { get; init; }

    /// <summary>This direction's feature offset within a row of the layer's output gradient.</summary>
    public int OutputOffset { get; init; }

    /// <summary>
    /// The recurrent dropout mask [B, Hout] forward applied to h_{t−1} in the recurrent products (see
    /// <see cref="DirectionRun.RecurrentMask"/>), or empty: none.
    /// </summary>
    public ReadOnlySpan<float> RecurrentMask { get; init; }

    /// <summary>With <see cref="RecurrentMask"/>: scratch [T, B, Hout] for the masked inputs of every step's recurrent product.</summary>
    public Span<float> MaskedStates { get; init; }

    /// <summary>With <see cref="RecurrentMask"/>: scratch [B, Hout] for the part of dL/dh_{t−1} that went through the mask.</summary>
    public Span<float> MaskedGradient { get; init; }

    /// <summary>
    /// Runs backward. <paramref name="x"/> [T·B, In] is the layer's input as forward saw it; <paramref name="dOut"/>
    /// [T·B, F] is dL/d(layer output); <paramref name="dHN"/>, <paramref name="dCN"/> dL/d(final states) or empty.
    /// Writes (<paramref name="accumulateDx"/> false) or adds dL/dx into <paramref name="dX"/> (may be empty: not
    /// wanted); adds dL/dh0, dL/dc0 into <paramref name="dH0"/>, <paramref name="dC0"/> (may be empty) and the
    /// parameter gradients into <paramref name="grads"/>; writes ‖dL/dh_t‖ into <paramref name="hiddenGradientNorms"/>[t]
    /// when it is not empty.
    /// </summary>
    public readonly void Execute(
        ReadOnlySpan<float> x, int inputSize, ReadOnlySpan<float> dOut, ReadOnlySpan<int> lengths,
        ReadOnlySpan<float> dHN, ReadOnlySpan<float> dCN, Span<float> dX, bool accumulateDx,
        Span<float> dH0, Span<float> dC0, DirectionGradients grads, Span<float> hiddenGradientNorms = default)
    {
        int batch = _batch, steps = _steps, h = _o.HiddenSize, hOut = _o.OutputSize, gh = _o.Gates * h;
        bool lstm = _o.Cell == CellType.Lstm;
        bool masked = !RecurrentMask.IsEmpty;
        if (masked)
        {
            // h̃ = h_{t−1} ⊙ m for every step, in the order of the record's contiguous range (see ParameterGradients).
            ReadOnlySpan<float> states = _r.H.Slice((Reverse ? 1 : 0) * batch * hOut, steps * batch * hOut);
            for (int t = 0; t < steps; t++)
            {
                TensorPrimitives.Multiply(states.Slice(t * batch * hOut, batch * hOut), RecurrentMask, MaskedStates.Slice(t * batch * hOut, batch * hOut));
            }
        }

        // Threads take rows of the batch for the whole walk back (BatchSplit) unless rows share state: recurrent dropout's
        // masked scratch, or the gradient norms over the batch.
        int parts = BatchSplit.Parts(_team, _o, batch, rowsShareNothing: hiddenGradientNorms.IsEmpty && !masked);
        if (parts > 1)
        {
            fixed (float* pinOut = dOut, pinHN = dHN, pinCN = dCN, pinTape = _s.GatesX, pinRecord = _r.Gates)
            fixed (int* pinLengths = lengths)
            {
                var arguments = new StepArguments { DOut = dOut, Lengths = lengths, DHN = dHN, DCN = dCN };
                BatchSplit.Run<DirectionBackward>(_team!, parts, batch, Unsafe.AsPointer(ref Unsafe.AsRef(in this)), Unsafe.AsPointer(ref arguments));
            }
        }
        else
        {
            StepRows(0, batch, _team, dOut, lengths, dHN, dCN, hiddenGradientNorms);
        }

        // The walk swapped the ping-pong buffers once a step: after it, dL/dh_0 is in the first buffer for an even T.
        Span<float> dH = steps % 2 == 0 ? _s.H0 : _s.H1, dC = steps % 2 == 0 ? _s.C0 : _s.C1;
        if (!dH0.IsEmpty)
        {
            TensorPrimitives.Add(dH0, dH, dH0);
        }

        if (lstm && !dC0.IsEmpty)
        {
            TensorPrimitives.Add(dC0, dC, dC0);
        }

        if (steps == 0)
        {
            return;
        }

        int rows = steps * batch;
        Span<float> dGx = _s.GatesX[..(rows * gh)];
        if (!dX.IsEmpty)
        {
            Gemm.MultiplyPacked(rows, dGx, gh, _w.BackInput!, dX, inputSize, accumulateDx, _team, _pool);
        }

        ParameterGradients(x, inputSize, rows, grads);
    }

    /// <summary>The arguments of the walk back that every part of a <see cref="BatchSplit"/> gets.</summary>
    private ref struct StepArguments
    {
        public ReadOnlySpan<float> DOut, DHN, DCN;
        public ReadOnlySpan<int> Lengths;
    }

    /// <summary>Part of a <see cref="BatchSplit"/>: the walk back for some rows, on the calling thread alone.</summary>
    public static void RunRows(void* self, void* arguments, int b0, int rows)
    {
        ref DirectionBackward run = ref Unsafe.AsRef<DirectionBackward>(self);
        ref StepArguments a = ref Unsafe.AsRef<StepArguments>(arguments);
        run.StepRows(b0, rows, null, a.DOut, a.Lengths, a.DHN, a.DCN, default);
    }

    /// <summary>
    /// The walk back from t = T − 1 (or 0, reverse) through every step for batch rows <paramref name="b0"/> …
    /// <paramref name="b0"/> + <paramref name="rows"/> − 1, with <paramref name="team"/> splitting each step's work.
    /// </summary>
    private readonly void StepRows(int b0, int rows, ThreadTeam? team, ReadOnlySpan<float> dOut, ReadOnlySpan<int> lengths, ReadOnlySpan<float> dHN, ReadOnlySpan<float> dCN, Span<float> hiddenGradientNorms)
    {
        int batch = _batch, steps = _steps, h = _o.HiddenSize, hOut = _o.OutputSize, gh = _o.Gates * h, features = _o.LayerOutputSize;
        bool lstm = _o.Cell == CellType.Lstm;
        bool resetAfter = _o.Cell == CellType.Gru && _o.GruVariant == GruVariant.ResetAfter;
        bool projected = _w.Projection is not null;
        Span<float> dH = _s.H0.Slice(b0 * hOut, rows * hOut), dHPrev = _s.H1.Slice(b0 * hOut, rows * hOut);
        Span<float> dC = lstm ? _s.C0.Slice(b0 * h, rows * h) : default, dCPrev = lstm ? _s.C1.Slice(b0 * h, rows * h) : default;
        DirectionRun.Start(dHN.IsEmpty ? dHN : dHN.Slice(b0 * hOut, rows * hOut), dH);
        if (lstm)
        {
            DirectionRun.Start(dCN.IsEmpty ? dCN : dCN.Slice(b0 * h, rows * h), dC);
        }

        for (int s = 0; s < steps; s++)
        {
            int t = Reverse ? s : steps - 1 - s;
            Span<float> dG = _s.GatesX.Slice(((t * batch) + b0) * gh, rows * gh);
            Span<float> dGh = resetAfter ? _s.GatesH.Slice(((t * batch) + b0) * gh, rows * gh) : dG;
            int before = Reverse ? t + 1 : t, after = Reverse ? t : t + 1;
            ReadOnlySpan<float> hPrevAll = _r.HSlot(before, batch).Slice(b0 * hOut, rows * hOut);

            // dL/dh_t: what step t + 1 passed back, plus the layer output's gradient at active steps.
            for (int i = 0; i < rows; i++)
            {
                if (Active(lengths, b0 + i, t))
                {
                    TensorPrimitives.Add(dH.Slice(i * hOut, hOut), dOut.Slice((((t * batch) + b0 + i) * features) + OutputOffset, hOut), dH.Slice(i * hOut, hOut));
                }
            }

            if (!hiddenGradientNorms.IsEmpty)
            {
                // Diagnostics (seeds 002, 004): ‖dL/dh_t‖ over the batch, summed in double in a fixed order.
                double sum = 0;
                foreach (float v in dH)
                {
                    sum += (double)v * v;
                }

                hiddenGradientNorms[t] = (float)Math.Sqrt(sum);
            }

            if (projected)
            {
                Span<float> dHt = _s.HAll.Slice(((t * batch) + b0) * hOut, rows * hOut);
                for (int i = 0; i < rows; i++)
                {
                    if (Active(lengths, b0 + i, t))
                    {
                        dH.Slice(i * hOut, hOut).CopyTo(dHt.Slice(i * hOut, hOut));
                    }
                    else
                    {
                        dHt.Slice(i * hOut, hOut).Clear();
                    }
                }
            }

            switch (_o.Cell)
            {
                case CellType.Rnn:
                    ElmanStep(t, after, b0, rows, team, lengths, dH, dG, dHPrev);
                    MaskRecurrentGradient(dHPrev);
                    break;
                case CellType.Lstm:
                    LstmStep(t, before, b0, rows, team, lengths, dH, dC, dG, dCPrev);
                    Gemm.MultiplyPacked(rows, dG, gh, _w.BackRecurrent!, dHPrev, hOut, accumulate: false, team, _pool);
                    MaskRecurrentGradient(dHPrev);
                    break;
                default:
                    if (resetAfter)
                    {
                        GruResetAfterStep(t, b0, rows, team, lengths, hPrevAll, dH, dG, dGh, dHPrev);
                    }
                    else
                    {
                        Debug.Assert(b0 == 0 && rows == batch);
                        GruResetBeforeStep(t, lengths, hPrevAll, dH, dG, dHPrev);
                    }

                    break;
            }

            // Past a sequence's end the state passed through unchanged: so does its gradient.
            for (int i = 0; i < rows; i++)
            {
                if (!Active(lengths, b0 + i, t))
                {
                    dH.Slice(i * hOut, hOut).CopyTo(dHPrev.Slice(i * hOut, hOut));
                    if (lstm)
                    {
                        dC.Slice(i * h, h).CopyTo(dCPrev.Slice(i * h, h));
                    }
                }
            }

            DirectionRun.Swap(ref dH, ref dHPrev);
            DirectionRun.Swap(ref dC, ref dCPrev);
        }
    }

    private readonly void ParameterGradients(ReadOnlySpan<float> x, int inputSize, int rows, DirectionGradients grads)
    {
        int h = _o.HiddenSize, hOut = _o.OutputSize, gh = _o.Gates * h;
        bool resetAfter = _o.Cell == CellType.Gru && _o.GruVariant == GruVariant.ResetAfter;
        bool resetBefore = _o.Cell == CellType.Gru && !resetAfter;
        ReadOnlySpan<float> dGx = _s.GatesX[..(rows * gh)];
        ReadOnlySpan<float> dGh = resetAfter ? _s.GatesH[..(rows * gh)] : dGx;

        // The inputs of every step's recurrent product, in time order: one contiguous range of the state record
        // (with recurrent dropout, its masked copy).
        ReadOnlySpan<float> hPrevAll = !RecurrentMask.IsEmpty ? MaskedStates[..(rows * hOut)] : _r.H.Slice((Reverse ? 1 : 0) * _batch * hOut, rows * hOut);
        Gemm.MultiplyAtB(gh, inputSize, rows, dGx, gh, x, inputSize, grads.WeightIh, inputSize, accumulate: true, _team, _pool);
        if (resetBefore)
        {
            // r and z see h; n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn): W_hn sees r ⊙ h, kept in the record.
            int n = GateLayout.GruNew * h;
            Gemm.MultiplyAtB(n, hOut, rows, dGh, gh, hPrevAll, hOut, grads.WeightHh[..(n * hOut)], hOut, accumulate: true, _team, _pool);
            Gemm.MultiplyAtB(h, hOut, rows, dGx[n..], gh, _r.Extra, h, grads.WeightHh.Slice(n * hOut, h * hOut), hOut, accumulate: true, _team, _pool);
        }
        else
        {
            Gemm.MultiplyAtB(gh, hOut, rows, dGh, gh, hPrevAll, hOut, grads.WeightHh, hOut, accumulate: true, _team, _pool);
        }

        if (!grads.BiasIh.IsEmpty)
        {
            // b_ih and b_hh sit in the same sums, except GRU reset-after's b_hn (inside r ⊙ (W_hn h + b_hn)).
            ColumnSums(dGx, rows);
            AddSums(grads.BiasIh);
            if (resetAfter)
            {
                ColumnSums(dGh, rows);
            }

            AddSums(grads.BiasHh);
        }

        if (_w.Projection is not null)
        {
            // h_t = W_hr (o ⊙ tanh c_t): dW_hr = Σ_t dh_tᵀ (o ⊙ tanh c_t).
            Gemm.MultiplyAtB(hOut, h, rows, _s.HAll, hOut, _r.HCell, h, grads.WeightHr, h, accumulate: true, _team, _pool);
        }
    }

    /// <summary>
    /// Σ over rows of dG[row, ·] into the bias scratch: summed in double, rows in order (the sum of T·B terms is
    /// backward's one long reduction outside the products; in double it adds no error worth the name).
    /// </summary>
    private readonly void ColumnSums(ReadOnlySpan<float> dG, int rows)
    {
        int gh = _o.Gates * _o.HiddenSize;
        Span<double> sum = MemoryMarshal.Cast<float, double>(_s.BiasSum)[..gh];
        fixed (float* g = dG)
        fixed (double* total = sum)
        {
            // Threads take disjoint column ranges; every column is still summed over the rows in order.
            var work = new ColumnSumWork { Gates = g, Sum = total, Rows = rows, Width = gh };
            RangeParallel.Run(_team, gh, 64, ref work);
        }
    }

    /// <summary>bias += the sums of <see cref="ColumnSums"/> (both in PyTorch's order), rounded once.</summary>
    private readonly void AddSums(Span<float> bias)
    {
        ReadOnlySpan<double> sum = MemoryMarshal.Cast<float, double>(_s.BiasSum)[..bias.Length];
        for (int j = 0; j < bias.Length; j++)
        {
            bias[j] = (float)(bias[j] + sum[j]);
        }
    }

    // Each step method below works on batch rows b0 … b0 + rows − 1 (dH, dG and the rest are already those rows).
    private readonly void ElmanStep(int t, int after, int b0, int rows, ThreadTeam? team, ReadOnlySpan<int> lengths, Span<float> dH, Span<float> dG, Span<float> dHPrev)
    {
        int batch = _batch, h = _o.HiddenSize;
        ActivationKind activation = _o.Nonlinearity.ToActivationKind();
        ReadOnlySpan<float> hT = _r.HSlot(after, batch).Slice(b0 * h, rows * h);
        for (int b = 0; b < rows; b++)
        {
            Span<float> da = dG.Slice(b * h, h);
            if (Active(lengths, b0 + b, t))
            {
                ElmanCell.Backward(activation, hT.Slice(b * h, h), dH.Slice(b * h, h), da);
            }
            else
            {
                da.Clear();
            }
        }

        Gemm.MultiplyPacked(rows, dG, h, _w.BackRecurrent!, dHPrev, h, accumulate: false, team, _pool);
    }

    private readonly void LstmStep(int t, int before, int b0, int rows, ThreadTeam? team, ReadOnlySpan<int> lengths, Span<float> dH, Span<float> dC, Span<float> dG, Span<float> dCPrev)
    {
        int batch = _batch, h = _o.HiddenSize, gh = 4 * h;
        Span<float> dHCell = dH;
        if (_w.Projection is not null)
        {
            // h_t = W_hr hCell: dL/dhCell = dh · W_hr.
            dHCell = _s.Cell.Slice(b0 * h, rows * h);
            Gemm.MultiplyPacked(rows, dH, _o.OutputSize, _w.BackProjection!, dHCell, h, accumulate: false, team, _pool);
        }

        ReadOnlySpan<float> gatesT = _r.Gates.Slice(((t * batch) + b0) * gh, rows * gh);
        ReadOnlySpan<float> tanhCT = _r.TanhC.Slice(((t * batch) + b0) * h, rows * h);
        ReadOnlySpan<float> cPrevAll = _r.CSlot(before, batch).Slice(b0 * h, rows * h);
        fixed (float* gates = gatesT)
        fixed (float* tanhC = tanhCT)
        fixed (float* cPrev = cPrevAll)
        fixed (float* dhCell = dHCell)
        fixed (float* dc = dC)
        fixed (float* dg = dG)
        fixed (float* dcPrev = dCPrev)
        fixed (int* lengthsPointer = lengths)
        {
            // The record of the step backward reaches next (t − 1 going forward, t + 1 in reverse), prefetched row by row
            // while this step runs: each row's gates fill one 4 KiB page, where the hardware's prefetchers stop.
            int next = Reverse ? t + 1 : t - 1;
            bool hasNext = next >= 0 && next < _steps;
            var work = new LstmRows
            {
                Gates = gates, TanhC = tanhC, CPrev = cPrev, DHCell = dhCell, DC = dc, DG = dg, DCPrev = dcPrev,
                Lengths = lengthsPointer == null ? null : lengthsPointer + b0, T = t, H = h,
                NextOffset = hasNext ? (nint)(next - t) * batch : 0,
                NextDG = hasNext ? dg + ((nint)(next - t) * batch * gh) : null,
            };
            RangeParallel.Run(team, rows, Math.Max(1, 2048 / h), ref work);
        }
    }

    /// <summary>LSTM backward for the rows of one part (rows are independent; no shared temporaries).</summary>
    private struct LstmRows : IRangeWork
    {
        public float* Gates, TanhC, CPrev, DHCell, DC, DG, DCPrev;
        public int* Lengths;
        public int T, H;

        /// <summary>Rows from a row of this step to the same row of the next step backward reaches (0: none).</summary>
        public nint NextOffset;

        /// <summary>The next step's gate gradients (written then), or null.</summary>
        public float* NextDG;

        public readonly void Run(int start, int end)
        {
            int h = H, gh = 4 * h;
            for (int b = start; b < end; b++)
            {
                if (NextDG != null)
                {
                    nint row = (nint)b + NextOffset;
                    Prefetch.ToL2(Gates + (row * gh), gh);
                    Prefetch.ToL2(TanhC + (row * h), h);
                    Prefetch.ToL2(CPrev + (row * h), h);
                    Prefetch.ToL2(NextDG + ((nint)b * gh), gh);
                }

                var da = new Span<float>(DG + ((nint)b * gh), gh);
                if (Lengths != null && T >= Lengths[b])
                {
                    da.Clear();
                    continue;
                }

                LstmCell.Backward(
                    Gates + ((nint)b * gh), TanhC + ((nint)b * h), CPrev + ((nint)b * h), DHCell + ((nint)b * h), DC + ((nint)b * h),
                    DG + ((nint)b * gh), DCPrev + ((nint)b * h), h, Isa.Best);
            }
        }
    }

    private readonly void GruResetAfterStep(int t, int b0, int rows, ThreadTeam? team, ReadOnlySpan<int> lengths, ReadOnlySpan<float> hPrevAll, Span<float> dH, Span<float> dG, Span<float> dGh, Span<float> dHPrev)
    {
        int batch = _batch, h = _o.HiddenSize, gh = 3 * h;
        fixed (float* gates = _r.Gates.Slice(((t * batch) + b0) * gh, rows * gh))
        fixed (float* hn = _r.Extra.Slice(((t * batch) + b0) * h, rows * h))
        fixed (float* hPrev = hPrevAll)
        fixed (float* dh = dH)
        fixed (float* dg = dG)
        fixed (float* dgh = dGh)
        fixed (float* dhPrev = dHPrev)
        fixed (int* lengthsPointer = lengths)
        {
            var work = new GruResetAfterRows
            {
                Gates = gates, Hn = hn, HPrev = hPrev, DH = dh, DG = dg, DGh = dgh, DHPrev = dhPrev,
                Lengths = lengthsPointer == null ? null : lengthsPointer + b0, T = t, H = h,
            };
            RangeParallel.Run(team, rows, Math.Max(1, 2048 / h), ref work);
        }

        if (RecurrentMask.IsEmpty)
        {
            Gemm.MultiplyPacked(rows, dGh, gh, _w.BackRecurrent!, dHPrev, h, accumulate: true, team, _pool);
            return;
        }

        // dL/dh_{t−1} = z ⊙ dh (direct, unmasked) + m ⊙ (dGh · W_hh); with recurrent dropout the rows are the whole batch.
        Debug.Assert(b0 == 0 && rows == batch);
        Gemm.MultiplyPacked(batch, dGh, gh, _w.BackRecurrent!, MaskedGradient, h, accumulate: false, team, _pool);
        MaskRecurrentGradient(MaskedGradient);
        TensorPrimitives.Add(dHPrev, MaskedGradient, dHPrev);
    }

    /// <summary>With recurrent dropout: multiplies dL/dh̃_{t−1} by the mask, giving the part of dL/dh_{t−1} through h̃ = h ⊙ m.</summary>
    private readonly void MaskRecurrentGradient(Span<float> gradient)
    {
        if (!RecurrentMask.IsEmpty)
        {
            TensorPrimitives.Multiply(gradient, RecurrentMask, gradient);
        }
    }

    /// <summary>GRU reset-after backward for the rows of one part (rows are independent; one pass per row, <see cref="GruCell.ResetAfterBackward"/>).</summary>
    private struct GruResetAfterRows : IRangeWork
    {
        public float* Gates, Hn, HPrev, DH, DG, DGh, DHPrev;
        public int* Lengths;
        public int T, H;

        public readonly void Run(int start, int end)
        {
            int h = H, gh = 3 * h;
            for (int b = start; b < end; b++)
            {
                var da = new Span<float>(DG + ((nint)b * gh), gh);
                var daH = new Span<float>(DGh + ((nint)b * gh), gh);
                var direct = new Span<float>(DHPrev + ((nint)b * h), h);
                if (Lengths != null && T >= Lengths[b])
                {
                    da.Clear();
                    daH.Clear();
                    direct.Clear();
                    continue;
                }

                GruCell.ResetAfterBackward(
                    Gates + ((nint)b * gh), Hn + ((nint)b * h), HPrev + ((nint)b * h), DH + ((nint)b * h), DG + ((nint)b * gh), DGh + ((nint)b * gh),
                    DHPrev + ((nint)b * h), h, Isa.Best);
            }
        }
    }

    private readonly void GruResetBeforeStep(int t, ReadOnlySpan<int> lengths, ReadOnlySpan<float> hPrevAll, Span<float> dH, Span<float> dG, Span<float> dHPrev)
    {
        int batch = _batch, h = _o.HiddenSize, gh = 3 * h;
        ReadOnlySpan<float> gatesT = _r.Gates.Slice(t * batch * gh, batch * gh);
        for (int b = 0; b < batch; b++)
        {
            Span<float> da = dG.Slice(b * gh, gh);
            Span<float> direct = dHPrev.Slice(b * h, h);
            if (!Active(lengths, b, t))
            {
                da.Clear();
                direct.Clear();
                continue;
            }

            GruCell.ResetBeforeStateBackward(h, gatesT.Slice(b * gh, gh), hPrevAll.Slice(b * h, h), dH.Slice(b * h, h), da, direct);
        }

        // n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn): d(r ⊙ h) = dn_pre · W_hn.
        Span<float> dResetH = _s.Cell;
        Gemm.MultiplyPacked(batch, dG[(GateLayout.GruNew * h)..], gh, _w.BackRecurrentNew!, dResetH, h, accumulate: false, _team, _pool);
        Span<float> temp = _s.Row0[..h];

        // With recurrent dropout the products saw h̃ = h ⊙ m: the gates' part of dL/dh_{t−1} gathers apart, then is masked.
        bool masked = !RecurrentMask.IsEmpty;
        ReadOnlySpan<float> hRecurrent = masked ? MaskedStates.Slice(t * batch * h, batch * h) : hPrevAll;
        Span<float> dRecurrent = masked ? MaskedGradient : dHPrev;
        if (masked)
        {
            dRecurrent.Clear();
        }

        for (int b = 0; b < batch; b++)
        {
            if (!Active(lengths, b, t))
            {
                continue;
            }

            GruCell.ResetBeforeGatesBackward(h, gatesT.Slice(b * gh, gh), hRecurrent.Slice(b * h, h), dResetH.Slice(b * h, h), dG.Slice(b * gh, gh), dRecurrent.Slice(b * h, h), temp);
        }

        // r and z see h through W_h's first 2H rows; W_hn's part went through r ⊙ h above.
        Gemm.MultiplyPackedRange(batch, dG, gh, _w.BackRecurrent!, 0, 2 * h, h, dRecurrent, h, accumulate: true, _team, _pool);
        if (masked)
        {
            MaskRecurrentGradient(dRecurrent);
            TensorPrimitives.Add(dHPrev, dRecurrent, dHPrev);
        }
    }

    private static bool Active(ReadOnlySpan<int> lengths, int b, int t) => lengths.IsEmpty || t < lengths[b];

    /// <summary>Σ over rows of dG[row, j] in double, for the columns j of one part.</summary>
    private struct ColumnSumWork : IRangeWork
    {
        public float* Gates;
        public double* Sum;
        public int Rows;
        public int Width;

        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            new Span<double>(Sum + start, end - start).Clear();
            int row = 0;

            // Four rows per sweep over the columns: each column's running sum stays in a register for four adds (still
            // one row after another), and each float widens to double exactly, so vectors change no bit.
            if (Vector256.IsHardwareAccelerated)
            {
                for (; row + 4 <= Rows; row += 4)
                {
                    float* r0 = Gates + ((nint)row * Width);
                    int j = start;
                    for (; j + 4 <= end; j += 4)
                    {
                        Vector256<double> sum = Vector256.Load(Sum + j);
                        sum += Vector256.WidenLower(Vector128.Load(r0 + j).ToVector256Unsafe());
                        sum += Vector256.WidenLower(Vector128.Load(r0 + Width + j).ToVector256Unsafe());
                        sum += Vector256.WidenLower(Vector128.Load(r0 + (2 * Width) + j).ToVector256Unsafe());
                        sum += Vector256.WidenLower(Vector128.Load(r0 + (3 * Width) + j).ToVector256Unsafe());
                        sum.Store(Sum + j);
                    }

                    for (; j < end; j++)
                    {
                        Sum[j] = Sum[j] + r0[j] + r0[Width + j] + r0[(2 * Width) + j] + r0[(3 * Width) + j];
                    }
                }
            }

            for (; row < Rows; row++)
            {
                float* values = Gates + ((nint)row * Width);
                for (int j = start; j < end; j++)
                {
                    Sum[j] += values[j];
                }
            }
        }
    }
}
