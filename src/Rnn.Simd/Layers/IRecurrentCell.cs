using Rnn.Simd.Parameters;

namespace Rnn.Simd.Layers;

/// <summary>
/// A recurrent cell written by the user: the seeds' general recurrence s(t) = f(s(t−1), x(t); θ) (seeds 000, 001),
/// one sequence and one step at a time. <see cref="Training.CellNetwork"/> runs it over sequences and streams, stacks
/// it, runs it in both directions, honours per-sequence lengths, and backpropagates through time (whole sequences or
/// truncated), as Keras's <c>RNN(cell)</c> does.
/// </summary>
/// <remarks>
/// <para>The output the layer above (or a head, the seeds' o(t) = o(h(t))) sees is the first <see cref="OutputSize"/>
/// floats of the state, as an LSTM's h comes before its c.</para>
/// <para>One cell object serves one (layer, direction) and may be called from several threads at once with different
/// step arguments: keep no mutable fields; what forward must pass to backward goes in <see cref="CellStep.Record"/>,
/// temporaries in <see cref="CellStep.Scratch"/>. The runner calls the cell in a fixed order, so a cell written with a
/// fixed operation order gives the same bits on every run.</para>
/// <para>The engine's own cells (<see cref="RecurrentNetwork"/>) do not go through this interface: they keep their
/// fused, batched, vectorised paths.</para>
/// </remarks>
public interface IRecurrentCell
{
    /// <summary>Features of x(t).</summary>
    int InputSize { get; }

    /// <summary>Floats of the state s(t) of one sequence (an LSTM's would be 2H: h then c).</summary>
    int StateSize { get; }

    /// <summary>Floats of the output, the first ones of the state (1 … <see cref="StateSize"/>).</summary>
    int OutputSize { get; }

    /// <summary>Floats per sequence and step that <see cref="Forward"/> keeps for <see cref="Backward"/> (activated
    /// gates, say); 0 when the states and the input suffice.</summary>
    int RecordSize { get; }

    /// <summary>Floats of temporaries per call (0 for none).</summary>
    int ScratchSize { get; }

    /// <summary>
    /// The cell's parameter tensors: names relative to the cell (the network prefixes them with the layer and
    /// direction), shapes, and roles, which choose the initialiser (<c>Training.Initializers</c>: a recurrent weight
    /// with <see cref="ParameterSpec.GateBlocks"/> = 3 is initialised as three blocks, as PyTorch's GRU). Index i of
    /// this list is <see cref="CellStep.Parameter"/>(i).
    /// </summary>
    IReadOnlyList<ParameterSpec> Parameters { get; }

    /// <summary>One step forward: writes s(t) into <see cref="CellStep.State"/> (and whatever backward needs into
    /// <see cref="CellStep.Record"/>) from x(t), s(t−1) and the parameters.</summary>
    void Forward(in CellStep step);

    /// <summary>
    /// One step backward, given dL/ds(t) (everything that reaches s(t): the output's gradient and step t + 1's):
    /// adds dL/ds(t−1), dL/dx(t) and dL/dθ into <see cref="CellGradientStep.PreviousStateGradient"/>,
    /// <see cref="CellGradientStep.InputGradient"/> and <see cref="CellGradientStep.Gradient"/>. The step's inputs,
    /// states and record are those its forward saw and wrote. A cell that is never trained may throw
    /// <see cref="NotSupportedException"/>.
    /// </summary>
    void Backward(in CellGradientStep step);
}

/// <summary>The arguments of one <see cref="IRecurrentCell.Forward"/> call: one sequence, one step.</summary>
public readonly ref struct CellStep
{
    private readonly ReadOnlySpan<float> _values;
    private readonly ReadOnlySpan<ParameterTensor> _tensors;

    internal CellStep(ReadOnlySpan<float> values, ReadOnlySpan<ParameterTensor> tensors, ReadOnlySpan<float> input, ReadOnlySpan<float> previousState, Span<float> state, Span<float> record, Span<float> scratch)
    {
        _values = values;
        _tensors = tensors;
        Input = input;
        PreviousState = previousState;
        State = state;
        Record = record;
        Scratch = scratch;
    }

    /// <summary>x(t) [<see cref="IRecurrentCell.InputSize"/>].</summary>
    public ReadOnlySpan<float> Input { get; }

    /// <summary>s(t−1) [<see cref="IRecurrentCell.StateSize"/>].</summary>
    public ReadOnlySpan<float> PreviousState { get; }

    /// <summary>s(t) [<see cref="IRecurrentCell.StateSize"/>], to write (it does not alias the other spans).</summary>
    public Span<float> State { get; }

    /// <summary>What backward will read back [<see cref="IRecurrentCell.RecordSize"/>].</summary>
    public Span<float> Record { get; }

    /// <summary>Temporaries [<see cref="IRecurrentCell.ScratchSize"/>], contents undefined on entry.</summary>
    public Span<float> Scratch { get; }

    /// <summary>The values of parameter <paramref name="index"/> (of <see cref="IRecurrentCell.Parameters"/>), row-major.</summary>
    public ReadOnlySpan<float> Parameter(int index) => _values.Slice(_tensors[index].Offset, _tensors[index].Length);
}

/// <summary>The arguments of one <see cref="IRecurrentCell.Backward"/> call: one sequence, one step.</summary>
public readonly ref struct CellGradientStep
{
    private readonly ReadOnlySpan<float> _values;
    private readonly Span<float> _gradients;
    private readonly ReadOnlySpan<ParameterTensor> _tensors;

    internal CellGradientStep(
        ReadOnlySpan<float> values, Span<float> gradients, ReadOnlySpan<ParameterTensor> tensors, ReadOnlySpan<float> input, ReadOnlySpan<float> previousState,
        ReadOnlySpan<float> state, ReadOnlySpan<float> record, Span<float> scratch, ReadOnlySpan<float> stateGradient, Span<float> previousStateGradient, Span<float> inputGradient)
    {
        _values = values;
        _gradients = gradients;
        _tensors = tensors;
        Input = input;
        PreviousState = previousState;
        State = state;
        Record = record;
        Scratch = scratch;
        StateGradient = stateGradient;
        PreviousStateGradient = previousStateGradient;
        InputGradient = inputGradient;
    }

    /// <summary>x(t), as forward saw it.</summary>
    public ReadOnlySpan<float> Input { get; }

    /// <summary>s(t−1), as forward saw it.</summary>
    public ReadOnlySpan<float> PreviousState { get; }

    /// <summary>s(t), as forward wrote it.</summary>
    public ReadOnlySpan<float> State { get; }

    /// <summary>What forward wrote into <see cref="CellStep.Record"/>.</summary>
    public ReadOnlySpan<float> Record { get; }

    /// <summary>Temporaries [<see cref="IRecurrentCell.ScratchSize"/>], contents undefined on entry.</summary>
    public Span<float> Scratch { get; }

    /// <summary>dL/ds(t) [<see cref="IRecurrentCell.StateSize"/>].</summary>
    public ReadOnlySpan<float> StateGradient { get; }

    /// <summary>dL/ds(t−1) [<see cref="IRecurrentCell.StateSize"/>], zero on entry: add into it.</summary>
    public Span<float> PreviousStateGradient { get; }

    /// <summary>dL/dx(t) [<see cref="IRecurrentCell.InputSize"/>]: add into it (the other direction of a bidirectional
    /// layer adds into the same row).</summary>
    public Span<float> InputGradient { get; }

    /// <summary>The values of parameter <paramref name="index"/>, row-major.</summary>
    public ReadOnlySpan<float> Parameter(int index) => _values.Slice(_tensors[index].Offset, _tensors[index].Length);

    /// <summary>dL/d(parameter <paramref name="index"/>): add into it (it sums over steps and sequences).</summary>
    public Span<float> Gradient(int index) => _gradients.Slice(_tensors[index].Offset, _tensors[index].Length);
}
