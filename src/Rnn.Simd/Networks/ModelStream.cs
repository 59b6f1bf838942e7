using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// The one stream type of every model: B streams through an immutable (embedding →) unidirectional recurrent stack →
/// dense head, fed a time step (or a chunk of steps) at a time, with the head's output read at any point. Owned by one
/// caller; the model it reads stays shared. A step allocates nothing; a chunk longer than any before grows the scratch
/// once.
/// </summary>
/// <remarks>
/// <para>After t steps the head's output is exactly (bit for bit) what the model's batch call gives for the same
/// t-step prefix: a classifier's logits for the prefix, a tagger's for step t − 1, a language model's logits of the
/// next token, a forecaster's next values. It is the head applied to the last layer's h after the latest step
/// (before any step, to h = 0). Built on <see cref="RecurrentNetwork.CreateState"/> and
/// <see cref="RecurrentNetwork.Process"/>.</para>
/// <para>Made by each inference snapshot's <c>CreateStream</c>; <see cref="TokenGenerator"/> and
/// <see cref="ForecastStream"/> drive one to generate.</para>
/// </remarks>
public sealed class ModelStream
{
    private readonly Embedding? _embedding;
    private readonly RecurrentNetwork _network;
    private readonly DenseLayer _head;
    private readonly float[] _output;     // [B, O] the head's output for the latest step
    private float[] _x, _y;               // [n, B, E] embedded tokens; [n, B, Hout] the stack's outputs (unused: the state holds the last)

    internal ModelStream(Embedding? embedding, RecurrentNetwork network, DenseLayer head, int batch)
    {
        if (network.Options.Bidirectional || network.Options.Reverse)
        {
            ThrowHelper.InvalidOperation($"A {(network.Options.Reverse ? "reverse" : "bidirectional")} model needs whole sequences (its reverse direction starts at the end); use the batch call.");
        }

        _embedding = embedding;
        _network = network;
        _head = head;
        State = network.CreateState(batch);
        ThrowHelper.ThrowIfTooLarge(nameof(batch), "B·O", batch, head.Outputs);
        _output = new float[batch * head.Outputs];
        _x = embedding is null ? [] : new float[batch * embedding.Dimension];
        _y = new float[batch * network.Options.OutputSize];
    }

    /// <summary>The recurrent state (h, and c for LSTM, of every layer): plain data that can be saved and restored.</summary>
    public RecurrentState State { get; }

    /// <summary>Streams B.</summary>
    public int Batch => State.Batch;

    /// <summary>Steps fed since creation or the last <see cref="Reset"/>.</summary>
    public long Steps => State.Steps;

    /// <summary>The head's outputs per stream O (classes, vocabulary, or features).</summary>
    public int Outputs => _head.Outputs;

    /// <summary>Whether a step has been fed since creation or the last <see cref="Reset"/>.</summary>
    public bool HasOutput => State.Steps > 0;

    /// <summary>
    /// The head's output [B, O] for the latest step fed through this stream (logits for the classifying models),
    /// computed once per <see cref="Step(ReadOnlySpan{float}, ThreadTeam?)"/> or <see cref="Run(ReadOnlySpan{float}, int, ThreadTeam?)"/>;
    /// valid once <see cref="HasOutput"/>. <see cref="Read"/> computes it afresh from <see cref="State"/>.
    /// </summary>
    public ReadOnlySpan<float> Output => _output;

    /// <summary>Feeds one step of float features x [B, X].</summary>
    /// <exception cref="ArgumentException">The model reads tokens, or x does not hold B·X values.</exception>
    public void Step(ReadOnlySpan<float> input, ThreadTeam? threads = null) => Run(input, 1, threads);

    /// <summary>Feeds one step of token ids [B].</summary>
    /// <exception cref="ArgumentException">The model reads features, tokens does not hold B ids, or an id is out of the vocabulary.</exception>
    public void Step(ReadOnlySpan<int> tokens, ThreadTeam? threads = null) => Run(tokens, 1, threads);

    /// <summary>Feeds <paramref name="steps"/> steps of float features x [steps, B, X] (time-major) in one call.</summary>
    /// <exception cref="ArgumentException">The model reads tokens, steps &lt; 1, or x does not hold steps·B·X values.</exception>
    public void Run(ReadOnlySpan<float> input, int steps, ThreadTeam? threads = null)
    {
        if (_embedding is not null)
        {
            ThrowHelper.Argument(nameof(input), "This model reads token ids; call the overload taking tokens.");
        }

        RequireSteps(steps);
        ThrowHelper.ThrowIfLengthIsNot(input.Length, nameof(input), "steps·B·X", steps, Batch, _network.Options.InputSize);
        Advance(input, steps, threads);
    }

    /// <summary>Feeds <paramref name="steps"/> steps of token ids [steps, B] (time-major) in one call.</summary>
    /// <exception cref="ArgumentException">The model reads features, steps &lt; 1, tokens does not hold steps·B ids, or an id is out of the vocabulary.</exception>
    public void Run(ReadOnlySpan<int> tokens, int steps, ThreadTeam? threads = null)
    {
        if (_embedding is null)
        {
            ThrowHelper.Argument(nameof(tokens), "This model reads float features; call the overload taking input.");
        }

        RequireSteps(steps);
        ThrowHelper.ThrowIfLengthIsNot(tokens.Length, nameof(tokens), "steps·B", steps, Batch);
        int floats = tokens.Length * _embedding.Dimension;
        Buffers.Grow(ref _x, floats);
        _embedding.Lookup(tokens, _x.AsSpan(0, floats));   // checks every id
        Advance(_x.AsSpan(0, floats), steps, threads);
    }

    /// <summary>Writes the head's output for the latest step [B, O]: logits, or softmax probabilities when <paramref name="probabilities"/>.</summary>
    /// <exception cref="ArgumentException">The output does not hold B·O values.</exception>
    public void Read(Span<float> output, bool probabilities = false, ThreadTeam? threads = null)
    {
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "B·O", Batch, Outputs);
        HeadOnLastLayer(output, threads);
        if (probabilities)
        {
            Activations.SoftmaxRows(output, Outputs, output, Outputs, Batch, Outputs);
        }
    }

    /// <summary>Starts every stream again from zero state.</summary>
    public void Reset()
    {
        State.Reset();
        _output.AsSpan().Clear();
    }

    /// <summary>Throws unless a step has been fed.</summary>
    internal void RequireOutput()
    {
        if (!HasOutput)
        {
            ThrowHelper.InvalidOperation("Nothing has been fed yet: prime the stream with at least one step first.");
        }
    }

    private static void RequireSteps(int steps)
    {
        if (steps < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(steps), $"Must be at least 1, was {steps}.");
        }
    }

    private void Advance(ReadOnlySpan<float> x, int steps, ThreadTeam? threads)
    {
        int floats = steps * Batch * _network.Options.OutputSize;
        Buffers.Grow(ref _y, floats);
        _network.Process(State, x, steps, _y.AsSpan(0, floats), threads);
        HeadOnLastLayer(_output, threads);
    }

    private void HeadOnLastLayer(Span<float> output, ThreadTeam? threads)
    {
        RecurrentNetworkOptions o = _network.Options;
        int slice = Batch * o.OutputSize;
        _head.Forward(State.Hidden.Slice((o.Layers - 1) * slice, slice), Batch, output, threads, _network.Pool);
    }
}
