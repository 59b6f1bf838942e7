using System.Text.Json.Serialization;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// The architecture shared by <see cref="SequenceClassifier"/> and <see cref="SequenceTagger"/>: an input stage (float
/// features, or token ids through an embedding), a recurrent stack and a dense head producing class logits.
/// </summary>
/// <remarks>
/// <para>Token input: <see cref="VocabularySize"/> V ≥ 1 and <see cref="EmbeddingSize"/> E ≥ 1 (and
/// <see cref="InputSize"/> 0); each step reads token ids [T, B] through nn.Embedding's table <c>embedding.weight</c>
/// [V, E]. Feature input: <see cref="VocabularySize"/> 0, <see cref="EmbeddingSize"/> 0 and <see cref="InputSize"/>
/// X ≥ 1; each step reads features [T, B, X].</para>
/// <para>The stack's input size follows from the input stage: <see cref="Recurrent"/>'s own
/// <see cref="RecurrentNetworkOptions.InputSize"/> may be left 0 (or must equal E or X). Its parameters are named as
/// PyTorch's nn.RNN/LSTM/GRU under the prefix <c>rnn.</c>; the head's as nn.Linear under <c>head.</c>.</para>
/// </remarks>
public abstract record RecurrentHeadOptions : SequenceModelOptions
{
    /// <inheritdoc/>
    [JsonIgnore]
    internal override long DeclaredLayers => Recurrent?.Layers ?? 0;

    private protected RecurrentHeadOptions()
    {
    }

    /// <summary>Token input: the vocabulary size V (ids 0 … V−1); 0 for float feature input.</summary>
    public int VocabularySize { get; init; }

    /// <summary>Token input: the length E of each token's embedding vector; 0 for feature input.</summary>
    public int EmbeddingSize { get; init; }

    /// <summary>Feature input: the features X per time step; 0 for token input.</summary>
    public int InputSize { get; init; }

    /// <summary>The recurrent stack: cell, hidden size, layers, directions, projection.</summary>
    public required RecurrentNetworkOptions Recurrent { get; init; }

    /// <summary>The number of classes C (≥ 2): the head's outputs.</summary>
    public int Classes { get; init; }

    /// <summary>
    /// Label smoothing ε in [0, 1] of the training loss (PyTorch's <c>label_smoothing</c>): the cross-entropy's target
    /// distribution is (1 − ε)·onehot + ε/C (<see cref="Losses.SoftmaxCrossEntropy(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, Span{float}, float, LossReduction, int)"/>).
    /// 0 (the default): none. Inference ignores it; not written to JSON when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float LabelSmoothing { get; init; }

    /// <summary>Whether the model reads token ids (<see cref="VocabularySize"/> &gt; 0) rather than float features.</summary>
    [JsonIgnore]
    public bool TokenInput => VocabularySize > 0;

    /// <summary>Features per step entering the recurrent stack: E for token input, X for feature input.</summary>
    [JsonIgnore]
    public override int StepFeatures => TokenInput ? EmbeddingSize : InputSize;

    /// <summary>The recurrent stack's options with its input size set to <see cref="StepFeatures"/>.</summary>
    [JsonIgnore]
    public override RecurrentNetworkOptions Stack => Recurrent is null || Recurrent.InputSize == StepFeatures ? Recurrent! : Recurrent with { InputSize = StepFeatures };

    /// <summary>Features per row entering the head.</summary>
    internal abstract int HeadInputs { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> ParameterSpecs()
    {
        Validate();
        return StackWithHead.Specs(Stack, HeadInputs, Classes, TokenInput ? VocabularySize : 0);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        if (VocabularySize < 0)
        {
            ThrowHelper.Argument(nameof(VocabularySize), $"VocabularySize must be 0 (feature input) or at least 1, was {VocabularySize}.");
        }

        if (TokenInput)
        {
            if (EmbeddingSize < 1)
            {
                ThrowHelper.Argument(nameof(EmbeddingSize), $"Token input needs EmbeddingSize ≥ 1, was {EmbeddingSize}.");
            }

            if (InputSize != 0)
            {
                ThrowHelper.Argument(nameof(InputSize), $"Token input takes its step features from the embedding; InputSize must be 0, was {InputSize}.");
            }
        }
        else
        {
            if (InputSize < 1)
            {
                ThrowHelper.Argument(nameof(InputSize), $"Feature input needs InputSize ≥ 1 (or VocabularySize ≥ 1 for token input), was {InputSize}.");
            }

            if (EmbeddingSize != 0)
            {
                ThrowHelper.Argument(nameof(EmbeddingSize), $"Feature input has no embedding; EmbeddingSize must be 0, was {EmbeddingSize}.");
            }
        }

        Losses.ValidateLabelSmoothing(LabelSmoothing, nameof(LabelSmoothing));
        if (Classes < 2)
        {
            ThrowHelper.Argument(nameof(Classes), $"Classes must be at least 2, was {Classes}.");
        }

        if (Recurrent is null)
        {
            ThrowHelper.Argument(nameof(Recurrent), "The recurrent stack's options are missing.");
        }

        if (Recurrent.InputSize != 0 && Recurrent.InputSize != StepFeatures)
        {
            ThrowHelper.Argument(nameof(Recurrent), $"Recurrent.InputSize {Recurrent.InputSize} must be 0 or the step features {StepFeatures} ({(TokenInput ? "EmbeddingSize" : "InputSize")}).");
        }

        RecurrentNetworkOptions stack = Stack;
        stack.Validate(nameof(Recurrent));
    }
}

/// <summary>
/// The architecture of a <see cref="SequenceClassifier"/> (many-to-one; JSON kind <c>classifier</c>): one label per
/// sequence from the final hidden states of the stack's last layer.
/// </summary>
public sealed record SequenceClassifierOptions : RecurrentHeadOptions
{
    /// <summary>The head reads [h_n forward | h_n reverse] of the last layer: D·Hout features.</summary>
    internal override int HeadInputs => Stack.Directions * Stack.OutputSize;

    /// <inheritdoc/>
    public override SequenceModel CreateModel() => SequenceClassifier.Create(this);
}

/// <summary>
/// The architecture of a <see cref="SequenceTagger"/> (many-to-many, aligned; JSON kind <c>tagger</c>): one label per
/// valid time step from the stack's last-layer output at that step.
/// </summary>
public sealed record SequenceTaggerOptions : RecurrentHeadOptions
{
    /// <summary>The head reads each step's output row: <see cref="RecurrentNetworkOptions.LayerOutputSize"/> features.</summary>
    internal override int HeadInputs => Stack.LayerOutputSize;

    /// <inheritdoc/>
    public override SequenceModel CreateModel() => SequenceTagger.Create(this);
}
