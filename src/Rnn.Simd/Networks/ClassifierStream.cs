using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// A stream through a unidirectional <see cref="SequenceClassifierInference"/> or <see cref="SequenceTaggerInference"/>:
/// feed one time step of B streams at a time and read the class scores at that point. Owned by one caller; the model
/// it reads stays shared. Allocates nothing per step.
/// </summary>
/// <remarks>
/// After t steps, <see cref="Read"/> gives exactly (bit for bit) what the batch call gives for the same t-step prefix:
/// for a classifier, its logits or probabilities for the prefix; for a tagger, those of step t − 1. Both are the head
/// applied to the last layer's h after step t − 1 (before any step, to h = 0). Built on
/// <see cref="RecurrentNetwork.CreateState"/> and <see cref="RecurrentNetwork.Step"/>.
/// </remarks>
public sealed class ClassifierStream
{
    private readonly InferenceModelParts _parts;
    private readonly float[] _embedded;   // [B, E] token input, else empty
    private readonly float[] _output;     // [B, Hout] the step's output, unused (the state holds it)

    internal ClassifierStream(InferenceModelParts parts, int batch)
    {
        if (parts.Recurrent.Options.Bidirectional)
        {
            ThrowHelper.InvalidOperation("A bidirectional model needs whole sequences (its reverse direction starts at the end); use the batch call.");
        }

        _parts = parts;
        State = parts.Recurrent.CreateState(batch);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "B·E", batch, parts.Embedding?.Dimension ?? 0);
        _embedded = parts.Embedding is null ? [] : new float[batch * parts.Embedding.Dimension];
        _output = new float[batch * parts.Recurrent.Options.OutputSize];
    }

    /// <summary>The recurrent state (h, and c for LSTM, of every layer): plain data that can be saved and restored.</summary>
    public RecurrentState State { get; }

    /// <summary>Streams B.</summary>
    public int Batch => State.Batch;

    /// <summary>Steps fed since creation or the last <see cref="Reset"/>.</summary>
    public long Steps => State.Steps;

    /// <summary>Classes C per stream.</summary>
    public int Classes => _parts.Head.Outputs;

    /// <summary>Feeds one step of float features x [B, X].</summary>
    /// <exception cref="ArgumentException">The model reads tokens, or x does not hold B·X values.</exception>
    public void Step(ReadOnlySpan<float> input, ThreadTeam? threads = null)
    {
        if (_parts.Embedding is not null)
        {
            ThrowHelper.Argument(nameof(input), "This model reads token ids; call the overload taking tokens.");
        }

        ThrowHelper.ThrowIfLengthIsNot(input.Length, nameof(input), "B·X", Batch, _parts.Recurrent.Options.InputSize);
        _parts.Recurrent.Step(State, input, _output, threads);
    }

    /// <summary>Feeds one step of token ids [B].</summary>
    /// <exception cref="ArgumentException">The model reads features, tokens does not hold B ids, or an id is out of the vocabulary.</exception>
    public void Step(ReadOnlySpan<int> tokens, ThreadTeam? threads = null)
    {
        if (_parts.Embedding is null)
        {
            ThrowHelper.Argument(nameof(tokens), "This model reads float features; call the overload taking input.");
        }

        ThrowHelper.ThrowIfLengthIsNot(tokens.Length, Batch, nameof(tokens), "B");
        _parts.Embedding.Lookup(tokens, _embedded);
        _parts.Recurrent.Step(State, _embedded, _output, threads);
    }

    /// <summary>Writes the current class scores [B, C]: logits, or softmax probabilities when <paramref name="probabilities"/>.</summary>
    /// <exception cref="ArgumentException">The output does not hold B·C values.</exception>
    public void Read(Span<float> output, bool probabilities = false, ThreadTeam? threads = null)
    {
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "B·C", Batch, Classes);
        RecurrentNetworkOptions o = _parts.Recurrent.Options;
        int slice = Batch * o.OutputSize;
        _parts.HeadForward(State.Hidden.Slice((o.Layers - 1) * slice, slice), Batch, output, probabilities, threads);
    }

    /// <summary>Starts every stream again from zero state.</summary>
    public void Reset() => State.Reset();
}
