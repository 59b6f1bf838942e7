using System.Buffers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// Many-to-many aligned sequence tagging: features [T, B, X] (or token ids [T, B] through an embedding) → a recurrent
/// stack (bidirectional allowed) → a dense head on every step → logits [T, B, C], one label per valid step; trained
/// with the mean softmax cross-entropy over the valid steps.
/// </summary>
/// <remarks>
/// <para>Steps at or beyond a sequence's length are padding: their labels are not read and count for nothing; labels
/// equal to <see cref="Losses.DefaultIgnoreIndex"/> (−100) count for nothing either. Parameters:
/// <c>embedding.weight</c> [V, E] (token input), <c>rnn.*</c> under PyTorch's nn.RNN/LSTM/GRU names, <c>head.weight</c>
/// [C, F] and <c>head.bias</c> [C] with F the stack's <see cref="RecurrentNetworkOptions.LayerOutputSize"/>.</para>
/// <para>The training pass adds gradients (zeroing and optimiser steps are the caller's) and reuses one tape and one
/// pooled workspace, so steps of a steady size allocate nothing. Driven by one thread at a time; for serving take an
/// immutable snapshot with <see cref="ToInference"/>. Inputs, labels and outputs are time-major.</para>
/// </remarks>
public sealed class SequenceTagger : SequenceModel, IDisposable
{
    private readonly TrainableModelParts _parts;

    /// <summary>Binds a tagger to the tensors of <paramref name="parameters"/> (see <see cref="SequenceModelOptions.ParameterSpecs"/>).</summary>
    /// <exception cref="ArgumentException">The options are not valid, or a tensor is missing or has the wrong shape.</exception>
    public SequenceTagger(SequenceTaggerOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters)
    {
        options.Validate();
        Options = options;
        _parts = new TrainableModelParts(options, parameters, pool ?? ArrayPool<float>.Shared, nameof(SequenceTagger));
    }

    /// <summary>The architecture.</summary>
    public new SequenceTaggerOptions Options { get; }

    /// <summary>The embedding (token input), or null.</summary>
    public TrainableEmbedding? Embedding => _parts.Embedding;

    /// <summary>The recurrent stack (<c>rnn.*</c>).</summary>
    public TrainableRecurrentNetwork Recurrent => _parts.Recurrent;

    /// <summary>The head (<c>head.*</c>, identity activation: logits).</summary>
    public TrainableDenseLayer Head => _parts.Head;

    /// <summary>
    /// A tagger with a new parameter set: zeros, or with <paramref name="seed"/> PyTorch's default initialisation
    /// (<see cref="Initializers.Apply"/>; the embedding N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public static SequenceTagger Create(SequenceTaggerOptions options, ulong? seed = null, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parameters = ParameterSet.Create(options.ParameterSpecs());
        if (seed is { } s)
        {
            Initializers.Apply(parameters, RecurrentInitialization.PyTorch, s);
        }

        return new SequenceTagger(options, parameters, pool);
    }

    /// <summary>
    /// One training forward-backward pass over a batch of float-feature sequences: the mean cross-entropy over every
    /// counted step, with dL/d(every parameter) added into <see cref="ParameterSet.Gradients"/>.
    /// </summary>
    /// <param name="input">Features [T, B, X], time-major.</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="labels">One class per step [T, B], in [0, C) or <see cref="Losses.DefaultIgnoreIndex"/>; entries at padded steps are not read.</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="predictions">Receives each step's arg-max class [T, B] (<see cref="Losses.DefaultIgnoreIndex"/> at padded steps), or empty.</param>
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
    public SequenceTaggerInference ToInference() => new(Options, new InferenceModelParts(_parts));

    /// <summary>Returns the tape and workspace to the pool.</summary>
    public void Dispose() => _parts.Dispose();

    private ClassificationResult Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, bool tokenCall, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths, Span<int> predictions, ThreadTeam? threads)
    {
        SequenceTaggerOptions options = Options;
        ModelParts.ValidateInput(options, input.Length, tokens, tokenCall, steps, batch);
        ModelParts.ValidateLengths(lengths, steps, batch);
        int rows = steps * batch;
        Internal.ThrowHelper.ThrowIfLengthIsNot(labels.Length, rows, nameof(labels), "T·B");
        Internal.ThrowHelper.ThrowIfLengthIsNotEmptyOr(predictions.Length, rows, nameof(predictions), "T·B");
        Span<int> targets = _parts.Targets(rows);   // [T, B] the labels, ignore index at padded steps
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                int at = (t * batch) + b;
                bool valid = lengths.IsEmpty || t < lengths[b];
                if (valid)
                {
                    ModelParts.ValidateLabel(labels[at], options.Classes, at);
                }

                targets[at] = valid ? labels[at] : Losses.DefaultIgnoreIndex;
            }
        }

        int classes = options.Classes, features = _parts.Stack.LayerOutputSize;
        int embeddedFloats = tokenCall ? rows * options.EmbeddingSize : 0;
        Span<float> rest = _parts.Scratch((2 * embeddedFloats) + (2 * rows * features) + (2 * rows * classes));
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);       // [T, B, E]
        Span<float> gradEmbedded = ModelParts.Take(ref rest, embeddedFloats);   // [T, B, E]
        Span<float> output = ModelParts.Take(ref rest, rows * features);        // [T, B, F]
        Span<float> gradOutput = ModelParts.Take(ref rest, rows * features);    // [T, B, F]
        Span<float> logits = ModelParts.Take(ref rest, rows * classes);         // [T, B, C]
        Span<float> gradLogits = ModelParts.Take(ref rest, rows * classes);     // [T, B, C]

        ReadOnlySpan<float> x = _parts.StepInput(input, tokens, embedded);
        _parts.Recurrent.Forward(_parts.Tape, x, steps, batch, output, lengths: lengths, threads: threads);
        _parts.Head.Forward(output, rows, logits, threads);
        double loss = Losses.SoftmaxCrossEntropy(logits, rows, classes, targets, gradLogits);
        (int correct, int counted) = ModelParts.Score(logits, rows, classes, targets, predictions);
        if (!predictions.IsEmpty && !lengths.IsEmpty)
        {
            for (int at = 0; at < rows; at++)
            {
                if (at / batch >= lengths[at % batch])
                {
                    predictions[at] = Losses.DefaultIgnoreIndex;
                }
            }
        }

        gradOutput.Clear();
        _parts.Head.Backward(output, logits, gradLogits, rows, gradOutput, threads);
        _parts.Backward(gradOutput, default, tokens, gradEmbedded, threads);
        return new ClassificationResult(loss, correct, counted);
    }
}
