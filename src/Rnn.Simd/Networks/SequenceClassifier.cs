using System.Buffers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// Many-to-one sequence classification: features [T, B, X] (or token ids [T, B] through an embedding) → a recurrent
/// stack → a dense head → logits [B, C], one label per sequence; trained with mean softmax cross-entropy.
/// </summary>
/// <remarks>
/// <para>What the head reads: the final hidden states of the stack's last layer, h_n, after each sequence's last valid
/// step (per-sequence lengths): for a bidirectional stack [h_n forward | h_n reverse] (D·Hout features; PyTorch users
/// write <c>torch.cat([h_n[-2], h_n[-1]], 1)</c>), so the reverse direction contributes its summary of the whole
/// sequence rather than what <c>output[-1]</c> holds (the reverse direction after one input). For a unidirectional
/// stack this is the output at step length − 1. An empty sequence (length 0) reads h = 0.</para>
/// <para>Parameters (one <see cref="ParameterSet"/>): <c>embedding.weight</c> [V, E] (token input), <c>rnn.*</c> under
/// PyTorch's nn.RNN/LSTM/GRU names, <c>head.weight</c> [C, D·Hout] and <c>head.bias</c> [C].</para>
/// <para><see cref="ForwardBackward(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, ReadOnlySpan{int}, Span{int}, ThreadTeam?)"/>
/// adds the gradients of one batch (zeroing and optimiser steps are the caller's: <see cref="Trainer"/>); it reuses one
/// tape and one pooled workspace, so steps of a steady size allocate nothing. Driven by one thread at a time; for
/// serving take an immutable snapshot with <see cref="ToInference"/>. Inputs are time-major.</para>
/// </remarks>
public sealed class SequenceClassifier : SequenceModel, IDisposable
{
    private readonly TrainableModelParts _parts;

    /// <summary>Binds a classifier to the tensors of <paramref name="parameters"/> (see <see cref="SequenceModelOptions.ParameterSpecs"/>).</summary>
    /// <exception cref="ArgumentException">The options are not valid, or a tensor is missing or has the wrong shape.</exception>
    public SequenceClassifier(SequenceClassifierOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters)
    {
        options.Validate();
        Options = options;
        _parts = new TrainableModelParts(options, parameters, pool ?? ArrayPool<float>.Shared, nameof(SequenceClassifier));
    }

    /// <summary>The architecture.</summary>
    public new SequenceClassifierOptions Options { get; }

    /// <summary>The embedding (token input), or null.</summary>
    public TrainableEmbedding? Embedding => _parts.Embedding;

    /// <summary>The recurrent stack (<c>rnn.*</c>).</summary>
    public TrainableRecurrentNetwork Recurrent => _parts.Recurrent;

    /// <summary>The head (<c>head.*</c>, identity activation: logits).</summary>
    public TrainableDenseLayer Head => _parts.Head;

    /// <summary>
    /// A classifier with a new parameter set: zeros, or with <paramref name="seed"/> PyTorch's default initialisation
    /// (<see cref="Initializers.Apply"/>; the embedding N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public static SequenceClassifier Create(SequenceClassifierOptions options, ulong? seed = null, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parameters = ParameterSet.Create(options.ParameterSpecs());
        if (seed is { } s)
        {
            Initializers.Apply(parameters, RecurrentInitialization.PyTorch, s);
        }

        return new SequenceClassifier(options, parameters, pool);
    }

    /// <summary>
    /// One training forward-backward pass over a batch of float-feature sequences: the mean cross-entropy of the logits
    /// against <paramref name="labels"/>, with dL/d(every parameter) added into <see cref="ParameterSet.Gradients"/>.
    /// </summary>
    /// <param name="input">Features [T, B, X], time-major.</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="labels">One class per sequence [B], in [0, C), or <see cref="Losses.DefaultIgnoreIndex"/> to leave it out.</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="predictions">Receives each sequence's arg-max class [B], or empty.</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <returns>The loss and how many counted labels the logits got right.</returns>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a label or length is out of range, or the model reads tokens.</exception>
    public ClassificationResult ForwardBackward(
        ReadOnlySpan<float> input, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths = default, Span<int> predictions = default, ThreadTeam? threads = null) =>
        Run(input, default, tokenCall: false, steps, batch, labels, lengths, predictions, threads);

    /// <summary>
    /// One training forward-backward pass over a batch of token sequences [T, B] (time-major ids in the vocabulary);
    /// otherwise as the overload taking features, the embedding's gradient included.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size, a token, label or length is out of range, or the model reads features.</exception>
    public ClassificationResult ForwardBackward(
        ReadOnlySpan<int> tokens, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths = default, Span<int> predictions = default, ThreadTeam? threads = null) =>
        Run(default, tokens, tokenCall: true, steps, batch, labels, lengths, predictions, threads);

    /// <summary>An immutable, thread-safe snapshot of the current parameters for inference and streaming.</summary>
    public SequenceClassifierInference ToInference() => new(Options, new InferenceModelParts(_parts));

    /// <summary>Returns the tape and workspace to the pool.</summary>
    public void Dispose() => _parts.Dispose();

    private ClassificationResult Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, bool tokenCall, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths, Span<int> predictions, ThreadTeam? threads)
    {
        SequenceClassifierOptions options = Options;
        ModelParts.ValidateInput(options, input.Length, tokens, tokenCall, steps, batch);
        ModelParts.ValidateLengths(lengths, steps, batch);
        Internal.ThrowHelper.ThrowIfLengthIsNot(labels.Length, batch, nameof(labels), "B");
        for (int b = 0; b < batch; b++)
        {
            ModelParts.ValidateLabel(labels[b], options.Classes, b);
        }

        Internal.ThrowHelper.ThrowIfLengthIsNotEmptyOr(predictions.Length, batch, nameof(predictions), "B");

        RecurrentNetworkOptions o = _parts.Stack;
        int classes = options.Classes, summaryFeatures = options.HeadInputs;
        int embeddedFloats = tokenCall ? steps * batch * options.EmbeddingSize : 0;
        int stateFloats = o.Layers * o.Directions * batch * o.OutputSize;
        int summaryFloats = batch * summaryFeatures, logitFloats = batch * classes;
        Span<float> rest = _parts.Scratch((2 * embeddedFloats) + (batch * o.LayerOutputSize) + (2 * stateFloats) + (2 * summaryFloats) + (2 * logitFloats));
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);          // [T, B, E]
        Span<float> gradEmbedded = ModelParts.Take(ref rest, embeddedFloats);      // [T, B, E]
        Span<float> last = ModelParts.Take(ref rest, batch * o.LayerOutputSize);   // [B, F] the last valid step's output (unused)
        Span<float> hN = ModelParts.Take(ref rest, stateFloats);                   // [L·D, B, Hout]
        Span<float> gradHN = ModelParts.Take(ref rest, stateFloats);               // [L·D, B, Hout]
        Span<float> summary = ModelParts.Take(ref rest, summaryFloats);            // [B, D·Hout]
        Span<float> gradSummary = ModelParts.Take(ref rest, summaryFloats);        // [B, D·Hout]
        Span<float> logits = ModelParts.Take(ref rest, logitFloats);               // [B, C]
        Span<float> gradLogits = ModelParts.Take(ref rest, logitFloats);           // [B, C]

        ReadOnlySpan<float> x = _parts.StepInput(input, tokens, embedded);
        _parts.Recurrent.Forward(_parts.Tape, x, steps, batch, last, hN: hN, lengths: lengths, threads: threads, lastStepOnly: true);
        ModelParts.GatherFinalStates(hN, o, batch, summary);
        _parts.Head.Forward(summary, batch, logits, threads);
        double loss = Losses.SoftmaxCrossEntropy(logits, batch, classes, labels, gradLogits);
        (int correct, int counted) = ModelParts.Score(logits, batch, classes, labels, predictions);

        gradSummary.Clear();
        _parts.Head.Backward(summary, logits, gradLogits, batch, gradSummary, threads);
        ModelParts.ScatterFinalStates(gradSummary, o, batch, gradHN);
        _parts.Backward(default, gradHN, tokens, gradEmbedded, threads);
        return new ClassificationResult(loss, correct, counted);
    }
}
