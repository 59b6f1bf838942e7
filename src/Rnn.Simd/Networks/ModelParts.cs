using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// The immutable inference parts of such a model: the embedding (token input), the recurrent network and the head
/// (identity activation: logits). Safe to share between threads.
/// </summary>
internal sealed class InferenceModelParts
{
    public InferenceModelParts(Embedding? embedding, RecurrentNetwork recurrent, DenseLayer head)
    {
        Embedding = embedding;
        Recurrent = recurrent;
        Head = head;
    }

    public InferenceModelParts(StackWithHead trainable)
    {
        Embedding = trainable.Embedding?.ToInferenceEmbedding();
        Recurrent = trainable.Network.ToInferenceNetwork();
        Head = trainable.Head.ToInferenceLayer();
    }

    /// <summary>Parts given by a caller, checked against the architecture they claim to be.</summary>
    /// <exception cref="ArgumentException">A part is missing or does not fit <paramref name="options"/>.</exception>
    public static InferenceModelParts Assemble(RecurrentHeadOptions options, Embedding? embedding, RecurrentNetwork network, DenseLayer head)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(head);
        options.Validate();
        if (options.TokenInput != embedding is not null ||
            (embedding is not null && (embedding.Vocabulary != options.VocabularySize || embedding.Dimension != options.EmbeddingSize)))
        {
            ThrowHelper.Argument(nameof(embedding), options.TokenInput
                ? $"Expected an embedding [{options.VocabularySize}, {options.EmbeddingSize}]{(embedding is null ? ", got none" : $", got [{embedding.Vocabulary}, {embedding.Dimension}]")}."
                : "This architecture reads float features: it has no embedding.");
        }

        if (!network.Options.Equals(options.Stack))
        {
            ThrowHelper.Argument(nameof(network), "The network's architecture differs from the options'.");
        }

        if (head.Inputs != options.HeadInputs || head.Outputs != options.Classes || head.Activation != OutputActivation.Identity)
        {
            ThrowHelper.Argument(nameof(head), $"Expected an identity head {options.HeadInputs} → {options.Classes}.");
        }

        return new InferenceModelParts(embedding, network, head);
    }

    public Embedding? Embedding { get; }

    public RecurrentNetwork Recurrent { get; }

    public DenseLayer Head { get; }

    public ArrayPool<float> Pool => Recurrent.Pool;

    /// <summary>The step features: the input itself, or the tokens' rows written into <paramref name="embedded"/>.</summary>
    public ReadOnlySpan<float> StepInput(ReadOnlySpan<float> features, ReadOnlySpan<int> tokens, Span<float> embedded)
    {
        if (Embedding is null)
        {
            return features;
        }

        Embedding.Lookup(tokens, embedded);
        return embedded;
    }

    /// <summary>logits [rows, C] = head(z [rows, F]), then softmax over each row when <paramref name="probabilities"/>.</summary>
    public void HeadForward(ReadOnlySpan<float> z, int rows, Span<float> output, bool probabilities, ThreadTeam? threads)
    {
        Head.Forward(z, rows, output, threads, Pool);
        if (probabilities && rows > 0)
        {
            int c = Head.Outputs;
            Activations.SoftmaxRows(output, c, output, c, rows, c);
        }
    }
}

/// <summary>Names and checks shared by the models with an input stage, a recurrent stack and a dense head.</summary>
internal static class ModelParts
{
    public const string EmbeddingPrefix = "embedding.";
    public const string RecurrentPrefix = "rnn.";
    public const string HeadPrefix = "head.";

    /// <summary>The next <paramref name="length"/> floats of a workspace: a named view, the rest left in <paramref name="rest"/>.</summary>
    public static Span<float> Take(ref Span<float> rest, int length)
    {
        Span<float> view = rest[..length];
        rest = rest[length..];
        return view;
    }

    /// <summary>
    /// Checks a call's input against the model: the kind (features or tokens), T·B·X features or T·B tokens (each in the
    /// vocabulary), steps ≥ 0, batch ≥ 1. Names the caller's parameter (<c>input</c> or <c>tokens</c>).
    /// </summary>
    public static void ValidateInput(RecurrentHeadOptions options, int featureLength, ReadOnlySpan<int> tokens, bool tokenCall, int steps, int batch)
    {
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        if (tokenCall != options.TokenInput)
        {
            ThrowHelper.Argument(
                tokenCall ? nameof(tokens) : "input",
                options.TokenInput ? "This model reads token ids; call the overload taking tokens." : "This model reads float features; call the overload taking input.");
        }

        if (tokenCall)
        {
            ThrowHelper.ThrowIfLengthIsNot(tokens.Length, nameof(tokens), "T·B", steps, batch);
            Embedding.ValidateTokens(tokens, options.VocabularySize, nameof(tokens));
        }
        else
        {
            ThrowHelper.ThrowIfLengthIsNot(featureLength, "input", "T·B·X", steps, batch, options.InputSize);
        }
    }

    /// <summary>Checks that lengths is empty or B values in [0, T].</summary>
    public static void ValidateLengths(ReadOnlySpan<int> lengths, int steps, int batch) => Losses.ValidateLengths(lengths, steps, batch);

    /// <summary>Checks that a label is a class in [0, C) or <see cref="Losses.DefaultIgnoreIndex"/>.</summary>
    public static void ValidateLabel(int label, int classes, int position)
    {
        if (label != Losses.DefaultIgnoreIndex && (uint)label >= (uint)classes)
        {
            ThrowHelper.ArgumentOutOfRange("labels", $"Label {label} at position {position} is neither a class in [0, {classes}) nor the ignore index {Losses.DefaultIgnoreIndex}.");
        }
    }

    /// <summary>
    /// The head's input for classification: row b = [h_n of the last layer's forward direction | its reverse] for
    /// sequence b, from h_n [L·D, B, Hout].
    /// </summary>
    public static void GatherFinalStates(ReadOnlySpan<float> hN, RecurrentNetworkOptions o, int batch, Span<float> summary)
    {
        int d = o.Directions, hOut = o.OutputSize, first = (o.Layers - 1) * d;
        for (int dir = 0; dir < d; dir++)
        {
            for (int b = 0; b < batch; b++)
            {
                hN.Slice((((first + dir) * batch) + b) * hOut, hOut).CopyTo(summary.Slice(((b * d) + dir) * hOut, hOut));
            }
        }
    }

    /// <summary>The reverse of <see cref="GatherFinalStates"/>: dL/dh_n [L·D, B, Hout], zero outside the last layer.</summary>
    public static void ScatterFinalStates(ReadOnlySpan<float> gradSummary, RecurrentNetworkOptions o, int batch, Span<float> gradHN)
    {
        int d = o.Directions, hOut = o.OutputSize, first = (o.Layers - 1) * d;
        gradHN.Clear();
        for (int dir = 0; dir < d; dir++)
        {
            for (int b = 0; b < batch; b++)
            {
                gradSummary.Slice(((b * d) + dir) * hOut, hOut).CopyTo(gradHN.Slice((((first + dir) * batch) + b) * hOut, hOut));
            }
        }
    }

    /// <summary>
    /// Writes each row's arg-max class (the first on ties) into <paramref name="predictions"/> when it is not empty, and
    /// counts the rows whose target is not ignored and those among them predicted right.
    /// </summary>
    public static (int Correct, int Counted) Score(ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> targets, Span<int> predictions)
    {
        int correct = 0, counted = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = logits.Slice(r * classes, classes);
            int best = 0;
            for (int j = 1; j < classes; j++)
            {
                if (row[j] > row[best])
                {
                    best = j;
                }
            }

            if (!predictions.IsEmpty)
            {
                predictions[r] = best;
            }

            if (targets[r] != Losses.DefaultIgnoreIndex)
            {
                counted++;
                correct += best == targets[r] ? 1 : 0;
            }
        }

        return (correct, counted);
    }
}
