using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable <see cref="SequenceTagger"/> for serving: embedding, recurrent network and head with their weights
/// packed once. Safe to share between threads; each call rents its scratch from the pool and returns it, so calls
/// allocate nothing. Take one with <see cref="SequenceTagger.ToInference"/>.
/// </summary>
public sealed class SequenceTaggerInference
{
    private readonly InferenceModelParts _parts;

    internal SequenceTaggerInference(SequenceTaggerOptions options, InferenceModelParts parts)
    {
        Options = options;
        _parts = parts;
    }

    /// <summary>The architecture.</summary>
    public SequenceTaggerOptions Options { get; }

    /// <summary>The embedding (token input), or null.</summary>
    public Embedding? Embedding => _parts.Embedding;

    /// <summary>The recurrent stack.</summary>
    public RecurrentNetwork Recurrent => _parts.Recurrent;

    /// <summary>The head (identity activation: logits).</summary>
    public DenseLayer Head => _parts.Head;

    /// <summary>
    /// Tags a batch of float-feature sequences [T, B, X] (time-major): writes every step's logits, or softmax
    /// probabilities when <paramref name="probabilities"/>, into <paramref name="output"/> [T, B, C]. Padded steps hold
    /// the head's output on a zero row (the bias). The same values as the training pass.
    /// </summary>
    /// <param name="input">Features [T, B, X].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="output">Receives [T, B, C].</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="probabilities">Whether to write softmax probabilities rather than logits.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a length is out of range, or the model reads tokens.</exception>
    public void Predict(
        ReadOnlySpan<float> input, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths = default, bool probabilities = false, ThreadTeam? threads = null) =>
        Run(input, default, tokenCall: false, steps, batch, output, lengths, probabilities, threads);

    /// <summary>Tags a batch of token sequences [T, B] (time-major ids); otherwise as the overload taking features.</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a token or length is out of range, or the model reads features.</exception>
    public void Predict(
        ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths = default, bool probabilities = false, ThreadTeam? threads = null) =>
        Run(default, tokens, tokenCall: true, steps, batch, output, lengths, probabilities, threads);

    /// <summary>
    /// A stream of <paramref name="batch"/> sequences fed one step at a time; after step t its
    /// <see cref="ClassifierStream.Read"/> equals, bit for bit, row t of the batch call's output.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stack is bidirectional.</exception>
    public ClassifierStream CreateStream(int batch = 1) => new(_parts, batch);

    private void Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, bool tokenCall, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths, bool probabilities, ThreadTeam? threads)
    {
        ModelParts.ValidateInput(Options, input.Length, tokens, tokenCall, steps, batch);
        ModelParts.ValidateLengths(lengths, steps, batch);
        int rows = steps * batch;
        ThrowHelper.ThrowIfLengthIsNot(output.Length, (long)rows * Options.Classes, nameof(output), "T·B·C");

        int embeddedFloats = tokenCall ? rows * Options.EmbeddingSize : 0;
        int features = _parts.Recurrent.Options.LayerOutputSize;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(embeddedFloats + (rows * features), _parts.Pool);
        Span<float> rest = scratch.Span;
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);   // [T, B, E]
        Span<float> hidden = ModelParts.Take(ref rest, rows * features);    // [T, B, F]

        ReadOnlySpan<float> x = _parts.StepInput(input, tokens, embedded);
        _parts.Recurrent.Forward(x, steps, batch, hidden, lengths: lengths, threads: threads);
        _parts.HeadForward(hidden, rows, output, probabilities, threads);
    }
}
