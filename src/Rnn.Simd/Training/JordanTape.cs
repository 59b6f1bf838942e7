using System.Buffers;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// What a <see cref="TrainableJordanNetwork"/> forward pass keeps for backward, and backward's scratch: one buffer
/// rented from the network's pool, grown when a call needs more and reused after that, so training steps of a steady
/// size allocate nothing. Dispose to return the buffer.
/// </summary>
/// <remarks>
/// <code>
///   x       [T, B, X]   the inputs
///   fed     [T, B, O]   what step t was fed as y_{t−1}: the initial output, a target, or the network's own output
///   h       [T, B, H]   hidden activations
///   y       [T, B, O]   outputs
///   dOut    [T, B, O]   backward: dL/d(output pre-activation)
///   dHid    [T, B, H]   backward: dL/d(hidden pre-activation)
///   dH      [B, H]      backward: dL/dh_t
///   dFed    [B, O]      backward: dL/d(what step t was fed)
///   sum     [max(H, O)] backward: bias column sums
/// </code>
/// A tape belongs to one network and is not thread-safe: use one per thread. Backward may run more than once on
/// one record; a change of the parameters in between (an optimiser step) makes the record stale.
/// </remarks>
public sealed class JordanTape : IDisposable
{
    private readonly TapeBuffer _buffer;
    private bool[] _forced = [];
    private int _x, _h, _o;
    private int _fed, _hidden, _output, _dOut, _dHid, _dH, _dFed, _sum;   // offsets, in the order of the remarks

    internal JordanTape(TrainableJordanNetwork owner, ArrayPool<float> pool)
    {
        Owner = owner;
        _buffer = new TapeBuffer(pool, nameof(JordanTape));
    }

    internal TrainableJordanNetwork Owner { get; }

    /// <summary>Whether a forward call has been recorded (and is still valid for backward).</summary>
    public bool IsRecorded { get; private set; }

    /// <summary>Time steps of the recorded call.</summary>
    public int Steps { get; private set; }

    /// <summary>Sequences of the recorded call.</summary>
    public int Batch { get; private set; }

    /// <summary>Floats currently held (the tape's size).</summary>
    public int Capacity => _buffer.Capacity;

    internal long ParameterVersion { get; private set; }

    /// <summary>
    /// Whether step <paramref name="step"/> of the recorded call was fed the target of step − 1 (teacher forcing)
    /// rather than the network's own previous output (or, at step 0, the initial output, never forced).
    /// </summary>
    /// <exception cref="InvalidOperationException">No call is recorded.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is not in [0, <see cref="Steps"/>).</exception>
    public bool WasTeacherForced(int step)
    {
        if (!IsRecorded)
        {
            ThrowHelper.InvalidOperation("The tape holds no forward call.");
        }

        if ((uint)step >= (uint)Steps)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(step), $"Must be in [0, {Steps}), was {step}.");
        }

        return _forced[step];
    }

    internal Span<bool> Forced => _forced.AsSpan(0, Steps);

    internal Span<float> Input => _buffer.Slice(0, Steps * Batch * _x);

    internal Span<float> Fed => _buffer.Slice(_fed, Steps * Batch * _o);

    internal Span<float> Hidden => _buffer.Slice(_hidden, Steps * Batch * _h);

    internal Span<float> Output => _buffer.Slice(_output, Steps * Batch * _o);

    internal Span<float> OutputGradient => _buffer.Slice(_dOut, Steps * Batch * _o);

    internal Span<float> HiddenGradient => _buffer.Slice(_dHid, Steps * Batch * _h);

    internal Span<float> StepHiddenGradient => _buffer.Slice(_dH, Batch * _h);

    internal Span<float> StepFedGradient => _buffer.Slice(_dFed, Batch * _o);

    internal Span<float> Sums => _buffer.Slice(_sum, Math.Max(_h, _o));

    /// <summary>Sizes the tape for a call (old contents are not kept).</summary>
    internal void Begin(int steps, int batch, int inputSize, int hiddenSize, int outputSize, long version)
    {
        if (_buffer.IsDisposed)
        {
            ThrowHelper.ObjectDisposed(nameof(JordanTape));
        }

        IsRecorded = false;
        long rows = (long)steps * batch, offset = 0;
        int Take(long floats)
        {
            long start = offset;
            offset += (floats + 15) & ~15L;   // every view starts on a 16-float boundary
            return (int)Math.Min(start, int.MaxValue);
        }

        Take(rows * inputSize);
        int fed = Take(rows * outputSize), hidden = Take(rows * hiddenSize), output = Take(rows * outputSize);
        int dOut = Take(rows * outputSize), dHid = Take(rows * hiddenSize);
        int dH = Take((long)batch * hiddenSize), dFed = Take((long)batch * outputSize), sum = Take(Math.Max(hiddenSize, outputSize));
        long total = offset;
        if (total > Array.MaxLength)
        {
            ThrowHelper.Argument("steps", $"Training on this call needs {total} floats of tape, more than one array holds; split the batch or the sequence.");
        }

        _buffer.Reserve((int)total);

        if (_forced.Length < steps)
        {
            _forced = new bool[steps];
        }

        Steps = steps;
        Batch = batch;
        _x = inputSize;
        _h = hiddenSize;
        _o = outputSize;
        (_fed, _hidden, _output, _dOut, _dHid, _dH, _dFed, _sum) = (fed, hidden, output, dOut, dHid, dH, dFed, sum);
        ParameterVersion = version;
    }

    internal void Complete() => IsRecorded = true;

    /// <summary>Returns the buffer to the pool. The tape can not be used afterwards.</summary>
    public void Dispose()
    {
        IsRecorded = false;
        _buffer.Dispose();
    }
}
