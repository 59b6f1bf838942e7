using Rnn.Simd.Cells;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>
/// The parameters of one direction of one layer in the engine's layout (<see cref="GateLayout"/>), packed for the
/// micro-kernels. An inference network packs them once and never changes them (safe to share between threads);
/// a trainable network re-packs them in place with <see cref="Load"/> after each optimiser step.
/// </summary>
internal sealed unsafe class DirectionWeights
{
    private readonly float[] _fusedRows;   // [G·H, In + Hout] engine row order, unpacked
    private readonly float[] _recurrentNewRows;   // GRU reset-before: W_hn [H, Hout]
    private readonly int _gates, _hidden, _outputSize;
    private readonly CellType _cell;
    private readonly bool _resetAfter;
    private LaneWeights? _lanes;

    private DirectionWeights(RecurrentNetworkOptions options, int inputSize, bool backward)
    {
        _cell = options.Cell;
        _gates = options.Gates;
        _hidden = options.HiddenSize;
        _outputSize = options.OutputSize;
        _resetAfter = options.Cell == CellType.Gru && options.GruVariant == GruVariant.ResetAfter;
        bool resetBefore = options.Cell == CellType.Gru && !_resetAfter;
        int g = _gates, h = _hidden, hOut = _outputSize, depth = inputSize + hOut;
        InputSize = inputSize;
        _fusedRows = new float[g * h * depth];
        _recurrentNewRows = resetBefore ? new float[h * hOut] : [];
        Bias = new float[g * h];
        RecurrentNewBias = _resetAfter ? new float[h] : [];
        Fused = PackedMatrix.FromRowsAsColumns(_fusedRows, g * h, depth, depth);
        RecurrentNew = resetBefore ? PackedMatrix.FromRowsAsColumns(_recurrentNewRows, h, hOut, hOut) : null;
        bool projected = options.ProjectionSize > 0;
        ProjectionRows = projected ? new float[hOut * h] : [];
        Projection = projected ? PackedMatrix.FromRowsAsColumns(ProjectionRows, hOut, h, h) : null;
        if (backward)
        {
            // Shapes only: Load packs PyTorch's W_ih and W_hh into these (backward's dG is in PyTorch's gate order).
            BackInput = PackedMatrix.FromMatrix(_fusedRows, g * h, inputSize, depth);
            BackRecurrent = PackedMatrix.FromMatrix(_fusedRows.AsSpan(inputSize), g * h, hOut, depth);
            BackRecurrentNew = resetBefore ? PackedMatrix.FromMatrix(_recurrentNewRows, h, hOut, hOut) : null;
            BackProjection = projected ? PackedMatrix.FromMatrix(ProjectionRows, hOut, h, h) : null;
        }
    }

    /// <summary>
    /// An inference copy at <paramref name="precision"/>: the forward matrices rounded once from these float32 values
    /// (each held compact where <see cref="PackedMatrix.CompactPays"/>, else as float panels of the rounded values; the
    /// same results either way), the float32 biases and peepholes copied, no backward matrices.
    /// </summary>
    public DirectionWeights WithPrecision(WeightPrecision precision) => new(this, precision, null);

    /// <summary>
    /// <see cref="WithPrecision(WeightPrecision)"/> at int8 with given scales instead of max|w|/127 (PyTorch's row order:
    /// <see cref="Int8Scales.Ih"/> [G·H], <see cref="Int8Scales.Hh"/> [G·H], <see cref="Int8Scales.Hr"/> [P]), for
    /// weights that are q·s already (a checkpoint's): each code comes back exactly, so the copy is the saved network.
    /// </summary>
    public DirectionWeights WithInt8Scales(Int8Scales scales) => new(this, WeightPrecision.Int8, scales);

    private DirectionWeights(DirectionWeights source, WeightPrecision precision, Int8Scales? scales)
    {
        _cell = source._cell;
        _gates = source._gates;
        _hidden = source._hidden;
        _outputSize = source._outputSize;
        _resetAfter = source._resetAfter;
        _fusedRows = [];          // unpacked float32 rows serve only re-loading and lanes, neither of which a reduced copy does:
        _recurrentNewRows = [];   // not kept, so the copy holds its reduced panels and not the float32 weights
        InputSize = source.InputSize;
        Bias = [.. source.Bias];
        RecurrentNewBias = [.. source.RecurrentNewBias];
        Peephole = [.. source.Peephole];
        ProjectionRows = [];
        Precision = precision;
        int h = _hidden;
        int PyTorchRow(int engineRow) => (GateLayout.ToPyTorch(_cell, engineRow / h) * h) + (engineRow % h);
        Fused = Reduce(source.Fused, precision, InputSize, scales is null ? null : (side, n) => (side == 0 ? scales.Ih : scales.Hh)[PyTorchRow(n)]);

        // W_hn is the n block of W_hh (PyTorch's block 2), reduced alone over its whole depth (side 1).
        RecurrentNew = source.RecurrentNew is null ? null : Reduce(source.RecurrentNew, precision, 0, scales is null ? null : (side, n) => side == 0 ? 0f : scales.Hh[(2 * h) + n]);
        Projection = source.Projection is null ? null : Reduce(source.Projection, precision, 0, scales is null ? null : (side, n) => side == 0 ? 0f : scales.Hr[n]);
    }

    /// <summary>Int8 scales W_x's and W_h's rows of the fused matrix apart (as PyTorch's two tensors): <paramref name="depthSplit"/>.</summary>
    private static PackedMatrix Reduce(PackedMatrix m, WeightPrecision precision, int depthSplit, Func<int, int, float>? int8Scales) =>
        m.WithPrecision(precision, PackedMatrix.CompactPays(precision, m.N, m.K, m.Width), depthSplit, int8Scales);

    /// <summary>The precision of the forward matrices (float32 unless made by <see cref="WithPrecision"/>).</summary>
    public WeightPrecision Precision { get; }

    /// <summary>[G·H, In + Hout] fused [W_x | W_h], packed for C = A · Wᵀ.</summary>
    public PackedMatrix Fused { get; }

    /// <summary>[G·H] folded biases: b_ih + b_hh per gate row, except GRU's n row under reset-after (b_in only).</summary>
    public float[] Bias { get; }

    /// <summary>LSTM with peepholes: [p_i, p_f, p_o] [3H]. Empty otherwise.</summary>
    public float[] Peephole { get; set; } = [];

    /// <summary>GRU reset-after: b_hn [H], which stays inside the reset product. Empty otherwise.</summary>
    public float[] RecurrentNewBias { get; }

    /// <summary>GRU reset-before: W_hn [H, Hout] packed alone, applied to r ⊙ h. Null otherwise.</summary>
    public PackedMatrix? RecurrentNew { get; }

    /// <summary>LSTM with projection: W_hr [P, H] packed. Null otherwise.</summary>
    public PackedMatrix? Projection { get; }

    /// <summary>LSTM with projection: W_hr [P, H] unpacked. Empty otherwise.</summary>
    public float[] ProjectionRows { get; }

    /// <summary>Backward only: W_ih [G·H, In] in PyTorch's gate order (that of dG) packed as B for dX = dG · W_ih.</summary>
    public PackedMatrix? BackInput { get; }

    /// <summary>Backward only: W_hh [G·H, Hout] in PyTorch's gate order (that of dG) packed as B for dh_{t−1} = dG · W_hh.</summary>
    public PackedMatrix? BackRecurrent { get; }

    /// <summary>Backward only, GRU reset-before: W_hn [H, Hout] packed as B for d(r ⊙ h) = da_n · W_hn.</summary>
    public PackedMatrix? BackRecurrentNew { get; }

    /// <summary>Backward only, LSTM projection: W_hr [P, H] packed as B for d(o ⊙ tanh c) = dh · W_hr.</summary>
    public PackedMatrix? BackProjection { get; }

    /// <summary>
    /// The fused matrix again as <see cref="PackedRowPanels"/> for <see cref="DirectionLanes"/>, its rows unit by unit
    /// (row u·G + g is gate g of unit u), so that a strip of row panels holds every gate of whole units. Packed on
    /// first use: a model that never runs a batch in lanes never pays for the copy.
    /// </summary>
    public LaneWeights Lanes
    {
        get
        {
            LaneWeights? lanes = Volatile.Read(ref _lanes);
            if (lanes is not null)
            {
                return lanes;
            }

            var created = new LaneWeights(_gates * _hidden, InputSize, _outputSize, Fused.Width, Precision == WeightPrecision.Int8);
            if (Precision == WeightPrecision.Float32)
            {
                PackLanes(created);
            }
            else
            {
                PackReducedLanes(created);
            }

            return Interlocked.CompareExchange(ref _lanes, created, null) ?? created;
        }
    }

    /// <summary>Input features of this layer (X for layer 0).</summary>
    public int InputSize { get; }

    /// <summary>Weights of the given shape, all zero until <see cref="Load"/> (training binds them to a parameter set).</summary>
    public static DirectionWeights Create(RecurrentNetworkOptions options, int inputSize, bool backward) => new(options, inputSize, backward);

    /// <summary>
    /// Builds the engine layout from PyTorch's tensors of one (layer, direction): W_ih [G·H, In], W_hh [G·H, Hout],
    /// b_ih and b_hh [G·H] (either may be empty: no bias), W_hr [P, H] (LSTM projection only).
    /// </summary>
    public static DirectionWeights FromPyTorch(
        RecurrentNetworkOptions options, int inputSize, float[] weightIh, float[] weightHh, float[] biasIh, float[] biasHh, float[]? weightHr, bool backward = false)
    {
        var weights = new DirectionWeights(options, inputSize, backward);
        weights.Load(weightIh, weightHh, biasIh, biasHh, weightHr);
        return weights;
    }

    /// <summary>
    /// Replaces the values from PyTorch's tensors (sizes as in <see cref="FromPyTorch"/>) and re-packs every
    /// matrix in place. Allocates nothing. With a <paramref name="team"/>, the forward matrix and backward's two are
    /// packed on two threads at once (training re-packs after every optimiser step; the packing is copying only, so the
    /// results do not depend on it).
    /// </summary>
    public void Load(ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> biasIh, ReadOnlySpan<float> biasHh, ReadOnlySpan<float> weightHr, ThreadTeam? team = null)
    {
        if (Precision != WeightPrecision.Float32)
        {
            Rnn.Simd.Internal.ThrowHelper.InvalidOperation($"{Precision} weights are an inference snapshot and are never re-loaded; train float32 weights.");
        }

        int gates = _gates, h = _hidden, hOut = _outputSize, inputSize = InputSize;
        int depth = inputSize + hOut;
        for (int block = 0; block < gates; block++)
        {
            int engineBlock = GateLayout.FromPyTorch(_cell, block);
            for (int r = 0; r < h; r++)
            {
                int src = (block * h) + r, dst = (engineBlock * h) + r;
                weightIh.Slice(src * inputSize, inputSize).CopyTo(_fusedRows.AsSpan(dst * depth, inputSize));
                weightHh.Slice(src * hOut, hOut).CopyTo(_fusedRows.AsSpan((dst * depth) + inputSize, hOut));
                float bIh = biasIh.IsEmpty ? 0f : biasIh[src];
                float bHh = biasHh.IsEmpty ? 0f : biasHh[src];
                if (_resetAfter && engineBlock == GateLayout.GruNew)
                {
                    Bias[dst] = bIh;
                    RecurrentNewBias[r] = bHh;
                }
                else
                {
                    Bias[dst] = bIh + bHh;
                }
            }
        }

        if (team is not null && team.ThreadCount > 1 && BackInput is not null && (long)_fusedRows.Length >= MinParallelFloats)
        {
            fixed (float* ih = weightIh, hh = weightHh)
            {
                var job = new RepackJob { Self = this, Ih = ih, IhLength = weightIh.Length, Hh = hh, HhLength = weightHh.Length };
                team.Run(ref job, 2);
            }
        }
        else
        {
            Fused.Repack(_fusedRows, depth);
            BackInput?.Repack(weightIh, inputSize);
            BackRecurrent?.Repack(weightHh, hOut);
        }
        if (RecurrentNew is not null)
        {
            weightHh.Slice(2 * h * hOut, h * hOut).CopyTo(_recurrentNewRows);
            RecurrentNew.Repack(_recurrentNewRows, hOut);
            BackRecurrentNew?.Repack(_recurrentNewRows, hOut);
        }

        if (_lanes is not null)
        {
            PackLanes(_lanes);
        }

        if (Projection is not null)
        {
            weightHr.CopyTo(ProjectionRows);
            Projection.Repack(ProjectionRows, h);
            BackProjection?.Repack(ProjectionRows, h);
        }
    }

    /// <summary>
    /// A reduced copy's lanes: float row panels of the values its fused matrix holds (bf16-rounded, or q·2²⁴ with the
    /// scales s·2⁻²⁴ of W_x's and W_h's rows in the lanes' row order), widened once from the matrix, which keeps no float32 rows.
    /// </summary>
    private void PackReducedLanes(LaneWeights lanes)
    {
        int rows = _gates * _hidden, depth = InputSize + _outputSize;
        float[] held = new float[(long)rows * depth];
        for (int n = 0; n < rows; n++)
        {
            for (int k = 0; k < depth; k++)
            {
                held[((long)n * depth) + k] = Fused.HeldValue(k, n);
            }
        }

        lanes.Input.Repack(held, depth, _gates);
        lanes.Recurrent.Repack(held.AsSpan(InputSize), depth, _gates);
        if (Precision == WeightPrecision.Int8)
        {
            // Packed row u·G + g is engine row g·H + u (PackedRowPanels.Repack's interleave); padding rows keep scale 0.
            for (int row = 0; row < rows; row++)
            {
                int from = ((row % _gates) * _hidden) + (row / _gates);
                lanes.InputScales[row] = Fused.ScaleOf(0, from);
                lanes.RecurrentScales[row] = Fused.ScaleOf(1, from);
            }
        }
    }

    /// <summary>Weights of at least this many floats (W_x and W_h together, 1 MiB) are re-packed on two threads.</summary>
    private const int MinParallelFloats = 1 << 18;

    /// <summary>Part 0 packs the forward matrix, part 1 backward's W_ih and W_hh (their sources pinned by the caller).</summary>
    private unsafe struct RepackJob : IParallelJob
    {
        public DirectionWeights Self;
        public float* Ih, Hh;
        public int IhLength, HhLength;

        public readonly void Execute(int part)
        {
            DirectionWeights w = Self;
            if (part == 0)
            {
                w.Fused.Repack(w._fusedRows, w.InputSize + w._outputSize);
                return;
            }

            w.BackInput!.Repack(new ReadOnlySpan<float>(Ih, IhLength), w.InputSize);
            w.BackRecurrent?.Repack(new ReadOnlySpan<float>(Hh, HhLength), w._outputSize);
        }
    }

    private void PackLanes(LaneWeights lanes)
    {
        int depth = InputSize + _outputSize;
        lanes.Input.Repack(_fusedRows, depth, _gates);
        lanes.Recurrent.Repack(_fusedRows.AsSpan(InputSize), depth, _gates);
    }
}

/// <summary>The int8 scales of one direction's PyTorch tensors, in their row order: W_ih [G·H], W_hh [G·H], W_hr [P] (empty without projection).</summary>
internal sealed record Int8Scales(float[] Ih, float[] Hh, float[] Hr);

/// <summary>One direction's fused matrix as row panels, rows unit by unit (see <see cref="DirectionWeights.Lanes"/>).</summary>
internal sealed class LaneWeights(int rows, int inputSize, int recurrentSize, Rnn.Simd.Internal.VectorWidth width, bool int8 = false)
{
    /// <summary>Int8: the scale s·2⁻²⁴ of each packed row of W_x (padded rows 0); empty otherwise.</summary>
    public float[] InputScales { get; } = int8 ? new float[RowPanelLayout.Of(width, rows).PaddedRows] : [];

    /// <summary>Int8: the scale s·2⁻²⁴ of each packed row of W_h (padded rows 0); empty otherwise.</summary>
    public float[] RecurrentScales { get; } = int8 ? new float[RowPanelLayout.Of(width, rows).PaddedRows] : [];

    /// <summary>W_x [G·H, In].</summary>
    public PackedRowPanels Input { get; } = new(rows, inputSize, width);

    /// <summary>W_h [G·H, Hout].</summary>
    public PackedRowPanels Recurrent { get; } = new(rows, recurrentSize, width);
}
