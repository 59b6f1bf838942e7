using System.Buffers;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// What <see cref="SequenceClassifier"/> and <see cref="SequenceTagger"/> share: an input stage (features, or tokens
/// through <see cref="Embedding"/>), a recurrent stack and a dense head bound to one <see cref="ParameterSet"/>, and a
/// training pass that adds the gradients of one batch's mean cross-entropy.
/// </summary>
/// <remarks>
/// The training pass reuses one tape and one pooled workspace, so steps of a steady size allocate nothing; zeroing
/// the gradients and optimiser steps are the caller's (<see cref="Trainer"/>). Driven by one thread at a time;
/// <see cref="Dispose"/> returns the tape and workspace to the pool. Inputs and labels are time-major.
/// </remarks>
public abstract class RecurrentHeadModel : SequenceModel, IDisposable
{
    private protected RecurrentHeadModel(RecurrentHeadOptions options, ParameterSet parameters, ArrayPool<float>? pool)
        : base(options, parameters)
    {
        options.Validate();
        Parts = new StackWithHead(options.Stack, options.HeadInputs, options.Classes, OutputActivation.Identity, parameters, options.TokenInput ? options.VocabularySize : 0, ModelPrefixes.Default, pool);
        Parts.Network.Dropout = options.Dropout;
    }

    /// <summary>The embedding (token input), or null.</summary>
    public TrainableEmbedding? Embedding => Parts.Embedding;

    /// <summary>The recurrent stack (<c>rnn.*</c>).</summary>
    public TrainableRecurrentNetwork Network => Parts.Network;

    /// <summary>The head (<c>head.*</c>, identity activation: logits).</summary>
    public TrainableDenseLayer Head => Parts.Head;

    private protected StackWithHead Parts { get; }

    /// <summary>
    /// One training forward-backward pass over a batch of float-feature sequences: the mean cross-entropy of the logits
    /// against <paramref name="labels"/>, with dL/d(every parameter) added into <see cref="ParameterSet.Gradients"/>.
    /// </summary>
    /// <param name="input">Features [T, B, X], time-major.</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="labels">
    /// Classes in [0, C), or <see cref="Losses.DefaultIgnoreIndex"/> to leave one out: [B] for a classifier, [T, B]
    /// for a tagger (whose entries at padded steps are not read).
    /// </param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="predictions">Receives the arg-max classes in the labels' layout (a tagger writes
    /// <see cref="Losses.DefaultIgnoreIndex"/> at padded steps), or empty.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <returns>The loss and how many counted labels the logits got right.</returns>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a label or length is out of range, or the model reads tokens.</exception>
    public TrainingResult ForwardBackward(
        ReadOnlySpan<float> input, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths = default, Span<int> predictions = default, ThreadTeam? threads = null)
    {
        ModelParts.ValidateInput((RecurrentHeadOptions)Options, input.Length, default, tokenCall: false, steps, batch);
        return Run(input, default, steps, batch, labels, lengths, predictions, threads);
    }

    /// <summary>
    /// One training forward-backward pass over a batch of token sequences [T, B] (time-major ids in the vocabulary);
    /// otherwise as the overload taking features, the embedding's gradient included.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a token, label or length is out of range, or the model reads features.</exception>
    public TrainingResult ForwardBackward(
        ReadOnlySpan<int> tokens, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths = default, Span<int> predictions = default, ThreadTeam? threads = null)
    {
        ModelParts.ValidateInput((RecurrentHeadOptions)Options, 0, tokens, tokenCall: true, steps, batch);
        return Run(default, tokens, steps, batch, labels, lengths, predictions, threads);
    }

    /// <summary>Returns the tape and workspace to the pool.</summary>
    public void Dispose()
    {
        Parts.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The pass itself, after the input (kind, sizes, tokens, steps, batch) has been validated.</summary>
    private protected abstract TrainingResult Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths, Span<int> predictions, ThreadTeam? threads);
}
