namespace Rnn.Simd.Layers;

/// <summary>
/// What a training forward pass keeps of one direction of one layer for backward (all views into one tape).
/// </summary>
/// <remarks>
/// <code>
///   Gates  [T, B, G·H]     activated gates: LSTM i, f, o, g; GRU r, z, n (Elman: pre-activations, unused)
///   H      [T+1, B, Hout]  states; the state before step t is slot t going forward, slot t + 1 going backward,
///                          so the inputs of all steps are one contiguous [T, B, Hout] range either way
///   C      [T+1, B, H]     LSTM cell states, the same slots
///   TanhC  [T, B, H]       LSTM tanh(c_t)
///   HCell  [T, B, H]       LSTM with projection: o ⊙ tanh(c_t) before W_hr
///   Extra  [T, B, H]       GRU reset-after: W_hn h + b_hn; reset-before: r ⊙ h
/// </code>
/// </remarks>
internal readonly ref struct DirectionRecord
{
    public DirectionRecord(Span<float> gates, Span<float> h, Span<float> c, Span<float> tanhC, Span<float> hCell, Span<float> extra, int hOut, int hidden)
    {
        Gates = gates;
        H = h;
        C = c;
        TanhC = tanhC;
        HCell = hCell;
        Extra = extra;
        OutputSize = hOut;
        HiddenSize = hidden;
    }

    public Span<float> Gates { get; }

    public Span<float> H { get; }

    public Span<float> C { get; }

    public Span<float> TanhC { get; }

    public Span<float> HCell { get; }

    public Span<float> Extra { get; }

    public int OutputSize { get; }

    public int HiddenSize { get; }

    public bool IsRecording => !H.IsEmpty;

    public Span<float> HSlot(int slot, int batch) => H.Slice(slot * batch * OutputSize, batch * OutputSize);

    public Span<float> CSlot(int slot, int batch) => C.Slice(slot * batch * HiddenSize, batch * HiddenSize);

    /// <summary>The per-step views of step t.</summary>
    public StepRecord At(int t, int batch) => At(t, batch, 0, batch);

    /// <summary>The per-step views of step t at batch rows <paramref name="b0"/> … <paramref name="b0"/> + <paramref name="rows"/> − 1.</summary>
    public StepRecord At(int t, int batch, int b0, int rows)
    {
        int start = ((t * batch) + b0) * HiddenSize, length = rows * HiddenSize;
        return new StepRecord(
            TanhC.IsEmpty ? default : TanhC.Slice(start, length),
            HCell.IsEmpty ? default : HCell.Slice(start, length),
            Extra.IsEmpty ? default : Extra.Slice(start, length));
    }
}

/// <summary>One step's slice of a <see cref="DirectionRecord"/> ([B, H] each; empty when not recording).</summary>
internal readonly ref struct StepRecord
{
    public StepRecord(Span<float> tanhC, Span<float> hCell, Span<float> extra)
    {
        TanhC = tanhC;
        HCell = hCell;
        Extra = extra;
    }

    public Span<float> TanhC { get; }

    public Span<float> HCell { get; }

    public Span<float> Extra { get; }
}
