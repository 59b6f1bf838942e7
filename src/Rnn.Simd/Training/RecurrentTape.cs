using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Training;

/// <summary>
/// What a training forward pass keeps for backward: the inputs, every layer's outputs, gate activations and states.
/// One buffer rented from the network's pool, grown when a call needs more and reused after that, so training
/// steps of a steady size allocate nothing. Dispose to return the buffer.
/// </summary>
/// <remarks>
/// A tape belongs to one <see cref="TrainableRecurrentNetwork"/> and is not thread-safe: use one per thread.
/// <see cref="TrainableRecurrentNetwork.Backward"/> reads the tape of the latest forward call and may run more
/// than once; a change of the parameters in between (an optimiser step) makes the record stale.
/// </remarks>
public sealed class RecurrentTape : IDisposable
{
    private readonly TapeBuffer _buffer;
    private int[] _lengths = [];

    internal RecurrentTape(TrainableRecurrentNetwork owner, ArrayPool<float> pool)
    {
        Owner = owner;
        _buffer = new TapeBuffer(pool, nameof(RecurrentTape));
    }

    internal TrainableRecurrentNetwork Owner { get; }

    /// <summary>Whether a forward call has been recorded (and is still valid for backward).</summary>
    public bool IsRecorded { get; private set; }

    /// <summary>Time steps of the recorded call.</summary>
    public int Steps => Plan.Steps;

    /// <summary>Sequences of the recorded call.</summary>
    public int Batch => Plan.Batch;

    /// <summary>Floats currently held (the tape's size).</summary>
    public int Capacity => _buffer.Capacity;

    internal TrainingPlan Plan { get; private set; }

    internal long ParameterVersion { get; private set; }

    internal bool BatchFirst { get; private set; }

    internal bool LastStepOnly { get; private set; }

    internal bool HasLengths { get; private set; }

    /// <summary>The dropout the recorded call ran with (null: none).</summary>
    internal DropoutOptions? Dropout { get; private set; }

    /// <summary>The step the recorded call's dropout masks were drawn for.</summary>
    internal long DropoutStep { get; private set; }

    internal ReadOnlySpan<int> Lengths => HasLengths ? _lengths.AsSpan(0, Plan.Batch) : default;

    /// <summary>Sizes the tape for a call and returns its buffer (old contents are not kept).</summary>
    internal Span<float> Begin(TrainingPlan plan, ReadOnlySpan<int> lengths, bool batchFirst, bool lastStepOnly, long version, DropoutOptions? dropout = null, long dropoutStep = 0)
    {
        Dropout = dropout;
        DropoutStep = dropoutStep;
        _buffer.Reserve(plan.TotalFloats);
        IsRecorded = false;

        if (_lengths.Length < plan.Batch && !lengths.IsEmpty)
        {
            _lengths = new int[plan.Batch];
        }

        lengths.CopyTo(_lengths);
        HasLengths = !lengths.IsEmpty;
        Plan = plan;
        BatchFirst = batchFirst;
        LastStepOnly = lastStepOnly;
        ParameterVersion = version;
        return _buffer.Slice(0, plan.TotalFloats);
    }

    internal void Complete() => IsRecorded = true;

    internal Span<float> Buffer => _buffer.Slice(0, Plan.TotalFloats);

    /// <summary>Returns the buffer to the pool. The tape can not be used afterwards.</summary>
    public void Dispose()
    {
        IsRecorded = false;
        _buffer.Dispose();
    }
}
