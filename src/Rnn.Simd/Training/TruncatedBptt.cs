using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// Truncated backpropagation through time over an unbounded stream, TBPTT(k1, k2): every k1 new steps, backward runs
/// over the last k2 steps, with the state at the start of that window carried over from earlier steps and cut from
/// the graph (a constant, like PyTorch's <c>h.detach()</c>). k1 = k2 = k splits the stream into independent chunks;
/// k1 = k2 = 1 is Elman's (1990) simple recurrent network rule, the previous hidden state a constant "context" input
/// (seed 003).
/// </summary>
/// <remarks>
/// <para>Use: <see cref="Forward"/> with the next ≤ k1 steps, compute the loss gradients for those steps' outputs,
/// <see cref="Backward"/>, then an optimiser step. When k2 &gt; k1 the window's older steps are run forward again
/// from the carried state with the current weights (outputs of older steps get no loss gradient: their loss was
/// already counted). Unidirectional networks only. All buffers are allocated once: no allocation per step.</para>
/// <para>Without weight changes in between, the outputs equal those of one forward pass over the whole stream, bit
/// for bit.</para>
/// </remarks>
public sealed class TruncatedBptt : IDisposable
{
    private readonly Runner _runner;
    private readonly int _inputSize, _outputSize;
    private readonly float[] _window;        // [k2, B, X] the window's inputs
    private readonly float[] _windowOutput;  // [k2, B, F]
    private readonly float[] _windowGrad;    // [k2, B, F]
    private readonly float[] _h, _c, _hN, _cN;
    private int _windowSteps;
    private int _newSteps;

    /// <summary>Creates a driver for <paramref name="batch"/> parallel streams.</summary>
    /// <exception cref="ArgumentException">The network is bidirectional, or k1, k2, batch are out of range (1 ≤ k1 ≤ k2).</exception>
    public TruncatedBptt(TrainableRecurrentNetwork network, int k1, int k2, int batch)
        : this(BuiltIn(network, k1, k2, batch), k1, k2, batch)
    {
    }

    /// <summary>Creates a driver for <paramref name="batch"/> parallel streams through a network of the user's cells;
    /// <see cref="Hidden"/> and <see cref="WindowStartHidden"/> are then its whole state [L, B, S] and
    /// <see cref="Cell"/> is empty.</summary>
    /// <exception cref="ArgumentException">The network is bidirectional, or k1, k2, batch are out of range (1 ≤ k1 ≤ k2).</exception>
    public TruncatedBptt(CellNetwork network, int k1, int k2, int batch)
        : this(UserCells(network, k1, k2, batch), k1, k2, batch)
    {
    }

    private TruncatedBptt(Runner runner, int k1, int k2, int batch)
    {
        _runner = runner;
        (K1, K2, Batch, _inputSize, _outputSize) = (k1, k2, batch, runner.InputSize, runner.OutputSize);
        _window = new float[(long)k2 * batch * _inputSize];
        _windowOutput = new float[(long)k2 * batch * _outputSize];
        _windowGrad = new float[_windowOutput.Length];
        _h = new float[batch * runner.HiddenPerSequence];
        _hN = new float[_h.Length];
        _c = new float[batch * runner.CellPerSequence];
        _cN = new float[_c.Length];
    }

    /// <summary>New steps per update.</summary>
    public int K1 { get; }

    /// <summary>Steps backward runs over.</summary>
    public int K2 { get; }

    /// <summary>Parallel streams.</summary>
    public int Batch { get; }

    /// <summary>The state at the start of the current window, h [L, B, Hout] (constant for backward).</summary>
    public ReadOnlySpan<float> WindowStartHidden => _h;

    /// <summary>The state after the latest step, h [L, B, Hout].</summary>
    public ReadOnlySpan<float> Hidden => _hN;

    /// <summary>LSTM: the cell state after the latest step [L, B, H].</summary>
    public ReadOnlySpan<float> Cell => _cN;

    /// <summary>Starts new streams: zero state (or the given one), empty window.</summary>
    public void Reset(ReadOnlySpan<float> h0 = default, ReadOnlySpan<float> c0 = default)
    {
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(h0.Length, _h.Length, nameof(h0), "L·B·Hout");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(c0.Length, _c.Length, nameof(c0), "L·B·H (LSTM only)");
        Layers.DirectionRun.Start(h0, _h);
        Layers.DirectionRun.Start(c0, _c);
        Layers.DirectionRun.Start(h0, _hN);
        Layers.DirectionRun.Start(c0, _cN);
        _windowSteps = 0;
        _newSteps = 0;
    }

    /// <summary>
    /// Runs the next <paramref name="steps"/> (1 … k1) steps x [steps, B, X] time-major; writes their outputs
    /// [steps, B, F] into <paramref name="output"/>. The window (the last ≤ k2 steps) is run forward from its carried
    /// start state and recorded for <see cref="Backward"/>.
    /// </summary>
    public void Forward(ReadOnlySpan<float> x, int steps, Span<float> output, ThreadTeam? threads = null)
    {
        if (steps < 1 || steps > K1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(steps), $"Must be in [1, k1 = {K1}], was {steps}.");
        }

        int inRow = Batch * _inputSize, outRow = Batch * _outputSize;
        ThrowHelper.ThrowIfLengthIsNot(x.Length, (long)steps * inRow, nameof(x), "steps·B·X");
        ThrowHelper.ThrowIfLengthIsNot(output.Length, (long)steps * outRow, nameof(output), "steps·B·F");

        // Slide the window: drop the oldest steps so that it ends with the new ones and holds at most k2; the
        // state after the dropped steps (as the previous forward computed it) becomes the new start state.
        int drop = Math.Max(0, _windowSteps + steps - K2);
        if (drop > 0)
        {
            _runner.ReadRecordedState(drop, _h, _c);

            _window.AsSpan(drop * inRow, (_windowSteps - drop) * inRow).CopyTo(_window);
            _windowSteps -= drop;
        }

        x.CopyTo(_window.AsSpan(_windowSteps * inRow));
        _windowSteps += steps;
        _newSteps = steps;
        int n = _windowSteps;
        _runner.Forward(_window.AsSpan(0, n * inRow), n, Batch, _windowOutput.AsSpan(0, n * outRow), _h, _c, _hN, _cN, threads);

        _windowOutput.AsSpan((n - steps) * outRow, steps * outRow).CopyTo(output);
    }

    /// <summary>
    /// Backward over the window for dL/d(outputs of the latest <see cref="Forward"/> steps) [steps, B, F]; adds the
    /// parameter gradients into the network's <see cref="ParameterSet"/>.
    /// </summary>
    /// <param name="gradOutput">dL/d(output) of the new steps.</param>
    /// <param name="threads">Threads for the matrix products.</param>
    /// <param name="hiddenGradientNorms">Optional diagnostics [L, window steps]: ‖dL/dh_t‖ over the window.</param>
    public void Backward(ReadOnlySpan<float> gradOutput, ThreadTeam? threads = null, Span<float> hiddenGradientNorms = default)
    {
        int outRow = Batch * _outputSize;
        if (_newSteps == 0)
        {
            ThrowHelper.InvalidOperation("Run Forward first.");
        }

        ThrowHelper.ThrowIfLengthIsNot(gradOutput.Length, (long)_newSteps * outRow, nameof(gradOutput), "steps·B·F of the latest Forward");
        int n = _windowSteps;
        Span<float> grad = _windowGrad.AsSpan(0, n * outRow);
        grad[..((n - _newSteps) * outRow)].Clear();
        gradOutput.CopyTo(grad[((n - _newSteps) * outRow)..]);
        _runner.Backward(grad, threads, hiddenGradientNorms);
    }

    /// <summary>Returns the tape's buffer to the pool.</summary>
    public void Dispose() => _runner.Dispose();

    private static Runner BuiltIn(TrainableRecurrentNetwork network, int k1, int k2, int batch)
    {
        ArgumentNullException.ThrowIfNull(network);
        RecurrentNetworkOptions o = network.Options;
        if (o.Bidirectional || o.Reverse)
        {
            ThrowHelper.Argument(nameof(network), $"Truncated BPTT streams forward in time; a {(o.Reverse ? "reverse" : "bidirectional")} network needs whole sequences.");
        }

        Check(k1, k2, batch);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "k2·B·X", k2, batch, o.InputSize);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "k2·B·F", k2, batch, o.LayerOutputSize);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "L·B·H", o.Layers, batch, Math.Max(o.OutputSize, o.HiddenSize));
        return new BuiltInRunner(network);
    }

    private static Runner UserCells(CellNetwork network, int k1, int k2, int batch)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network.Directions == 2)
        {
            ThrowHelper.Argument(nameof(network), "Truncated BPTT streams forward in time; a bidirectional network needs whole sequences.");
        }

        Check(k1, k2, batch);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "k2·B·X", k2, batch, network.InputSize);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "k2·B·F", k2, batch, network.OutputSize);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "B·S", batch, network.StateSize);
        return new CellRunner(network);
    }

    private static void Check(int k1, int k2, int batch)
    {
        if (k1 < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(k1), $"Must be at least 1, was {k1}.");
        }

        if (k2 < k1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(k2), $"Must be at least k1 = {k1}, was {k2}.");
        }

        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }
    }

    /// <summary>The network a driver runs windows through, with its tape: the engine's cells or the user's.</summary>
    private abstract class Runner : IDisposable
    {
        public abstract int InputSize { get; }

        public abstract int OutputSize { get; }

        /// <summary>Floats of carried h (the whole state, for the user's cells) per sequence, over the layers.</summary>
        public abstract int HiddenPerSequence { get; }

        /// <summary>Floats of carried LSTM c per sequence, over the layers (0 otherwise).</summary>
        public abstract int CellPerSequence { get; }

        public abstract void ReadRecordedState(int steps, Span<float> h, Span<float> c);

        public abstract void Forward(ReadOnlySpan<float> x, int steps, int batch, Span<float> output, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, ThreadTeam? threads);

        public abstract void Backward(ReadOnlySpan<float> grad, ThreadTeam? threads, Span<float> hiddenGradientNorms);

        public abstract void Dispose();
    }

    private sealed class BuiltInRunner(TrainableRecurrentNetwork network) : Runner
    {
        private readonly RecurrentTape _tape = network.CreateTape();

        public override int InputSize => network.Options.InputSize;

        public override int OutputSize => network.Options.LayerOutputSize;

        public override int HiddenPerSequence => network.Options.Layers * network.Options.OutputSize;

        public override int CellPerSequence => network.Options.Cell == CellType.Lstm ? network.Options.Layers * network.Options.HiddenSize : 0;

        public override void ReadRecordedState(int steps, Span<float> h, Span<float> c) => network.ReadRecordedState(_tape, steps, h, c);

        public override void Forward(ReadOnlySpan<float> x, int steps, int batch, Span<float> output, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, ThreadTeam? threads) =>
            network.Forward(_tape, x, steps, batch, output, h0, c0, hN, cN, threads: threads);

        public override void Backward(ReadOnlySpan<float> grad, ThreadTeam? threads, Span<float> hiddenGradientNorms) =>
            network.Backward(_tape, grad, threads: threads, hiddenGradientNorms: hiddenGradientNorms);

        public override void Dispose() => _tape.Dispose();
    }

    private sealed class CellRunner(CellNetwork network) : Runner
    {
        private readonly CellTape _tape = network.CreateTape();

        public override int InputSize => network.InputSize;

        public override int OutputSize => network.OutputSize;

        public override int HiddenPerSequence => network.StateSize;

        public override int CellPerSequence => 0;

        public override void ReadRecordedState(int steps, Span<float> h, Span<float> c) => network.ReadRecordedState(_tape, steps, h);

        public override void Forward(ReadOnlySpan<float> x, int steps, int batch, Span<float> output, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, ThreadTeam? threads) =>
            network.Forward(_tape, x, steps, batch, output, h0, hN);

        public override void Backward(ReadOnlySpan<float> grad, ThreadTeam? threads, Span<float> hiddenGradientNorms)
        {
            if (!hiddenGradientNorms.IsEmpty)
            {
                ThrowHelper.Argument(nameof(hiddenGradientNorms), "A network of the user's cells does not report hidden-gradient norms; pass an empty span.");
            }

            network.Backward(_tape, grad);
        }

        public override void Dispose() => _tape.Dispose();
    }
}
