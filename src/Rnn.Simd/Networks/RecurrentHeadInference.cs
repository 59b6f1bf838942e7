using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// What <see cref="SequenceClassifierInference"/> and <see cref="SequenceTaggerInference"/> share: an immutable
/// embedding, recurrent network and head with their weights packed once, batch prediction and streams. Safe to share
/// between threads; each call rents its scratch from the pool and returns it, so calls allocate nothing.
/// </summary>
public abstract class RecurrentHeadInference
{
    private protected RecurrentHeadInference(RecurrentHeadOptions options, InferenceModelParts parts)
    {
        HeadOptions = options;
        Parts = parts;
    }

    /// <summary>The embedding (token input), or null.</summary>
    public Embedding? Embedding => Parts.Embedding;

    /// <summary>The recurrent stack.</summary>
    public RecurrentNetwork Network => Parts.Recurrent;

    /// <summary>The head (identity activation: logits).</summary>
    public DenseLayer Head => Parts.Head;

    private protected RecurrentHeadOptions HeadOptions { get; }

    private protected InferenceModelParts Parts { get; }

    /// <summary>
    /// Runs the model over a batch of float-feature sequences [T, B, X] (time-major) and writes logits, or softmax
    /// probabilities when <paramref name="probabilities"/>: [B, C] for a classifier, [T, B, C] for a tagger (whose
    /// padded steps hold the head's output on a zero row). The same values as the training pass.
    /// </summary>
    /// <param name="input">Features [T, B, X].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="output">Receives the scores.</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="probabilities">Whether to write softmax probabilities rather than logits.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a length is out of range, or the model reads tokens.</exception>
    public void Predict(
        ReadOnlySpan<float> input, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths = default, bool probabilities = false, ThreadTeam? threads = null)
    {
        ModelParts.ValidateInput(HeadOptions, input.Length, default, tokenCall: false, steps, batch);
        ModelParts.ValidateLengths(lengths, steps, batch);
        Run(input, default, steps, batch, output, lengths, probabilities, threads);
    }

    /// <summary>Runs the model over a batch of token sequences [T, B] (time-major ids); otherwise as the overload taking features.</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a token or length is out of range, or the model reads features.</exception>
    public void Predict(
        ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths = default, bool probabilities = false, ThreadTeam? threads = null)
    {
        ModelParts.ValidateInput(HeadOptions, 0, tokens, tokenCall: true, steps, batch);
        ModelParts.ValidateLengths(lengths, steps, batch);
        Run(default, tokens, steps, batch, output, lengths, probabilities, threads);
    }

    /// <summary>
    /// A stream of <paramref name="batch"/> sequences fed one step at a time: after t steps its
    /// <see cref="ModelStream.Read"/> equals, bit for bit, the batch call's scores for the t-step prefix (a
    /// classifier's [B, C]; a tagger's row t − 1).
    /// </summary>
    /// <exception cref="InvalidOperationException">The stack is bidirectional.</exception>
    public ModelStream CreateStream(int batch = 1) => new(Parts.Embedding, Parts.Recurrent, Parts.Head, batch);

    /// <summary>The prediction itself, after the input and lengths have been validated.</summary>
    private protected abstract void Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths, bool probabilities, ThreadTeam? threads);
}
