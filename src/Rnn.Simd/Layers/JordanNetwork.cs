using System.Buffers;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>The sizes and nonlinearities of a <see cref="JordanNetwork"/>.</summary>
public sealed record JordanNetworkOptions
{
    /// <summary>X: features per input step.</summary>
    public int InputSize { get; init; }

    /// <summary>H: hidden units.</summary>
    public int HiddenSize { get; init; }

    /// <summary>O: output features, fed back to the hidden layer at the next step.</summary>
    public int OutputSize { get; init; }

    /// <summary>f_hid.</summary>
    public Nonlinearity HiddenActivation { get; init; } = Nonlinearity.Tanh;

    /// <summary>f_out.</summary>
    public OutputActivation OutputActivation { get; init; } = OutputActivation.Identity;

    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="paramName"/> unless the sizes are at least 1 and both activations defined.</summary>
    internal void Validate(string paramName)
    {
        if (InputSize < 1 || HiddenSize < 1 || OutputSize < 1 || !Enum.IsDefined(HiddenActivation) || !Enum.IsDefined(OutputActivation))
        {
            ThrowHelper.Argument(paramName, $"Sizes must be at least 1 (X={InputSize}, H={HiddenSize}, O={OutputSize}) and the activations defined.");
        }

        if ((long)HiddenSize * (InputSize + OutputSize) > int.MaxValue / 2 || (long)OutputSize * HiddenSize > int.MaxValue / 2)
        {
            ThrowHelper.Argument(paramName, "The network is too large for one weight matrix.");
        }
    }
}

/// <summary>
/// Output-to-hidden recurrence (Jordan, 1986; seed 002): h_t = f_hid(W_in x_t + W_rec y_{t−1} + b),
/// y_t = f_out(W_out h_t + b_out). In training or for generation with known targets, y_{t−1} can be the
/// target instead (teacher forcing). Immutable and shareable, like <see cref="RecurrentNetwork"/>.
/// </summary>
/// <remarks>The hidden pre-activation is one FMA chain over [x; y_{t−1}] through one fused matrix
/// [W_in | W_rec], so the input terms of all steps are one GEMM and a streamed step gives the same bits. The
/// arithmetic is <see cref="JordanForward"/>'s, which training shares.</remarks>
public sealed class JordanNetwork
{
    private readonly PackedMatrix _fused;      // [H, X + O] = [W_in | W_rec]
    private readonly float[] _bias;            // [H], or empty: none
    private readonly DenseLayer _output;       // W_out [O, H], b_out, f_out

    private JordanNetwork(JordanNetworkOptions options, PackedMatrix fused, float[] bias, DenseLayer output, ArrayPool<float> pool)
    {
        Options = options;
        _fused = fused;
        _bias = bias;
        _output = output;
        Pool = pool;
    }

    /// <summary>The architecture.</summary>
    public JordanNetworkOptions Options { get; }

    /// <summary>The pool scratch is rented from.</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>
    /// Builds the network from W_in [H, X], W_rec [H, O], b [H], W_out [O, H] and b_out [O] (row-major; empty
    /// biases are zeros).
    /// </summary>
    public static JordanNetwork Create(
        JordanNetworkOptions options, ReadOnlySpan<float> inputWeight, ReadOnlySpan<float> recurrentWeight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> outputWeight, ReadOnlySpan<float> outputBias, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        int x = options.InputSize, h = options.HiddenSize, o = options.OutputSize;

        ThrowHelper.ThrowIfLengthIsNot(inputWeight.Length, nameof(inputWeight), "H·X", h, x);
        ThrowHelper.ThrowIfLengthIsNot(recurrentWeight.Length, nameof(recurrentWeight), "H·O", h, o);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(bias.Length, h, nameof(bias), "H");

        var fused = new float[h * (x + o)];
        for (int r = 0; r < h; r++)
        {
            inputWeight.Slice(r * x, x).CopyTo(fused.AsSpan(r * (x + o), x));
            recurrentWeight.Slice(r * o, o).CopyTo(fused.AsSpan((r * (x + o)) + x, o));
        }

        return new JordanNetwork(
            options,
            PackedMatrix.FromRowsAsColumns(fused, h, x + o, x + o),
            bias.ToArray(),
            new DenseLayer(h, o, outputWeight, outputBias, options.OutputActivation),
            pool ?? ArrayPool<float>.Shared);
    }

    /// <summary>A zero state (y_{−1} = 0) for <paramref name="batch"/> streams.</summary>
    public JordanState CreateState(int batch = 1)
    {
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfTooLarge(nameof(batch), "B·O", batch, Options.OutputSize);
        return new JordanState(Options, batch);
    }

    /// <summary>One step of every stream: x [B, X] → y [B, O]; the state's previous output advances.</summary>
    public void Step(JordanState state, ReadOnlySpan<float> x, Span<float> y, ThreadTeam? threads = null) => Process(state, x, 1, y, threads);

    /// <summary>A chunk of steps: x [T, B, X] → y [T, B, O]; bit-identical to the same steps inside one longer call.</summary>
    public void Process(JordanState state, ReadOnlySpan<float> x, int steps, Span<float> y, ThreadTeam? threads = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!state.Options.Equals(Options))
        {
            ThrowHelper.Argument(nameof(state), "The state was created for another architecture.");
        }

        Forward(x, steps, state.Batch, y, state.Previous, threads: threads);
        if (steps > 0)
        {
            y.Slice((steps - 1) * state.Batch * Options.OutputSize, state.Batch * Options.OutputSize).CopyTo(state.Previous);
        }

        state.Steps += steps;
    }

    /// <summary>
    /// Runs T steps for B sequences (time-major).
    /// </summary>
    /// <param name="input">x [T, B, X].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="output">Receives y [T, B, O].</param>
    /// <param name="previousOutput">y_{−1} [B, O], or empty for zeros.</param>
    /// <param name="hidden">Receives h [T, B, H], or empty.</param>
    /// <param name="teacher">Teacher forcing: targets [T, B, O]; step t &gt; 0 is fed teacher[t − 1] instead of y_{t−1}. Empty = free running.</param>
    /// <param name="threads">Threads for the products.</param>
    public void Forward(
        ReadOnlySpan<float> input, int steps, int batch, Span<float> output, ReadOnlySpan<float> previousOutput = default,
        Span<float> hidden = default, ReadOnlySpan<float> teacher = default, ThreadTeam? threads = null)
    {
        int x = Options.InputSize, h = Options.HiddenSize, o = Options.OutputSize;
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(input.Length, nameof(input), "T·B·X", steps, batch, x);
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "T·B·O", steps, batch, o);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(previousOutput.Length, (long)batch * o, nameof(previousOutput), "B·O");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(hidden.Length, (long)steps * batch * h, nameof(hidden), "T·B·H");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(teacher.Length, (long)steps * batch * o, nameof(teacher), "T·B·O");
        if (steps == 0)
        {
            return;
        }

        // [T·B, H] pre-activations | [B, O] y_{t−1} | [B, H] h_t
        int gxLength = steps * batch * h;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(gxLength + (batch * o) + (batch * h), Pool);
        Span<float> gx = scratch.Span[..gxLength];
        Span<float> previous = scratch.Span.Slice(gxLength, batch * o);
        Span<float> hStep = scratch.Span.Slice(gxLength + (batch * o), batch * h);
        if (previousOutput.IsEmpty)
        {
            previous.Clear();
        }
        else
        {
            previousOutput.CopyTo(previous);
        }

        var forward = new JordanForward
        {
            Options = Options, Input = _fused, Recurrent = _fused, RecurrentStart = x, Bias = _bias,
            OutputWeight = _output.Weight, OutputBias = _output.Bias, Threads = threads, Pool = Pool,
        };
        forward.InputTerms(input, steps * batch, gx);
        for (int t = 0; t < steps; t++)
        {
            Span<float> hT = hidden.IsEmpty ? hStep : hidden.Slice(t * batch * h, batch * h);
            Span<float> yT = output.Slice(t * batch * o, batch * o);
            forward.Step(batch, previous, gx.Slice(t * batch * h, batch * h), hT, yT);
            (teacher.IsEmpty ? yT : teacher.Slice(t * batch * o, batch * o)).CopyTo(previous);
        }
    }
}

/// <summary>The state of Jordan streams: the previous outputs y_{t−1} [B, O].</summary>
public sealed class JordanState
{
    private readonly float[] _previous;

    internal JordanState(JordanNetworkOptions options, int batch)
    {
        Options = options;
        Batch = batch;
        _previous = new float[batch * options.OutputSize];
    }

    /// <summary>The architecture this state belongs to.</summary>
    public JordanNetworkOptions Options { get; }

    /// <summary>Streams (B).</summary>
    public int Batch { get; }

    /// <summary>Steps processed since creation or <see cref="Reset"/>.</summary>
    public long Steps { get; internal set; }

    /// <summary>y_{t−1} [B, O]; writable, e.g. to seed a generator or to force a known previous output.</summary>
    public Span<float> Previous => _previous;

    /// <summary>Back to y_{−1} = 0.</summary>
    public void Reset()
    {
        Array.Clear(_previous);
        Steps = 0;
    }
}
