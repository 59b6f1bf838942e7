using System.Buffers;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
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
/// <para>Training: <see cref="RecurrentHeadModel.ForwardBackward(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, ReadOnlySpan{int}, Span{int}, ThreadTeam?)"/>
/// with labels [T, B]. For serving take an immutable snapshot with <see cref="ToInference"/>.</para>
/// </remarks>
public sealed class SequenceTagger : RecurrentHeadModel
{
    /// <summary>Binds a tagger to the tensors of <paramref name="parameters"/> (see <see cref="SequenceModelOptions.ParameterSpecs"/>).</summary>
    /// <exception cref="ArgumentException">The options are not valid, or a tensor is missing or has the wrong shape.</exception>
    public SequenceTagger(SequenceTaggerOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters, pool)
    {
        Options = options;
    }

    /// <summary>The architecture.</summary>
    public new SequenceTaggerOptions Options { get; }

    /// <summary>
    /// A tagger with a new parameter set: zeros, or with <paramref name="seed"/> PyTorch's default initialisation
    /// (<see cref="Initializers.Apply"/>; the embedding N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public static SequenceTagger Create(SequenceTaggerOptions options, ulong? seed = null, ArrayPool<float>? pool = null) =>
        new(options, CreateParameters(options, seed), pool);

    /// <summary>An immutable, thread-safe snapshot of the current parameters for inference and streaming.</summary>
    public SequenceTaggerInference ToInference() => new(Options, new InferenceModelParts(Parts));

    private protected override TrainingResult Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths, Span<int> predictions, ThreadTeam? threads)
    {
        SequenceTaggerOptions options = Options;
        ModelParts.ValidateLengths(lengths, steps, batch);
        int rows = steps * batch;
        Internal.ThrowHelper.ThrowIfLengthIsNot(labels.Length, rows, nameof(labels), "T·B");
        Internal.ThrowHelper.ThrowIfLengthIsNotEmptyOr(predictions.Length, rows, nameof(predictions), "T·B");
        Span<int> targets = Parts.Targets(rows);   // [T, B] the labels, ignore index at padded steps
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

        int classes = options.Classes, features = Parts.Network.Options.LayerOutputSize;
        int embeddedFloats = options.TokenInput ? rows * options.EmbeddingSize : 0;
        Span<float> rest = Parts.Scratch((2 * embeddedFloats) + (2 * rows * features) + (2 * rows * classes));
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);       // [T, B, E]
        Span<float> gradEmbedded = ModelParts.Take(ref rest, embeddedFloats);   // [T, B, E]
        Span<float> output = ModelParts.Take(ref rest, rows * features);        // [T, B, F]
        Span<float> gradOutput = ModelParts.Take(ref rest, rows * features);    // [T, B, F]
        Span<float> logits = ModelParts.Take(ref rest, rows * classes);         // [T, B, C]
        Span<float> gradLogits = ModelParts.Take(ref rest, rows * classes);     // [T, B, C]

        ReadOnlySpan<float> x = Parts.StepInput(input, tokens, embedded);
        Parts.Network.Forward(Parts.Tape, x, steps, batch, output, lengths: lengths, threads: threads);
        Parts.Head.Forward(output, rows, logits, threads);
        double loss = Losses.SoftmaxCrossEntropy(logits, rows, classes, targets, gradLogits, options.LabelSmoothing);
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
        Parts.Head.Backward(output, logits, gradLogits, rows, gradOutput, threads);
        Parts.Backward(gradOutput, default, tokens, gradEmbedded, threads);
        return new TrainingResult(loss, correct, counted);
    }
}
