using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable <see cref="SequenceClassifier"/> for serving: embedding, recurrent network and head with their weights
/// packed once. Safe to share between threads; each call rents its scratch from the pool and returns it, so calls
/// allocate nothing. Take one with <see cref="SequenceClassifier.ToInference"/>.
/// </summary>
public sealed class SequenceClassifierInference
{
    private readonly InferenceModelParts _parts;

    internal SequenceClassifierInference(SequenceClassifierOptions options, InferenceModelParts parts)
    {
        Options = options;
        _parts = parts;
    }

    /// <summary>The architecture.</summary>
    public SequenceClassifierOptions Options { get; }

    /// <summary>The embedding (token input), or null.</summary>
    public Embedding? Embedding => _parts.Embedding;

    /// <summary>The recurrent stack.</summary>
    public RecurrentNetwork Recurrent => _parts.Recurrent;

    /// <summary>The head (identity activation: logits).</summary>
    public DenseLayer Head => _parts.Head;

    /// <summary>
    /// Classifies a batch of float-feature sequences [T, B, X] (time-major): writes logits, or softmax probabilities when
    /// <paramref name="probabilities"/>, into <paramref name="output"/> [B, C]. The same values as the training pass.
    /// </summary>
    /// <param name="input">Features [T, B, X].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="output">Receives [B, C].</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="probabilities">Whether to write softmax probabilities rather than logits.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a length is out of range, or the model reads tokens.</exception>
    public void Predict(
        ReadOnlySpan<float> input, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths = default, bool probabilities = false, ThreadTeam? threads = null) =>
        Run(input, default, tokenCall: false, steps, batch, output, lengths, probabilities, threads);

    /// <summary>Classifies a batch of token sequences [T, B] (time-major ids); otherwise as the overload taking features.</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a token or length is out of range, or the model reads features.</exception>
    public void Predict(
        ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths = default, bool probabilities = false, ThreadTeam? threads = null) =>
        Run(default, tokens, tokenCall: true, steps, batch, output, lengths, probabilities, threads);

    /// <summary>
    /// A stream of <paramref name="batch"/> sequences fed one step at a time; after t steps its
    /// <see cref="ClassifierStream.Read"/> equals, bit for bit, <see cref="Predict(ReadOnlySpan{float}, int, int, Span{float}, ReadOnlySpan{int}, bool, ThreadTeam?)"/>
    /// on the t-step prefix.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stack is bidirectional.</exception>
    public ClassifierStream CreateStream(int batch = 1) => new(_parts, batch);

    private void Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, bool tokenCall, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths, bool probabilities, ThreadTeam? threads)
    {
        ModelParts.ValidateInput(Options, input.Length, tokens, tokenCall, steps, batch);
        ModelParts.ValidateLengths(lengths, steps, batch);
        ThrowHelper.ThrowIfLengthIsNot(output.Length, (long)batch * Options.Classes, nameof(output), "B·C");

        RecurrentNetworkOptions o = _parts.Recurrent.Options;
        int embeddedFloats = tokenCall ? steps * batch * Options.EmbeddingSize : 0;
        int stateFloats = o.Layers * o.Directions * batch * o.OutputSize;
        int summaryFloats = batch * Options.HeadInputs;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(embeddedFloats + (batch * o.LayerOutputSize) + stateFloats + summaryFloats, _parts.Pool);
        Span<float> rest = scratch.Span;
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);          // [T, B, E]
        Span<float> last = ModelParts.Take(ref rest, batch * o.LayerOutputSize);   // [B, F] (unused)
        Span<float> hN = ModelParts.Take(ref rest, stateFloats);                   // [L·D, B, Hout]
        Span<float> summary = ModelParts.Take(ref rest, summaryFloats);            // [B, D·Hout]

        ReadOnlySpan<float> x = _parts.StepInput(input, tokens, embedded);
        _parts.Recurrent.Forward(x, steps, batch, last, hN: hN, lengths: lengths, threads: threads, lastStepOnly: true);
        ModelParts.GatherFinalStates(hN, o, batch, summary);
        _parts.HeadForward(summary, batch, output, probabilities, threads);
    }
}
