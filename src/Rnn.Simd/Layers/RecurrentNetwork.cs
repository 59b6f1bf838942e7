using System.Buffers;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Layers;

/// <summary>
/// A stack of recurrent layers (Elman, LSTM or GRU; optionally bidirectional) with its weights packed once.
/// Immutable after construction: one instance may serve many threads at once, each call with its own buffers.
/// </summary>
/// <remarks>
/// <para>A forward call runs, per layer and direction, one GEMM for the input projection of all T steps
/// (<c>gx[T·B, G·H] = X · W_xᵀ</c>) and then T sequential recurrent products with the fused cell update
/// (see <see cref="GateLayout"/> for the fused matrix and the gate order).</para>
/// <para>Semantics follow PyTorch's <c>nn.RNN/LSTM/GRU</c>: per-sequence lengths leave outputs at padded steps
/// exactly 0 and h_n (c_n) the state after each sequence's last valid step; the reverse direction runs from
/// t = len − 1 down to 0; states are indexed [layer · D + direction, batch, features].</para>
/// <para>Contracts (DESIGN.md §4): no allocation per call (scratch is rented from <see cref="Pool"/> and
/// returned); results bit-identical for every vector width and thread count; arguments validated up front.</para>
/// <para>NaN and ±∞ (DESIGN.md §4): inference propagates them and never checks elements on the hot path. Batch rows
/// are independent, so a NaN in row b's input makes row b's outputs and states NaN from that step on and leaves every
/// other row's bits as in a clean run; ±∞ saturates or becomes NaN the same way. A streaming state keeps a NaN until
/// the caller resets it (<see cref="RecurrentState.Reset"/>). Subnormal inputs and states are computed as IEEE numbers
/// (not flushed to zero): a step on them costs about the same as on normal numbers (see DenormalBenchmarks).
/// Training has the guard: see <see cref="Training.Trainer"/>.</para>
/// </remarks>
public sealed class RecurrentNetwork
{
    private readonly DirectionWeights[] _weights; // [layer · D + direction]

    private RecurrentNetwork(RecurrentNetworkOptions options, DirectionWeights[] weights, ArrayPool<float> pool)
    {
        Options = options;
        _weights = weights;
        Pool = pool;
    }

    /// <summary>The architecture.</summary>
    public RecurrentNetworkOptions Options { get; }

    /// <summary>How the weight matrices are held (<see cref="WithWeightPrecision"/>); float32 unless reduced.</summary>
    public WeightPrecision WeightPrecision => _weights.Length == 0 ? WeightPrecision.Float32 : _weights[0].Precision;

    /// <summary>
    /// An inference copy of this network with its weight matrices at <paramref name="precision"/>: each weight rounded
    /// once from this network's float32 value (bf16 to nearest even; int8 as q·s with s = max|w|/127 per row of each of PyTorch's weight tensors, W_ih and W_hh apart);
    /// biases, peepholes and all arithmetic stay float32. This network is unchanged; the copy is immutable and shared.
    /// </summary>
    /// <remarks>
    /// <para>A reduced network runs the same fused multiply-add chains over the widened weights, so its results are
    /// bit-identical across vector widths and thread counts, as at float32 (int8 sums Σ x·q per row, then scales once:
    /// y = fma(Σ, s, y₀), with q held as q·2²⁴ and s as s·2⁻²⁴). The weights only stream in fewer bytes where that pays: a matrix smaller than
    /// <c>512 KiB</c> of float32 keeps its rounded values in float32 panels (the same results at the float32 speed), so
    /// a reduced network is never slower than its float32 original on one or two rows. Batches run float32's batched code
    /// over float panels of the values held, widened once on the first such call (that call allocates them; the float32
    /// speed from then on): in lanes where the batch fills them (int8 scaling each row's sums once, as everywhere), else
    /// the row-major float32 tiles from three rows on; the bits are the same either way.</para>
    /// <para>Accuracy: see perf/results/precision.md. Training needs float32 master weights: keep the
    /// <c>TrainableRecurrentNetwork</c> and reduce each inference snapshot.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value.</exception>
    /// <exception cref="InvalidOperationException">This network is already reduced (reduce the float32 original), or int8 meets a weight that is NaN or ±∞.</exception>
    public RecurrentNetwork WithWeightPrecision(WeightPrecision precision)
    {
        if (!Enum.IsDefined(precision))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(precision), $"Unknown weight precision {(int)precision}.");
        }

        if (precision == WeightPrecision)
        {
            return this;
        }

        if (WeightPrecision != WeightPrecision.Float32)
        {
            ThrowHelper.InvalidOperation($"The network is already {WeightPrecision}: reduce its float32 original to {precision} (each weight is rounded once).");
        }

        var reduced = new DirectionWeights[_weights.Length];
        for (int i = 0; i < reduced.Length; i++)
        {
            reduced[i] = _weights[i].WithPrecision(precision);
        }

        return new RecurrentNetwork(Options, reduced, Pool);
    }

    /// <summary>
    /// This float32 network at int8 with the scales <paramref name="scalesOf"/> gives for PyTorch's tensor names
    /// (<c>weight_ih_l0</c>, <c>weight_hh_l0_reverse</c>, <c>weight_hr_l1</c>, …, no prefix) rather than max|w|/127: for
    /// weights that are already q·s (an int8 checkpoint's), which then come back as the same codes and scales exactly.
    /// </summary>
    internal RecurrentNetwork WithInt8Scales(Func<string, float[]> scalesOf)
    {
        var reduced = new DirectionWeights[_weights.Length];
        for (int i = 0; i < reduced.Length; i++)
        {
            string suffix = $"l{i / Options.Directions}{(i % Options.Directions == 1 ? "_reverse" : "")}";
            reduced[i] = _weights[i].WithInt8Scales(new Int8Scales(
                scalesOf("weight_ih_" + suffix), scalesOf("weight_hh_" + suffix), Options.ProjectionSize > 0 ? scalesOf("weight_hr_" + suffix) : []));
        }

        return new RecurrentNetwork(Options, reduced, Pool);
    }

    /// <summary>The pool scratch buffers are rented from (every rental is returned before a call ends).</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>
    /// Builds a network from parameters in PyTorch's layout and names: <c>{prefix}weight_ih_l{k}</c>,
    /// <c>weight_hh_l{k}</c>, <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c>, <c>weight_hr_l{k}</c>, with the suffix
    /// <c>_reverse</c> for the reverse direction; PyTorch's gate order (LSTM i, f, g, o; GRU r, z, n). Biases may be
    /// absent (bias=False). Each array is row-major and must have exactly the size the options imply.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter is missing or has the wrong size (the message names it).</exception>
    public static RecurrentNetwork FromPyTorch(RecurrentNetworkOptions options, IReadOnlyDictionary<string, float[]> parameters, string prefix = "", ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        options.Validate(nameof(options));

        int d = options.Directions, g = options.Gates, h = options.HiddenSize, hOut = options.OutputSize;
        var weights = new DirectionWeights[options.Layers * d];
        for (int layer = 0; layer < options.Layers; layer++)
        {
            int inputSize = layer == 0 ? options.InputSize : options.LayerOutputSize;
            for (int dir = 0; dir < d; dir++)
            {
                string suffix = $"l{layer}{(dir == 1 ? "_reverse" : "")}";
                float[] Required(string name, long size) => Take(parameters, prefix + name + suffix, size, required: true)!;
                float[] weightIh = Required("weight_ih_", (long)g * h * inputSize);
                float[] weightHh = Required("weight_hh_", (long)g * h * hOut);
                float[] biasIh = Take(parameters, $"{prefix}bias_ih_{suffix}", (long)g * h, required: false) ?? [];
                float[] biasHh = Take(parameters, $"{prefix}bias_hh_{suffix}", (long)g * h, required: false) ?? [];
                float[]? weightHr = options.ProjectionSize > 0 ? Required("weight_hr_", (long)hOut * h) : null;
                weights[(layer * d) + dir] = DirectionWeights.FromPyTorch(options, inputSize, weightIh, weightHh, biasIh, biasHh, weightHr);
                if (options.Peepholes)
                {
                    weights[(layer * d) + dir].Peephole = Required("weight_peephole_", 3L * h);
                }
            }
        }

        return new RecurrentNetwork(options, weights, pool ?? ArrayPool<float>.Shared);
    }

    /// <summary>
    /// Runs the network over a batch of sequences.
    /// </summary>
    /// <param name="input">[T, B, X] time-major, or [B, T, X] when <paramref name="batchFirst"/>.</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="output">Receives the last layer's outputs, [T, B, F] (or [B, T, F]) with F = <see cref="RecurrentNetworkOptions.LayerOutputSize"/>;
    /// with <paramref name="lastStepOnly"/>, [B, F].</param>
    /// <param name="h0">Initial h [L·D, B, Hout], or empty for zeros.</param>
    /// <param name="c0">LSTM: initial c [L·D, B, H], or empty for zeros.</param>
    /// <param name="hN">Receives the final h [L·D, B, Hout], or empty.</param>
    /// <param name="cN">LSTM: receives the final c [L·D, B, H], or empty.</param>
    /// <param name="lengths">Per-sequence lengths [B], each in [0, T], or empty for all T.</param>
    /// <param name="batchFirst">Whether input and output are [B, T, ·].</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <param name="lastStepOnly">
    /// Many-to-one: write only each sequence's output row at its last valid step (t = length − 1; zeros for an empty
    /// sequence) into <paramref name="output"/> [B, F]. For a bidirectional network the reverse half of that row has
    /// seen only the last input; use <paramref name="hN"/> for both directions' summaries.
    /// </param>
    public void Forward(
        ReadOnlySpan<float> input, int steps, int batch, Span<float> output,
        ReadOnlySpan<float> h0 = default, ReadOnlySpan<float> c0 = default,
        Span<float> hN = default, Span<float> cN = default,
        ReadOnlySpan<int> lengths = default, bool batchFirst = false, ThreadTeam? threads = null, bool lastStepOnly = false)
    {
        RecurrentNetworkOptions o = Options;
        ValidateForward(o, input.Length, steps, batch, output.Length, h0.Length, c0.Length, hN.Length, cN.Length, lengths, lastStepOnly);
        var plan = new ForwardPlan(o, steps, batch, batchFirst, lanes: DirectionLanes.Applies(o, batch, lengths.IsEmpty), int8: WeightPrecision == WeightPrecision.Int8);
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(plan.TotalFloats, Pool);
        Span<float> all = scratch.Span;
        ReadOnlySpan<float> layerIn = input;
        if (batchFirst)
        {
            Span<float> x = plan.TimeMajorInput(all);
            ToTimeMajor(input, x, steps, batch, o.InputSize);
            layerIn = x;
        }

        int layerInSize = o.InputSize;
        for (int layer = 0; layer < o.Layers; layer++)
        {
            Span<float> layerOut = plan.LayerOutput(all, layer);
            for (int dir = 0; dir < o.Directions; dir++)
            {
                int state = (layer * o.Directions) + dir;
                var run = new DirectionRun(o, _weights[state], plan, all, steps, batch, threads, Pool)
                {
                    Reverse = dir == 1 || o.Reverse,
                    OutputOffset = dir == 1 && o.Merge == DirectionMerge.Concatenate ? o.OutputSize : 0,
                    AddToOutput = dir == 1 && o.Merge == DirectionMerge.Sum,
                };
                run.Execute(
                    layerIn, layerInSize, layerOut, lengths,
                    h0.IsEmpty ? default : h0.Slice(state * batch * o.OutputSize, batch * o.OutputSize),
                    c0.IsEmpty ? default : c0.Slice(state * batch * o.HiddenSize, batch * o.HiddenSize),
                    hN.IsEmpty ? default : hN.Slice(state * batch * o.OutputSize, batch * o.OutputSize),
                    cN.IsEmpty ? default : cN.Slice(state * batch * o.HiddenSize, batch * o.HiddenSize));
            }

            layerIn = layerOut;
            layerInSize = o.LayerOutputSize;
        }

        WriteOutput(layerIn, output, steps, batch, o.LayerOutputSize, lengths, batchFirst, lastStepOnly);
    }

    /// <summary>A zero state for <paramref name="batch"/> streams, for <see cref="Step"/> and <see cref="Process"/>.</summary>
    /// <exception cref="InvalidOperationException">The network is bidirectional or reverse: a stream has no future to run backwards from.</exception>
    public RecurrentState CreateState(int batch = 1)
    {
        if (Options.Bidirectional || Options.Reverse)
        {
            ThrowHelper.InvalidOperation($"A {(Options.Reverse ? "reverse" : "bidirectional")} network needs whole sequences; use Forward.");
        }

        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfTooLarge(nameof(batch), "L·B·Hout", Options.Layers, batch, Math.Max(Options.OutputSize, Options.HiddenSize));
        return new RecurrentState(Options, batch);
    }

    /// <summary>
    /// One time step of every stream in <paramref name="state"/>: x [B, X] → y [B, Hout]; the state advances.
    /// Equal, bit for bit, to the same step inside a whole-sequence <see cref="Forward"/> call.
    /// </summary>
    public void Step(RecurrentState state, ReadOnlySpan<float> x, Span<float> y, ThreadTeam? threads = null) =>
        Process(state, x, 1, y, threads);

    /// <summary>
    /// A chunk of <paramref name="steps"/> time steps: x [T, B, X] time-major → y [T, B, Hout]; the state advances.
    /// Any split of a sequence into chunks gives the bits of one whole-sequence call.
    /// </summary>
    public void Process(RecurrentState state, ReadOnlySpan<float> x, int steps, Span<float> y, ThreadTeam? threads = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!ReferenceEquals(state.Options, Options) && !state.Options.Equals(Options))
        {
            ThrowHelper.Argument(nameof(state), "The state was created for another architecture.");
        }

        // The state is both the initial and the final state: each layer reads its slice before it writes it.
        Span<float> cell = state.Cell;
        Forward(x, steps, state.Batch, y, state.Hidden, cell, state.Hidden, cell, default, batchFirst: false, threads);
        state.Steps += steps;
    }

    /// <summary>Validates the arguments of a forward call (shared by inference and training), naming the parameter at fault.</summary>
    internal static void ValidateForward(
        RecurrentNetworkOptions o, int inputLength, int steps, int batch, int outputLength,
        int h0Length, int c0Length, int hNLength, int cNLength, ReadOnlySpan<int> lengths, bool lastStepOnly)
    {
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(inputLength, "input", "T·B·X", steps, batch, o.InputSize);
        if (lastStepOnly)
        {
            ThrowHelper.ThrowIfLengthIsNot(outputLength, "output", "B·F", batch, o.LayerOutputSize);
        }
        else
        {
            ThrowHelper.ThrowIfLengthIsNot(outputLength, "output", "T·B·F", steps, batch, o.LayerOutputSize);
        }

        ThrowHelper.ThrowIfLengthIsNotEmptyOr(h0Length, "h0", "L·D·B·Hout", o.Layers, o.Directions, batch, o.OutputSize);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(hNLength, "hN", "L·D·B·Hout", o.Layers, o.Directions, batch, o.OutputSize);
        if (o.Cell == CellType.Lstm)
        {
            ThrowHelper.ThrowIfLengthIsNotEmptyOr(c0Length, "c0", "L·D·B·H", o.Layers, o.Directions, batch, o.HiddenSize);
            ThrowHelper.ThrowIfLengthIsNotEmptyOr(cNLength, "cN", "L·D·B·H", o.Layers, o.Directions, batch, o.HiddenSize);
        }
        else if (c0Length != 0 || cNLength != 0)
        {
            ThrowHelper.Argument(c0Length != 0 ? "c0" : "cN", $"Only an LSTM has a cell state; pass an empty span for a {o.Cell} network.");
        }

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

    /// <summary>The last layer's time-major outputs → the caller's layout (time-major, batch-first, or last step only).</summary>
    internal static void WriteOutput(ReadOnlySpan<float> layerIn, Span<float> output, int steps, int batch, int features, ReadOnlySpan<int> lengths, bool batchFirst, bool lastStepOnly)
    {
        if (lastStepOnly)
        {
            for (int b = 0; b < batch; b++)
            {
                int last = (lengths.IsEmpty ? steps : lengths[b]) - 1;
                Span<float> row = output.Slice(b * features, features);
                if (last < 0)
                {
                    row.Clear();
                }
                else
                {
                    layerIn.Slice(((last * batch) + b) * features, features).CopyTo(row);
                }
            }
        }
        else if (batchFirst)
        {
            ToBatchFirst(layerIn, output, steps, batch, features);
        }
        else
        {
            layerIn.CopyTo(output);
        }
    }

    internal static void ToTimeMajor(ReadOnlySpan<float> batchFirst, Span<float> timeMajor, int steps, int batch, int features)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                batchFirst.Slice(((b * steps) + t) * features, features).CopyTo(timeMajor.Slice(((t * batch) + b) * features, features));
            }
        }
    }

    internal static void ToBatchFirst(ReadOnlySpan<float> timeMajor, Span<float> batchFirst, int steps, int batch, int features)
    {
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                timeMajor.Slice(((t * batch) + b) * features, features).CopyTo(batchFirst.Slice(((b * steps) + t) * features, features));
            }
        }
    }

    private static float[]? Take(IReadOnlyDictionary<string, float[]> parameters, string name, long size, bool required)
    {
        if (!parameters.TryGetValue(name, out float[]? data) || data is null)
        {
            if (required)
            {
                ThrowHelper.Argument("parameters", $"Parameter '{name}' is missing.");
            }

            return null;
        }

        if (data.Length != size)
        {
            ThrowHelper.Argument("parameters", $"Parameter '{name}' has {data.Length} elements; the options imply {size}.");
        }

        return data;
    }


}
