using System.Buffers;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
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
/// <para>Training: <see cref="RecurrentHeadModel.ForwardBackward(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, ReadOnlySpan{int}, Span{int}, ThreadTeam?)"/>
/// with labels [B]. For serving take an immutable snapshot with <see cref="ToInference"/>.</para>
/// </remarks>
public sealed class SequenceClassifier : RecurrentHeadModel
{
    /// <summary>Binds a classifier to the tensors of <paramref name="parameters"/> (see <see cref="SequenceModelOptions.ParameterSpecs"/>).</summary>
    /// <exception cref="ArgumentException">The options are not valid, or a tensor is missing or has the wrong shape.</exception>
    public SequenceClassifier(SequenceClassifierOptions options, ParameterSet parameters, ArrayPool<float>? pool = null)
        : base(options, parameters, pool)
    {
        Options = options;
    }

    /// <summary>The architecture.</summary>
    public new SequenceClassifierOptions Options { get; }

    /// <summary>
    /// A classifier with a new parameter set: zeros, or with <paramref name="seed"/> PyTorch's default initialisation
    /// (<see cref="Initializers.Apply"/>; the embedding N(0, 1)).
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public static SequenceClassifier Create(SequenceClassifierOptions options, ulong? seed = null, ArrayPool<float>? pool = null) =>
        new(options, CreateParameters(options, seed), pool);

    /// <summary>An immutable, thread-safe snapshot of the current parameters for inference and streaming.</summary>
    public SequenceClassifierInference ToInference() => new(Options, new InferenceModelParts(Parts));

    private protected override TrainingResult Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, ReadOnlySpan<int> labels,
        ReadOnlySpan<int> lengths, Span<int> predictions, ThreadTeam? threads)
    {
        SequenceClassifierOptions options = Options;
        ModelParts.ValidateLengths(lengths, steps, batch);
        Internal.ThrowHelper.ThrowIfLengthIsNot(labels.Length, batch, nameof(labels), "B");
        for (int b = 0; b < batch; b++)
        {
            ModelParts.ValidateLabel(labels[b], options.Classes, b);
        }

        Internal.ThrowHelper.ThrowIfLengthIsNotEmptyOr(predictions.Length, batch, nameof(predictions), "B");

        RecurrentNetworkOptions o = Parts.Network.Options;
        int classes = options.Classes, summaryFeatures = options.HeadInputs;
        int embeddedFloats = options.TokenInput ? steps * batch * options.EmbeddingSize : 0;
        int stateFloats = o.Layers * o.Directions * batch * o.OutputSize;
        int summaryFloats = batch * summaryFeatures, logitFloats = batch * classes;
        Span<float> rest = Parts.Scratch((2 * embeddedFloats) + (batch * o.LayerOutputSize) + (2 * stateFloats) + (2 * summaryFloats) + (2 * logitFloats));
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);          // [T, B, E]
        Span<float> gradEmbedded = ModelParts.Take(ref rest, embeddedFloats);      // [T, B, E]
        Span<float> last = ModelParts.Take(ref rest, batch * o.LayerOutputSize);   // [B, F] the last valid step's output (unused)
        Span<float> hN = ModelParts.Take(ref rest, stateFloats);                   // [L·D, B, Hout]
        Span<float> gradHN = ModelParts.Take(ref rest, stateFloats);               // [L·D, B, Hout]
        Span<float> summary = ModelParts.Take(ref rest, summaryFloats);            // [B, D·Hout]
        Span<float> gradSummary = ModelParts.Take(ref rest, summaryFloats);        // [B, D·Hout]
        Span<float> logits = ModelParts.Take(ref rest, logitFloats);               // [B, C]
        Span<float> gradLogits = ModelParts.Take(ref rest, logitFloats);           // [B, C]

        ReadOnlySpan<float> x = Parts.StepInput(input, tokens, embedded);
        Parts.Network.Forward(Parts.Tape, x, steps, batch, last, hN: hN, lengths: lengths, threads: threads, lastStepOnly: true);
        ModelParts.GatherFinalStates(hN, o, batch, summary);
        Parts.Head.Forward(summary, batch, logits, threads);
        double loss = Losses.SoftmaxCrossEntropy(logits, batch, classes, labels, gradLogits, Options.LabelSmoothing);
        (int correct, int counted) = ModelParts.Score(logits, batch, classes, labels, predictions);

        gradSummary.Clear();
        Parts.Head.Backward(summary, logits, gradLogits, batch, gradSummary, threads);
        ModelParts.ScatterFinalStates(gradSummary, o, batch, gradHN);
        Parts.Backward(default, gradHN, tokens, gradEmbedded, threads);
        return new TrainingResult(loss, correct, counted);
    }
}
