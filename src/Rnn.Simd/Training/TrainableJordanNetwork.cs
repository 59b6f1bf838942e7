using System.Buffers;
using System.Numerics.Tensors;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// A Jordan network (output-to-hidden recurrence, seed 002) whose parameters live in a <see cref="ParameterSet"/>, with
/// a recording forward pass that can teacher-force, and backpropagation through time through both the hidden layer and
/// the fed-back outputs.
/// </summary>
/// <remarks>
/// <para>Per step t and sequence b: h_t = f_hid(W_in x_t + W_rec ŷ_{t−1} + b), y_t = f_out(W_out h_t + b_out), where
/// ŷ_{t−1}, what step t is fed, is</para>
/// <list type="bullet">
/// <item>at t = 0: the initial output y_{−1} (given, or zeros);</item>
/// <item>at t &gt; 0, when the step is teacher-forced: the target of step t − 1, a constant (no gradient flows into it);</item>
/// <item>otherwise: the network's own output y_{t−1}, and the gradient flows back through it into step t − 1.</item>
/// </list>
/// <para>Each step t ≥ 1 is teacher-forced with probability <c>teacherForcingRatio</c>, one decision for the whole batch,
/// drawn by <see cref="IsTeacherForced"/> from the call's seed: deterministic, ratio 1 forces every step (the same bits as
/// <see cref="JordanNetwork.Forward"/> with a teacher), ratio 0 none (free running, the same bits as
/// <see cref="JordanNetwork.Forward"/> without one). The tape tells which steps were forced
/// (<see cref="JordanTape.WasTeacherForced"/>).</para>
/// <para>Parameters, under the names of a PyTorch module with tensors <c>weight_in</c>, <c>weight_rec</c>, <c>bias</c>
/// and an nn.Linear <c>output</c>:</para>
/// <code>
///   {prefix}weight_in      [H, X]   W_in      InputWeight
///   {prefix}weight_rec     [H, O]   W_rec     RecurrentWeight
///   {prefix}bias           [H]      b         InputBias   (optional)
///   {prefix}output.weight  [O, H]   W_out     DenseWeight
///   {prefix}output.bias    [O]      b_out     DenseBias   (optional)
/// </code>
/// <para><see cref="Backward"/> adds dL/d(every parameter) into <see cref="ParameterSet.Gradients"/> and dL/d(input,
/// initial output) into the caller's buffers; zeroing is separate. When the parameter values change
/// (<see cref="ParameterSet.Version"/> moves), the next forward call re-packs the weights in place. Driven by one thread
/// at a time. No allocation per call once the tape has grown to the call's size; results are bit-identical for every
/// vector width and thread count.</para>
/// </remarks>
public sealed class TrainableJordanNetwork
{
    private readonly ParameterTensor _inputWeight, _recurrentWeight;
    private readonly ParameterTensor? _bias;
    private readonly PackedMatrix _forwardInput;       // W_in [H, X] packed for x · W_inᵀ
    private readonly PackedMatrix _forwardRecurrent;   // W_rec [H, O] packed for ŷ · W_recᵀ
    private readonly PackedMatrix _backInput;          // W_in as B [H, X] for dx = da · W_in
    private readonly PackedMatrix _backRecurrent;      // W_rec as B [H, O] for dŷ = da · W_rec
    private long _packedVersion;

    /// <summary>
    /// Binds a network to the tensors of <paramref name="parameters"/> named as in the remarks (see <see cref="Specs"/>);
    /// the set may hold other modules' tensors too. Biases are optional.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid, a weight is missing, or a tensor has the wrong shape.</exception>
    public TrainableJordanNetwork(JordanNetworkOptions options, ParameterSet parameters, string prefix = "", ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        int x = options.InputSize, h = options.HiddenSize, o = options.OutputSize;
        Options = options;
        Parameters = parameters;
        Prefix = prefix;
        Pool = pool ?? ArrayPool<float>.Shared;
        _inputWeight = parameters.Bind(prefix + "weight_in", [h, x], required: true, nameof(parameters))!;
        _recurrentWeight = parameters.Bind(prefix + "weight_rec", [h, o], required: true, nameof(parameters))!;
        _bias = parameters.Bind(prefix + "bias", [h], required: false, nameof(parameters));
        Output = new TrainableDenseLayer(h, o, options.OutputActivation, parameters, prefix + "output.", Pool);
        _forwardInput = PackedMatrix.FromRowsAsColumns(parameters.Value(_inputWeight), h, x, x);
        _forwardRecurrent = PackedMatrix.FromRowsAsColumns(parameters.Value(_recurrentWeight), h, o, o);
        _backInput = PackedMatrix.FromMatrix(parameters.Value(_inputWeight), h, x, x);
        _backRecurrent = PackedMatrix.FromMatrix(parameters.Value(_recurrentWeight), h, o, o);
        _packedVersion = parameters.Version;
    }

    /// <summary>The architecture.</summary>
    public JordanNetworkOptions Options { get; }

    /// <summary>The parameters (values and gradients) this network reads and writes.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The name prefix of this network's tensors in <see cref="Parameters"/>.</summary>
    public string Prefix { get; }

    /// <summary>The output layer y = f_out(W_out h + b_out), bound to <c>{prefix}output.weight</c> and <c>{prefix}output.bias</c>.</summary>
    public TrainableDenseLayer Output { get; }

    /// <summary>The pool tapes and scratch are rented from.</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>The parameters of the architecture under the names of the remarks, in that order (biases when <paramref name="bias"/>).</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static IReadOnlyList<ParameterSpec> Specs(JordanNetworkOptions options, string prefix = "", bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        ArgumentNullException.ThrowIfNull(prefix);
        int x = options.InputSize, h = options.HiddenSize, o = options.OutputSize;
        var specs = new List<ParameterSpec>
        {
            new(prefix + "weight_in", [h, x], ParameterRole.InputWeight),
            new(prefix + "weight_rec", [h, o], ParameterRole.RecurrentWeight),
        };
        if (bias)
        {
            specs.Add(new(prefix + "bias", [h], ParameterRole.InputBias));
        }

        specs.AddRange(TrainableDenseLayer.Specs(h, o, prefix + "output.", bias));
        return specs;
    }

    /// <summary>A network with its own parameter set (values zero until initialised or loaded).</summary>
    public static TrainableJordanNetwork Create(JordanNetworkOptions options, string prefix = "", bool bias = true, ArrayPool<float>? pool = null) =>
        new(options, ParameterSet.Create(Specs(options, prefix, bias)), prefix, pool);

    /// <summary>
    /// Whether step <paramref name="step"/> of a call with <paramref name="seed"/> is teacher-forced: step 0 never (it is
    /// fed the initial output); step t ≥ 1 when u_t &lt; <paramref name="teacherForcingRatio"/>, u_t ∈ [0, 1) a hash
    /// (SplitMix64) of the seed and t. The same answer on every machine and run, independent of the other steps.
    /// </summary>
    public static bool IsTeacherForced(double teacherForcingRatio, ulong seed, int step)
    {
        if (step < 1)
        {
            return false;
        }

        ulong z = seed + ((ulong)step * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        double u = (z >> 11) * (1.0 / (1UL << 53));
        return u < teacherForcingRatio;
    }

    /// <summary>A tape for this network (grows to the size of the calls it records).</summary>
    public JordanTape CreateTape() => new(this, Pool);

    /// <summary>An immutable inference network with the current parameter values (a copy).</summary>
    public JordanNetwork ToInferenceNetwork()
    {
        ParameterSet p = Parameters;
        return JordanNetwork.Create(
            Options, p.Value(_inputWeight), p.Value(_recurrentWeight), _bias is null ? default : p.Value(_bias),
            Output.WeightValues, Output.BiasValues, Pool);
    }

    /// <summary>
    /// Runs T steps for B sequences (time-major) and records the call on <paramref name="tape"/> for <see cref="Backward"/>.
    /// </summary>
    /// <param name="tape">A tape of this network.</param>
    /// <param name="input">x [T, B, X].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="output">Receives y [T, B, O].</param>
    /// <param name="targets">Targets [T, B, O]: a forced step t is fed targets[t − 1]. Required when
    /// <paramref name="teacherForcingRatio"/> &gt; 0, else ignored (may be empty).</param>
    /// <param name="teacherForcingRatio">The probability in [0, 1] that a step t ≥ 1 is fed the target instead of the
    /// network's own previous output (see <see cref="IsTeacherForced"/>).</param>
    /// <param name="seed">Seeds the forcing decisions of this call (vary it per call, e.g. per batch, for fresh draws).</param>
    /// <param name="initialOutput">y_{−1} [B, O], fed to step 0, or empty for zeros.</param>
    /// <param name="hidden">Receives h [T, B, H], or empty.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    public void Forward(
        JordanTape tape, ReadOnlySpan<float> input, int steps, int batch, Span<float> output,
        ReadOnlySpan<float> targets = default, double teacherForcingRatio = 0, ulong seed = 0,
        ReadOnlySpan<float> initialOutput = default, Span<float> hidden = default, ThreadTeam? threads = null)
    {
        CheckTape(tape);
        int x = Options.InputSize, h = Options.HiddenSize, o = Options.OutputSize;
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        if (!(teacherForcingRatio >= 0 && teacherForcingRatio <= 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(teacherForcingRatio), $"Must be in [0, 1], was {teacherForcingRatio}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(input.Length, nameof(input), "T·B·X", steps, batch, x);
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "T·B·O", steps, batch, o);
        if (teacherForcingRatio > 0)
        {
            ThrowHelper.ThrowIfLengthIsNot(targets.Length, nameof(targets), "T·B·O", steps, batch, o);
        }
        else
        {
            ThrowHelper.ThrowIfLengthIsNotEmptyOr(targets.Length, (long)steps * batch * o, nameof(targets), "T·B·O");
        }

        ThrowHelper.ThrowIfLengthIsNotEmptyOr(initialOutput.Length, (long)batch * o, nameof(initialOutput), "B·O");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(hidden.Length, (long)steps * batch * h, nameof(hidden), "T·B·H");
        EnsurePacked();
        tape.Begin(steps, batch, x, h, o, Parameters.Version);
        Span<bool> forced = tape.Forced;
        for (int t = 0; t < steps; t++)
        {
            forced[t] = IsTeacherForced(teacherForcingRatio, seed, t);
        }

        if (steps > 0)
        {
            Span<float> xAll = tape.Input, fed = tape.Fed, hAll = tape.Hidden, yAll = tape.Output;
            input.CopyTo(xAll);
            if (initialOutput.IsEmpty)
            {
                fed[..(batch * o)].Clear();
            }
            else
            {
                initialOutput.CopyTo(fed);
            }

            // JordanNetwork's arithmetic (the same bits as its one fused [W_in | W_rec] chain), the hidden activations
            // computed in place in the recorded h.
            var forward = new JordanForward
            {
                Options = Options, Input = _forwardInput, Recurrent = _forwardRecurrent, Bias = _bias is null ? default : Parameters.Value(_bias),
                OutputWeight = Output.ForwardWeight, OutputBias = Output.BiasValues, Threads = threads, Pool = Pool,
            };
            forward.InputTerms(xAll, steps * batch, hAll);
            for (int t = 0; t < steps; t++)
            {
                Span<float> hT = hAll.Slice(t * batch * h, batch * h);
                Span<float> yT = yAll.Slice(t * batch * o, batch * o);
                forward.Step(batch, fed.Slice(t * batch * o, batch * o), hT, hT, yT);
                if (t + 1 < steps)
                {
                    (forced[t + 1] ? targets.Slice(t * batch * o, batch * o) : yT).CopyTo(fed.Slice((t + 1) * batch * o, batch * o));
                }
            }

            yAll.CopyTo(output);
            if (!hidden.IsEmpty)
            {
                hAll.CopyTo(hidden);
            }
        }

        tape.Complete();
    }

    /// <summary>
    /// Backpropagation through time over the call recorded on <paramref name="tape"/>: through the hidden layer and,
    /// at steps that were fed the network's own previous output, through that output into the step before.
    /// </summary>
    /// <param name="tape">The tape of the latest <see cref="Forward"/> call (parameters unchanged since).</param>
    /// <param name="gradOutput">dL/dy [T, B, O], or empty for zero.</param>
    /// <param name="gradInput">Receives (added into) dL/dx [T, B, X], or empty: not wanted.</param>
    /// <param name="gradInitialOutput">Receives (added into) dL/dy_{−1} [B, O], or empty: not wanted.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <exception cref="InvalidOperationException">The tape holds no record, or the parameters changed since it was made.</exception>
    public void Backward(
        JordanTape tape, ReadOnlySpan<float> gradOutput, Span<float> gradInput = default, Span<float> gradInitialOutput = default, ThreadTeam? threads = null)
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

        int x = Options.InputSize, h = Options.HiddenSize, o = Options.OutputSize, steps = tape.Steps, batch = tape.Batch;
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradOutput.Length, (long)steps * batch * o, nameof(gradOutput), "T·B·O");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradInput.Length, (long)steps * batch * x, nameof(gradInput), "T·B·X");
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradInitialOutput.Length, (long)batch * o, nameof(gradInitialOutput), "B·O");
        if (steps == 0)
        {
            return;
        }

        ReadOnlySpan<bool> forced = tape.Forced;
        ReadOnlySpan<float> xAll = tape.Input, fed = tape.Fed, hAll = tape.Hidden, yAll = tape.Output;
        Span<float> dOut = tape.OutputGradient, dHid = tape.HiddenGradient, dH = tape.StepHiddenGradient, dFed = tape.StepFedGradient;
        ActivationKind activation = Options.HiddenActivation.ToActivationKind();
        int outRows = batch * o, hidRows = batch * h;
        for (int t = steps - 1; t >= 0; t--)
        {
            // dL/dy_t: the loss's share, plus what step t + 1 passed back when it was fed y_t itself.
            Span<float> dOutT = dOut.Slice(t * outRows, outRows);
            bool fedBack = t + 1 < steps && !forced[t + 1];
            if (gradOutput.IsEmpty)
            {
                if (fedBack)
                {
                    dFed.CopyTo(dOutT);
                }
                else
                {
                    dOutT.Clear();
                }
            }
            else if (fedBack)
            {
                TensorPrimitives.Add(gradOutput.Slice(t * outRows, outRows), dFed, dOutT);
            }
            else
            {
                gradOutput.Slice(t * outRows, outRows).CopyTo(dOutT);
            }

            // Through f_out and W_out into h_t, then through f_hid.
            Output.ActivationBackward(yAll.Slice(t * outRows, outRows), dOutT, dOutT, batch);
            Output.InputGradient(dOutT, batch, dH, accumulate: false, threads);
            Span<float> dHidT = dHid.Slice(t * hidRows, hidRows);
            Activations.Backward(activation, hAll.Slice(t * hidRows, hidRows), dH, dHidT);

            // Into what step t was fed: y_{t−1} (passed on), a target (a constant: dropped) or y_{−1} (the caller's).
            bool wanted = t > 0 ? !forced[t] : !gradInitialOutput.IsEmpty;
            if (wanted)
            {
                Gemm.MultiplyPacked(batch, dHidT, h, _backRecurrent, dFed, o, accumulate: false, threads, Pool);
                if (t == 0)
                {
                    TensorPrimitives.Add(gradInitialOutput, dFed, gradInitialOutput);
                }
            }
        }

        // Parameter and input gradients: one product over all T·B rows each.
        int rows = steps * batch;
        Span<float> sums = tape.Sums;
        Output.AddParameterGradients(hAll, dOut, rows, sums, threads);
        Gemm.MultiplyAtB(h, x, rows, dHid, h, xAll, x, Parameters.Gradient(_inputWeight), x, accumulate: true, threads, Pool);
        Gemm.MultiplyAtB(h, o, rows, dHid, h, fed, o, Parameters.Gradient(_recurrentWeight), o, accumulate: true, threads, Pool);
        if (_bias is not null)
        {
            ColumnSums.Add(dHid, rows, h, sums, Parameters.Gradient(_bias));
        }

        if (!gradInput.IsEmpty)
        {
            Gemm.MultiplyPacked(rows, dHid, h, _backInput, gradInput, x, accumulate: true, threads, Pool);
        }
    }

    /// <summary>Re-packs the weights when the parameter values changed since the last pack.</summary>
    private void EnsurePacked()
    {
        Output.EnsurePacked();
        ParameterSet p = Parameters;
        if (_packedVersion == p.Version)
        {
            return;
        }

        int x = Options.InputSize, o = Options.OutputSize;
        _forwardInput.Repack(p.Value(_inputWeight), x);
        _forwardRecurrent.Repack(p.Value(_recurrentWeight), o);
        _backInput.Repack(p.Value(_inputWeight), x);
        _backRecurrent.Repack(p.Value(_recurrentWeight), o);
        _packedVersion = p.Version;
    }

    private void CheckTape(JordanTape tape)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (!ReferenceEquals(tape.Owner, this))
        {
            ThrowHelper.Argument(nameof(tape), "The tape belongs to another network; create one with CreateTape().");
        }
    }
}
