using System.Buffers;
using System.Numerics.Tensors;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// Runs cells written by the user (<see cref="IRecurrentCell"/>) with the engine's machinery: whole sequences
/// (time-major, per-sequence lengths, initial and final states), streaming state (<see cref="CellState"/>), stacked
/// layers, both directions (outputs concatenated or summed), backpropagation through time into a
/// <see cref="ParameterSet"/> (<see cref="Backward"/>), truncated BPTT (<see cref="TruncatedBptt"/>), and, through
/// the parameter set, optimisers, clipping and checkpoints. Keras's <c>RNN(cell)</c> with its stacking and
/// bidirectional wrappers, in one type.
/// </summary>
/// <remarks>
/// <para>Cells are given layer by layer, and within a layer forward direction first: [layer 0, layer 0 reverse,
/// layer 1, …]. A layer's output feeds the next layer's cells, so a cell of layer l &gt; 0 takes
/// <see cref="IRecurrentCell.InputSize"/> = the layer-below's output features (2·O concatenated, O summed). Parameter
/// names are the cell's names under <c>{prefix}l{layer}.</c> and <c>{prefix}l{layer}_reverse.</c>.</para>
/// <para>States s0 and s_n are [L·D, B, S] flattened, (layer, direction) by (layer, direction), each block
/// B·S_k with that cell's state size.</para>
/// <para>At a step past a sequence's length the state passes through unchanged and the output is 0 (the reverse
/// direction starts at the sequence's last step), as for the engine's own cells. The runner goes through steps,
/// then sequences, in a fixed order on the calling thread: a cell with a fixed operation order gives the same bits on
/// every run and machine. Calls allocate nothing of their own (buffers are pooled); what the cell allocates is its
/// business. The network may be shared by threads for <see cref="Forward(ReadOnlySpan{float}, int, int, Span{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int})"/>
/// and streams; training (tapes, <see cref="Backward"/>) belongs to one thread, as the parameter set does.</para>
/// </remarks>
public sealed class CellNetwork
{
    private readonly IRecurrentCell[] _cells;
    private readonly CellShape[] _shapes;
    private readonly ParameterTensor[][] _tensors;
    private readonly int[] _stateOffsets;     // per cell: start of its block in [L·D, B, S] per sequence (× B for the block)
    private readonly int _maxState, _maxRecord, _maxScratch, _maxFeatures, _maxInput;

    /// <summary>Creates a network over the cells' parameters in <paramref name="parameters"/> (declared by <see cref="Specs"/>
    /// with the same prefix, possibly among other tensors such as a head's).</summary>
    /// <param name="cells">One cell per layer and direction, layer by layer, forward direction first.</param>
    /// <param name="parameters">The set holding the cells' tensors under <paramref name="prefix"/>.</param>
    /// <param name="prefix">Prefix of the cells' tensor names.</param>
    /// <param name="bidirectional">Whether each layer has a reverse-direction cell.</param>
    /// <param name="merge">How a bidirectional layer joins its two directions' outputs.</param>
    /// <param name="pool">Buffers for calls and tapes; <see cref="ArrayPool{T}.Shared"/> when null.</param>
    /// <exception cref="ArgumentException">No cells, an odd count for a bidirectional network, a cell's sizes out of
    /// range, a layer's input size that does not match the layer below, directions of unequal output sizes, or a
    /// tensor missing from <paramref name="parameters"/> or of another shape.</exception>
    public CellNetwork(IReadOnlyList<IRecurrentCell> cells, ParameterSet parameters, string prefix = "", bool bidirectional = false, DirectionMerge merge = DirectionMerge.Concatenate, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        _shapes = Describe(cells, bidirectional, merge);
        _cells = [.. cells];
        Parameters = parameters;
        Prefix = prefix;
        Directions = bidirectional ? 2 : 1;
        Layers = _cells.Length / Directions;
        Merge = merge;
        Pool = pool ?? ArrayPool<float>.Shared;
        _tensors = new ParameterTensor[_cells.Length][];
        _stateOffsets = new int[_cells.Length + 1];
        for (int k = 0; k < _cells.Length; k++)
        {
            IReadOnlyList<ParameterSpec> specs = _shapes[k].Specs;
            _tensors[k] = new ParameterTensor[specs.Count];
            for (int i = 0; i < specs.Count; i++)
            {
                string name = TensorName(prefix, k, specs[i].Name);
                if (!parameters.TryGet(name, out ParameterTensor tensor))
                {
                    ThrowHelper.Argument(nameof(parameters), $"The set has no tensor '{name}' (declare the cells' tensors with CellNetwork.Specs and the same prefix).");
                }

                if (!tensor.Shape.SequenceEqual(specs[i].Shape))
                {
                    ThrowHelper.Argument(nameof(parameters), $"Tensor '{name}' is [{string.Join(", ", tensor.Shape)}]; cell {k} declares [{string.Join(", ", specs[i].Shape)}].");
                }

                _tensors[k][i] = tensor;
            }

            _stateOffsets[k + 1] = _stateOffsets[k] + _shapes[k].State;
            _maxState = Math.Max(_maxState, _shapes[k].State);
            _maxRecord = Math.Max(_maxRecord, _shapes[k].Record);
            _maxScratch = Math.Max(_maxScratch, _shapes[k].Scratch);
            _maxInput = Math.Max(_maxInput, _shapes[k].Input);
        }

        for (int layer = 0; layer < Layers; layer++)
        {
            _maxFeatures = Math.Max(_maxFeatures, LayerFeatures(layer));
        }
    }

    /// <summary>The cells, layer by layer, forward direction first.</summary>
    public IReadOnlyList<IRecurrentCell> Cells => _cells;

    /// <summary>The parameter set the cells read and whose gradients backward adds into.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Prefix of the cells' tensor names.</summary>
    public string Prefix { get; }

    /// <summary>Stacked layers.</summary>
    public int Layers { get; }

    /// <summary>1, or 2 for a bidirectional network.</summary>
    public int Directions { get; }

    /// <summary>How a bidirectional layer joins its directions' outputs.</summary>
    public DirectionMerge Merge { get; }

    /// <summary>Buffers for calls and tapes.</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>Features of x(t): the first cell's input size.</summary>
    public int InputSize => _shapes[0].Input;

    /// <summary>Features of the network's output per step: the top layer's (2·O when concatenated).</summary>
    public int OutputSize => LayerFeatures(Layers - 1);

    /// <summary>Floats of the state of one sequence over every layer and direction (Σ S_k).</summary>
    public int StateSize => _stateOffsets[^1];

    /// <summary>Creates a network with its own parameter set, initialised from <paramref name="seed"/> by
    /// <paramref name="initialization"/> (PyTorch's defaults when null; zeros when the seed is null).</summary>
    /// <inheritdoc cref="CellNetwork(IReadOnlyList{IRecurrentCell}, ParameterSet, string, bool, DirectionMerge, ArrayPool{float})"/>
    public static CellNetwork Create(
        IReadOnlyList<IRecurrentCell> cells, ulong? seed = null, bool bidirectional = false, DirectionMerge merge = DirectionMerge.Concatenate,
        RecurrentInitialization? initialization = null, string prefix = "", ArrayPool<float>? pool = null)
    {
        var parameters = ParameterSet.Create(Specs(cells, prefix, bidirectional, merge));
        if (seed is ulong s)
        {
            Initializers.Apply(parameters, initialization ?? RecurrentInitialization.PyTorch, s);
        }

        return new CellNetwork(cells, parameters, prefix, bidirectional, merge, pool);
    }

    /// <summary>The cells' tensors under their network names (<c>{prefix}l{layer}[_reverse].{name}</c>), to build a
    /// <see cref="ParameterSet"/> with, alone or with other parts.</summary>
    /// <exception cref="ArgumentException">As for the constructor.</exception>
    public static IEnumerable<ParameterSpec> Specs(IReadOnlyList<IRecurrentCell> cells, string prefix = "", bool bidirectional = false, DirectionMerge merge = DirectionMerge.Concatenate)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        CellShape[] shapes = Describe(cells, bidirectional, merge);
        var specs = new List<ParameterSpec>();
        for (int k = 0; k < shapes.Length; k++)
        {
            foreach (ParameterSpec spec in shapes[k].Specs)
            {
                specs.Add(spec with { Name = TensorName(prefix, k / (bidirectional ? 2 : 1), bidirectional && k % 2 == 1, spec.Name) });
            }
        }

        return specs;
    }

    /// <summary>A tape for <see cref="Forward(CellTape, ReadOnlySpan{float}, int, int, Span{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int})"/>
    /// and <see cref="Backward"/> (one per thread; dispose to return its buffer).</summary>
    public CellTape CreateTape() => new(this, Pool);

    /// <summary>Zero state for <paramref name="batch"/> streams, for <see cref="Step"/> and <see cref="Process"/>.</summary>
    /// <exception cref="NotSupportedException">The network is bidirectional (the reverse direction needs whole sequences).</exception>
    public CellState CreateState(int batch = 1)
    {
        if (Directions == 2)
        {
            throw new NotSupportedException("A bidirectional network needs whole sequences (its reverse direction starts at the end); use Forward.");
        }

        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfTooLarge(nameof(batch), "B·S", batch, StateSize);
        return new CellState(this, batch);
    }

    /// <summary>Runs <paramref name="input"/> [T, B, X] time-major; writes the top layer's outputs [T, B, F] into
    /// <paramref name="output"/> (0 at steps past a sequence's length).</summary>
    /// <param name="input">x, [T, B, X] time-major.</param>
    /// <param name="steps">T (0 is allowed).</param>
    /// <param name="batch">B.</param>
    /// <param name="output">[T, B, F].</param>
    /// <param name="s0">Initial states [L·D, B, S], or empty for zeros.</param>
    /// <param name="sN">Receives the final states [L·D, B, S], or empty. May be the same memory as <paramref name="s0"/>.</param>
    /// <param name="lengths">Per-sequence lengths in [0, T], or empty for all T.</param>
    /// <exception cref="ArgumentException">A span's length does not match its shape, or a length is out of range.</exception>
    public void Forward(ReadOnlySpan<float> input, int steps, int batch, Span<float> output, ReadOnlySpan<float> s0 = default, Span<float> sN = default, ReadOnlySpan<int> lengths = default)
    {
        Validate(input.Length, steps, batch, output.Length, s0.Length, sN.Length, lengths);
        int size = Checked(nameof(steps), ForwardWorkspace(steps, batch));
        float[] work = Pool.Rent(Math.Max(size, 1));
        try
        {
            RunAll(input, steps, batch, output, s0, sN, lengths, work.AsSpan(0, size), tape: null);
        }
        finally
        {
            Pool.Return(work);
        }
    }

    /// <summary>
    /// As <see cref="Forward(ReadOnlySpan{float}, int, int, Span{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int})"/>
    /// (same arguments, same results), recording the call on <paramref name="tape"/> for <see cref="Backward"/>.
    /// </summary>
    public void Forward(CellTape tape, ReadOnlySpan<float> input, int steps, int batch, Span<float> output, ReadOnlySpan<float> s0 = default, Span<float> sN = default, ReadOnlySpan<int> lengths = default)
    {
        CheckTape(tape);
        Validate(input.Length, steps, batch, output.Length, s0.Length, sN.Length, lengths);
        tape.Begin(steps, batch, Checked(nameof(steps), TapeLength(steps, batch)), lengths, Parameters.Version);
        RunAll(input, steps, batch, output, s0, sN, lengths, default, tape);
        tape.IsRecorded = true;
    }

    /// <summary>One step of <paramref name="state"/>'s streams: x [B, X] → y [B, F]; the state moves on.</summary>
    public void Step(CellState state, ReadOnlySpan<float> x, Span<float> y) => Process(state, x, 1, y);

    /// <summary><paramref name="steps"/> steps of <paramref name="state"/>'s streams, x [T, B, X] → y [T, B, F]: the same
    /// bits as one <see cref="Forward(ReadOnlySpan{float}, int, int, Span{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{int})"/>
    /// over the whole stream, however it is cut.</summary>
    public void Process(CellState state, ReadOnlySpan<float> x, int steps, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Network != this)
        {
            ThrowHelper.Argument(nameof(state), "The state belongs to another network.");
        }

        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        ThrowHelper.ThrowIfLengthIsNot(x.Length, nameof(x), "T·B·X", steps, state.Batch, InputSize);
        ThrowHelper.ThrowIfLengthIsNot(y.Length, nameof(y), "T·B·F", steps, state.Batch, OutputSize);
        Forward(x, steps, state.Batch, y, state.State, state.State);
        state.Steps += steps;
    }

    /// <summary>
    /// Backpropagation through time over the call recorded on <paramref name="tape"/>: adds dL/dθ into
    /// <see cref="ParameterSet.Gradients"/>.
    /// </summary>
    /// <param name="tape">The tape of the latest recording forward call (parameters unchanged since).</param>
    /// <param name="gradOutput">dL/d(output) [T, B, F], or empty for zero. Entries at padded steps are ignored.</param>
    /// <param name="gradSN">dL/ds_n [L·D, B, S], or empty for zero.</param>
    /// <param name="gradInput">Receives (added into) dL/dx [T, B, X], or empty: not wanted.</param>
    /// <param name="gradS0">Receives (added into) dL/ds0 [L·D, B, S], or empty.</param>
    /// <exception cref="InvalidOperationException">The tape holds no record, or the parameters changed since.</exception>
    /// <exception cref="NotSupportedException">A cell does not implement backward.</exception>
    public void Backward(CellTape tape, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> gradSN = default, Span<float> gradInput = default, Span<float> gradS0 = default)
    {
        CheckTape(tape);
        if (!tape.IsRecorded)
        {
            ThrowHelper.InvalidOperation("The tape holds no forward call; run Forward with it first.");
        }

        if (tape.ParameterVersion != Parameters.Version)
        {
            ThrowHelper.InvalidOperation("The parameters changed after the forward call was recorded; run Forward again.");
        }

        int steps = tape.Steps, batch = tape.Batch;
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradOutput.Length, (long)steps * batch * OutputSize, nameof(gradOutput), "T·B·F");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradSN.Length, (long)batch * StateSize, nameof(gradSN), "L·D·B·S");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradInput.Length, (long)steps * batch * InputSize, nameof(gradInput), "T·B·X");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradS0.Length, (long)batch * StateSize, nameof(gradS0), "L·D·B·S");

        TapeLayout l = new(this, steps, batch);
        Span<float> all = tape.Buffer;
        ReadOnlySpan<int> lengths = tape.Lengths;
        ReadOnlySpan<float> dOut = gradOutput;
        Span<float> dS = all.Slice(l.DState, batch * _maxState), dPrev = all.Slice(l.DState + (batch * _maxState), batch * _maxState);
        Span<float> row = all.Slice(l.Row, _maxInput), scratch = all.Slice(l.Scratch, _maxScratch);
        for (int layer = Layers - 1; layer >= 0; layer--)
        {
            int inSize = _shapes[layer * Directions].Input, features = LayerFeatures(layer);
            ReadOnlySpan<float> layerIn = layer == 0 ? all.Slice(l.Input, steps * batch * inSize) : all.Slice(l.Output(layer - 1), steps * batch * inSize);
            Span<float> dIn = layer == 0 ? gradInput : all.Slice(l.DInput(layer), steps * batch * inSize);
            if (layer > 0)
            {
                dIn.Clear();
            }

            for (int dir = 0; dir < Directions; dir++)
            {
                int k = (layer * Directions) + dir;
                var d = new DirectionCall(this, k, steps, batch, lengths, layerIn, inSize, features, OutputOffset(k))
                {
                    States = all.Slice(l.States(k), (steps + 1) * batch * _shapes[k].State),
                    Records = all.Slice(l.Records(k), steps * batch * _shapes[k].Record),
                    Scratch = scratch[.._shapes[k].Scratch],
                    KeepAll = true,
                };
                d.Backward(dOut, StateBlock(gradSN, k, batch), dIn, StateBlock(gradS0, k, batch), dS, dPrev, row);
            }

            dOut = dIn;
        }
    }

    /// <summary>The state after the first <paramref name="steps"/> steps of the call recorded on <paramref name="tape"/>,
    /// [L, B, S] (unidirectional networks; truncated BPTT carries it into the next window).</summary>
    internal void ReadRecordedState(CellTape tape, int steps, Span<float> state)
    {
        int batch = tape.Batch;
        TapeLayout l = new(this, tape.Steps, batch);
        for (int k = 0; k < _cells.Length; k++)
        {
            int block = batch * _shapes[k].State;
            tape.Buffer.Slice(l.States(k) + (steps * block), block).CopyTo(state.Slice(batch * _stateOffsets[k], block));
        }
    }

    private static string TensorName(string prefix, int layer, bool reverse, string name) => $"{prefix}l{layer}{(reverse ? "_reverse" : "")}.{name}";

    private string TensorName(string prefix, int k, string name) => TensorName(prefix, k / Directions, Directions == 2 && k % 2 == 1, name);

    private static CellShape[] Describe(IReadOnlyList<IRecurrentCell> cells, bool bidirectional, DirectionMerge merge)
    {
        ArgumentNullException.ThrowIfNull(cells);
        int directions = bidirectional ? 2 : 1;
        if (cells.Count == 0 || cells.Count % directions != 0)
        {
            ThrowHelper.Argument(nameof(cells), bidirectional
                ? $"A bidirectional network needs two cells per layer (forward, reverse); got {cells.Count}."
                : "Give at least one cell.");
        }

        if (!Enum.IsDefined(merge))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(merge), $"Undefined merge {merge}.");
        }

        var shapes = new CellShape[cells.Count];
        for (int k = 0; k < cells.Count; k++)
        {
            IRecurrentCell cell = cells[k] ?? throw new ArgumentException($"Cell {k} is null.", nameof(cells));
            var s = new CellShape(cell.InputSize, cell.StateSize, cell.OutputSize, cell.RecordSize, cell.ScratchSize, [.. cell.Parameters ?? []]);
            if (s.Input < 1 || s.State < 1 || s.Output < 1 || s.Output > s.State || s.Record < 0 || s.Scratch < 0)
            {
                ThrowHelper.Argument(nameof(cells), $"Cell {k} ({cell.GetType().Name}) has InputSize {s.Input}, StateSize {s.State}, OutputSize {s.Output}, RecordSize {s.Record}, ScratchSize {s.Scratch}: sizes must be ≥ 1 (records and scratch ≥ 0) and OutputSize ≤ StateSize.");
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (ParameterSpec spec in s.Specs)
            {
                if (spec is null || string.IsNullOrEmpty(spec.Name) || !names.Add(spec.Name))
                {
                    ThrowHelper.Argument(nameof(cells), $"Cell {k} ({cell.GetType().Name}) declares a parameter without a name, or a name twice.");
                }
            }

            shapes[k] = s;
        }

        int layers = cells.Count / directions;
        for (int layer = 0; layer < layers; layer++)
        {
            CellShape first = shapes[layer * directions];
            if (directions == 2 && shapes[(layer * 2) + 1].Output != first.Output)
            {
                ThrowHelper.Argument(nameof(cells), $"Layer {layer}'s directions have output sizes {first.Output} and {shapes[(layer * 2) + 1].Output}; they must be equal.");
            }

            int expected = layer == 0 ? first.Input : (directions == 2 && merge == DirectionMerge.Concatenate ? 2 : 1) * shapes[(layer - 1) * directions].Output;
            for (int dir = 0; dir < directions; dir++)
            {
                int input = shapes[(layer * directions) + dir].Input;
                if (input != expected)
                {
                    ThrowHelper.Argument(nameof(cells), $"Cell {(layer * directions) + dir} (layer {layer}) takes {input} input features; {(layer == 0 ? "the layer's other direction takes" : "the layer below gives")} {expected}.");
                }
            }
        }

        return shapes;
    }

    private static int Checked(string paramName, long length)
    {
        if (length > Array.MaxLength)
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"The call needs {length} floats of buffers, more than one array can hold ({Array.MaxLength}).");
        }

        return (int)length;
    }

    // Cell k's block [B, S_k] of a [L·D, B, S] state, or empty when the state is.
    private Span<float> StateBlock(Span<float> states, int k, int batch) => states.IsEmpty ? default : states.Slice(batch * _stateOffsets[k], batch * _shapes[k].State);

    private ReadOnlySpan<float> StateBlock(ReadOnlySpan<float> states, int k, int batch) => states.IsEmpty ? default : states.Slice(batch * _stateOffsets[k], batch * _shapes[k].State);

    private int LayerFeatures(int layer)
    {
        int o = _shapes[layer * Directions].Output;
        return Directions == 2 && Merge == DirectionMerge.Concatenate ? 2 * o : o;
    }

    private int OutputOffset(int k) => k % Directions == 1 && Merge == DirectionMerge.Concatenate ? _shapes[k].Output : 0;

    private void CheckTape(CellTape tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (tape.Owner != this)
        {
            ThrowHelper.Argument(nameof(tape), "The tape belongs to another network.");
        }
    }

    private void Validate(int inputLength, int steps, int batch, int outputLength, int s0Length, int sNLength, ReadOnlySpan<int> lengths)
    {
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(inputLength, "input", "T·B·X", steps, batch, InputSize);
        ThrowHelper.ThrowIfLengthIsNot(outputLength, "output", "T·B·F", steps, batch, OutputSize);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(s0Length, "s0", "B·ΣS", batch, StateSize);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(sNLength, "sN", "B·ΣS", batch, StateSize);
        if (!lengths.IsEmpty)
        {
            ThrowHelper.ThrowIfLengthIsNot(lengths.Length, batch, nameof(lengths), "B");
            foreach (int length in lengths)
            {
                if ((uint)length > (uint)steps)
                {
                    ThrowHelper.ArgumentOutOfRange(nameof(lengths), $"Every length must be in [0, {steps}]; found {length}.");
                }
            }
        }
    }

    // The workspace of a call without a tape: two layer outputs (ping-pong), two state slots per direction, one record, scratch.
    private long ForwardWorkspace(int steps, int batch) => (2L * steps * batch * _maxFeatures) + (2L * batch * _maxState) + _maxRecord + _maxScratch;

    private long TapeLength(int steps, int batch) => new TapeLayout(this, steps, batch).Length;

    private void RunAll(ReadOnlySpan<float> input, int steps, int batch, Span<float> output, ReadOnlySpan<float> s0, Span<float> sN, ReadOnlySpan<int> lengths, Span<float> work, CellTape? tape)
    {
        TapeLayout l = new(this, steps, batch);
        Span<float> all = tape is null ? default : tape.Buffer;
        ReadOnlySpan<float> layerIn = input;
        if (tape is not null)
        {
            Span<float> copy = all.Slice(l.Input, input.Length);
            input.CopyTo(copy);
            layerIn = copy;
        }

        Span<float> scratch = tape is null ? work.Slice(work.Length - _maxScratch, _maxScratch) : all.Slice(l.Scratch, _maxScratch);
        for (int layer = 0; layer < Layers; layer++)
        {
            int inSize = _shapes[layer * Directions].Input, features = LayerFeatures(layer);
            long outLength = (long)steps * batch * features;
            Span<float> layerOut = layer == Layers - 1 ? output
                : tape is not null ? all.Slice(l.Output(layer), (int)outLength)
                : work.Slice((layer & 1) * steps * batch * _maxFeatures, (int)outLength);
            for (int dir = 0; dir < Directions; dir++)
            {
                int k = (layer * Directions) + dir;
                var d = new DirectionCall(this, k, steps, batch, lengths, layerIn, inSize, features, OutputOffset(k))
                {
                    States = tape is not null ? all.Slice(l.States(k), (steps + 1) * batch * _shapes[k].State) : work.Slice(2 * steps * batch * _maxFeatures, 2 * batch * _shapes[k].State),
                    Records = tape is not null ? all.Slice(l.Records(k), steps * batch * _shapes[k].Record) : work.Slice((2 * steps * batch * _maxFeatures) + (2 * batch * _maxState), _shapes[k].Record),
                    Scratch = scratch[.._shapes[k].Scratch],
                    KeepAll = tape is not null,
                };
                d.Forward(layerOut, addToOutput: dir == 1 && Merge == DirectionMerge.Sum, StateBlock(s0, k, batch), StateBlock(sN, k, batch));
            }

            layerIn = layerOut;
        }
    }

    /// <summary>Sizes a cell reported when the network was made (a cell's properties are read once).</summary>
    private sealed record CellShape(int Input, int State, int Output, int Record, int Scratch, ParameterSpec[] Specs);

    /// <summary>Where a tape keeps what a call of T steps and B sequences records, and backward's scratch.</summary>
    private readonly struct TapeLayout
    {
        private readonly CellNetwork _n;
        private readonly int _steps, _batch;
        private readonly long _outputs, _states;

        public TapeLayout(CellNetwork network, int steps, int batch)
        {
            _n = network;
            _steps = steps;
            _batch = batch;
            long rows = (long)steps * batch;
            Input = 0;
            _outputs = rows * network.InputSize;
            _states = _outputs;
            for (int layer = 0; layer < network.Layers - 1; layer++)
            {
                _states += rows * network.LayerFeatures(layer);
            }

            long at = _states;
            foreach (CellShape s in network._shapes)
            {
                at += ((rows + batch) * s.State) + (rows * s.Record);
            }

            DInputStart = at;
            at += network.Layers > 1 ? 2 * rows * network._maxInput : 0;
            DState = (int)Math.Min(at, int.MaxValue);
            at += 2L * batch * network._maxState;
            Row = (int)Math.Min(at, int.MaxValue);
            at += network._maxInput;
            Scratch = (int)Math.Min(at, int.MaxValue);
            Length = at + network._maxScratch;
        }

        public int Input { get; }

        public long DInputStart { get; }

        public int DState { get; }

        public int Row { get; }

        public int Scratch { get; }

        public long Length { get; }

        public int Output(int layer)
        {
            long at = _outputs, rows = (long)_steps * _batch;
            for (int i = 0; i < layer; i++)
            {
                at += rows * _n.LayerFeatures(i);
            }

            return (int)at;
        }

        public int States(int k)
        {
            long at = _states, rows = (long)_steps * _batch;
            for (int i = 0; i < k; i++)
            {
                at += ((rows + _batch) * _n._shapes[i].State) + (rows * _n._shapes[i].Record);
            }

            return (int)at;
        }

        public int Records(int k) => States(k) + (((_steps + 1) * _batch) * _n._shapes[k].State);

        // Layer l's dL/d(input) is layer l − 1's output gradient: layer l − 1 reads it while writing its own, so
        // the layers alternate between two buffers.
        public int DInput(int layer) => (int)(DInputStart + ((layer & 1) * (long)_steps * _batch * _n._maxInput));
    }

    /// <summary>One (layer, direction) over the steps of one call.</summary>
    private ref struct DirectionCall
    {
        private readonly CellNetwork _n;
        private readonly IRecurrentCell _cell;
        private readonly ReadOnlySpan<ParameterTensor> _tensors;
        private readonly ReadOnlySpan<int> _lengths;
        private readonly ReadOnlySpan<float> _input;
        private readonly int _steps, _batch, _inSize, _features, _offset, _state, _output, _record;
        private readonly bool _reverse;

        public DirectionCall(CellNetwork network, int k, int steps, int batch, ReadOnlySpan<int> lengths, ReadOnlySpan<float> input, int inSize, int features, int offset)
        {
            _n = network;
            _cell = network._cells[k];
            _tensors = network._tensors[k];
            _lengths = lengths;
            _input = input;
            _steps = steps;
            _batch = batch;
            _inSize = inSize;
            _features = features;
            _offset = offset;
            _state = network._shapes[k].State;
            _output = network._shapes[k].Output;
            _record = network._shapes[k].Record;
            _reverse = network.Directions == 2 && k % 2 == 1;
        }

        public Span<float> States { get; init; }

        public Span<float> Records { get; init; }

        public Span<float> Scratch { get; init; }

        public bool KeepAll { get; init; }

        public readonly void Forward(Span<float> output, bool addToOutput, ReadOnlySpan<float> s0, Span<float> sN)
        {
            int block = _batch * _state;
            Span<float> first = States[..block];
            if (s0.IsEmpty)
            {
                first.Clear();
            }
            else
            {
                s0.CopyTo(first);
            }

            ReadOnlySpan<float> values = _n.Parameters.Values;
            for (int p = 0; p < _steps; p++)
            {
                int t = _reverse ? _steps - 1 - p : p;
                Span<float> before = Slot(p), after = Slot(p + 1);
                for (int b = 0; b < _batch; b++)
                {
                    Span<float> sPrev = before.Slice(b * _state, _state), s = after.Slice(b * _state, _state);
                    Span<float> y = output.Slice((((t * _batch) + b) * _features) + _offset, _output);
                    if (!Active(b, t))
                    {
                        sPrev.CopyTo(s);
                        if (!addToOutput)
                        {
                            y.Clear();
                        }

                        continue;
                    }

                    Span<float> record = KeepAll ? Records.Slice(((p * _batch) + b) * _record, _record) : Records[.._record];
                    _cell.Forward(new CellStep(values, _tensors, _input.Slice(((t * _batch) + b) * _inSize, _inSize), sPrev, s, record, Scratch));
                    if (addToOutput)
                    {
                        TensorPrimitives.Add(y, s[.._output], y);
                    }
                    else
                    {
                        s[.._output].CopyTo(y);
                    }
                }
            }

            if (!sN.IsEmpty)
            {
                Slot(_steps).CopyTo(sN);
            }
        }

        public readonly void Backward(ReadOnlySpan<float> dOut, ReadOnlySpan<float> dSN, Span<float> dIn, Span<float> dS0, Span<float> dSAll, Span<float> dPrevAll, Span<float> row)
        {
            int block = _batch * _state;
            Span<float> dS = dSAll[..block], dPrev = dPrevAll[..block];
            if (dSN.IsEmpty)
            {
                dS.Clear();
            }
            else
            {
                dSN.CopyTo(dS);
            }

            ReadOnlySpan<float> values = _n.Parameters.Values;
            Span<float> gradients = _n.Parameters.Gradients;
            Span<float> dxRow = row[.._inSize];
            for (int p = _steps - 1; p >= 0; p--)
            {
                int t = _reverse ? _steps - 1 - p : p;
                Span<float> before = Slot(p), after = Slot(p + 1);
                for (int b = 0; b < _batch; b++)
                {
                    Span<float> ds = dS.Slice(b * _state, _state), dp = dPrev.Slice(b * _state, _state);
                    if (!Active(b, t))
                    {
                        ds.CopyTo(dp);
                        continue;
                    }

                    if (!dOut.IsEmpty)
                    {
                        Span<float> dy = ds[.._output];
                        TensorPrimitives.Add(dy, dOut.Slice((((t * _batch) + b) * _features) + _offset, _output), dy);
                    }

                    dp.Clear();
                    int at = ((t * _batch) + b) * _inSize;
                    Span<float> dx = dIn.IsEmpty ? dxRow : dIn.Slice(at, _inSize);
                    if (dIn.IsEmpty)
                    {
                        dx.Clear();
                    }

                    _cell.Backward(new CellGradientStep(
                        values, gradients, _tensors, _input.Slice(at, _inSize), before.Slice(b * _state, _state), after.Slice(b * _state, _state),
                        Records.Slice(((p * _batch) + b) * _record, _record), Scratch, ds, dp, dx));
                }

                Span<float> swap = dS;
                dS = dPrev;
                dPrev = swap;
            }

            if (!dS0.IsEmpty)
            {
                TensorPrimitives.Add(dS0, dS, dS0);
            }
        }

        private readonly Span<float> Slot(int p) => States.Slice((KeepAll ? p : p & 1) * _batch * _state, _batch * _state);

        private readonly bool Active(int b, int t) => _lengths.IsEmpty || t < _lengths[b];
    }
}
