using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A next-token language model for training (<see cref="LanguageModelOptions"/>): stateful truncated BPTT on chunks of
/// token ids, the way char-rnn trains, and an immutable snapshot (<see cref="ToInference"/>) that generates.
/// </summary>
/// <remarks>
/// <para><see cref="ForwardBackward"/> runs one chunk x [T, B] (time-major ids) with targets [T, B] (usually the next
/// tokens; <see cref="Losses.DefaultIgnoreIndex"/> counts for nothing): embedding → stack → head, L = mean softmax
/// cross-entropy over the counted positions, then backward, adding dL/d(every parameter) into
/// <see cref="SequenceModel.Parameters"/> (zeroing and the optimiser step are the caller's, e.g. <see cref="Trainer"/>).</para>
/// <para>The stack starts each chunk from the previous chunk's final state, a constant for backward (PyTorch's
/// <c>h.detach()</c>): B parallel streams, each continuing where it stopped. <see cref="StatefulSequenceModel.ResetState"/> starts new
/// streams from zeros. Chunks of one size allocate nothing after the first; driven by one thread at a time.</para>
/// </remarks>
public sealed class LanguageModel : StatefulSequenceModel
{
    /// <summary>Binds a model to <c>embedding.weight</c>, <c>rnn.*</c> and <c>head.*</c> of <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid, or a tensor is missing or has the wrong shape.</exception>
    public LanguageModel(LanguageModelOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters, Valid(options).Stack, options.VocabularySize, options.VocabularySize, pool)
    {
    }

    /// <summary>The architecture.</summary>
    public new LanguageModelOptions Options => (LanguageModelOptions)base.Options;

    /// <summary>The token embedding (<c>embedding.weight</c>).</summary>
    public TrainableEmbedding Embedding => Core.Embedding!;

    /// <summary>
    /// A model with a new parameter set: zeros (to load weights into), or with <paramref name="seed"/> PyTorch's default
    /// initialisation (<see cref="Initializers.Apply"/>; embeddings N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static LanguageModel Create(LanguageModelOptions options, ulong? seed = null, ArrayPool<float>? pool = null) =>
        new(options, CreateParameters(options, seed), pool);

    /// <summary>
    /// One stateful training step on a chunk: forward, mean cross-entropy, backward (gradients added), and the final
    /// state carried to the next chunk.
    /// </summary>
    /// <param name="tokens">Input ids x [T, B], time-major.</param>
    /// <param name="targets">Target ids [T, B] (the next tokens), or <see cref="Losses.DefaultIgnoreIndex"/> to skip a position.</param>
    /// <param name="steps">T ≥ 1.</param>
    /// <param name="batch">B ≥ 1; the carried batch unless the state was reset.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <returns>The mean loss over the counted positions (NaN when none counts) and how many next tokens the logits got right.</returns>
    /// <exception cref="ArgumentException">A size is off, an id is out of range, or the batch differs from the carried one.</exception>
    public TrainingResult ForwardBackward(ReadOnlySpan<int> tokens, int steps, int batch, ReadOnlySpan<int> targets, ThreadTeam? threads = null)
    {
        int v = Options.VocabularySize;
        ValidateChunk(steps, batch, tokens.Length, 1, nameof(tokens), "T·B");
        ThrowHelper.ThrowIfLengthIsNot(targets.Length, nameof(targets), "T·B", steps, batch);
        Networks.Embedding.ValidateTokens(tokens, v, nameof(tokens));
        ValidateTargets(targets, v, nameof(targets));
        State.Prepare(batch, nameof(batch));

        Core.EmbedForTraining(tokens, Core.Input(steps, batch));
        Span<float> logits = ForwardChunk(threads);
        double loss = Losses.SoftmaxCrossEntropy(logits, steps * batch, v, targets, Core.OutputGradient);
        (int correct, int counted) = ModelParts.Score(logits, steps * batch, v, targets, default);
        Core.EmbeddingBackward(tokens, Core.Backward(default, default, inputGradient: true, threads));
        State.Advance();
        return new TrainingResult(loss, correct, counted);
    }

    /// <summary>An immutable snapshot of the current parameters for generation and evaluation (safe to share between threads).</summary>
    public LanguageModelInference ToInference() =>
        new(Options, Embedding.ToInferenceEmbedding(), Network.ToInferenceNetwork(), Head.ToInferenceLayer());

    /// <summary>Throws unless steps ≥ 1, batch ≥ 1 and the buffer holds steps·batch·features values.</summary>
    internal static void ValidateChunk(int steps, int batch, int length, int features, string paramName, string shape)
    {
        if (steps < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(steps), $"Must be at least 1, was {steps}.");
        }

        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        if (features == 1)
        {
            ThrowHelper.ThrowIfLengthIsNot(length, paramName, shape, steps, batch);
        }
        else
        {
            ThrowHelper.ThrowIfLengthIsNot(length, paramName, shape, steps, batch, features);
        }
    }

    /// <summary>Throws unless every target is a token id or the ignore index.</summary>
    internal static void ValidateTargets(ReadOnlySpan<int> targets, int vocabulary, string paramName)
    {
        for (int i = 0; i < targets.Length; i++)
        {
            if ((uint)targets[i] >= (uint)vocabulary && targets[i] != Losses.DefaultIgnoreIndex)
            {
                ThrowHelper.ArgumentOutOfRange(paramName, $"Target {targets[i]} at position {i} is neither a token in 0 … {vocabulary - 1} nor the ignore index {Losses.DefaultIgnoreIndex}.");
            }
        }
    }
}
