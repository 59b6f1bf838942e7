namespace Rnn.Simd.Layers;

/// <summary>
/// The one scratch allocation of a forward call, sliced into named views (llm.c's single allocation).
/// Each view starts on a 16-float boundary.
/// </summary>
internal readonly struct ForwardPlan
{
    private readonly View _x, _layerOut0, _layerOut1, _gx, _gh, _h0, _h1, _c0, _c1, _hCell, _recurrentNew, _lanes;

    /// <param name="o">The architecture.</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="batchFirst">Whether the input needs a time-major copy.</param>
    /// <param name="recording">Training: the tape holds the input copy, layer outputs, gates and states, so the plan leaves them out.</param>
    /// <param name="lanes">Every direction runs in lanes (<see cref="DirectionLanes"/>): its scratch replaces the row-major gates and states.</param>
    /// <param name="int8">The weights are int8: the lanes keep unscaled recurrent sums apart (see <see cref="DirectionLanes.ScratchFloats"/>).</param>
    public ForwardPlan(RecurrentNetworkOptions o, int steps, int batch, bool batchFirst, bool recording = false, bool lanes = false, bool int8 = false)
    {
        Lanes = lanes && !recording;
        long rows = recording ? 0 : (long)steps * batch;
        long states = recording || Lanes ? 0 : batch;
        long rowMajor = Lanes ? 0 : 1;
        int g = o.Gates, h = o.HiddenSize, hOut = o.OutputSize;
        long offset = 0;
        View Take(long floats)
        {
            var view = new View(offset, floats);
            offset += (floats + 15) & ~15L;
            return view;
        }

        _x = Take(batchFirst && !recording ? rows * o.InputSize : 0); // [T, B, X]    time-major copy of a batch-first input
        _layerOut0 = Take(rows * o.LayerOutputSize);    // [T, B, F]    outputs of even layers
        _layerOut1 = Take(o.Layers > 1 ? rows * o.LayerOutputSize : 0); // [T, B, F] outputs of odd layers
        _gx = Take(rowMajor * rows * g * h);            // [T, B, G·H]  gate pre-activations, input part first
        _gh = Take(rowMajor * batch * g * h);           // [B, G·H]     GRU recurrent products
        _h0 = Take(states * hOut);                      // [B, Hout]    h ping-pong
        _h1 = Take(states * hOut);
        _c0 = Take(states * h);                         // [B, H]       c ping-pong
        _c1 = Take(states * h);
        _hCell = Take(rowMajor * batch * h);            // [B, H]       o ⊙ tanh(c) before projection; GRU r ⊙ h
        _recurrentNew = Take(rowMajor * batch * h);     // [B, H]       GRU reset-before: W_hn (r ⊙ h)
        _lanes = Take(Lanes ? DirectionLanes.ScratchFloats(o, steps, batch, Math.Max(o.InputSize, o.LayerOutputSize), int8) : 0);
        if (offset > Array.MaxLength)
        {
            throw new ArgumentException($"This call needs {offset} floats of scratch, more than one array holds; split the batch or the sequence.", "steps");
        }

        TotalFloats = (int)offset;
    }

    public int TotalFloats { get; }

    /// <summary>Whether the directions run in lanes (see the constructor).</summary>
    public bool Lanes { get; }

    public Span<float> LaneScratch(Span<float> all) => _lanes.Of(all);

    public Span<float> TimeMajorInput(Span<float> all) => _x.Of(all);

    public Span<float> LayerOutput(Span<float> all, int layer) => (layer % 2 == 0 ? _layerOut0 : _layerOut1).Of(all);

    public Span<float> Gx(Span<float> all) => _gx.Of(all);

    public Span<float> Gh(Span<float> all) => _gh.Of(all);

    public Span<float> H(Span<float> all, int which) => (which == 0 ? _h0 : _h1).Of(all);

    public Span<float> C(Span<float> all, int which) => (which == 0 ? _c0 : _c1).Of(all);

    public Span<float> HCell(Span<float> all) => _hCell.Of(all);

    public Span<float> RecurrentNew(Span<float> all) => _recurrentNew.Of(all);

    private readonly record struct View(long Offset, long Length)
    {
        public Span<float> Of(Span<float> all) => all.Slice((int)Offset, (int)Length);
    }
}
