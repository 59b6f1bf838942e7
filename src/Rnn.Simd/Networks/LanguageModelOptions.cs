using System.Text.Json.Serialization;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A next-token language model (one-to-many when generating): token ids → embedding [V, E] → unidirectional recurrent
/// stack → dense head [V, Hout] giving the logits of the next token. JSON kind <c>language_model</c>.
/// </summary>
/// <remarks>
/// Parameters, in this order: <c>embedding.weight</c> [V, E]; the stack's PyTorch tensors <c>rnn.weight_ih_l0</c> …;
/// <c>head.weight</c> [V, Hout], <c>head.bias</c> [V].
/// </remarks>
public sealed record LanguageModelOptions : GenerativeModelOptions
{
    /// <summary>Tokens V: valid ids are 0 … V − 1.</summary>
    public required int VocabularySize { get; init; }

    /// <summary>The length E of a token's embedding (the stack's input size).</summary>
    public required int EmbeddingSize { get; init; }

    /// <summary>
    /// Label smoothing ε in [0, 1] of the training loss (PyTorch's <c>label_smoothing</c>): the cross-entropy's target
    /// distribution is (1 − ε)·onehot + ε/C (<see cref="Losses.SoftmaxCrossEntropy(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, Span{float}, float, LossReduction, int)"/>).
    /// 0 (the default): none. Inference ignores it; not written to JSON when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float LabelSmoothing { get; init; }

    /// <inheritdoc/>
    [JsonIgnore]
    public override int StepFeatures => EmbeddingSize;

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> ParameterSpecs()
    {
        Validate();
        RecurrentNetworkOptions stack = Stack;
        return StackWithHead.Specs(stack, stack.OutputSize, VocabularySize, VocabularySize);
    }

    /// <inheritdoc/>
    public override SequenceModel CreateModel() => LanguageModel.Create(this);

    /// <inheritdoc/>
    public override void Validate()
    {
        RequirePositive(VocabularySize, nameof(VocabularySize));
        RequirePositive(EmbeddingSize, nameof(EmbeddingSize));
        Losses.ValidateLabelSmoothing(LabelSmoothing, nameof(LabelSmoothing));
        ValidateStack();
    }
}
