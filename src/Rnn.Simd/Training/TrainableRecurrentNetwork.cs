using System.Buffers;
using System.Numerics.Tensors;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// A recurrent stack (Elman, LSTM or GRU; stacked, bidirectional, with projection) whose parameters live in a
/// <see cref="ParameterSet"/> under PyTorch's names and layout, with a recording forward pass and backpropagation
/// through time (seeds 003, 004).
/// </summary>
/// <remarks>
/// <para><see cref="Forward"/> computes exactly what <see cref="RecurrentNetwork.Forward"/> computes (the same bits)
/// and records on a <see cref="RecurrentTape"/> what <see cref="Backward"/> needs. <see cref="Backward"/> adds
/// dL/d(every parameter) into <see cref="ParameterSet.Gradients"/> and dL/d(input, h0, c0) into the caller's
/// buffers: gradients only ever accumulate; zeroing them (<see cref="ParameterSet.ZeroGradients"/>) is separate.</para>
/// <para>When the parameter values change (<see cref="ParameterSet.Version"/> moves: an optimiser step), the next
/// forward call re-packs the weights in place. A trainable network is driven by one thread at a time; give every
/// training thread its own network. For serving, take a snapshot with <see cref="ToInferenceNetwork"/>.</para>
/// <para>No allocation per call once the tape has grown to the call's size; results are bit-identical for every
/// vector width and thread count.</para>
/// </remarks>
public sealed class TrainableRecurrentNetwork
{
    private const int TensorsPerDirection = 5;   // weight_ih, weight_hh, bias_ih, bias_hh, weight_hr
    private readonly DirectionWeights[] _weights;
    private readonly ParameterTensor?[] _tensors;
    private long _packedVersion = -1;
    private DropoutOptions? _dropout;
    private DropoutOptions? _packedDropout;    // the weight drop packed into _weights (null: W_hh as it is)
    private long _packedDropStep;
    private float[]? _weightDropMasks;         // [L·D, G·H·Hout] the W_hh masks packed: 0 or 1/(1 − p)
    private float[]? _weightDropScratch;       // [G·H·Hout] W_hh ⊙ mask for packing; dL/d(W_hh ⊙ mask) in backward
    private long _dropoutStep;

    /// <summary>
    /// Binds a network to the tensors of <paramref name="parameters"/> named <c>{prefix}weight_ih_l{k}</c> and so on
    /// (see <see cref="RecurrentNetworkOptions.ParameterSpecs"/>); the set may hold other modules' tensors too.
    /// Biases are optional (both of a direction or neither).
    /// </summary>
    /// <exception cref="ArgumentException">A tensor is missing or has the wrong shape.</exception>
    public TrainableRecurrentNetwork(RecurrentNetworkOptions options, ParameterSet parameters, string prefix = "", ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        options.Validate(nameof(options));
        if (options.IsExtended)
        {
            string[] set = [.. new (bool On, string Name)[]
            {
                (options.Activations is not null, nameof(options.Activations)), (options.CellClip != 0, nameof(options.CellClip)),
                (options.CoupledInputForget, nameof(options.CoupledInputForget)), (options.Peepholes, nameof(options.Peepholes)),
            }.Where(e => e.On).Select(e => e.Name)];
            ThrowHelper.Argument(nameof(options), $"{string.Join(" and ", set)} {(set.Length == 1 ? "is an inference option" : "are inference options")} (ONNX's extras: Activations, CellClip, CoupledInputForget, Peepholes); training with them is not supported.");
        }


        Options = options;
        Parameters = parameters;
        Prefix = prefix;
        Pool = pool ?? ArrayPool<float>.Shared;
        int states = options.Layers * options.Directions;
        _weights = new DirectionWeights[states];
        _tensors = new ParameterTensor?[states * TensorsPerDirection];
        var expected = options.ParameterSpecs(prefix, bias: true).ToDictionary(s => s.Name, StringComparer.Ordinal);
        for (int layer = 0; layer < options.Layers; layer++)
        {
            int inputSize = layer == 0 ? options.InputSize : options.LayerOutputSize;
            for (int dir = 0; dir < options.Directions; dir++)
            {
                int state = (layer * options.Directions) + dir;
                string suffix = $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                ParameterTensor? Bind(string name, bool required)
                {
                    string full = prefix + name + suffix;
                    return parameters.Bind(full, expected[full].Shape, required, nameof(parameters));
                }

                int at = state * TensorsPerDirection;
                _tensors[at] = Bind("weight_ih", required: true);
                _tensors[at + 1] = Bind("weight_hh", required: true);
                _tensors[at + 2] = Bind("bias_ih", required: false);
                _tensors[at + 3] = Bind("bias_hh", required: false);
                _tensors[at + 4] = options.ProjectionSize > 0 ? Bind("weight_hr", required: true) : null;
                if ((_tensors[at + 2] is null) != (_tensors[at + 3] is null))
                {
                    ThrowHelper.Argument(nameof(parameters), $"Layer {layer} has only one of bias_ih and bias_hh; give both or neither.");
                }

                _weights[state] = DirectionWeights.Create(options, inputSize, backward: true);
            }
        }
    }

    /// <summary>The architecture.</summary>
    public RecurrentNetworkOptions Options { get; }

    /// <summary>The parameters (values and gradients) this network reads and writes.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The name prefix of this network's tensors in <see cref="Parameters"/>.</summary>
    public string Prefix { get; }

    /// <summary>The pool tapes and scratch are rented from.</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>
    /// Dropout of the training forward passes (between layers, on the output, on W_hh), or null for none. Inference
    /// (<see cref="ToInferenceNetwork"/>) never drops anything.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to options with a rate outside [0, 1).</exception>
    public DropoutOptions? Dropout
    {
        get => _dropout;
        set
        {
            value?.Validate(nameof(value));
            _dropout = value;
        }
    }

    /// <summary>
    /// The step the next <see cref="Forward"/> draws its dropout masks for (with <see cref="DropoutOptions.Seed"/>);
    /// every <see cref="Forward"/> moves it one on. A resumed run sets it to the number of forward passes already
    /// trained (one per update in the usual loop) and so draws the masks an uninterrupted run would have drawn.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative value.</exception>
    public long DropoutStep
    {
        get => _dropoutStep;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _dropoutStep = value;
        }
    }

    /// <summary>The dropout in force: null when none is set or every rate is 0.</summary>
    internal DropoutOptions? ActiveDropout => _dropout is { IsActive: true } d ? d : null;

    /// <summary>A network with its own parameter set (values zero until initialised or loaded).</summary>
    public static TrainableRecurrentNetwork Create(RecurrentNetworkOptions options, string prefix = "", bool bias = true, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new TrainableRecurrentNetwork(options, ParameterSet.Create(options.ParameterSpecs(prefix, bias)), prefix, pool);
    }

    /// <summary>A network with its own parameter set, loaded from PyTorch-named arrays (as <see cref="RecurrentNetwork.FromPyTorch"/>).</summary>
    public static TrainableRecurrentNetwork FromPyTorch(RecurrentNetworkOptions options, IReadOnlyDictionary<string, float[]> parameters, string prefix = "", ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        bool bias = parameters.ContainsKey(prefix + "bias_ih_l0");
        TrainableRecurrentNetwork network = Create(options, prefix, bias, pool);
        network.Parameters.Load(parameters);
        return network;
    }

    /// <summary>A tape for this network (grows to the size of the calls it records).</summary>
    public RecurrentTape CreateTape() => new(this, Pool);

    /// <summary>An immutable inference network with the current parameter values (a copy).</summary>
    public RecurrentNetwork ToInferenceNetwork() => RecurrentNetwork.FromPyTorch(Options, Parameters.ToDictionary(), Prefix, Pool);

    /// <summary>
    /// Runs the network as <see cref="RecurrentNetwork.Forward"/> does (same arguments, same results) and records the
    /// call on <paramref name="tape"/> for <see cref="Backward"/>.
    /// </summary>
    public void Forward(
        RecurrentTape tape, ReadOnlySpan<float> input, int steps, int batch, Span<float> output,
        ReadOnlySpan<float> h0 = default, ReadOnlySpan<float> c0 = default,
        Span<float> hN = default, Span<float> cN = default,
        ReadOnlySpan<int> lengths = default, bool batchFirst = false, ThreadTeam? threads = null, bool lastStepOnly = false)
    {
        CheckTape(tape);
        RecurrentNetworkOptions o = Options;
        RecurrentNetwork.ValidateForward(o, input.Length, steps, batch, output.Length, h0.Length, c0.Length, hN.Length, cN.Length, lengths, lastStepOnly);
        DropoutOptions? dropout = ActiveDropout;
        long dropoutStep = _dropoutStep;
        EnsurePacked(dropout, dropoutStep, threads);
        bool masks = dropout is not null && (dropout.OutputDropout > 0 || (dropout.Dropout > 0 && o.Layers > 1));
        bool inputMasks = dropout is { InputDropout: > 0 };
        bool recurrentMasks = dropout is { RecurrentDropout: > 0 };
        var plan = new TrainingPlan(o, steps, batch, masks, inputMasks, recurrentMasks);
        Span<float> all = tape.Begin(plan, lengths, batchFirst, lastStepOnly, Parameters.Version, dropout, dropoutStep);
        Span<float> x = plan.Input(all);
        if (batchFirst)
        {
            RecurrentNetwork.ToTimeMajor(input, x, steps, batch, o.InputSize);
        }
        else
        {
            input.CopyTo(x);
        }

        Span<float> forwardScratch = plan.ForwardScratch(all);
        Span<float> layerIn = x;
        int layerInSize = o.InputSize;
        for (int layer = 0; layer < o.Layers; layer++)
        {
            if (inputMasks)
            {
                // Variational dropout: one mask per sequence over the input features, the same at every step.
                Span<float> mask = plan.InputMask(all, layer, layerInSize);
                DropoutMask.Fill(mask, dropout!.InputDropout, DropoutMask.Key(dropout.Seed, dropoutStep, DropoutMask.Input, layer));
                MultiplyRows(layerIn, mask, steps);
            }

            Span<float> layerOut = plan.LayerOutput(all, layer);
            for (int dir = 0; dir < o.Directions; dir++)
            {
                int state = (layer * o.Directions) + dir;
                Span<float> recurrentMask = recurrentMasks ? plan.RecurrentMask(all, state) : default;
                if (recurrentMasks)
                {
                    DropoutMask.Fill(recurrentMask, dropout!.RecurrentDropout, DropoutMask.Key(dropout.Seed, dropoutStep, DropoutMask.Recurrent, state));
                }

                var run = new DirectionRun(o, _weights[state], plan.Forward, forwardScratch, steps, batch, threads, Pool)
                {
                    RecurrentMask = recurrentMask,
                    MaskedState = recurrentMasks ? plan.MaskedState(all) : default,
                    Reverse = dir == 1 || o.Reverse,
                    OutputOffset = dir == 1 && o.Merge == DirectionMerge.Concatenate ? o.OutputSize : 0,
                    AddToOutput = dir == 1 && o.Merge == DirectionMerge.Sum,
                };
                run.Execute(
                    layerIn, layerInSize, layerOut, lengths,
                    StateSlice(h0, state, batch, o.OutputSize), StateSlice(c0, state, batch, o.HiddenSize),
                    StateSlice(hN, state, batch, o.OutputSize), StateSlice(cN, state, batch, o.HiddenSize),
                    plan.Record(all, state, o));
            }

            if (masks && OutputRate(dropout!, layer) is > 0 and float rate)
            {
                // The dropped output is what the next layer (or the caller) sees; this layer's backward reads only its
                // record, which keeps the states it produced.
                Span<float> mask = plan.OutputMask(all, layer);
                DropoutMask.Fill(mask, rate, DropoutMask.Key(dropout!.Seed, dropoutStep, DropoutMask.LayerOutput, layer));
                TensorPrimitives.Multiply(layerOut, mask, layerOut);
            }

            layerIn = layerOut;
            layerInSize = o.LayerOutputSize;
        }

        RecurrentNetwork.WriteOutput(layerIn, output, steps, batch, o.LayerOutputSize, lengths, batchFirst, lastStepOnly);
        tape.Complete();
        _dropoutStep = dropoutStep + 1;
    }

    /// <summary>
    /// Backpropagation through time over the call recorded on <paramref name="tape"/>.
    /// </summary>
    /// <param name="tape">The tape of the latest <see cref="Forward"/> call (parameters unchanged since).</param>
    /// <param name="gradOutput">dL/d(output), in the layout forward wrote <c>output</c> ([T, B, F], [B, T, F], or [B, F] for
    /// last-step-only); empty for zero. Entries at padded steps are ignored: those outputs are constant 0.</param>
    /// <param name="gradHN">dL/dh_n [L·D, B, Hout], or empty for zero.</param>
    /// <param name="gradCN">LSTM: dL/dc_n [L·D, B, H], or empty for zero.</param>
    /// <param name="gradInput">Receives (added into) dL/d(input) in the input's layout, or empty: not wanted.</param>
    /// <param name="gradH0">Receives (added into) dL/dh0 [L·D, B, Hout], or empty.</param>
    /// <param name="gradC0">LSTM: receives (added into) dL/dc0 [L·D, B, H], or empty.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <param name="hiddenGradientNorms">
    /// Diagnostics, or empty: receives ‖dL/dh_t‖₂ (over the batch and features) for every layer, direction and step,
    /// [L·D, T], t in time order. Falling norms with distance from the loss are vanishing gradients; growing ones,
    /// exploding gradients (seeds 002, 004).
    /// </param>
    /// <exception cref="InvalidOperationException">The tape holds no record, or the parameters changed since it was made.</exception>
    public void Backward(
        RecurrentTape tape, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> gradHN = default, ReadOnlySpan<float> gradCN = default,
        Span<float> gradInput = default, Span<float> gradH0 = default, Span<float> gradC0 = default, ThreadTeam? threads = null,
        Span<float> hiddenGradientNorms = default)
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

        RecurrentNetworkOptions o = Options;
        TrainingPlan plan = tape.Plan;
        int steps = plan.Steps, batch = plan.Batch, states = o.Layers * o.Directions, features = o.LayerOutputSize;
        bool lstm = o.Cell == CellType.Lstm;
        ReadOnlySpan<int> lengths = tape.Lengths;
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradOutput.Length, (tape.LastStepOnly ? 1L : steps) * batch * features, nameof(gradOutput), tape.LastStepOnly ? "B·F" : "T·B·F");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradHN.Length, (long)states * batch * o.OutputSize, nameof(gradHN), "L·D·B·Hout");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradCN.Length, lstm ? (long)states * batch * o.HiddenSize : 0, nameof(gradCN), "L·D·B·H (LSTM only)");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradInput.Length, (long)steps * batch * o.InputSize, nameof(gradInput), "T·B·X");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradH0.Length, (long)states * batch * o.OutputSize, nameof(gradH0), "L·D·B·Hout");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradC0.Length, lstm ? (long)states * batch * o.HiddenSize : 0, nameof(gradC0), "L·D·B·H (LSTM only)");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(hiddenGradientNorms.Length, (long)states * steps, nameof(hiddenGradientNorms), "L·D·T");

        DropoutOptions? dropout = tape.Dropout;
        EnsurePacked(dropout, tape.DropoutStep, threads);
        bool weightDrop = dropout is { WeightDrop: > 0 };
        Span<float> all = tape.Buffer;
        Span<float> top = plan.OutputGradient(all, o.Layers - 1, o.Layers);
        if (gradOutput.IsEmpty)
        {
            top.Clear();
        }
        else if (tape.LastStepOnly)
        {
            top.Clear();
            for (int b = 0; b < batch; b++)
            {
                int last = (lengths.IsEmpty ? steps : lengths[b]) - 1;
                if (last >= 0)
                {
                    gradOutput.Slice(b * features, features).CopyTo(top.Slice(((last * batch) + b) * features, features));
                }
            }
        }
        else if (tape.BatchFirst)
        {
            RecurrentNetwork.ToTimeMajor(gradOutput, top, steps, batch, features);
        }
        else
        {
            gradOutput.CopyTo(top);
        }

        if (plan.HasOutputMasks && OutputRate(dropout!, o.Layers - 1) > 0)
        {
            TensorPrimitives.Multiply(top, plan.OutputMask(all, o.Layers - 1), top);
        }

        BackwardScratch scratch = plan.Backward(all, o);
        for (int layer = o.Layers - 1; layer >= 0; layer--)
        {
            ReadOnlySpan<float> dOut = plan.OutputGradient(all, layer, o.Layers);
            ReadOnlySpan<float> layerIn = layer == 0 ? plan.Input(all) : plan.LayerOutput(all, layer - 1);
            int layerInSize = layer == 0 ? o.InputSize : features;
            Span<float> dIn = layer > 0 ? plan.OutputGradient(all, layer - 1, o.Layers) : gradInput.IsEmpty ? default : plan.InputGradient(all);
            for (int dir = 0; dir < o.Directions; dir++)
            {
                int state = (layer * o.Directions) + dir;
                Span<float> droppedGradient = weightDrop ? _weightDropScratch : default;
                droppedGradient.Clear();
                var run = new DirectionBackward(o, _weights[state], plan.Record(all, state, o), scratch, steps, batch, threads, Pool)
                {
                    RecurrentMask = plan.HasRecurrentMasks ? plan.RecurrentMask(all, state) : default,
                    MaskedStates = plan.HasRecurrentMasks ? plan.MaskedStates(all) : default,
                    MaskedGradient = plan.HasRecurrentMasks ? plan.MaskedGradient(all) : default,
                    Reverse = dir == 1 || o.Reverse,
                    OutputOffset = dir == 1 && o.Merge == DirectionMerge.Concatenate ? o.OutputSize : 0,
                };
                run.Execute(
                    layerIn, layerInSize, dOut, lengths,
                    StateSlice(gradHN, state, batch, o.OutputSize), StateSlice(gradCN, state, batch, o.HiddenSize),
                    dIn, accumulateDx: dir > 0,
                    StateSlice(gradH0, state, batch, o.OutputSize), StateSlice(gradC0, state, batch, o.HiddenSize),
                    Gradients(state, droppedGradient),
                    hiddenGradientNorms.IsEmpty ? default : hiddenGradientNorms.Slice(state * steps, steps));
                if (weightDrop)
                {
                    // dL/dW_hh = dL/d(W_hh ⊙ M) ⊙ M, M holding 0 or 1/(1 − p); added into the gradient.
                    Span<float> gradHh = Parameters.Gradient(_tensors[(state * TensorsPerDirection) + 1]!);
                    TensorPrimitives.Multiply(droppedGradient, WeightDropMask(state), droppedGradient);
                    TensorPrimitives.Add(gradHh, droppedGradient, gradHh);
                }
            }

            if (steps == 0 && !dIn.IsEmpty)
            {
                dIn.Clear();
            }

            if (plan.HasInputMasks && !dIn.IsEmpty)
            {
                MultiplyRows(dIn, plan.InputMask(all, layer, layerInSize), steps);
            }

            if (layer > 0 && plan.HasOutputMasks && OutputRate(dropout!, layer - 1) > 0)
            {
                TensorPrimitives.Multiply(dIn, plan.OutputMask(all, layer - 1), dIn);
            }
        }

        if (!gradInput.IsEmpty && steps > 0)
        {
            AddInputGradient(plan.InputGradient(all), gradInput, steps, batch, o.InputSize, tape.BatchFirst);
        }
    }

    /// <summary>
    /// Copies the recorded state after <paramref name="stepsDone"/> steps of the tape's call (slot 0 = the initial state)
    /// into h [L, B, Hout] and (LSTM) c [L, B, H]. Unidirectional networks only (truncated BPTT carries these).
    /// </summary>
    internal void ReadRecordedState(RecurrentTape tape, int stepsDone, Span<float> h, Span<float> c)
    {
        RecurrentNetworkOptions o = Options;
        TrainingPlan plan = tape.Plan;
        Span<float> all = tape.Buffer;
        int batch = plan.Batch;
        for (int layer = 0; layer < o.Layers; layer++)
        {
            DirectionRecord record = plan.Record(all, layer, o);
            record.HSlot(stepsDone, batch).CopyTo(h.Slice(layer * batch * o.OutputSize, batch * o.OutputSize));
            if (o.Cell == CellType.Lstm)
            {
                record.CSlot(stepsDone, batch).CopyTo(c.Slice(layer * batch * o.HiddenSize, batch * o.HiddenSize));
            }
        }
    }

    /// <summary>The dropout rate of layer <paramref name="layer"/>'s output: between layers, or on the stack's output for the last.</summary>
    private float OutputRate(DropoutOptions dropout, int layer) => layer == Options.Layers - 1 ? dropout.OutputDropout : dropout.Dropout;

    /// <summary>The gradients of one direction; <paramref name="weightHh"/> replaces W_hh's when not empty (weight drop).</summary>
    private DirectionGradients Gradients(int state, Span<float> weightHh)
    {
        int at = state * TensorsPerDirection;
        ParameterSet p = Parameters;
        return new DirectionGradients(
            p.Gradient(_tensors[at]!),
            weightHh.IsEmpty ? p.Gradient(_tensors[at + 1]!) : weightHh,
            _tensors[at + 2] is { } bih ? p.Gradient(bih) : default,
            _tensors[at + 3] is { } bhh ? p.Gradient(bhh) : default,
            _tensors[at + 4] is { } hr ? p.Gradient(hr) : default);
    }

    /// <summary>
    /// Re-packs the weights when the parameter values changed since the last pack, or the weight drop (its options or
    /// its step) differs from the one packed: with weight drop, W_hh ⊙ M is packed, M the step's mask.
    /// </summary>
    private void EnsurePacked(DropoutOptions? dropout, long step, ThreadTeam? team)
    {
        ParameterSet p = Parameters;
        DropoutOptions? weightDrop = dropout is { WeightDrop: > 0 } ? dropout : null;
        if (_packedVersion == p.Version && ReferenceEquals(_packedDropout, weightDrop) && (weightDrop is null || _packedDropStep == step))
        {
            return;
        }

        for (int state = 0; state < _weights.Length; state++)
        {
            int at = state * TensorsPerDirection;
            ReadOnlySpan<float> weightHh = p.Value(_tensors[at + 1]!);
            if (weightDrop is not null)
            {
                _weightDropScratch ??= new float[weightHh.Length];
                Span<float> mask = WeightDropMask(state);
                DropoutMask.Fill(mask, weightDrop.WeightDrop, DropoutMask.Key(weightDrop.Seed, step, DropoutMask.WeightDrop, state));
                TensorPrimitives.Multiply(weightHh, mask, _weightDropScratch);
                weightHh = _weightDropScratch;
            }

            _weights[state].Load(
                p.Value(_tensors[at]!),
                weightHh,
                _tensors[at + 2] is { } bih ? p.Value(bih) : default,
                _tensors[at + 3] is { } bhh ? p.Value(bhh) : default,
                _tensors[at + 4] is { } hr ? p.Value(hr) : default,
                team);
        }

        _packedVersion = p.Version;
        _packedDropout = weightDrop;
        _packedDropStep = step;
    }

    /// <summary>The W_hh mask of one (layer, direction) [G·H·Hout] (allocated on first use, kept after).</summary>
    private Span<float> WeightDropMask(int state)
    {
        int size = Options.Gates * Options.HiddenSize * Options.OutputSize;
        _weightDropMasks ??= new float[_weights.Length * size];
        return _weightDropMasks.AsSpan(state * size, size);
    }

    private void CheckTape(RecurrentTape tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (!ReferenceEquals(tape.Owner, this))
        {
            ThrowHelper.Argument(nameof(tape), "The tape belongs to another network; create one with CreateTape().");
        }
    }

    /// <summary>Multiplies every step's rows [B, n] of <paramref name="values"/> [T, B, n] by <paramref name="mask"/> [B, n].</summary>
    private static void MultiplyRows(Span<float> values, ReadOnlySpan<float> mask, int steps)
    {
        for (int t = 0; t < steps; t++)
        {
            Span<float> rows = values.Slice(t * mask.Length, mask.Length);
            TensorPrimitives.Multiply(rows, mask, rows);
        }
    }

    private static ReadOnlySpan<float> StateSlice(ReadOnlySpan<float> all, int state, int batch, int size) =>
        all.IsEmpty ? default : all.Slice(state * batch * size, batch * size);

    private static Span<float> StateSlice(Span<float> all, int state, int batch, int size) =>
        all.IsEmpty ? default : all.Slice(state * batch * size, batch * size);

    private static void AddInputGradient(ReadOnlySpan<float> timeMajor, Span<float> destination, int steps, int batch, int features, bool batchFirst)
    {
        if (!batchFirst)
        {
            TensorPrimitives.Add(destination, timeMajor, destination);
            return;
        }

        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                Span<float> row = destination.Slice(((b * steps) + t) * features, features);
                TensorPrimitives.Add(row, timeMajor.Slice(((t * batch) + b) * features, features), row);
            }
        }
    }
}
