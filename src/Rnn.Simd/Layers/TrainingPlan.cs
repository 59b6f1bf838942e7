using Rnn.Simd.Cells;

namespace Rnn.Simd.Layers;

/// <summary>
/// The layout of a <see cref="Training.RecurrentTape"/>'s one buffer for a (T, B): what forward records and what backward
/// needs as scratch. Offsets only; no allocation. Every view starts on a 16-float boundary.
/// </summary>
/// <remarks>
/// <code>
///   x           [T, B, X]        the input, time-major
///   out[l]      [T, B, F]        every layer's output (layer l − 1's is layer l's input)
///   record[s]   per (layer, direction) s: see DirectionRecord
///   mask[l]     [T, B, F]        dropout on out[l] (training with dropout only): 0 or 1/(1 − p) per element
///   inMask[l]   [B, X or F]      variational dropout of layer l's input, the same at every step (training with it only)
///   recMask[s]  [B, Hout]        recurrent (variational) dropout of h_{t−1} per (layer, direction) s (training with it only)
///   hMasked     [B, Hout]        forward: one step's h_{t−1} ⊙ recMask
///   hMaskedAll  [T, B, Hout]     backward: every step's h_{t−1} ⊙ recMask
///   dMasked     [B, Hout]        backward: the part of dL/dh_{t−1} through the mask
///   forward     ForwardPlan's per-step scratch
///   dGx, dGh    [T, B, G·H]      gate gradients (dGh: GRU reset-after only)
///   dHAll       [T, B, Hout]     LSTM projection: dL/dh_t of every step
///   dOut0/1     [T, B, F]        dL/d(layer output), ping-pong between layers
///   dIn         [T, B, X]        dL/dx, time-major
///   small       dh, dc ping-pong, per-row temporaries, bias sums
/// </code>
/// </remarks>
internal readonly struct TrainingPlan
{
    private readonly long _x, _out, _outStride, _records, _recordStride, _masks, _inputMasks, _inputMaskStride;
    private readonly long _recurrentMasks, _recurrentMaskStride, _maskedState, _maskedStates, _maskedGradient;
    private readonly long _gates, _h, _c, _tanhC, _hCell, _extra;       // offsets within one record
    private readonly long _gatesLength, _hLength, _cLength, _rowsH;
    private readonly long _forward, _dGx, _dGh, _dHAll, _dOut0, _dOut1, _dIn, _dH0, _dH1, _dC0, _dC1, _dCell, _row0, _biasSum;
    private readonly long _featureRows, _inputRows;

    /// <param name="o">The architecture.</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="outputMasks">Whether to hold a dropout mask for every layer's output.</param>
    /// <param name="inputMasks">Whether to hold a variational dropout mask for every layer's input.</param>
    /// <param name="recurrentMasks">Whether to hold a recurrent dropout mask for every (layer, direction) and its scratch.</param>
    public TrainingPlan(RecurrentNetworkOptions o, int steps, int batch, bool outputMasks = false, bool inputMasks = false, bool recurrentMasks = false)
    {
        Steps = steps;
        Batch = batch;
        long rows = (long)steps * batch;
        int g = o.Gates, h = o.HiddenSize, hOut = o.OutputSize;
        bool lstm = o.Cell == CellType.Lstm, gru = o.Cell == CellType.Gru;
        Forward = new ForwardPlan(o, steps, batch, batchFirst: false, recording: true);

        long offset = 0;
        long Take(long floats)
        {
            long start = offset;
            offset += Round(floats);
            return start;
        }

        _inputRows = rows * o.InputSize;
        _featureRows = rows * o.LayerOutputSize;
        _x = Take(_inputRows);
        _outStride = Round(_featureRows);
        _out = offset;
        offset += _outStride * o.Layers;

        _gatesLength = rows * g * h;
        _hLength = (rows + batch) * hOut;
        _cLength = lstm ? (rows + batch) * h : 0;
        _rowsH = rows * h;
        long inRecord = 0;
        long TakeInRecord(long floats)
        {
            long start = inRecord;
            inRecord += Round(floats);
            return start;
        }

        _gates = TakeInRecord(_gatesLength);
        _h = TakeInRecord(_hLength);
        _c = TakeInRecord(_cLength);
        _tanhC = TakeInRecord(lstm ? _rowsH : 0);
        _hCell = TakeInRecord(lstm && o.ProjectionSize > 0 ? _rowsH : 0);
        _extra = TakeInRecord(gru ? _rowsH : 0);
        _recordStride = inRecord;
        _records = offset;
        offset += _recordStride * o.Layers * o.Directions;
        _masks = offset;
        offset += outputMasks ? _outStride * o.Layers : 0;
        HasOutputMasks = outputMasks;
        _inputMaskStride = Round((long)batch * Math.Max(o.InputSize, o.LayerOutputSize));
        _inputMasks = offset;
        offset += inputMasks ? _inputMaskStride * o.Layers : 0;
        HasInputMasks = inputMasks;
        _recurrentMaskStride = Round((long)batch * hOut);
        _recurrentMasks = offset;
        offset += recurrentMasks ? _recurrentMaskStride * o.Layers * o.Directions : 0;
        _maskedState = Take(recurrentMasks ? (long)batch * hOut : 0);
        _maskedStates = Take(recurrentMasks ? rows * hOut : 0);
        _maskedGradient = Take(recurrentMasks ? (long)batch * hOut : 0);
        HasRecurrentMasks = recurrentMasks;
        RecurrentMaskLength = batch * hOut;

        _forward = Take(Forward.TotalFloats);
        _dGx = Take(_gatesLength);
        _dGh = Take(gru && o.GruVariant == GruVariant.ResetAfter ? _gatesLength : 0);
        _dHAll = Take(o.ProjectionSize > 0 ? rows * hOut : 0);
        _dOut0 = Take(_featureRows);
        _dOut1 = Take(o.Layers > 1 ? _featureRows : 0);
        _dIn = Take(_inputRows);
        _dH0 = Take((long)batch * hOut);
        _dH1 = Take((long)batch * hOut);
        _dC0 = Take(lstm ? (long)batch * h : 0);
        _dC1 = Take(lstm ? (long)batch * h : 0);
        _dCell = Take((long)batch * h);
        _row0 = Take(h);
        _biasSum = Take(2L * g * h);                    // [G·H] doubles
        if (offset > Array.MaxLength)
        {
            throw new ArgumentException($"Training on this call needs {offset} floats of tape, more than one array holds; split the batch or the sequence.", "steps");
        }

        TotalFloats = (int)offset;
    }

    public int Steps { get; }

    public int Batch { get; }

    public int TotalFloats { get; }

    public ForwardPlan Forward { get; }

    /// <summary>Whether the plan holds a dropout mask for every layer's output.</summary>
    public bool HasOutputMasks { get; }

    /// <summary>Whether the plan holds a variational dropout mask for every layer's input.</summary>
    public bool HasInputMasks { get; }

    /// <summary>B · Hout: the length of a recurrent mask and of a step's state.</summary>
    public int RecurrentMaskLength { get; }

    /// <summary>Whether the plan holds a recurrent dropout mask for every (layer, direction).</summary>
    public bool HasRecurrentMasks { get; }

    /// <summary>The recurrent dropout mask of (layer, direction) <paramref name="state"/> [B, Hout] (with <see cref="HasRecurrentMasks"/>).</summary>
    public Span<float> RecurrentMask(Span<float> all, int state) => all.Slice((int)(_recurrentMasks + (state * _recurrentMaskStride)), RecurrentMaskLength);

    /// <summary>Forward's scratch for one step's masked h_{t−1} [B, Hout].</summary>
    public Span<float> MaskedState(Span<float> all) => all.Slice((int)_maskedState, RecurrentMaskLength);

    /// <summary>Backward's scratch for every step's masked h_{t−1} [T, B, Hout].</summary>
    public Span<float> MaskedStates(Span<float> all) => all.Slice((int)_maskedStates, Steps * RecurrentMaskLength);

    /// <summary>Backward's scratch [B, Hout] for the part of dL/dh_{t−1} through the mask.</summary>
    public Span<float> MaskedGradient(Span<float> all) => all.Slice((int)_maskedGradient, RecurrentMaskLength);

    public Span<float> Input(Span<float> all) => all.Slice((int)_x, (int)_inputRows);

    public Span<float> LayerOutput(Span<float> all, int layer) => all.Slice((int)(_out + (layer * _outStride)), (int)_featureRows);

    /// <summary>The dropout mask of layer <paramref name="layer"/>'s output [T, B, F] (with <see cref="HasOutputMasks"/>).</summary>
    public Span<float> OutputMask(Span<float> all, int layer) => all.Slice((int)(_masks + (layer * _outStride)), (int)_featureRows);

    /// <summary>The variational dropout mask of layer <paramref name="layer"/>'s input [B, <paramref name="inputSize"/>] (with <see cref="HasInputMasks"/>).</summary>
    public Span<float> InputMask(Span<float> all, int layer, int inputSize) => all.Slice((int)(_inputMasks + (layer * _inputMaskStride)), Batch * inputSize);

    public Span<float> ForwardScratch(Span<float> all) => all.Slice((int)_forward, Forward.TotalFloats);

    public DirectionRecord Record(Span<float> all, int state, RecurrentNetworkOptions o)
    {
        Span<float> r = all.Slice((int)(_records + (state * _recordStride)), (int)_recordStride);
        bool lstm = o.Cell == CellType.Lstm, gru = o.Cell == CellType.Gru;
        return new DirectionRecord(
            r.Slice((int)_gates, (int)_gatesLength),
            r.Slice((int)_h, (int)_hLength),
            lstm ? r.Slice((int)_c, (int)_cLength) : default,
            lstm ? r.Slice((int)_tanhC, (int)_rowsH) : default,
            lstm && o.ProjectionSize > 0 ? r.Slice((int)_hCell, (int)_rowsH) : default,
            gru ? r.Slice((int)_extra, (int)_rowsH) : default,
            o.OutputSize,
            o.HiddenSize);
    }

    public BackwardScratch Backward(Span<float> all, RecurrentNetworkOptions o)
    {
        int batch = Batch, h = o.HiddenSize, hOut = o.OutputSize;
        bool lstm = o.Cell == CellType.Lstm;
        return new BackwardScratch
        {
            GatesX = all.Slice((int)_dGx, (int)_gatesLength),
            GatesH = o.Cell == CellType.Gru && o.GruVariant == GruVariant.ResetAfter ? all.Slice((int)_dGh, (int)_gatesLength) : default,
            HAll = o.ProjectionSize > 0 ? all.Slice((int)_dHAll, Steps * batch * hOut) : default,
            H0 = all.Slice((int)_dH0, batch * hOut),
            H1 = all.Slice((int)_dH1, batch * hOut),
            C0 = lstm ? all.Slice((int)_dC0, batch * h) : default,
            C1 = lstm ? all.Slice((int)_dC1, batch * h) : default,
            Cell = all.Slice((int)_dCell, batch * h),
            Row0 = all.Slice((int)_row0, h),
            BiasSum = all.Slice((int)_biasSum, 2 * o.Gates * h),
        };
    }

    /// <summary>dL/d(output of a layer): layers alternate between two buffers; the top layer uses buffer 0.</summary>
    public Span<float> OutputGradient(Span<float> all, int layer, int layers) =>
        all.Slice((int)((layers - 1 - layer) % 2 == 0 ? _dOut0 : _dOut1), (int)_featureRows);

    public Span<float> InputGradient(Span<float> all) => all.Slice((int)_dIn, (int)_inputRows);

    private static long Round(long floats) => (floats + 15) & ~15L;
}
